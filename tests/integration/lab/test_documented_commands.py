"""Every command and example a user reads - the README, each guide (in the site's order), the role READMEs, the
playbook headers and the module EXAMPLES - in the order a reader meets them: run against the lab DC, or listed as
skipped with the reason. A snippet no decision below covers fails the first test, so a new documented command
gets a test or a reason.

What runs is the text as written, translated to the lab the way a reader would: contoso.com / example.com become
the lab's domain, OU paths land in a throw-away OU, and every account, group and host name gets a unique suffix
(the lab DC is shared). Nothing else is changed."""
from __future__ import annotations

import ast
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import uuid

import pytest
import yaml

from farm_runner import recap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PLAYBOOKS = ('deploy_farm', 'add_member', 'remove_member', 'compromised_host', 'decommission_farm', 'audit',
             'migrate_service_account')


class Snippet(object):
    def __init__(self, where, lang, text):
        self.where, self.lang, self.text = where, lang, text

    def __repr__(self):
        return '%s: %s' % (self.where, self.text.strip().splitlines()[0][:80])


def _markdown(path):
    text = open(os.path.join(REPO, path)).read()
    for m in re.finditer(r'^```(\w*)\n(.*?)^```', text, re.M | re.S):
        yield m.group(1) or 'text', m.group(2)


def _rst(path):
    lines = open(os.path.join(REPO, path)).read().split('\n')
    i = 0
    while i < len(lines):
        m = re.match(r'^(\s*)\.\. code-block:: (\w+)', lines[i])
        if not m:
            # a table cell that is a playbook command (the lifecycle guide's): ``add_member -e name=[web03]``
            cell = re.match(r'^\s*- ``((?:%s)(?: -e [^`]+)?)``' % '|'.join(PLAYBOOKS), lines[i])
            if cell:
                yield 'playbook-command', cell.group(1)
            i += 1
            continue
        i += 1
        body = []
        while i < len(lines) and (not lines[i].strip() or lines[i].startswith(m.group(1) + ' ')):
            body.append(lines[i])
            i += 1
        yield m.group(2), textwrap.dedent('\n'.join(body)).strip('\n') + '\n'


def collect():
    """Every snippet, in reading order."""
    out = []
    site = yaml.safe_load(open(os.path.join(REPO, 'docs', 'docsite', 'extra-docs.yml')))
    guides = ['docs/docsite/rst/%s.rst' % g for s in site['sections'] for g in s['toctree']]
    sources = ['README.md'] + guides + sorted(os.path.relpath(p, REPO) for p in glob.glob(
        os.path.join(REPO, 'roles', '*', 'README.md')))
    for path in sources:
        blocks = _markdown(path) if path.endswith('.md') else _rst(path)
        for n, (lang, text) in enumerate(blocks, 1):
            out.append(Snippet('%s#%d' % (path, n), lang, text))
    for path in sorted(glob.glob(os.path.join(REPO, 'playbooks', '*.yml'))):
        rel = os.path.relpath(path, REPO)
        n = 0
        for line in open(path):
            if re.match(r'^#\s+ansible-playbook ', line):
                n += 1
                out.append(Snippet('%s#%d' % (rel, n), 'header-command', line.lstrip('#').strip()))
    for path in sorted(glob.glob(os.path.join(REPO, 'plugins', 'modules', '*.py'))):
        rel = os.path.relpath(path, REPO)
        for node in ast.parse(open(path).read()).body:
            if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', '') == 'EXAMPLES':
                out.append(Snippet(rel + '#EXAMPLES', 'tasks', node.value.value))
    for path in sorted(glob.glob(os.path.join(REPO, 'plugins', 'modules', '*.yml'))):
        rel = os.path.relpath(path, REPO)
        out.append(Snippet(rel + '#EXAMPLES', 'tasks', yaml.safe_load(open(path)).get('EXAMPLES', '')))
    return out


WINDOWS = 'Windows only: runs on a Windows member over WinRM, and the lab has no Windows host (docs/windows-tests.md)'
USER_PATH = ('the path for a user\'s own DC: test_user_path.py takes it (this block from the README) against the '
             'lab DC in a clean virtual environment')
# (where the snippet is - a prefix of Snippet.where -, a text it contains, what to do)
DECISIONS = [
    ('README.md', 'export GMSA_DOMAIN_SERVER=', ('skip', USER_PATH)),
    ('README.md', 'kinit gmsa-admin@', ('skip', USER_PATH)),
    ('README.md', '# first_gmsa.yml', ('skip', USER_PATH)),
    ('README.md', 'ansible-playbook first_gmsa.yml', ('skip', USER_PATH)),
    ('docs/docsite/rst/guide_microsoft_ad.rst', 'identity:', ('skip', 'names an account of contoso.com by its GUID: '
                                                                      'test_microsoft_ad_vocabulary.py looks lab '
                                                                      'accounts up by GUID, SID, DN and UPN')),
    ('docs/docsite/rst/guide_containers.rst', '', ('skip', 'names a farm of contoso.com and its container hosts: '
                                                           'test_credential_spec.py and test_credential_spec_farm.py '
                                                           'run these options against the lab farm')),
    ('docs/docsite/rst/guide_awx.rst', 'dependencies:', ('skip', 'the execution environment definition: tests/ee/'
                                                                 'check.sh runs ansible-builder create with it')),
    ('docs/docsite/rst/guide_awx.rst', 'all:', ('skip', 'the AWX inventory: test_awx_runner.py runs the example '
                                                        'project with it through ansible-runner')),
    ('README.md', 'bash scripts/lab.sh', ('skip', 'scripts/lab.sh runs in test_playbooks.py (twice: the rerun '
                                          'changes nothing); scripts/test.sh is the suite this test is part of')),
    ('README.md', 'group/gmsa.farm.ldap:', ('run', 'play')),
    ('README.md', 'plugins/modules/ ', ('skip', 'a directory listing, not a command')),
    ('README.md', 'gmsa.farm.ou_delegation:', ('skip', 'writes an OU\'s permissions for a group of operators: '
                                                       'test_ou_delegation.py runs it against the lab DC and proves '
                                                       'the rights with the delegated identity')),
    ('docs/docsite/rst/guide_getting_started.rst', 'bash scripts/stop.sh',
     ('skip', 'lab.sh runs in test_playbooks.py; test.sh is this suite; stop.sh would stop the lab DC the other '
              'tests use')),
    ('docs/docsite/rst/guide_getting_started.rst', '. scripts/bootstrap.sh', ('run', 'shell')),
    ('docs/docsite/rst/guide_getting_started.rst', 'lab_hosts.py ensure', ('run', 'shell')),
    ('docs/docsite/rst/guide_getting_started.rst', '- hosts: localhost', ('run', 'play_check_apply_rerun')),
    ('docs/docsite/rst/guide_connection.rst', 'group/gmsa.farm.ldap:', ('run', 'module_defaults')),
    ('docs/docsite/rst/guide_connection.rst', 'domain_server: ldap://', ('run', 'module_defaults')),
    ('docs/docsite/rst/guide_lifecycle.rst', 'gmsa_farm:', ('run', 'inventory')),
    ('docs/docsite/rst/guide_lifecycle.rst', 'migrate_service_account -e', ('skip', 'switches the hosts of '
                                                                            'members_group over WinRM: Windows only')),
    ('docs/docsite/rst/guide_lifecycle.rst', '', ('run', 'farm_command')),
    ('docs/docsite/rst/guide_list_values.rst', 'gmsa.farm.gmsa:', ('run', 'tasks_check')),
    ('docs/docsite/rst/guide_estate.rst', '# estate.yml', ('run', 'vars_file')),
    ('docs/docsite/rst/guide_estate.rst', '- hosts: localhost', ('run', 'play_file')),
    ('docs/docsite/rst/guide_estate.rst', 'ansible-playbook', ('run', 'shell_check')),
    ('docs/docsite/rst/guide_security.rst', 'restrict_descriptors',
     ('skip', 'writes the KDS keys of the lab DC every test shares: test_kds_root_key.py runs it on the KDS lab DC')),
    ('docs/docsite/rst/guide_awx.rst', 'ansible-builder build', ('skip', 'the build runs in test_built_collection.py; '
                                                                 'ansible-builder needs a container runtime (the '
                                                                 'suite runs ansible-builder create)')),
    ('roles/directory/README.md', 'gmsa.farm.directory', ('run', 'play_check')),
    ('roles/member/README.md', 'linux_members:', ('skip', 'an inventory fragment for Linux members: the lab\'s '
                                                          'tests/lab/inventory.yml has it, run by lab.sh')),
    ('roles/member/README.md', 'member_components:', ('skip', WINDOWS)),
    ('playbooks/migrate_service_account.yml', '', ('skip', 'switches the hosts of members_group over WinRM: ' + WINDOWS
                                                   + '; its refusals run in test_farm_preflight.py')),
    ('playbooks/', 'ansible-playbook -i inventory', ('run', 'farm_command')),
    ('plugins/modules/gmsa_host.py', '', ('skip', WINDOWS)),
    ('plugins/modules/windows_service_identity.py', '', ('skip', WINDOWS)),
    ('plugins/modules/host_native.yml', '', ('skip', WINDOWS)),
    ('plugins/modules/ou_delegation.py', '', ('skip', 'as README.md#3: test_ou_delegation.py')),
    ('plugins/modules/gmsa_keytab.py', '', ('skip', 'runs on a joined Linux member with its machine keytab: '
                                                    'test_gmsa_keytab.py and lab.sh run it that way')),
    ('plugins/modules/credential_spec.py', '', ('skip', 'names a gMSA and container hosts of contoso.com: '
                                                        'test_credential_spec.py runs each option against the lab')),
    ('plugins/modules/kds_root_key.py', '', ('run', 'tasks_check')),   # the lab's KDS keys are shared: check mode
    ('plugins/modules/', '', ('run', 'tasks_apply')),
]


def decision(snippet):
    for where, contains, verdict in DECISIONS:
        if snippet.where.startswith(where) and contains in snippet.text:
            return verdict
    return None


SNIPPETS = collect()


def test_every_documented_snippet_is_run_or_skipped_with_a_reason():
    undecided = [s for s in SNIPPETS if decision(s) is None]
    assert undecided == [], 'documented snippets with no test and no reason: %s' % undecided
    assert len(SNIPPETS) > 30


class Reader(object):
    """The reader's session: one lab translation, a shell environment like the guide's, a farm inventory."""

    def __init__(self, lab, admin, ou, tmp):
        self.lab, self.admin, self.ou, self.tmp = lab, admin, ou, tmp
        self.tag = uuid.uuid4().hex[:5]
        self.env = dict(os.environ, ANSIBLE_NOCOLOR='1', PWD=str(tmp))
        self.env.update(dict((k, v) for k, v in lab.items() if k.startswith(('GMSA_', 'KRB5')) and isinstance(v, str)))
        self.env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'),
                        ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'))
        self.inventory = None
        self.ran = {}
        for sub in ('Service Accounts', 'Groups'):
            assert admin.add('OU=%s,%s' % (sub, ou), 'organizationalUnit'), admin.result
        self.user = 'svcweb' + self.tag
        # the computers the module examples name besides the farm's members
        subprocess.run([sys.executable, os.path.join(REPO, 'tests', 'lab', 'lab_hosts.py'), 'ensure',
                        self.translate('WEBFRONT'), self.translate('SQL1')], env=self.env, check=True,
                       capture_output=True)
        dn = 'CN=%s,%s' % (self.user, ou)
        assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
            'sAMAccountName': self.user, 'userAccountControl': 0x200,
            'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result

    # the lab translation
    NAMES = ['ITFarmHosts', 'ITFarm1', 'ITFarm2', 'ITFarm', 'WebFarmHosts', 'WebFarm', 'WEBFRONT', 'WEB01', 'WEB02',
             'WEB03', 'WEB04', 'WEB05', 'SQL1', 'svc-sql1', 'App001Hosts', 'App001', 'App002', 'MyAppSvc']

    def translate(self, text):
        base = ',' + self.ou
        text = text.replace(',DC=contoso,DC=com', base)
        text = text.replace('/etc/pki/example-root-ca.pem', self.lab['GMSA_DOMAIN_CA_CERT'])
        text = text.replace('svc-ansible@EXAMPLE.COM', self.lab['GMSA_DOMAIN_USERNAME'])
        text = re.sub(r'(?i)\bsvc_web\b', self.user, text)
        for domain in ('contoso.com', 'example.com'):
            text = re.sub(r'(?i)\b%s\b' % re.escape(domain), self.lab['GMSA_LAB_REALM'].lower(), text)
        text = re.sub(r'\bEXAMPLE\.COM\b|\bCONTOSO\.COM\b', self.lab['GMSA_LAB_REALM'], text)
        text = re.sub(r'(?<=/)contoso\b', self.lab['GMSA_LAB_NETBIOS'].lower(), text)

        def unique(m):
            word = m.group(0)
            return word[:9] + self.tag if word.isupper() or word.islower() else word[:9] + self.tag
        names = '|'.join(re.escape(n) for n in sorted(self.NAMES, key=len, reverse=True))
        text = re.sub(r'(?i)(?<![\w-])(%s)(?![\w-])' % names, unique, text)
        # inventory host names of the farm examples (web01 ...), not the lab DC's dc1
        return text

    def names(self):
        return [n[:9] + self.tag for n in self.NAMES]

    def run(self, argv, expect_ok=True):
        p = subprocess.run(argv, capture_output=True, text=True, env=self.env, cwd=str(self.tmp), check=False)
        out = p.stdout + p.stderr
        assert self.lab['GMSA_DOMAIN_PASSWORD'] not in out
        if expect_ok:
            assert p.returncode == 0, out[-4000:]
        return out

    def playbook(self, text, args=()):
        path = self.tmp / ('play-%d.yml' % len(os.listdir(str(self.tmp))))
        path.write_text(text)
        return self.run(['ansible-playbook', str(path)] + list(args))

    def cleanup(self):
        for name in self.names():
            self.admin.search(self.lab['GMSA_LAB_BASE_DN'], '(|(sAMAccountName=%s)(sAMAccountName=%s$)(sAMAccountName=%s-2$))'
                              % (name, name, name[:13]), attributes=['1.1'])
            for e in [e for e in self.admin.response if e.get('type') == 'searchResEntry']:
                self.admin.delete(e['dn'])
        hosts = [n.lower() for n in self.names() if n.lower().startswith(('web', 'sql'))]
        subprocess.run([sys.executable, os.path.join(REPO, 'tests', 'lab', 'lab_hosts.py'), 'delete'] + hosts,
                       capture_output=True, env=self.env, check=False)


@pytest.fixture(scope='module')
def reader(lab, admin, tmp_path_factory):
    from conftest import delete_tree
    tmp = tmp_path_factory.mktemp('reader')
    ou = 'OU=docs%s,%s' % (uuid.uuid4().hex[:6], lab['GMSA_LAB_BASE_DN'])
    assert admin.add(ou, 'organizationalUnit'), admin.result
    r = None
    try:
        r = Reader(lab, admin, ou, tmp)
        yield r
    finally:
        if r is not None:
            r.cleanup()
        delete_tree(admin, ou)


def as_play(tasks_text, check):
    tasks = yaml.safe_load(tasks_text)
    return yaml.safe_dump([dict(name='Documented tasks', hosts='localhost', connection='local',
                                gather_facts=False, tasks=tasks)], sort_keys=False)


# -- runners: each takes the reader and the translated snippet ---------------------------------------------------

def run_shell(reader, snippet, text):
    # the guide's shell session, from the checkout's root, as written (one shell, stop at the first failure)
    reader.run(['bash', '-c', 'set -eo pipefail\ncd %s\n%s' % (shlex.quote(REPO), text)])


def run_shell_check(reader, snippet, text):
    # a command that writes the directory: in check mode (drift report), from the folder holding its files
    out = reader.run(['bash', '-c', 'set -eo pipefail\n' + text.replace('ansible-playbook', 'ansible-playbook --check', 1)])
    assert 'failed=0' in out


def run_play(reader, snippet, text):
    reader.playbook(text, ['--check', '--diff'])


def run_play_check(reader, snippet, text):
    out = reader.playbook(text, ['--check', '--diff'])
    assert 'failed=0' in out


def run_play_check_apply_rerun(reader, snippet, text):
    # "Every task reports a diff, runs in check mode, and a second run changes nothing."
    out = reader.playbook(text, ['--check', '--diff'])
    # the gMSA's diff shows the grant to the host group the task before it would create
    assert re.search(r'"\w+ \(not in the directory yet\)"', out), out[-3000:]
    reader.playbook(text, ['--diff'])
    assert recap(reader.playbook(text, ['--diff']))['changed'] == 0


def run_module_defaults(reader, snippet, text):
    block = yaml.safe_load(text)
    defaults = block.get('module_defaults', block)
    play = [dict(name='Connection', hosts='localhost', connection='local', gather_facts=False,
                 module_defaults=defaults, tasks=[{'gmsa.farm.domain_info': None}])]
    reader.playbook(yaml.safe_dump(play))


def run_tasks_check(reader, snippet, text):
    extra = reader.tmp / 'example-vars.json'
    extra.write_text(json.dumps(dict(vault_ldap_password=reader.lab['GMSA_DOMAIN_PASSWORD'], estate_accounts=[])))
    out = reader.playbook(as_play(text, True), ['--check', '--diff', '-e', '@%s' % extra])
    assert 'failed=0' in out


SAMBA_REFUSES = 'msDS-AllowedToActOnBehalfOfOtherIdentity'   # documented in the example itself


def run_tasks_apply(reader, snippet, text):
    # a module's examples in order, for real, in the throw-away OU; a task its text says Samba refuses must fail
    # saying why, and nothing else may fail
    tasks = yaml.safe_load(text)
    checks = []
    for i, task in enumerate(list(tasks)):
        if SAMBA_REFUSES in text and 'delegates' in str(task.get('gmsa.farm.gmsa', {})):
            assert 'Samba 4.22 treats %s as system-only' % SAMBA_REFUSES in ' '.join(
                line.lstrip('# ') for line in text.splitlines()), 'the example says Samba refuses it'
            task.update(ignore_errors=True, register='samba_refused_%d' % i)
            checks.append('samba_refused_%d' % i)
    tasks += [{'name': 'Samba refused it, saying why', 'ansible.builtin.assert': {
        'that': ['%s is failed' % r, "'system-only' in %s.msg" % r]}} for r in checks]
    extra = reader.tmp / 'example-vars.json'
    extra.write_text(json.dumps(dict(vault_ldap_password=reader.lab['GMSA_DOMAIN_PASSWORD'], estate_accounts=[])))
    out = reader.playbook(as_play(yaml.safe_dump(tasks), False), ['--diff', '-e', '@%s' % extra])
    assert recap(out)['failed'] == 0


def run_vars_file(reader, snippet, text):
    name = text.strip().splitlines()[0].lstrip('# ').strip()
    (reader.tmp / name).write_text(text)


def run_play_file(reader, snippet, text):
    # the playbook beside the vars file; the guide's command says how it is run
    (reader.tmp / 'estate-playbook.yml').write_text(text)


def run_inventory(reader, snippet, text):
    farm = yaml.safe_load(text)
    if 'all' not in farm:
        farm = dict(all=dict(vars=farm))
    inv = farm['all']
    inv.setdefault('hosts', {})['localhost'] = dict(ansible_connection='local',
                                                    ansible_python_interpreter=sys.executable)
    inv.setdefault('vars', {})['directory_kds_effective_time_hours'] = 0   # the lab's KDS key is usable
    hosts = sorted((inv.get('children') or {}).get('farm_members', {}).get('hosts') or {})
    assert hosts, 'the lifecycle guide\'s inventory names its member hosts'
    (reader.tmp / 'inventory').write_text(yaml.safe_dump(farm))
    reader.inventory = str(reader.tmp / 'inventory')
    reader.run([sys.executable, os.path.join(REPO, 'tests', 'lab', 'lab_hosts.py'), 'ensure'] + hosts)


def run_farm_command(reader, snippet, text):
    assert reader.inventory, 'the lifecycle guide\'s inventory comes first'
    text = re.sub(r'\s*\[-e [^\]]+\]', '', text)             # optional parts left out
    argv = shlex.split(text)
    if argv[0] != 'ansible-playbook':
        argv = ['ansible-playbook', '-i', 'inventory', 'gmsa.farm.' + argv[0]] + argv[1:]
    argv = [reader.inventory if a == 'inventory' else a for a in argv]
    if tuple(argv) in reader.ran and 'gmsa.farm.deploy_farm' not in argv:   # deploy_farm: the farm comes back
        pytest.skip('the same command as %s, which ran' % reader.ran[tuple(argv)])
    reader.ran[tuple(argv)] = snippet.where
    out = reader.run(argv)
    assert recap(out)['failed'] == 0


RUNNERS = dict(tasks_apply=run_tasks_apply, shell=run_shell, shell_check=run_shell_check, play=run_play, play_check=run_play_check,
               play_check_apply_rerun=run_play_check_apply_rerun, module_defaults=run_module_defaults,
               tasks_check=run_tasks_check, vars_file=run_vars_file, play_file=run_play_file,
               inventory=run_inventory, farm_command=run_farm_command)


@pytest.mark.parametrize('snippet', SNIPPETS, ids=[s.where for s in SNIPPETS])
def test_documented_snippet(reader, snippet):
    verdict = decision(snippet)
    if verdict is None:
        pytest.fail('no decision for %r' % snippet)
    if verdict[0] == 'skip':
        pytest.skip(verdict[1])
    RUNNERS[verdict[1]](reader, snippet, reader.translate(snippet.text))
