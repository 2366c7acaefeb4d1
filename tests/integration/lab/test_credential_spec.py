"""credential_spec against the lab DC: every field compared with values read independently (raw ldap3 as
Administrator, samba-tool), the Kubernetes manifest validated against the windows-gmsa CRD's schema, the checks
before writing (nothing written), check mode, diff and idempotence of the files, the secret never shown."""
from __future__ import annotations

import json
import os
import re
import subprocess
import uuid

import ldap3
import pytest
import yaml

from conftest import samba_tool, sid_text
from k8s_crd import crd_problems


def uid(prefix='c'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def directory_facts(admin, lab):
    """What the spec must say, read here with raw ldap3 as Administrator (not with the collection's code)."""
    admin.search('', '(objectClass=*)', search_scope=ldap3.BASE,
                 attributes=['defaultNamingContext', 'configurationNamingContext', 'rootDomainNamingContext'])
    dse = admin.response[0]['attributes']
    one = dict((k, v[0] if isinstance(v, list) else v) for k, v in dse.items())
    admin.search(one['defaultNamingContext'], '(objectClass=*)', search_scope=ldap3.BASE,
                 attributes=['objectSid', 'objectGUID'])
    raw = admin.response[0]['raw_attributes']
    admin.search('CN=Partitions,%s' % one['configurationNamingContext'], '(objectClass=crossRef)',
                 search_scope=ldap3.LEVEL, attributes=['nCName', 'dnsRoot', 'nETBIOSName'])
    refs = dict((e['attributes']['nCName'].lower() if isinstance(e['attributes']['nCName'], str)
                 else e['attributes']['nCName'][0].lower(), e['attributes']) for e in admin.response
                if e.get('type') == 'searchResEntry' and e['attributes'].get('nCName'))
    mine = refs[one['defaultNamingContext'].lower()]
    root = refs[one['rootDomainNamingContext'].lower()]

    def first(v):
        return v[0] if isinstance(v, list) else v
    return dict(sid=sid_text(raw['objectSid'][0]), guid=str(uuid.UUID(bytes_le=raw['objectGUID'][0])),
                dns=first(mine['dnsRoot']), netbios=first(mine['nETBIOSName']), tree=first(root['dnsRoot']))


@pytest.fixture
def spec_gmsa(run_module, ou, computers):
    """A gMSA retrievable by one host (directly) and by a second one through a group."""
    host = computers.create(uid('h'))
    other = computers.create(uid('o'))
    name = uid('cs')
    r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name,
                                spn=dict(set=['HTTP/%s.gmsalab.test' % name]),
                                allowed_to_retrieve_password=dict(set=[host['sam']])))
    assert not r.failed, r
    return dict(name=name, dn=r['distinguished_name'], host=host, other=other)


def test_every_field_matches_the_directory(run_module, admin, lab, spec_gmsa, tmp_path):
    path = str(tmp_path / 'spec.json')
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], container_hosts=[spec_gmsa['host']['name']],
                                           path=path))
    assert not r.failed, r
    assert r['changed'] is True
    facts = directory_facts(admin, lab)
    with open(path) as f:
        doc = json.load(f)
    assert doc == r['credential_spec']
    name = spec_gmsa['name']
    assert doc == {
        'CmsPlugins': ['ActiveDirectory'],
        'DomainJoinConfig': {'Sid': facts['sid'], 'MachineAccountName': name, 'Guid': facts['guid'],
                             'DnsTreeName': facts['tree'], 'DnsName': facts['dns'], 'NetBiosName': facts['netbios']},
        'ActiveDirectoryConfig': {'GroupManagedServiceAccounts': [{'Name': name, 'Scope': facts['dns']},
                                                                  {'Name': name, 'Scope': facts['netbios']}]},
    }
    # Two more independent clients: the DC locator (CLDAP netlogon ping, net ads lookup) for the domain GUID, forest,
    # domain and NetBIOS names; samba-tool for the gMSA's own SID, whose domain part is the domain SID.
    look = locator(lab)
    assert doc['DomainJoinConfig']['Guid'] == look['GUID']
    assert doc['DomainJoinConfig']['DnsTreeName'] == look['Forest']
    assert doc['DomainJoinConfig']['DnsName'] == look['Domain']
    assert doc['DomainJoinConfig']['NetBiosName'] == look['Pre-Win2k Domain']
    view = json.loads(samba_tool(lab, 'service-account', 'view', '--name=%s' % name))
    assert view['objectSid'].startswith(doc['DomainJoinConfig']['Sid'] + '-')
    assert view['sAMAccountName'] == doc['DomainJoinConfig']['MachineAccountName'] + '$'
    assert r['file_name'] == '%s_%s.json' % (facts['netbios'].lower(), name.lower())
    assert r['account']['effective_retrievers'] == [spec_gmsa['host']['sam']]

    # rerun: nothing changes, in check mode or not
    for check in (True, False):
        again = run_module('credential_spec', dict(name=spec_gmsa['name'], container_hosts=[spec_gmsa['host']['name']],
                                                   path=path), check=check)
        assert not again.failed and again['changed'] is False, again
        assert 'diff' not in again or again['diff'] in ([], None)
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'


def locator(lab):
    out = subprocess.run(['net', 'ads', 'lookup', '-S', lab['GMSA_LAB_IP']], capture_output=True, text=True,
                         check=True, timeout=30).stdout
    return dict(re.findall(r'^([A-Za-z][A-Za-z0-9 -]*): (.+)$', out, re.M))


def test_check_mode_writes_nothing_and_shows_the_diff(run_module, spec_gmsa, tmp_path):
    path = str(tmp_path / 'spec.json')
    k8s_path = str(tmp_path / 'k8s.yml')
    args = dict(name=spec_gmsa['name'], container_hosts=[spec_gmsa['host']['sam']], path=path,
                kubernetes=dict(service_accounts=[dict(name='default', namespace='web')], path=k8s_path))
    r = run_module('credential_spec', args, check=True)
    assert not r.failed, r
    assert r['changed'] is True and not os.path.exists(path) and not os.path.exists(k8s_path)
    assert [d['after_header'] for d in r['diff']] == [path, k8s_path]
    assert json.loads(r['diff'][0]['after']) == r['credential_spec'] and r['diff'][0]['before'] == ''
    real = run_module('credential_spec', args)
    assert real['changed'] is True and real['diff'] == r['diff']
    with open(k8s_path) as f:
        assert f.read() == r['kubernetes_content']
    # a changed file is rewritten, with a diff from what was there
    with open(path, 'w') as f:
        f.write('{"CmsPlugins": []}')
    fixed = run_module('credential_spec', args)
    assert fixed['changed'] is True
    d = fixed['diff']
    assert json.loads(d['before']) == {'CmsPlugins': []} and json.loads(d['after']) == real['credential_spec']
    assert run_module('credential_spec', args)['changed'] is False


def test_kubernetes_manifest_validates_against_the_crd(run_module, spec_gmsa, tmp_path):
    k8s_path = str(tmp_path / 'k8s.yml')
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], kubernetes=dict(
        service_accounts=[dict(name='default', namespace='web')], path=k8s_path)))
    assert not r.failed, r
    with open(k8s_path) as f:
        docs = list(yaml.safe_load_all(f))
    assert [d['kind'] for d in docs] == ['GMSACredentialSpec', 'ClusterRole', 'RoleBinding']
    assert docs[0]['metadata']['name'] == spec_gmsa['name'].lower()
    assert docs[0]['credspec'] == r['credential_spec']
    assert crd_problems(docs[0]) == []
    assert docs[1]['rules'][0]['resourceNames'] == [spec_gmsa['name'].lower()]


def test_refusals_name_account_and_host_and_write_nothing(run_module, admin, spec_gmsa, ou, tmp_path, computers):
    path = str(tmp_path / 'spec.json')
    other = spec_gmsa['other']
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], container_hosts=[other['name']], path=path))
    assert r.failed and spec_gmsa['name'] in r['msg'] and other['name'] in r['msg'], r
    assert spec_gmsa['host']['sam'] in r['msg']   # the retrievers it has
    assert not os.path.exists(path)
    # the audit's answer, not only direct grants: through a group the second host is a retriever
    group = uid('g')
    assert admin.add('CN=%s,%s' % (group, ou), 'group', {'groupType': -2147483646, 'sAMAccountName': group,
                                                         'member': [other['dn']]}), admin.result
    assert not run_module('gmsa', dict(name=spec_gmsa['name'], allowed_to_retrieve_password=dict(
        add=[group]))).failed
    ok = run_module('credential_spec', dict(name=spec_gmsa['name'], container_hosts=[other['name']], path=path))
    assert not ok.failed and ok['changed'], ok
    # the directory agrees: bound as that host, it reads the password
    assert computers.managed_password(other, spec_gmsa['dn']) is not None
    os.unlink(path)

    missing = run_module('credential_spec', dict(name=uid('none'), path=path))
    assert missing.failed and 'no managed service account' in missing['msg'] and not os.path.exists(path)

    # several specs: one bad one stops all, and names which
    both = run_module('credential_spec', dict(specs=[dict(name=spec_gmsa['name'], path=path),
                                                     dict(name=spec_gmsa['name'], container_hosts=['nohost01'],
                                                          path=str(tmp_path / 'b.json'))]))
    assert both.failed and 'nohost01' in both['msg'] and not os.listdir(str(tmp_path))


def test_disabled_and_outbound_only_accounts_are_refused(run_module, ou, tmp_path):
    name = uid('od')
    assert not run_module('gmsa', dict(name=name, path=ou, outbound_auth_only=True, enabled=False)).failed
    path = str(tmp_path / 'x.json')
    r = run_module('credential_spec', dict(name=name, path=path))
    assert r.failed and 'disabled' in r['msg'] and 'outbound-only' in r['msg'] and not os.path.exists(path)
    assert not run_module('gmsa', dict(name=name, enabled=True)).failed
    ok = run_module('credential_spec', dict(name=name, inbound=False, path=path))
    assert not ok.failed and ok['changed'], ok


def test_ccg_plugin_input_never_shown_and_file_private(run_module, admin, spec_gmsa, tmp_path, lab):
    secret = 'gmsalab.test:ccguser:S3cret-%s' % uuid.uuid4().hex
    path = str(tmp_path / 'ccg.json')
    hac = dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input=secret,
               retriever=spec_gmsa['host']['sam'])
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], host_account_config=hac, path=path,
                                           kubernetes=dict(path=str(tmp_path / 'k.yml'))))
    assert not r.failed, r
    assert secret not in json.dumps(r) and 'S3cret' not in json.dumps(r)
    with open(path) as f:
        written = json.load(f)
    assert written['ActiveDirectoryConfig']['HostAccountConfig'] == {
        'PortableCcgVersion': '1', 'PluginGUID': '{CCC2A336-D7F3-4818-A213-272B7924213E}', 'PluginInput': secret}
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    # a new secret: changed, and the diff shows neither the old nor the new one
    hac['plugin_input'] = secret + 'x'
    r2 = run_module('credential_spec', dict(name=spec_gmsa['name'], host_account_config=hac, path=path))
    assert r2['changed'] is True and 'S3cret' not in json.dumps(r2)
    # the CCG account must be a retriever
    hac['retriever'] = spec_gmsa['other']['sam']
    r3 = run_module('credential_spec', dict(name=spec_gmsa['name'], host_account_config=hac, path=path))
    assert r3.failed and spec_gmsa['other']['sam'] in r3['msg'] and 'S3cret' not in json.dumps(r3)


def test_a_spec_file_that_takes_a_ccg_plugin_input_becomes_private(run_module, spec_gmsa, tmp_path):
    # written first without a secret (0644, as a spec for domain-joined hosts), then the farm adds HostAccountConfig
    path = str(tmp_path / 'later.json')
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path))
    assert not r.failed and r['changed'] is True, r
    assert oct(os.stat(path).st_mode & 0o777) == '0o644'
    hac = dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input='dom:user:S3cret-later',
               retriever=spec_gmsa['host']['sam'])
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, host_account_config=hac))
    assert not r.failed and r['changed'] is True, r
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    assert 'S3cret-later' in open(path).read()


def test_estate_in_one_task_costs_a_fixed_number_of_searches(run_module, ou, spec_gmsa, monkeypatch, tmp_path):
    names = [spec_gmsa['name']]
    for _i in range(3):
        n = uid('es')
        assert not run_module('gmsa', dict(name=n, path=ou, dns_hostname='%s.gmsalab.test' % n,
                                           allowed_to_retrieve_password=dict(set=[spec_gmsa['host']['sam']]))).failed
        names.append(n)
    monkeypatch.setenv('GMSA_FARM_COUNT_REQUESTS', '1')
    counts = []
    for k in (1, 4):
        r = run_module('credential_spec', dict(specs=[dict(name=n, container_hosts=[spec_gmsa['host']['name']],
                                                           path=str(tmp_path / ('%d-%s.json' % (k, n))))
                                                      for n in names[:k]]))
        assert not r.failed, r
        assert [s['changed'] for s in r['credential_specs']] == [True] * k
        counts.append(r['ldap_requests'])
    assert counts[0] == counts[1], counts
    print("credential_spec LDAP requests for 1 and 4 specs:", counts)


def test_absent_removes_the_files(run_module, spec_gmsa, tmp_path):
    path = str(tmp_path / 's.json')
    k8s = str(tmp_path / 'k.yml')
    assert run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, kubernetes=dict(path=k8s)))['changed']
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, kubernetes=dict(path=k8s),
                                           state='absent'), check=True)
    assert r['changed'] and os.path.exists(path)
    with open(path) as f:
        assert [d['before'] for d in r['diff']][0] == f.read() and r['diff'][1]['before'].startswith('---\n')
    assert [d['after'] for d in r['diff']] == ['', '']
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, kubernetes=dict(path=k8s),
                                           state='absent'))
    assert r['changed'] and r['removed'] == [path, k8s] and not os.path.exists(path) and not os.path.exists(k8s)
    assert run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, state='absent'))['changed'] is False


def test_ccg_plugin_input_not_in_playbook_output_at_vvv(lab, spec_gmsa, tmp_path):
    """Through ansible-playbook -vvv --diff (the module invocation is logged): the plugin input stays hidden, in the
    single and the list form, when it is written and when it changes."""
    secret = 'S3cret-%s' % uuid.uuid4().hex
    conn = dict(domain_server=[lab['GMSA_DOMAIN_SERVER']], domain_username=lab['GMSA_DOMAIN_USERNAME'],
                domain_password=lab['GMSA_DOMAIN_PASSWORD'], domain_ca_cert=lab['GMSA_DOMAIN_CA_CERT'])
    hac = dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input='{{ ccg_input }}',
               retriever=spec_gmsa['host']['sam'])
    play = [dict(hosts='localhost', connection='local', gather_facts=False,
                 module_defaults={'group/gmsa.farm.ldap': conn}, tasks=[
                     dict(name='single', **{'gmsa.farm.credential_spec': dict(
                         name=spec_gmsa['name'], host_account_config=hac, path=str(tmp_path / 'a.json'))}),
                     dict(name='list', **{'gmsa.farm.credential_spec': dict(specs=[dict(
                         name=spec_gmsa['name'], host_account_config=hac, path=str(tmp_path / 'b.json'))])}),
                 ])]
    (tmp_path / 'play.yml').write_text(yaml.safe_dump(play))
    cfg = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'ansible.cfg')
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_CONFIG=cfg)
    for value in (secret, secret + '-new'):
        (tmp_path / 'vars.json').write_text(json.dumps(dict(ccg_input=value)))
        p = subprocess.run(['ansible-playbook', '-vvv', '--diff', '-e', '@%s' % (tmp_path / 'vars.json'),
                            str(tmp_path / 'play.yml')], capture_output=True, text=True, env=env, check=False)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-3000:]
        assert 'changed=2' in out, out[-2000:]
        assert secret not in out and 'S3cret' not in out and lab['GMSA_DOMAIN_PASSWORD'] not in out
        assert '"plugin_input": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in out   # the logged invocation
        assert json.loads((tmp_path / 'b.json').read_text())['ActiveDirectoryConfig']['HostAccountConfig'][
            'PluginInput'] == value


@pytest.mark.parametrize('args, words', [
    (dict(kubernetes=dict(name='WebApp')), ['kubernetes.name', "'WebApp'"]),
    (dict(host_account_config=dict(plugin_guid='CCC2A336', plugin_input='x')),
     ['host_account_config.plugin_guid', "'CCC2A336'"]),
    (dict(path='/nonexistent-folder/x.json'), ['folder of /nonexistent-folder/x.json does not exist']),
    (dict(path='/tmp'), ['/tmp is a folder']),
])
def test_bad_options_name_the_option_and_write_nothing(run_module, spec_gmsa, tmp_path, args, words):
    k8s = str(tmp_path / 'k.yml')
    full = dict(name=spec_gmsa['name'])
    full.update(args)
    if 'kubernetes' in full:
        full['kubernetes']['path'] = k8s
    r = run_module('credential_spec', full)
    assert r.failed and not r.get('changed'), r
    for w in words:
        assert w in r['msg'], r['msg']
    assert not os.listdir(str(tmp_path))


def test_additional_accounts_are_checked_in_this_domain_and_written_as_given_elsewhere(run_module, ou, spec_gmsa,
                                                                                       tmp_path):
    extra = uid('ad')
    assert not run_module('gmsa', dict(name=extra, path=ou, outbound_auth_only=True)).failed
    path = str(tmp_path / 's.json')
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, additional_accounts=[
        dict(name=extra.upper()), dict(name='Reports01', domain='child.example.com')]))
    assert not r.failed, r
    assert r['credential_spec']['ActiveDirectoryConfig']['GroupManagedServiceAccounts'][2:] == [
        dict(Name=extra, Scope='gmsalab.test'), dict(Name='Reports01', Scope='child.example.com')]
    assert any('Reports01 of child.example.com is written unchecked' in w for w in r.warning_texts), r
    os.unlink(path)
    missing = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path,
                                                 additional_accounts=[dict(name='nosuch01')]))
    assert missing.failed and 'additional account nosuch01' in missing['msg'] and not os.path.exists(path)


def test_a_plain_domain_user_can_build_and_check_specs(run_module, admin, lab, ou, spec_gmsa, tmp_path):
    """Least privilege: building and checking a spec only reads. Measured on Samba 4.22: a domain user with no
    group beyond Domain Users reads every field and the retrievers, and gets the same document as Administrator."""
    import uuid as _uuid
    sam = uid('u')
    password = 'User-%s-9a!' % _uuid.uuid4().hex
    assert admin.add('CN=%s,%s' % (sam, ou), ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': sam, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), admin.result
    args = dict(name=spec_gmsa['name'], container_hosts=[spec_gmsa['host']['name']])
    as_admin = run_module('credential_spec', args, as_admin=True)
    as_user = run_module('credential_spec', dict(args, domain_username='%s@%s' % (sam, lab['GMSA_LAB_REALM']),
                                                 domain_password=password))
    assert not as_user.failed, as_user
    assert as_user['credential_spec'] == as_admin['credential_spec']
    assert as_user['account']['effective_retrievers'] == [spec_gmsa['host']['sam']]


def test_two_outputs_to_one_file_are_refused_before_any_write(run_module, spec_gmsa, tmp_path):
    path = str(tmp_path / 'same.json')
    r = run_module('credential_spec', dict(specs=[dict(name=spec_gmsa['name'], path=path),
                                                  dict(name=spec_gmsa['name'], path=path,
                                                       additional_accounts=[dict(name=spec_gmsa['name'])])]))
    assert r.failed and 'same.json is also where' in r['msg'] and 'Nothing was written' in r['msg'], r
    r = run_module('credential_spec', dict(name=spec_gmsa['name'], path=path, kubernetes=dict(path=path)))
    assert r.failed and 'same.json is also where' in r['msg'], r
    assert not os.path.exists(path)
