"""The credential spec core, without a server: the document field for field as New-CredentialSpec writes it,
the domain read from a crossRef answer captured on the lab DC, the checks before writing, the Kubernetes
manifest against the windows-gmsa CRD schema, and the CCG plugin input never shown."""
from __future__ import annotations

import json
import os
import uuid

import pytest
import yaml

from k8s_crd import crd_problems

from ansible_collections.gmsa.farm.plugins.module_utils import _credential_spec as cs

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, '..', '..', '..', 'data')

DOMAIN = dict(dns_name='contoso.com', netbios_name='CONTOSO', guid='244818ae-87ca-4fcd-92ec-e79e5252348a',
              sid='S-1-5-21-2126729477-2524275714-3294792973', dns_tree_name='contoso.com',
              distinguished_name='DC=contoso,DC=com')


def test_document_is_what_new_credentialspec_writes():
    # Microsoft's documented example (Create gMSAs for Windows containers), with this domain's values
    doc = cs.build_spec(DOMAIN, 'WebApp01$')
    assert json.loads(cs.render_json(doc)) == {
        'CmsPlugins': ['ActiveDirectory'],
        'DomainJoinConfig': {'Sid': DOMAIN['sid'], 'MachineAccountName': 'WebApp01', 'Guid': DOMAIN['guid'],
                             'DnsTreeName': 'contoso.com', 'DnsName': 'contoso.com', 'NetBiosName': 'CONTOSO'},
        'ActiveDirectoryConfig': {'GroupManagedServiceAccounts': [{'Name': 'WebApp01', 'Scope': 'contoso.com'},
                                                                  {'Name': 'WebApp01', 'Scope': 'CONTOSO'}]},
    }
    assert list(doc) == ['CmsPlugins', 'DomainJoinConfig', 'ActiveDirectoryConfig']
    assert list(doc['DomainJoinConfig']) == ['Sid', 'MachineAccountName', 'Guid', 'DnsTreeName', 'DnsName',
                                             'NetBiosName']
    assert cs.default_file_name(DOMAIN, 'WebApp01$') == 'contoso_webapp01.json'


def test_additional_accounts_get_one_entry_scoped_by_their_domain():
    doc = cs.build_spec(DOMAIN, 'Web$', [dict(name='Log01$'), dict(name='gMSA3', domain='dev.contoso.com')])
    assert doc['ActiveDirectoryConfig']['GroupManagedServiceAccounts'][2:] == [
        {'Name': 'Log01', 'Scope': 'contoso.com'}, {'Name': 'gMSA3', 'Scope': 'dev.contoso.com'}]


def test_host_account_config_is_written_and_masked_when_shown():
    secret = 'contoso.com:gmsaccg:Pa"ss\\word'
    hac = dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input=secret)
    doc = cs.build_spec(DOMAIN, 'Web$', host_account=hac)
    assert doc['ActiveDirectoryConfig']['HostAccountConfig'] == {
        'PortableCcgVersion': '1', 'PluginGUID': '{CCC2A336-D7F3-4818-A213-272B7924213E}', 'PluginInput': secret}
    text = cs.render_json(doc)
    shown = cs.shown_text(text, secret)
    assert 'gmsaccg' not in shown and cs.MASK in shown
    assert 'gmsaccg' not in json.dumps(cs.masked(doc))
    assert doc['ActiveDirectoryConfig']['HostAccountConfig']['PluginInput'] == secret  # masked() copies
    # only the secret changed: the diff says a hidden value changes, and shows neither value
    old = text.replace('Pa', 'Xa')   # the file on disk holds an older secret than the task's
    changed, diff = cs.file_change(old, text, cs.shown_text(old, secret), shown)
    assert changed and 'hidden' in diff['after'] and 'gmsaccg' not in diff['before'] + diff['after']
    assert cs.shown_text('not json ' + secret, secret) == '(%d bytes that are not a credential spec)\n' % (9 + len(secret))
    manifest = cs.render_yaml(cs.kubernetes_documents(doc, 'web'))
    assert 'gmsaccg' in manifest and 'gmsaccg' not in cs.shown_text(manifest, 'other', 'yaml')


@pytest.mark.parametrize('value, word', [
    (dict(plugin_guid='CCC2A336-D7F3-4818-A213-272B7924213E', plugin_input='x'), 'plugin_guid'),
    (dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input=''), 'plugin_input'),
    (dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input='x', portable_ccg_version='2'),
     'portable_ccg_version'),
])
def test_bad_host_account_config_names_the_option(value, word):
    with pytest.raises(cs.SpecError, match=word):
        cs.validate_host_account('host_account_config', value)


@pytest.mark.parametrize('value, word', [
    (dict(name='WebApp01'), 'kubernetes.name'),
    (dict(name='web', service_accounts=[dict(name='Default', namespace='web')]), r'service_accounts\[0\].name'),
    (dict(name='web', service_accounts=[dict(name='default', namespace='a_b')]), 'namespace'),
])
def test_bad_kubernetes_names_are_refused(value, word):
    with pytest.raises(cs.SpecError, match=word):
        cs.validate_kubernetes('kubernetes', value)


def test_domain_from_a_crossref_answer_captured_on_the_lab_dc():
    with open(os.path.join(DATA, 'lab', 'crossref_extended_dn.json')) as f:
        cap = json.load(f)
    facts = cs.domain_from_partitions(cap['root_dse']['defaultNamingContext'],
                                      cap['root_dse']['rootDomainNamingContext'], cap['entries'])
    for key, value in cap['expected'].items():
        assert facts[key] == value, key


def test_extended_dn_in_string_form():
    dn, guid, sid = cs.parse_extended_dn('<GUID=244818ae-87ca-4fcd-92ec-e79e5252348a>;<SID=S-1-5-21-1-2-3>;DC=a,DC=b')
    assert (dn, guid, sid) == ('DC=a,DC=b', '244818ae-87ca-4fcd-92ec-e79e5252348a', 'S-1-5-21-1-2-3')


def test_missing_crossref_is_a_clear_error():
    with pytest.raises(Exception, match='nETBIOSName'):
        cs.domain_from_partitions('DC=a,DC=b', 'DC=a,DC=b', [])


def report(**kw):
    r = dict(sam_account_name='Web$', account_type='group', enabled=True, outbound_auth_only=False,
             effective_retrievers=['CTR01$', 'CTR02$'], retrievers_unbounded=False, unbounded_reasons=[])
    r.update(kw)
    return r


def test_checks_name_the_account_and_the_host():
    assert cs.account_problems(report(), ['ctr01', 'CTR02$', 'ctr01.contoso.com', 'CONTOSO\\ctr02'], True) == \
        ([], [])
    problems, _w = cs.account_problems(report(), ['ctr03'], True)
    # an empty grant reads the same as one the bound account may not read: the message says both
    empty, _w = cs.account_problems(report(effective_retrievers=[], allowed_principals=[]), ['ctr01'], True)
    assert 'or the bound account may not read it' in empty[0]
    assert len(problems) == 1 and 'Web$' in problems[0] and 'ctr03' in problems[0] and 'CTR01$' in problems[0]
    problems, _w = cs.account_problems(report(enabled=False, outbound_auth_only=True, account_type='standalone'),
                                       [], True)
    assert [p.split(' ')[2] for p in problems] == ['a', 'disabled:', 'outbound-only']
    assert cs.account_problems(report(outbound_auth_only=True), [], False) == ([], [])
    # the CCG plugin's account must be a retriever too
    problems, _w = cs.account_problems(report(), [], True, ccg_retriever='svc-ccg')
    assert 'CCG plugin account svc-ccg' in problems[0]
    assert cs.account_problems(report(effective_retrievers=['svc-ccg']), [], True, 'CONTOSO\\svc-ccg') == ([], [])


def test_unbounded_grants_make_an_unlisted_host_a_warning():
    problems, warnings = cs.account_problems(
        report(retrievers_unbounded=True, unbounded_reasons=['Authenticated Users (S-1-5-11) is granted']),
        ['ctr09'], True)
    assert problems == [] and 'ctr09' in warnings[0] and 'Authenticated Users' in warnings[0]


def test_kubernetes_manifest_validates_against_the_crd_and_grants_use():
    hac = dict(plugin_guid='{CCC2A336-D7F3-4818-A213-272B7924213E}', plugin_input='x')
    doc = cs.build_spec(DOMAIN, 'WebApp01$', [dict(name='Log01')], hac)
    docs = cs.kubernetes_documents(doc, 'webapp01', [dict(name='default', namespace='web'),
                                                     dict(name='builder', namespace='web'),
                                                     dict(name='default', namespace='batch')])
    parsed = list(yaml.safe_load_all(cs.render_yaml(docs)))
    assert parsed == json.loads(json.dumps(docs))
    resource, role, bind_web, bind_batch = parsed
    assert resource['apiVersion'] == 'windows.k8s.io/v1' and resource['kind'] == 'GMSACredentialSpec'
    assert resource['metadata'] == {'name': 'webapp01'}
    assert crd_problems(resource) == []
    assert role['kind'] == 'ClusterRole' and role['rules'] == [{
        'apiGroups': ['windows.k8s.io'], 'resources': ['gmsacredentialspecs'], 'verbs': ['use'],
        'resourceNames': ['webapp01']}]
    # the webhook asks a LocalSubjectAccessReview in the pod's namespace: one RoleBinding per namespace
    assert bind_web['metadata'] == {'name': 'webapp01-use', 'namespace': 'web'}
    assert [s['name'] for s in bind_web['subjects']] == ['default', 'builder']
    assert bind_batch['metadata']['namespace'] == 'batch'
    assert bind_web['roleRef'] == {'kind': 'ClusterRole', 'name': 'webapp01-use',
                                   'apiGroup': 'rbac.authorization.k8s.io'}


def test_crd_check_catches_a_field_the_api_server_would_drop():
    doc = cs.build_spec(DOMAIN, 'WebApp01$')
    doc['DomainJoinConfig']['NetBIOSName'] = 'CONTOSO'   # the CRD spells it NetBiosName
    resource = cs.kubernetes_documents(doc, 'webapp01')[0]
    assert crd_problems(resource) == ['credspec.DomainJoinConfig.NetBIOSName would be pruned']
    resource['credspec']['CmsPlugins'] = 'ActiveDirectory'
    assert 'credspec.CmsPlugins: \'ActiveDirectory\' is not of type \'array\'' in crd_problems(resource)


def test_default_resource_name_is_a_kubernetes_name():
    assert cs.default_resource_name('WebApp_01$') == 'webapp-01'


class _CapturedDirectory(object):
    """Answers read_domain's searches from the crossRef answer captured on the lab DC; with ``plain_dn`` the
    extended-DN parts are left out, as a DC that ignores the control would answer."""

    def __init__(self, cap, plain_dn=False):
        self.cap, self.plain_dn, self.searches = cap, plain_dn, []
        dse = cap['root_dse']
        self.default_nc, self.root_domain_nc = dse['defaultNamingContext'], dse['rootDomainNamingContext']
        self.configuration_nc = dse['configurationNamingContext']

    def search(self, base, ldap_filter, attributes, scope='subtree', controls=None):
        self.searches.append((base, scope))
        if base.startswith('CN=Partitions'):
            entries = json.loads(json.dumps(self.cap['entries']))
            if self.plain_dn:
                for e in entries:
                    e['attributes']['nCName'] = [e['attributes']['nCName'][0].rsplit('>;', 1)[-1]]
            return entries
        exp = self.cap['expected']
        subs = [int(x) for x in exp['sid'].split('-')[3:]]
        sid = bytes([1, len(subs)]) + (5).to_bytes(6, 'big') + b''.join(x.to_bytes(4, 'little') for x in subs)
        return [dict(dn=base, attributes={}, raw=dict(objectGUID=[uuid.UUID(exp['guid']).bytes_le],
                                                      objectSid=[sid]))]


def test_read_domain_is_one_search_and_falls_back_when_the_dc_gives_no_extended_dn():
    with open(os.path.join(DATA, 'lab', 'crossref_extended_dn.json')) as f:
        cap = json.load(f)
    for plain, searches in ((False, 1), (True, 2)):
        d = _CapturedDirectory(cap, plain_dn=plain)
        facts = cs.read_domain(d)
        assert len(d.searches) == searches
        for key, value in cap['expected'].items():
            assert facts[key] == value, (plain, key)
