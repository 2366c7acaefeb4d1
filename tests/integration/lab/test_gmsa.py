"""gmsa against the lab DC: every option through check → apply → idempotent → read back, bad input changes
nothing, the password grant really works (bound as member computers), concurrent writers lose nothing."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import uuid

import ldap3
import pytest

from conftest import REPO, dump_tree, samba_tool


def uid(prefix='g'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def gmsa(run_module, ou, lab):
    """run the gmsa module with path=<the test OU> unless given, as the delegated identity unless as_admin."""
    def _run(args, check=False, as_admin=False):
        full = dict(path=ou)
        full.update(args)
        return run_module('gmsa', full, check=check, as_admin=as_admin)
    return _run


# Options no OU delegation can grant: writing the delegation bits of userAccountControl and
# msDS-AllowedToDelegateTo needs SeEnableDelegationPrivilege (a user right on the domain controllers, Administrators
# only by default; Microsoft's "Enable computer and user accounts to be trusted for delegation" policy setting).
NEEDS_DELEGATION_PRIVILEGE = ('allowed_to_delegate_to', 'trusted_to_auth_for_delegation', 'trusted_for_delegation')


def read(admin, dn, attrs=('*',)):
    """The object's attributes as {name: [text values]} (ints as text), plus 'raw' bytes; None when absent."""
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=list(attrs))
    entries = [e for e in admin.response if e.get('type') == 'searchResEntry']
    if not entries:
        return None
    raw = entries[0]['raw_attributes']
    text = {}
    for k, vs in raw.items():
        try:
            text[k] = [v.decode('utf-8') for v in vs]
        except UnicodeDecodeError:
            text[k] = None
    return dict(attributes=text, raw_attributes=raw)


def dns(lab, name):
    return '%s.%s' % (name.lower(), lab['GMSA_LAB_REALM'].lower())


def membership_show(lab, name):
    out = samba_tool(lab, 'service-account', 'group-msa-membership', 'show', '--name=%s' % name)
    return sorted(line.strip() for line in out.splitlines()[2:] if line.strip())


def check_apply_idempotent(gmsa, args, admin, ou):
    """The per-option cycle: check mode reports the change and writes nothing; apply; rerun is a no-op."""
    before = dump_tree(admin, ou)
    c = gmsa(args, check=True)
    assert not c.failed, c
    assert c['changed'] is True
    assert dump_tree(admin, ou) == before, 'check mode wrote to the directory'
    r = gmsa(args)
    assert not r.failed, r
    assert r['changed'] is True
    assert r['diff'] == c['diff'], 'check mode must report exactly what the real run does'
    again = gmsa(args)
    assert not again.failed, again
    assert again['changed'] is False, again['diff']
    assert again['diff']['before'] == again['diff']['after']
    return r


# --------------------------------------------------------------------------- create / read back

def test_create_like_microsofts_get_started_guide_and_read_back(gmsa, admin, ou, lab, computers, run_module):
    host = computers.create(uid('h'))
    name = uid()
    args = dict(name=name, dns_hostname=dns(lab, name),
                spn=dict(set=['http/%s' % dns(lab, name), 'http/%s' % name]),
                kerberos_encryption_types=dict(set=['rc4', 'aes128', 'aes256']),
                allowed_to_retrieve_password=dict(set=[host['name']]),
                description='web farm', display_name='Web Farm')
    r = check_apply_idempotent(gmsa, args, admin, ou)
    dn = 'CN=%s,%s' % (name, ou)
    assert r['distinguished_name'] == dn
    assert r['sam_account_name'] == name + '$'
    assert r['sid'].startswith('S-1-5-21-') and len(r['object_guid']) == 36
    assert r['principals'] == [dict(input=host['name'], name=host['sam'], sid=host['sid'], dn=host['dn'],
                                    type='computer')]
    assert r['diff']['before'] == {}
    after = r['diff']['after']
    assert after['allowed_to_retrieve_password'] == [host['sam']]
    assert after['kerberos_encryption_types'] == ['rc4', 'aes128', 'aes256']
    assert after['password_interval_days'] == 30 and after['enabled'] is True

    e = read(admin, dn, ['*', 'msDS-GroupMSAMembership'])
    a = e['attributes']
    assert a['sAMAccountName'] == [name + '$']
    assert a['dNSHostName'] == [dns(lab, name)]
    assert sorted(a['servicePrincipalName']) == sorted(['http/%s' % dns(lab, name), 'http/%s' % name])
    assert a['msDS-SupportedEncryptionTypes'] == [str(0x1C)]
    assert a['msDS-ManagedPasswordInterval'] == ['30']
    assert a['userAccountControl'] == [str(0x1000)]  # enabled workstation trust account, not Samba's default 0x1022
    assert a['description'] == ['web farm'] and a['displayName'] == ['Web Farm']
    sd = e['raw_attributes']['msDS-GroupMSAMembership'][0]
    assert len(sd) == 80  # exactly Windows' shape for one domain SID
    # Independent client: samba-tool reads the same principals.
    assert membership_show(lab, name) == [host['dn']]
    view = json.loads(samba_tool(lab, 'service-account', 'view', '--name=%s' % name))
    assert view['msDS-GroupMSAMembership'] == 'O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;%s)' % host['sid']

    # gmsa_info reads it back the same way
    info = run_module('gmsa_info', dict(name=name))
    assert not info.failed, info
    acct = info['accounts'][0]
    assert acct['distinguished_name'] == dn and acct['dns_hostname'] == dns(lab, name)
    assert [p['name'] for p in acct['allowed_principals']] == [host['sam']]
    assert acct['kerberos_encryption_types'] == ['rc4', 'aes128', 'aes256']


def test_password_retrieval_really_works(gmsa, computers, lab, admin, ou):
    """Bound as an allowed computer over LDAPS, msDS-ManagedPassword comes back; others get nothing."""
    group_sam = uid('grp')
    group_dn = 'CN=%s,%s' % (group_sam, ou)
    assert admin.add(group_dn, 'group', {'groupType': -2147483646, 'sAMAccountName': group_sam}), admin.result
    nested_dn = 'CN=%s,%s' % (uid('nst'), ou)
    assert admin.add(nested_dn, 'group', {'groupType': -2147483646, 'sAMAccountName': uid('nst')}), admin.result
    assert admin.modify(group_dn, {'member': [(ldap3.MODIFY_ADD, [nested_dn])]}), admin.result
    direct = computers.create(uid('d'))
    via_nested = computers.create(uid('n'), groups=[nested_dn])
    outsider = computers.create(uid('o'))
    name = uid()
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name),
                  allowed_to_retrieve_password=dict(set=[direct['sam'], group_dn])))
    assert not r.failed, r
    dn = r['distinguished_name']
    blob = computers.managed_password(direct, dn)
    assert blob is not None and len(blob) >= 290
    assert int.from_bytes(blob[:2], 'little') == 1  # MSDS-MANAGEDPASSWORD_BLOB version
    assert computers.managed_password(via_nested, dn) is not None  # through a nested group
    assert computers.managed_password(outsider, dn) is None

    r = gmsa(dict(name=name, allowed_to_retrieve_password=dict(remove=[direct['dn']])))
    assert r['changed'] is True and r['diff']['after']['allowed_to_retrieve_password'] == [group_sam]
    assert computers.managed_password(direct, dn) is None  # access is gone after removal
    assert computers.managed_password(via_nested, dn) is not None


def test_principal_forms_resolve_in_one_search(gmsa, computers, lab, admin, ou):
    hosts = [computers.create(uid('p')) for dummy in range(5)]
    name = uid()
    forms = [hosts[0]['name'], hosts[1]['sam'], hosts[2]['dn'], hosts[3]['sid'], hosts[4]['guid'],
             '%s\\%s' % (lab['GMSA_LAB_NETBIOS'], hosts[0]['sam'])]
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name), allowed_to_retrieve_password=dict(set=forms)))
    assert not r.failed, r
    assert sorted(p['sid'] for p in r['principals']) == sorted([h['sid'] for h in hosts] + [hosts[0]['sid']])
    assert r['diff']['after']['allowed_to_retrieve_password'] == sorted((h['sam'] for h in hosts), key=str.lower)
    assert membership_show(lab, name) == sorted(h['dn'] for h in hosts)


def test_add_remove_keep_unmanaged_entries(gmsa, computers, lab, admin, ou):
    a, b, c = (computers.create(uid('k')) for dummy in range(3))
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name),
                         allowed_to_retrieve_password=dict(set=[a['sam']]))).failed
    dn = 'CN=%s,%s' % (name, ou)
    # Someone else adds an entry with another tool (samba-tool writes its own descriptor).
    samba_tool(lab, 'service-account', 'group-msa-membership', 'add', '--name=%s' % name, '--principal=%s' % b['sam'])
    r = check_apply_idempotent(gmsa, dict(name=name, allowed_to_retrieve_password=dict(add=[c['sam']])), admin, ou)
    assert r['diff']['before']['allowed_to_retrieve_password'] == sorted([a['sam'], b['sam']], key=str.lower)
    three = sorted([a['sam'], b['sam'], c['sam']], key=str.lower)
    assert r['diff']['after']['allowed_to_retrieve_password'] == three
    assert membership_show(lab, name) == sorted([a['dn'], b['dn'], c['dn']])
    r = check_apply_idempotent(gmsa, dict(name=name, allowed_to_retrieve_password=dict(remove=[a['sam']])),
                               admin, ou)
    assert membership_show(lab, name) == sorted([b['dn'], c['dn']])
    r = check_apply_idempotent(gmsa, dict(name=name, allowed_to_retrieve_password=dict(set=[])), admin, ou)
    assert read(admin, dn, ['msDS-GroupMSAMembership'])['raw_attributes'].get('msDS-GroupMSAMembership') in (None, [])


def test_deleted_principal_sid_is_reported_and_removable(gmsa, computers, lab, admin, ou):
    keep, gone = computers.create(uid('k')), computers.create(uid('x'))
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name),
                         allowed_to_retrieve_password=dict(set=[keep['sam'], gone['sam']]))).failed
    assert admin.delete(gone['dn'])
    r = gmsa(dict(name=name))
    assert r['changed'] is False
    assert r['unresolved_sids'] == [gone['sid']]
    assert r['diff']['before']['allowed_to_retrieve_password'] == sorted([keep['sam'], gone['sid']], key=str.lower)
    r = gmsa(dict(name=name, allowed_to_retrieve_password=dict(remove=[gone['sid']])))
    assert r['changed'] is True and r['diff']['after']['allowed_to_retrieve_password'] == [keep['sam']]
    assert gmsa(dict(name=name))['unresolved_sids'] == []


@pytest.mark.parametrize('option, initial, action, expect_attr, expect', [
    ('spn', dict(set=['http/a', 'HTTP/b']), dict(add=['http/B', 'http/c'], remove=['http/a']),
     'servicePrincipalName', ['HTTP/b', 'http/c']),
    ('kerberos_encryption_types', None, dict(remove=['aes128'], add=['rc4']),
     'msDS-SupportedEncryptionTypes', 0x14),
    ('allowed_to_delegate_to', dict(set=['cifs/fs1']), dict(set=['MSSQLSvc/sql1:1433', 'cifs/FS1']),
     'msDS-AllowedToDelegateTo', ['MSSQLSvc/sql1:1433', 'cifs/fs1']),
    ('description', 'one', 'two', 'description', ['two']),
    ('display_name', 'one', '', 'displayName', None),
    ('enabled', None, False, 'userAccountControl', 0x1002),
    ('trusted_to_auth_for_delegation', None, True, 'userAccountControl', 0x1001000),
    ('trusted_for_delegation', None, True, 'userAccountControl', 0x81000),
])
def test_each_option_check_apply_idempotent_read_back(gmsa, lab, admin, ou, option, initial, action,
                                                      expect_attr, expect):
    name = uid()
    create = dict(name=name, dns_hostname=dns(lab, name))
    if initial is not None:
        create[option] = initial
    if option in NEEDS_DELEGATION_PRIVILEGE:
        gmsa = functools.partial(gmsa, as_admin=True)
    assert not gmsa(create).failed
    r = check_apply_idempotent(gmsa, dict(name=name, **{option: action}), admin, ou)
    assert r['diff']['before'][option] != r['diff']['after'][option]
    value = read(admin, 'CN=%s,%s' % (name, ou))['attributes'].get(expect_attr)
    if isinstance(expect, list):
        assert sorted(value or [], key=str.lower) == sorted(expect, key=str.lower)
    elif expect is None:
        assert not value
    else:
        assert value == [str(expect)]


def test_delegates_rbcd_planned_but_refused_by_samba(gmsa, computers, lab, admin, ou):
    """Samba 4.22 treats msDS-AllowedToActOnBehalfOfOtherIdentity as system-only (Windows DCs accept it): the
    rights check (allowedAttributesEffective) knows before the first write, so check mode reports the same
    refusal as the real run, and neither changes anything."""
    front = computers.create(uid('f'))
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    before = dump_tree(admin, ou)
    for check in (True, False):
        r = gmsa(dict(name=name, delegates=dict(add=[front['sam']])), check=check)
        assert r.failed and not r.get('changed')
        assert 'may not write msDS-AllowedToActOnBehalfOfOtherIdentity on CN=%s' % name in r['msg']
        assert 'system-only' in r['msg'] and r['msg'].endswith('Nothing was changed.')
    assert dump_tree(admin, ou) == before


def test_outbound_only(gmsa, lab, admin, ou):
    name = uid()
    r = check_apply_idempotent(gmsa, dict(name=name, outbound_auth_only=True, password_interval_days=75), admin, ou)
    assert r['diff']['after']['outbound_auth_only'] is True
    a = read(admin, 'CN=%s,%s' % (name, ou))['attributes']
    assert not a.get('dNSHostName') and not a.get('servicePrincipalName')
    assert a['msDS-ManagedPasswordInterval'] == ['75']
    # An existing inbound account turned outbound-only loses its DNS name and SPNs.
    other = uid()
    assert not gmsa(dict(name=other, dns_hostname=dns(lab, other), spn=dict(set=['http/%s' % other]))).failed
    r = check_apply_idempotent(gmsa, dict(name=other, outbound_auth_only=True), admin, ou)
    assert r['diff']['before']['outbound_auth_only'] is False and r['diff']['after']['outbound_auth_only'] is True
    a = read(admin, 'CN=%s,%s' % (other, ou))['attributes']
    assert not a.get('dNSHostName') and not a.get('servicePrincipalName')


def test_rename_sam_and_move(gmsa, lab, admin, ou):
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    sub = 'OU=sub,%s' % ou
    assert admin.add(sub, 'organizationalUnit'), admin.result
    r = check_apply_idempotent(gmsa, dict(name=name, path=sub), admin, ou)
    assert r['diff']['before']['distinguished_name'] == 'CN=%s,%s' % (name, ou)
    assert r['distinguished_name'] == 'CN=%s,%s' % (name, sub)
    assert read(admin, 'CN=%s,%s' % (name, sub)) is not None


def test_delete(gmsa, lab, admin, ou):
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    r = gmsa(dict(name=name, state='absent'), check=True)
    assert r['changed'] is True and r['diff']['after'] == {}
    assert read(admin, 'CN=%s,%s' % (name, ou)) is not None
    r = gmsa(dict(name=name, state='absent'))
    assert r['changed'] is True
    assert read(admin, 'CN=%s,%s' % (name, ou)) is None
    assert gmsa(dict(name=name, state='absent'))['changed'] is False


def test_delegated_identity_is_refused_trust_for_delegation_and_nothing_changes(gmsa, lab, admin, ou):
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    before = dump_tree(admin, ou)
    r = gmsa(dict(name=name, trusted_for_delegation=True))
    assert r.failed and r['ldap_result'] == 'insufficientAccessRights (50)', r
    assert r['msg'].endswith('Nothing was changed.'), r['msg']
    assert dump_tree(admin, ou) == before


def test_standalone_bound_to_host(gmsa, computers, lab, admin, ou):
    # As Administrator: a standalone account is created in the OU and linked from its host's computer object,
    # neither of which the farm delegation grants (it covers gMSAs and groups).
    gmsa = functools.partial(gmsa, as_admin=True)
    host = computers.create(uid('s'))
    name = uid('m')
    r = check_apply_idempotent(gmsa, dict(name=name, account_type='standalone', host=host['sam']), admin, ou)
    assert r['diff']['after']['host'] == host['sam']
    a = read(admin, host['dn'], ['msDS-HostServiceAccount'])['attributes']
    assert a['msDS-HostServiceAccount'] == ['CN=%s,%s' % (name, ou)]
    oc = read(admin, 'CN=%s,%s' % (name, ou), ['objectClass'])['attributes']['objectClass']
    assert 'msDS-ManagedServiceAccount' in oc


# --------------------------------------------------------------------------- bad input changes nothing

@pytest.fixture
def plain_user(admin, lab):
    """A user with no rights, outside the test OU (its binds update its own logon timestamps)."""
    user = uid('u')
    password = 'User-%s-9a!' % uuid.uuid4().hex
    dn = 'CN=%s,CN=Users,%s' % (user, lab['GMSA_LAB_BASE_DN'])
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), admin.result
    yield user, password
    admin.delete(dn)


@pytest.fixture
def existing(gmsa, computers, lab, ou):
    """An account, a computer, and another account holding an SPN, for the bad-input cases."""
    name = uid()
    holder = uid('hold')
    host = computers.create(uid('c'))
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name), password_interval_days=30)).failed
    assert not gmsa(dict(name=holder, dns_hostname=dns(lab, holder), spn=dict(set=['http/taken-%s' % holder]))).failed
    return dict(name=name, holder=holder, host=host)


BAD_INPUTS = [
    ('sam too long', lambda x: dict(name='abcdefghijklmnop', dns_hostname='x.test'),
     "sam_account_name 'abcdefghijklmnop' is 16 characters long"),
    ('sam invalid chars', lambda x: dict(name='bad', sam_account_name='bad*name', dns_hostname='x.test'),
     "sam_account_name 'bad*name' contains characters Windows does not allow: '*'"),
    ('spn held elsewhere', lambda x: dict(name=x['name'], spn=dict(add=['HTTP/Taken-%s' % x['holder']])),
     'SPN already held by another account (SPNs must be unique): HTTP/Taken-'),
    ('sam taken by a computer', lambda x: dict(name=x['host']['name'], dns_hostname='x.test'),
     'sAMAccountName %s is taken by'),
    ('interval change', lambda x: dict(name=x['name'], password_interval_days=60),
     'password_interval_days is 30 on CN='),
    ('both delegation bits',
     lambda x: dict(name=x['name'], trusted_for_delegation=True, trusted_to_auth_for_delegation=True),
     'trusted_for_delegation (unconstrained) and trusted_to_auth_for_delegation'),
    ('dns_hostname missing', lambda x: dict(name=uid()),
     'dns_hostname is required to create a group managed service account'),
    ('outbound with spn', lambda x: dict(name=x['name'], outbound_auth_only=True, spn=dict(add=['http/x'])),
     'outbound_auth_only=true means the account has no SPNs'),
    ('bad spn', lambda x: dict(name=x['name'], spn=dict(add=['not an spn'])),
     "'not an spn' is not a service principal name"),
    ('path missing', lambda x: dict(name=uid(), dns_hostname='x.test', path='OU=nowhere,%s' % x['ou']),
     'path OU=nowhere,'),
    ('delegated needs schema', lambda x: dict(name=uid(), dns_hostname='x.test', account_type='delegated'),
     'account_type=delegated needs the msDS-DelegatedManagedServiceAccount class'),
    ('path not a DN', lambda x: dict(name=uid(), dns_hostname='x.test', path='Servers'),
     "path: 'Servers' is not a distinguished name"),
    ('path malformed', lambda x: dict(name=uid(), dns_hostname='x.test', path='OU=a,,' + x['ou']),
     "path: 'OU=a,,"),
    ('interval beyond the attribute', lambda x: dict(name=uid(), dns_hostname='x.test',
                                                     password_interval_days=2 ** 31),
     'password_interval_days: 2147483648 is outside 1..2147483647'),
    ('interval zero', lambda x: dict(name=uid(), dns_hostname='x.test', password_interval_days=0),
     'password_interval_days: 0 is outside 1..2147483647'),
    ('principal of another domain', lambda x: dict(name=x['name'],
                                                   allowed_to_retrieve_password=dict(add=['CHILD\\%s' % x['host']['sam']])),
     'CHILD\\%s name another domain than'),
    ('standalone host not a computer', lambda x: dict(name=uid(), account_type='standalone', host=x['holder']),
     'is a gmsa, not a computer'),
]


def test_unknown_principal_fails_the_real_run_and_warns_in_check_mode(gmsa, existing, admin, ou):
    """A check run of a new farm must not fail on the host group an earlier task would create."""
    args = dict(name=existing['name'], allowed_to_retrieve_password=dict(add=['nosuchhost42']))
    before = dump_tree(admin, ou)
    c = gmsa(args, check=True)
    assert not c.failed and c['changed'] is False
    assert any('no such principal in the domain: nosuchhost42' in w and 'check mode' in w for w in c.warning_texts)
    r = gmsa(args)
    assert r.failed and r['msg'] == ('allowed_to_retrieve_password: no such principal in the domain: nosuchhost42. '
                                     'Nothing was changed.')
    assert dump_tree(admin, ou) == before


@pytest.mark.parametrize('case, make_args, message', BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_clearly_and_changes_nothing(gmsa, existing, admin, ou, lab, case, make_args, message):
    existing['ou'] = ou
    args = make_args(existing)
    if '%s' in message:
        message = message % existing['host']['sam']
    # Everything these tasks could touch lives in the test OU (other tests run in parallel elsewhere); and no
    # object of that name appears anywhere in the domain.

    def named():
        admin.search(lab['GMSA_LAB_BASE_DN'], '(cn=%s)' % args['name'], attributes=['1.1'])
        return sorted(e['dn'] for e in admin.response if e.get('type') == 'searchResEntry')
    before, before_named = dump_tree(admin, ou), named()
    for check in (True, False):
        r = gmsa(args, check=check)
        assert r.failed, r
        assert message in r['msg'], r['msg']
    assert dump_tree(admin, ou) == before
    assert named() == before_named


def test_plain_user_lacks_rights(gmsa, admin, ou, lab, plain_user):
    user, password = plain_user
    before = dump_tree(admin, ou)
    name = uid()
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name), domain_username='%s@%s' % (user, lab['GMSA_LAB_REALM']),
                  domain_password=password))
    assert r.failed
    assert r['msg'] == ('Insufficient rights: %s@%s cannot create msDS-GroupManagedServiceAccount objects in %s. '
                        'Use an account with that right (Domain Admins, or delegate "Create '
                        'msDS-GroupManagedServiceAccount objects" on the OU). Nothing was changed.'
                        % (user, lab['GMSA_LAB_REALM'], ou))
    assert password not in json.dumps(r)
    assert dump_tree(admin, ou) == before


def test_no_usable_kds_key_says_how_to_create_one(run_module, kds_lab, kds_admin, kds_exclusive):
    base = 'CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,%s' % (
        kds_lab['GMSA_LAB_BASE_DN'])
    kds_admin.search(base, '(objectClass=msKds-ProvRootKey)', search_scope=ldap3.LEVEL, attributes=['cn'])
    for e in [e for e in kds_admin.response if e.get('type') == 'searchResEntry']:
        assert kds_admin.delete(e['dn'])
    before = dump_tree(kds_admin, kds_lab['GMSA_LAB_BASE_DN'])
    args = dict(kds_lab['conn'], name='nokey1', dns_hostname='nokey1.kdslab.test')
    r = run_module('gmsa', args)
    assert r.failed
    assert r['msg'].startswith('No usable KDS root key in the forest')
    assert 'gmsa.farm.kds_root_key' in r['msg'] and 'effective_time_hours: 0' in r['msg']
    assert dump_tree(kds_admin, kds_lab['GMSA_LAB_BASE_DN']) == before
    # A key made with effective_time_hours: 0 lets gmsa create the account at once.
    k = run_module('kds_root_key', dict(kds_lab['conn'], effective_time_hours=0))
    assert k['changed'] is True and k['usable'] is True
    r = run_module('gmsa', args)
    assert not r.failed, r
    assert r['changed'] is True
    run_module('gmsa', dict(args, state='absent'))


# --------------------------------------------------------------------------- concurrency

WRITER = r'''
import json, os, sys
sys.path.insert(0, os.path.join(%(repo)r, '.collections'))
from ansible.module_utils.testing import patch_module_args
import contextlib, io
from ansible_collections.gmsa.farm.plugins.modules import gmsa
conn = json.loads(sys.argv[1]); name = sys.argv[2]; principals = sys.argv[3:]
for p in principals:
    args = dict(conn, name=name, path=os.environ['OU'], allowed_to_retrieve_password=dict(add=[p]))
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            gmsa.main()
        except SystemExit:
            pass
    r = json.loads(out.getvalue())
    assert not r.get('failed'), r
'''


def test_two_writers_lose_nothing(gmsa, computers, lab, admin, ou, tmp_path):
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    hosts = [computers.create(uid('w')) for dummy in range(40)]
    script = tmp_path / 'writer.py'
    script.write_text(WRITER % dict(repo=REPO))
    env = dict(os.environ, OU=ou)
    conn = json.dumps(lab['conn'])
    procs = [subprocess.Popen([sys.executable, str(script), conn, name] + [h['sam'] for h in hosts[i::2]],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    assert membership_show(lab, name) == sorted(h['dn'] for h in hosts)


def test_protect_from_deletion(gmsa, lab, admin, ou):
    # As Administrator: the protection also denies "delete child" on the parent OU, which needs WRITE_DAC on the
    # OU itself; the farm delegation gives full control on the accounts only.
    gmsa = functools.partial(gmsa, as_admin=True)
    name = uid()
    dn = 'CN=%s,%s' % (name, ou)
    r = check_apply_idempotent(gmsa, dict(name=name, dns_hostname=dns(lab, name), protect_from_deletion=True),
                               admin, ou)
    assert r['diff']['after']['protect_from_deletion'] is True
    # Independent reading of the descriptor: samba-tool renders it as SDDL.
    sddl = samba_tool(lab, 'dsacl', 'get', '--objectdn=%s' % dn)
    assert '(D;;SDDT;;;WD)' in sddl or '(D;;DTSD;;;WD)' in sddl, sddl
    assert not admin.delete(dn)  # even Domain Admins are denied now
    assert admin.result['result'] == 50

    r = gmsa(dict(name=name, state='absent'))
    assert r.failed and 'protect_from_deletion: false' in r['msg']
    r = check_apply_idempotent(gmsa, dict(name=name, protect_from_deletion=False), admin, ou)
    assert r['diff']['before']['protect_from_deletion'] is True and r['diff']['after']['protect_from_deletion'] is False
    assert not gmsa(dict(name=name, protect_from_deletion=True)).failed
    r = gmsa(dict(name=name, state='absent', protect_from_deletion=False))
    assert r['changed'] is True
    assert read(admin, dn) is None


def test_rename_sam_account_name(gmsa, lab, admin, ou):
    name = uid()
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    # The account is found by its sAMAccountName; renaming it is a change of that attribute on the same object.
    r = check_apply_idempotent(gmsa, dict(name=name, sam_account_name=name + 'x'), admin, ou)
    assert r['diff']['before']['sam_account_name'] == name + '$'
    assert r['diff']['after']['sam_account_name'] == name + 'x$'
    assert r['sam_account_name'] == name + 'x$'
    assert read(admin, 'CN=%s,%s' % (name, ou))['attributes']['sAMAccountName'] == [name + 'x$']
