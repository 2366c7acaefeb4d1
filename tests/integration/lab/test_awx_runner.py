"""AWX's job runner: the example AWX project's playbooks run through ansible-runner (the executor AWX and AAP use
for every job) with the "gmsa.farm LDAP" credential type's injectors applied the way AWX applies them (its
environment variables rendered from the credential's inputs, the CA certificate written to a file in the job's
private data directory), against the lab DC. The job's events and artifacts hold no secret."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid

import jinja2.sandbox
import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
PROJECT = os.path.join(REPO, 'examples', 'awx_project')
RUNNER = os.path.join(os.path.dirname(sys.executable), 'ansible-runner')

pytestmark = pytest.mark.skipif(not os.path.exists(RUNNER), reason='ansible-runner is not installed '
                                                                   '(requirements-dev.txt has it)')


class _Namespace(object):
    pass


def awx_credential_env(private_data_dir, inputs):
    """The credential type's injectors as AWX applies them (awx/main/models/credential.py, inject_credential):
    each file template rendered into a file of the private data directory, readable by the owner only, its path
    as tower.filename.<name>; each env template rendered with the inputs and that namespace, in a sandbox."""
    ctype = yaml.safe_load(open(os.path.join(PROJECT, 'credential_type.yml')))
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    tower = _Namespace()
    tower.filename = _Namespace()
    for key, template in ctype['injectors'].get('file', {}).items():
        fd, path = tempfile.mkstemp(dir=private_data_dir)
        with os.fdopen(fd, 'w') as f:
            f.write(env.from_string(template).render(**inputs))
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
        setattr(tower.filename, key.split('.', 1)[1], path)
    context = dict(inputs, tower=tower, awx=tower)
    return {k: env.from_string(v).render(**context) for k, v in ctype['injectors']['env'].items()}


@pytest.fixture
def awx_job(lab, admin, computers, tmp_path):
    tag = uuid.uuid4().hex[:6]
    hosts = ['aw%sh%d' % (tag, i) for i in (1, 2)]
    members = [computers.create(h.upper()) for h in hosts]     # the members' computer accounts
    farm = dict(name='AW%s' % tag, members_group='farm_members', host_group=dict(name='AW%sHosts' % tag),
                accounts=[dict(name='aw%s' % tag, dns_hostname='aw%s.gmsalab.test' % tag,
                               spn=['http/aw%s.gmsalab.test' % tag])],
                identities=[], profile='none', fallback_account='LocalSystem')

    def can_retrieve(account):
        admin.search(lab['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s$)' % account, attributes=['1.1'])
        dn = [e['dn'] for e in admin.response if e.get('type') == 'searchResEntry'][0]
        return [bool(computers.managed_password(m, dn)) for m in members]
    pdd = tmp_path / 'job'
    shutil.copytree(PROJECT, pdd / 'project')
    (pdd / 'inventory').mkdir(parents=True)
    (pdd / 'env').mkdir()
    # the inventory as the AWX guide advises: localhost runs with the job's own Python
    inventory = dict(all=dict(
        hosts=dict(localhost=dict(ansible_connection='local',
                                  ansible_python_interpreter='{{ ansible_playbook_python }}')),
        children=dict(farm_members=dict(hosts={h: None for h in hosts}, vars=dict(gmsa_farm_manage_host=False))),
        vars=dict(gmsa_farm=farm, directory_kds_effective_time_hours=0)))
    (pdd / 'inventory' / 'hosts.yml').write_text(yaml.safe_dump(inventory))
    inputs = dict(server=lab['GMSA_DOMAIN_SERVER'], username=lab['GMSA_DOMAIN_USERNAME'],
                  password=lab['GMSA_DOMAIN_PASSWORD'], auth='simple',
                  ca_cert=open(lab['GMSA_DOMAIN_CA_CERT']).read())
    envvars = awx_credential_env(str(pdd), inputs)
    # what the EE provides: the collection installed, Kerberos configuration for the realm
    envvars.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'), KRB5_CONFIG=lab['KRB5_CONFIG'],
                   ANSIBLE_NOCOLOR='1', HOME=str(tmp_path / 'home'))
    (pdd / 'env' / 'envvars').write_text(yaml.safe_dump(envvars))
    job = dict(pdd=pdd, farm=farm, hosts=hosts, can_retrieve=can_retrieve, envvars=envvars, n=0)

    def run(playbook, extravars=None, verbosity=0):
        job['n'] += 1
        ident = '%d-%s' % (job['n'], playbook[:-4])
        (pdd / 'env' / 'extravars').write_text(yaml.safe_dump(extravars or {}))
        cmd = [RUNNER, 'run', str(pdd), '-p', playbook, '--ident', ident]
        if verbosity:
            cmd += ['-' + 'v' * verbosity]
        env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'GMSA_'))}
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=600)
        art = pdd / 'artifacts' / ident
        assert (art / 'job_events').is_dir(), p.stdout + p.stderr
        events = [json.loads((art / 'job_events' / f).read_text()) for f in sorted(os.listdir(art / 'job_events'))]
        return dict(rc=p.returncode, out=p.stdout + p.stderr, status=(art / 'status').read_text(), events=events,
                    artifacts=art)

    job['run'] = run
    yield job
    for sam in (farm['accounts'][0]['name'] + '$', farm['host_group']['name']):
        admin.search(lab['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s)' % sam, attributes=['1.1'])
        for e in [e for e in admin.response if e.get('type') == 'searchResEntry']:
            admin.delete(e['dn'])


def task_results(events, action):
    return [e['event_data'] for e in events if e['event'] in ('runner_on_ok', 'runner_on_failed')
            and e['event_data'].get('resolved_action', e['event_data'].get('task_action')) == action]


def awx_safe_env(env):
    """What AWX keeps of a job's environment (job_env): build_safe_env in awx/main/models/credential.py hides the
    value of every variable whose name matches API|TOKEN|KEY|SECRET|PASS (ANSIBLE_* except ANSIBLE_NET* and
    ANSIBLE_GALAXY_SERVER* kept) and the password of a URL."""
    hidden, urlpass = re.compile(r'API|TOKEN|KEY|SECRET|PASS', re.I), re.compile(r'^.*?://[^:]+:(.*?)@.*?$')
    safe = dict(env)
    for k, v in safe.items():
        kept_ansible = k.startswith('ANSIBLE_') and not k.startswith(('ANSIBLE_NET', 'ANSIBLE_GALAXY_SERVER'))
        if k == 'AWS_ACCESS_KEY_ID' or kept_ansible:
            continue
        if hidden.search(k):
            safe[k] = '**********'
        elif isinstance(v, str) and urlpass.match(v):
            safe[k] = urlpass.sub('**********', v)
    return safe


def assert_no_secret(result, secret):
    """Nothing the job shows or keeps holds the secret: its output, every event, every artifact. The one file
    that holds the process environment, ansible-runner's launch record (artifacts/ID/command, owner-only like the
    env/envvars input it comes from), is what AWX keeps as the job's environment only through build_safe_env."""
    assert secret not in result['out']
    for e in result['events']:
        assert secret not in json.dumps(e), e.get('event')
    for root, _dirs, files in os.walk(result['artifacts']):
        for f in files:
            path = os.path.join(root, f)
            data = open(path, 'rb').read()
            if path == str(result['artifacts'] / 'command'):
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
                launch = json.loads(data)
                assert secret not in json.dumps(awx_safe_env(launch['env']))
                assert secret not in json.dumps(launch['command'])
                continue
            assert secret.encode() not in data, path


def test_example_project_through_ansible_runner_with_the_credential_injectors(awx_job, lab, admin, tmp_path):
    secret = lab['GMSA_DOMAIN_PASSWORD']
    account = awx_job['farm']['accounts'][0]['name']
    # the credential's injectors: the connection as environment variables, the CA certificate as a private file
    ca = awx_job['envvars']['GMSA_DOMAIN_CA_CERT']
    assert os.path.dirname(ca) == str(awx_job['pdd']) and oct(os.stat(ca).st_mode & 0o777) == '0o600'
    assert open(ca).read() == open(lab['GMSA_DOMAIN_CA_CERT']).read()

    # Deploy farm, at AWX's highest verbosity: every module invocation is in the events
    deploy = awx_job['run']('deploy_farm.yml', verbosity=4)
    assert deploy['rc'] == 0 and deploy['status'] == 'successful', deploy['out'][-4000:]
    gmsa = task_results(deploy['events'], 'gmsa.farm.gmsa')
    assert gmsa and gmsa[0]['res']['changed'] is True
    invocation = gmsa[0]['res']['invocation']['module_args']
    # the module read its connection from the injected environment, not from options
    assert invocation.get('domain_password') in (None, 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER')
    assert_no_secret(deploy, secret)
    # independent check: each member computer retrieves the password, bound as itself
    assert all(awx_job['can_retrieve'](account))

    # Audit without gmsa_farm_audit_dir: the reports go to the job user's home, not into the project or the
    # installed collection
    audit = awx_job['run']('audit.yml')
    assert audit['rc'] == 0, audit['out'][-4000:]
    reports = tmp_path / 'home' / 'gmsa-audit'
    assert 'Reports: %s/gmsa-audit.md' % reports in audit['out']
    assert not list((awx_job['pdd'] / 'project').rglob('gmsa-audit*'))
    assert json.loads((reports / 'gmsa-audit.json').read_text())['accounts'][0]['name'] == account
    assert_no_secret(audit, secret)

    # Decommission farm (delete), the survey's confirmation given
    gone = awx_job['run']('decommission_farm.yml', dict(gmsa_farm_confirm_decommission=awx_job['farm']['name'],
                                                        gmsa_farm_decommission_delete=True))
    assert gone['rc'] == 0, gone['out'][-4000:]
    assert_no_secret(gone, secret)
    admin.search(lab['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s$)' % account, attributes=['1.1'])
    assert not [e for e in admin.response if e.get('type') == 'searchResEntry'], 'the gMSA is still there'
