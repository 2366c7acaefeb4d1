"""kds_root_key and kds_root_key_info against a dedicated lab DC whose keys the tests delete and create."""
from __future__ import annotations

import datetime
import struct
import uuid

import ldap3
import pytest

from conftest import dump_tree, samba_tool

pytestmark = pytest.mark.usefixtures('kds_lab', 'kds_exclusive')

KEY_ATTRS = ['cn', 'msKds-Version', 'msKds-DomainID', 'msKds-UseStartTime', 'msKds-CreateTime',
             'msKds-KDFAlgorithmID', 'msKds-KDFParam', 'msKds-SecretAgreementAlgorithmID',
             'msKds-SecretAgreementParam', 'msKds-PublicKeyLength', 'msKds-PrivateKeyLength', 'msKds-RootKeyData']


def container(lab):
    return 'CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,%s' % (
        lab['GMSA_LAB_BASE_DN'])


def keys_in_directory(conn, lab):
    conn.search(container(lab), '(objectClass=msKds-ProvRootKey)', search_scope=ldap3.LEVEL, attributes=KEY_ATTRS)
    return dict((e['raw_attributes']['cn'][0].decode(), e['raw_attributes'])
                for e in conn.response if e.get('type') == 'searchResEntry')


@pytest.fixture
def no_keys(kds_admin, kds_lab):
    for key_id in keys_in_directory(kds_admin, kds_lab):
        assert kds_admin.delete('CN=%s,%s' % (key_id, container(kds_lab))), kds_admin.result
    assert keys_in_directory(kds_admin, kds_lab) == {}


@pytest.fixture
def kds(run_module, kds_lab):
    def _run(args, check=False, **kw):
        full = dict(kds_lab['conn'])
        full.update(args)
        return run_module('kds_root_key', full, check=check, **kw)
    return _run


def filetime(dt):
    return int((dt - datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds() * 10 ** 7)


def test_info_without_keys(no_keys, run_module, kds_lab):
    r = run_module('kds_root_key_info', dict(kds_lab['conn']))
    assert not r.failed, r
    assert r == dict(r, changed=False, keys=[], usable=False, active_key_id=None, next_usable_at=None)


def test_create_usable_at_once_check_apply_idempotent(no_keys, kds, kds_admin, kds_lab, run_module):
    before = dump_tree(kds_admin, container(kds_lab))
    r = kds(dict(effective_time_hours=0), check=True)
    assert not r.failed, r
    assert r['changed'] is True
    assert r['key_id'] is None  # a random id would be generated
    assert r['usable'] is True
    assert r['diff']['before'] == {}
    assert r['diff']['after']['usable'] is True
    assert dump_tree(kds_admin, container(kds_lab)) == before, 'check mode changed the directory'

    t0 = datetime.datetime.now(datetime.timezone.utc)
    r = kds(dict(effective_time_hours=0))
    t1 = datetime.datetime.now(datetime.timezone.utc)
    assert not r.failed, r
    assert r['changed'] is True
    key_id = r['key_id']
    assert str(uuid.UUID(key_id)) == key_id
    assert r['usable'] is True
    assert r['diff'] == dict(before={}, after=[k for k in r['keys'] if k['key_id'] == key_id][0])
    assert [k['key_id'] for k in r['keys']] == [key_id]

    # Exactly the attribute set Windows writes (facts section 2).
    stored = keys_in_directory(kds_admin, kds_lab)[key_id]
    assert stored['msKds-Version'] == [b'1']
    assert stored['msKds-KDFAlgorithmID'] == [b'SP800_108_CTR_HMAC']
    assert stored['msKds-KDFParam'] == [struct.pack('<IIII', 0, 1, 14, 0) + 'SHA512\0'.encode('utf-16-le')]
    assert stored['msKds-SecretAgreementAlgorithmID'] == [b'DH']
    sap = stored['msKds-SecretAgreementParam'][0]
    assert len(sap) == 524 and struct.unpack('<III', sap[:12]) == (524, 0x4D504844, 256)
    assert sap[12:20].hex() == '87a8e61db4b6663c'  # RFC 5114 2.3 prime
    assert stored['msKds-PublicKeyLength'] == [b'2048']
    assert stored['msKds-PrivateKeyLength'] == [b'512']
    assert len(stored['msKds-RootKeyData'][0]) == 64
    assert stored['msKds-DomainID'] == [('CN=DC1,OU=Domain Controllers,%s' % kds_lab['GMSA_LAB_BASE_DN']).encode()]
    created = int(stored['msKds-CreateTime'][0])
    start = int(stored['msKds-UseStartTime'][0])
    assert filetime(t0) - 10 ** 7 <= created <= filetime(t1) + 10 ** 7
    assert created - start == (10 * 3600 + 5 * 60) * 10 ** 7  # backdated by 10 h 5 min: usable at once

    # Independent check: samba-tool sees it.
    listing = samba_tool(kds_lab, 'domain', 'kds', 'root-key', 'list')
    assert key_id in listing

    # Idempotent rerun.
    r2 = kds(dict(effective_time_hours=0))
    assert r2['changed'] is False
    assert r2['key_id'] == key_id
    assert r2['diff']['before'] == r2['diff']['after']

    # The real effect: the DC can now create a gMSA (samba-tool, not our code).
    name = 'k%s' % uuid.uuid4().hex[:8]
    samba_tool(kds_lab, 'service-account', 'create', '--name=%s' % name,
               '--dns-host-name=%s.%s' % (name, kds_lab['GMSA_LAB_REALM'].lower()))
    samba_tool(kds_lab, 'service-account', 'delete', '--name=%s' % name)

    info = run_module('kds_root_key_info', dict(kds_lab['conn']))
    assert info['usable'] is True and info['active_key_id'] == key_id


def test_gmsa_creation_fails_without_key(no_keys, kds_lab):
    name = 'n%s' % uuid.uuid4().hex[:8]
    with pytest.raises(AssertionError, match='root key'):
        samba_tool(kds_lab, 'service-account', 'create', '--name=%s' % name,
                   '--dns-host-name=%s.%s' % (name, kds_lab['GMSA_LAB_REALM'].lower()))


def test_pending_key_and_wait_timeout(no_keys, kds):
    r = kds(dict(effective_time_hours=10))
    assert r['changed'] is True and r['usable'] is False
    usable_at = datetime.datetime.strptime(r['usable_at'], '%Y-%m-%dT%H:%M:%SZ').replace(
        tzinfo=datetime.timezone.utc)
    delta = usable_at - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(hours=9, minutes=58) < delta <= datetime.timedelta(hours=10)
    # match_by=any: a pending key satisfies the task.
    r2 = kds(dict(effective_time_hours=0))
    assert r2['changed'] is False and r2['key_id'] == r['key_id']
    # wait: refuses at once to wait 10 hours.
    r3 = kds(dict(wait=True, wait_timeout=5))
    assert r3.failed
    assert r3['msg'].startswith('KDS root key %s becomes usable at %s' % (r['key_id'], r['usable_at']))
    assert 'later than wait_timeout=5' in r3['msg']


def test_wait_for_usable_key_returns_at_once(no_keys, kds):
    r = kds(dict(effective_time_hours=0, wait=True, wait_timeout=5))
    assert not r.failed and r['usable'] is True


def test_match_by_key_id_and_never(no_keys, kds, kds_admin, kds_lab):
    key_id = str(uuid.uuid4())
    r = kds(dict(match_by='key_id', key_id=key_id.upper(), effective_time_hours=0), check=True)
    assert r['changed'] is True and r['key_id'] == key_id
    assert keys_in_directory(kds_admin, kds_lab) == {}
    r = kds(dict(match_by='key_id', key_id='{%s}' % key_id, effective_time_hours=0))
    assert r['changed'] is True and r['key_id'] == key_id
    assert list(keys_in_directory(kds_admin, kds_lab)) == [key_id]
    r = kds(dict(match_by='key_id', key_id=key_id))
    assert r['changed'] is False
    r = kds(dict(match_by='never', effective_time_hours=0))
    assert r['changed'] is True and r['key_id'] != key_id
    assert sorted(keys_in_directory(kds_admin, kds_lab)) == sorted([key_id, r['key_id']])
    assert sorted(k['key_id'] for k in r['keys']) == sorted([key_id, r['key_id']])


def test_absent(no_keys, kds, kds_admin, kds_lab):
    key_id = kds(dict(effective_time_hours=0))['key_id']
    r = kds(dict(state='absent', key_id=key_id), check=True)
    assert r['changed'] is True and r['diff']['after'] == {} and r['diff']['before']['key_id'] == key_id
    assert list(keys_in_directory(kds_admin, kds_lab)) == [key_id]
    r = kds(dict(state='absent', key_id=key_id))
    assert r['changed'] is True
    assert 'deleting the KDS root key that DCs use now and no other key is usable' in ' '.join(r.warning_texts)
    assert keys_in_directory(kds_admin, kds_lab) == {}
    r = kds(dict(state='absent', key_id=key_id))
    assert r['changed'] is False and r['keys'] == []


@pytest.mark.parametrize('args, message', [
    (dict(key_id='not-a-guid', match_by='key_id'), "key_id 'not-a-guid' is not a GUID"),
    (dict(state='absent'), 'state=absent needs key_id'),
    (dict(match_by='key_id'), 'match_by=key_id needs key_id'),
    (dict(effective_time_hours=-1), 'effective_time_hours must be from 0 (usable at once) to 87600'),
])
def test_bad_input_changes_nothing(no_keys, kds, kds_admin, kds_lab, args, message):
    before = dump_tree(kds_admin, container(kds_lab))
    r = kds(args)
    assert r.failed
    assert r['msg'].startswith(message)
    assert dump_tree(kds_admin, container(kds_lab)) == before


def test_plain_user_lacks_rights(no_keys, kds, kds_admin, kds_lab):
    user = 'u%s' % uuid.uuid4().hex[:8]
    password = 'User-%s-9a!' % uuid.uuid4().hex
    dn = 'CN=%s,CN=Users,%s' % (user, kds_lab['GMSA_LAB_BASE_DN'])
    assert kds_admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), kds_admin.result
    try:
        before = dump_tree(kds_admin, container(kds_lab))
        r = kds(dict(effective_time_hours=0, domain_username='%s@%s' % (user, kds_lab['GMSA_LAB_REALM']),
                     domain_password=password))
        assert r.failed
        assert r['msg'].startswith('Insufficient rights: %s@%s cannot create CN=' % (user, kds_lab['GMSA_LAB_REALM']))
        assert password not in str(r)
        assert dump_tree(kds_admin, container(kds_lab)) == before
    finally:
        kds_admin.delete(dn)


# ----------------------------------------------------------------------------- descriptor, config, wait
def key_sddl(conn, lab, key_id):
    """The key's DACL as SDDL, read independently (ldap3 + the SD-flags control, parsed by winacl)."""
    from ldap3.protocol.microsoft import security_descriptor_control
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    conn.search('CN=%s,%s' % (key_id, container(lab)), '(objectClass=*)', search_scope=ldap3.BASE,
                attributes=['nTSecurityDescriptor'], controls=security_descriptor_control(sdflags=0x04))
    raw = conn.response[0]['raw_attributes']['nTSecurityDescriptor'][0]
    return SECURITY_DESCRIPTOR.from_bytes(raw).to_sddl()


def domain_sid(conn, lab):
    from conftest import sid_text
    conn.search(lab['GMSA_LAB_BASE_DN'], '(objectClass=*)', search_scope=ldap3.BASE, attributes=['objectSid'])
    return sid_text(conn.response[0]['raw_attributes']['objectSid'][0])


def test_new_key_gets_the_protected_descriptor_windows_writes(no_keys, kds, kds_admin, kds_lab, run_module):
    """Add-KdsRootKey: D:P(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY) - nothing inherited from Configuration."""
    r = kds(dict(effective_time_hours=0))
    assert not r.failed, r
    sid = domain_sid(kds_admin, kds_lab)
    sddl = key_sddl(kds_admin, kds_lab, r['key_id'])
    assert sddl.startswith('D:P')
    # the DC stores GENERIC_ALL mapped to the object's full control, 0xf01ff (AD maps generic rights too)
    assert sorted(sddl[3:].strip('()').replace('0xf01ff', 'GA').split(')(')) == sorted([
        'A;;GA;;;%s-519' % sid, 'A;;GA;;;%s-512' % sid, 'A;;GA;;;S-1-5-18'])
    info = run_module('kds_root_key_info', dict(kds_lab['conn']))
    key = [k for k in info['keys'] if k['key_id'] == r['key_id']][0]
    assert key['dacl_protected'] and key['extra_trustees'] == [] and not key['dacl_wider_than_windows']
    assert info['keys_with_wider_dacl'] == [] and not info.warning_texts


def test_info_flags_a_key_with_an_inherited_dacl(no_keys, kds_admin, kds_lab, run_module):
    """A key added without a descriptor (as this collection did before, and as Samba's provisioning does)
    inherits from the Configuration partition: reported, with a warning."""
    key_id = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc)
    from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kdsmod
    attrs = kdsmod.new_key_attributes(key_id, now, 0, 'CN=DC1,OU=Domain Controllers,%s' % kds_lab['GMSA_LAB_BASE_DN'])
    assert kds_admin.add('CN=%s,%s' % (key_id, container(kds_lab)), ['top', 'msKds-ProvRootKey'], attrs), \
        kds_admin.result
    info = run_module('kds_root_key_info', dict(kds_lab['conn']))
    assert info['keys_with_wider_dacl'] == [key_id]
    key = info['keys'][0]
    assert key['dacl_wider_than_windows'] and not key['dacl_protected']
    assert any('wider DACL than Windows writes' in w and 'restrict_descriptors=true' in w for w in info.warning_texts)


def test_restrict_descriptors_gives_existing_keys_the_windows_dacl(no_keys, kds, kds_admin, kds_lab, run_module):
    """The way the warning above offers: check mode shows it and writes nothing, a real run writes exactly the DACL
    Add-KdsRootKey writes (read back raw), a rerun changes nothing."""
    key_id = str(uuid.uuid4())
    now = datetime.datetime.now(datetime.timezone.utc)
    from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kdsmod
    attrs = kdsmod.new_key_attributes(key_id, now, 0, 'CN=DC1,OU=Domain Controllers,%s' % kds_lab['GMSA_LAB_BASE_DN'])
    assert kds_admin.add('CN=%s,%s' % (key_id, container(kds_lab)), ['top', 'msKds-ProvRootKey'], attrs), \
        kds_admin.result
    inherited = key_sddl(kds_admin, kds_lab, key_id)
    c = kds(dict(restrict_descriptors=True), check=True)
    assert not c.failed and c['changed'] and c['restricted'] == [key_id], c
    assert c['diff']['before']['descriptors'] == {key_id: 'wider than Windows: not protected from inheritance'}
    assert c['diff']['after']['descriptors'] == {key_id: 'D:P(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY)'}
    assert key_sddl(kds_admin, kds_lab, key_id) == inherited
    r = kds(dict(restrict_descriptors=True))
    assert not r.failed and r['changed'] and r['restricted'] == [key_id], r
    sid = domain_sid(kds_admin, kds_lab)
    sddl = key_sddl(kds_admin, kds_lab, key_id)
    assert sddl.startswith('D:P') and sorted(sddl[3:].strip('()').replace('0xf01ff', 'GA').split(')(')) == sorted([
        'A;;GA;;;%s-519' % sid, 'A;;GA;;;%s-512' % sid, 'A;;GA;;;S-1-5-18'])
    again = kds(dict(restrict_descriptors=True))
    assert not again.failed and again['changed'] is False and again['restricted'] == []
    info = run_module('kds_root_key_info', dict(kds_lab['conn']))
    assert info['keys_with_wider_dacl'] == [] and not info.warning_texts


def test_a_wait_that_cannot_succeed_writes_no_key(no_keys, kds, kds_admin, kds_lab):
    before = dump_tree(kds_admin, container(kds_lab))
    r = kds(dict(effective_time_hours=10, wait=True, wait_timeout=60))
    assert r.failed and 'the wait cannot succeed' in r['msg'] and r['msg'].endswith('Nothing was changed.')
    assert not r.get('changed') and dump_tree(kds_admin, container(kds_lab)) == before


def test_new_key_follows_the_forest_kds_configuration(no_keys, kds, kds_admin, kds_lab):
    """Set-KdsConfiguration's choices (the configuration object) apply to new keys instead of the defaults."""
    cfg = ('CN=Group Key Distribution Service Server Configuration,CN=Server Configuration,'
           'CN=Group Key Distribution Service,CN=Services,CN=Configuration,%s' % kds_lab['GMSA_LAB_BASE_DN'])
    assert kds_admin.modify(cfg, {'msKds-PrivateKeyLength': [(ldap3.MODIFY_REPLACE, [256])]}), kds_admin.result
    try:
        r = kds(dict(effective_time_hours=0))
        assert not r.failed and r['configured_parameters'] == ['msKds-PrivateKeyLength']
        stored = keys_in_directory(kds_admin, kds_lab)[r['key_id']]
        assert stored['msKds-PrivateKeyLength'] == [b'256'] and stored['msKds-PublicKeyLength'] == [b'2048']
    finally:
        assert kds_admin.modify(cfg, {'msKds-PrivateKeyLength': [(ldap3.MODIFY_DELETE, [])]}), kds_admin.result


# ----------------------------------------------------------------------------- audit entries, deletion in use
def test_new_key_keeps_the_audit_entries_it_inherits(no_keys, kds, kds_admin, kds_lab):
    """Only the DACL is protected: the SACL-protected bit stays clear, so auditing set on the key container
    (an inheritable audit entry, put there for this test) reaches the new key."""
    from ldap3.protocol.microsoft import security_descriptor_control
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    sacl_only = security_descriptor_control(sdflags=0x08)

    def sd_of(dn):
        kds_admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['nTSecurityDescriptor'],
                         controls=sacl_only)
        return kds_admin.response[0]['raw_attributes']['nTSecurityDescriptor'][0]
    parent = container(kds_lab)
    old = sd_of(parent)
    audit = SECURITY_DESCRIPTOR.from_sddl('S:(AU;CISA;RP;;;WD)').to_bytes()
    assert kds_admin.modify(parent, {'nTSecurityDescriptor': [(ldap3.MODIFY_REPLACE, [audit])]},
                            controls=sacl_only), kds_admin.result
    try:
        key_id = kds(dict(effective_time_hours=0))['key_id']
        sd = SECURITY_DESCRIPTOR.from_bytes(sd_of('CN=%s,%s' % (key_id, parent)))
        assert not int(sd.Control) & 0x2000, 'SACL must not be protected'
        inherited = [a.to_sddl() for a in (sd.Sacl.aces if sd.Sacl else []) if int(a.AceFlags) & 0x10]
        assert inherited and all(a.endswith(';S-1-1-0)') for a in inherited), sd.to_sddl()
    finally:
        assert kds_admin.modify(parent, {'nTSecurityDescriptor': [(ldap3.MODIFY_REPLACE, [old])]},
                                controls=sacl_only), kds_admin.result


def test_deleting_a_key_names_the_accounts_that_still_derive_from_it(no_keys, kds, kds_admin, kds_lab):
    key_id = kds(dict(effective_time_hours=0))['key_id']
    name = 'k%s' % uuid.uuid4().hex[:8]
    samba_tool(kds_lab, 'service-account', 'create', '--name=%s' % name,
               '--dns-host-name=%s.%s' % (name, kds_lab['GMSA_LAB_REALM'].lower()))
    try:
        kds_admin.search(kds_lab['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s$)' % name, attributes=['1.1'])
        dn = kds_admin.response[0]['dn']
        for check in (True, False):
            r = kds(dict(state='absent', key_id=key_id), check=check)
            assert not r.failed and r['changed'] is True, r
            assert dn in r['accounts_using_key']
            assert any('still derive' in w and dn in w and key_id in w for w in r.warning_texts), r.warning_texts
        assert keys_in_directory(kds_admin, kds_lab) == {}
    finally:
        samba_tool(kds_lab, 'service-account', 'delete', '--name=%s' % name)


# ----------------------------------------------------------------------------- check mode across tasks
def test_check_mode_predicts_a_gmsa_whose_key_an_earlier_task_only_plans(no_keys, kds, kds_admin, kds_lab,
                                                                         run_module):
    """In check mode the key task writes nothing, so the gMSA task after it meets no key: it predicts the create
    (changed, with a warning that a usable key is needed first) instead of failing; a real run still refuses."""
    before = dump_tree(kds_admin, kds_lab['GMSA_LAB_BASE_DN'])
    k = kds(dict(effective_time_hours=0), check=True)
    assert k['changed'] is True
    args = dict(kds_lab['conn'], name='ck%s' % uuid.uuid4().hex[:6], dns_hostname='ck.kdslab.test')
    g = run_module('gmsa', args, check=True)
    assert not g.failed, g
    assert g['changed'] is True and g['diff']['before'] == {}
    assert any('No usable KDS root key' in w and 'a real run cannot create the account until one is usable' in w
               for w in g.warning_texts), g.warning_texts
    assert dump_tree(kds_admin, kds_lab['GMSA_LAB_BASE_DN']) == before
    real = run_module('gmsa', args)
    assert real.failed and real['msg'].startswith('No usable KDS root key in the forest')


# ----------------------------------------------------------------------------- the plan's requests, as sent
def inheriting_key(conn, lab, key_id=None):
    """A key added the way Samba's provisioning adds one: no descriptor, so its DACL is inherited (wider)."""
    from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kdsmod
    key_id = key_id or str(uuid.uuid4())
    attrs = kdsmod.new_key_attributes(key_id, datetime.datetime.now(datetime.timezone.utc), 0,
                                      'CN=DC1,OU=Domain Controllers,%s' % lab['GMSA_LAB_BASE_DN'])
    assert conn.add('CN=%s,%s' % (key_id, container(lab)), ['top', 'msKds-ProvRootKey'], attrs), conn.result
    return key_id


@pytest.fixture
def kds_proxy(kds_lab, tmp_path):
    """A fault-injecting proxy in front of the KDS lab DC (tests/lab/ldap_fault_proxy.py)."""
    from ldap_fault_proxy import FaultProxy
    px = FaultProxy(kds_lab['GMSA_DOMAIN_SERVER'], 636, kds_lab['GMSA_DOMAIN_CA_CERT'], str(tmp_path))
    yield px
    px.close()


def windows_dacl(sddl, sid):
    return sddl.startswith('D:P') and sorted(sddl[3:].strip('()').replace('0xf01ff', 'GA').split(')(')) == sorted([
        'A;;GA;;;%s-519' % sid, 'A;;GA;;;%s-512' % sid, 'A;;GA;;;S-1-5-18'])


def test_create_reports_its_one_add_request_in_check_mode_and_when_sent(no_keys, kds):
    key_id = str(uuid.uuid4())
    for check in (True, False):
        r = kds(dict(match_by='key_id', key_id=key_id, effective_time_hours=0), check=check)
        assert not r.failed and r['changed'] is True, r
        assert [(q['op'], q['dn'], q['what']) for q in r['requests']] == [
            ('add', 'CN=%s,%s' % (key_id, r['requests'][0]['dn'].split(',', 1)[1]), 'create KDS root key %s' % key_id)]
        assert 'msKds-RootKeyData' in r['requests'][0]['attributes']   # its name only: never a value
    assert kds(dict(match_by='key_id', key_id=key_id))['requests'] == []


def test_restrict_keeps_a_deny_entry_another_writer_adds_after_the_plan(no_keys, kds, kds_admin, kds_lab,
                                                                        monkeypatch):
    """The DACL is computed from a read made just before the write, not from the copy the plan read: a deny
    entry another administrator adds between the two survives, and the rest is exactly Windows' DACL."""
    from ldap3.protocol.microsoft import security_descriptor_control
    from winacl.dtyp.ace import ACE
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    from ansible_collections.gmsa.farm.plugins.module_utils._object import kds_root_key as kind
    key_id = inheriting_key(kds_admin, kds_lab)
    dn = 'CN=%s,%s' % (key_id, container(kds_lab))
    deny = '(D;;RP;;;S-1-5-32-546)'     # BUILTIN\Guests may not read the key's properties
    dacl_only = security_descriptor_control(sdflags=0x04)

    def other_writer():
        kds_admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['nTSecurityDescriptor'],
                         controls=dacl_only)
        sd = SECURITY_DESCRIPTOR.from_bytes(kds_admin.response[0]['raw_attributes']['nTSecurityDescriptor'][0])
        sd.Dacl.aces = [ACE.from_sddl(deny)] + list(sd.Dacl.aces)
        assert kds_admin.modify(dn, {'nTSecurityDescriptor': [(ldap3.MODIFY_REPLACE, [sd.to_bytes()])]},
                                controls=dacl_only), kds_admin.result

    planned = kind.plan

    def plan_then_another_writer(*args, **kwargs):
        out = planned(*args, **kwargs)
        if out.requests:
            other_writer()
        return out
    monkeypatch.setattr(kind, 'plan', plan_then_another_writer)
    r = kds(dict(restrict_descriptors=True))
    assert not r.failed and r['changed'] is True and r['restricted'] == [key_id], r
    assert [(q['op'], q['dn']) for q in r['requests']] == [('modify', dn)]
    sddl = key_sddl(kds_admin, kds_lab, key_id)
    assert sddl.startswith('D:P' + deny), sddl
    assert windows_dacl('D:P' + sddl[len('D:P' + deny):], domain_sid(kds_admin, kds_lab)), sddl
    monkeypatch.setattr(kind, 'plan', planned)
    again = kds(dict(restrict_descriptors=True))
    assert again['changed'] is False and again['requests'] == [], again


def test_second_dacl_write_refused_reports_the_first_as_written(no_keys, kds, kds_admin, kds_lab, kds_proxy):
    """Two keys to restrict, the DC refuses the second write: the task fails with changed=true, says the first
    key was restricted (it was) and the second not (it keeps its inherited DACL)."""
    from ldap_fault_proxy import Rule
    first, second = sorted([inheriting_key(kds_admin, kds_lab), inheriting_key(kds_admin, kds_lab)])
    dn = dict((k, 'CN=%s,%s' % (k, container(kds_lab))) for k in (first, second))
    untouched = key_sddl(kds_admin, kds_lab, second)
    kds_proxy.rules.append(Rule('modifyRequest', 53, dn=dn[second], message='refused by the test'))
    r = kds(dict(restrict_descriptors=True, domain_server=['127.0.0.1'], domain_port=kds_proxy.port,
                 domain_ca_cert=kds_proxy.ca, domain_timeout=60))
    assert r.failed and r['changed'] is True, r
    wrote = 'give KDS root key %s the DACL Add-KdsRootKey writes' % first
    assert r['written'] == [wrote]
    assert r['msg'].startswith('give KDS root key %s the DACL Add-KdsRootKey writes failed: ' % second), r['msg']
    assert 'Already written before the failure: %s.' % wrote in r['msg'] and 'Nothing was changed' not in r['msg']
    assert [(op, d, s) for op, d, s in kds_proxy.seen if op == 'modifyRequest'] == [
        ('modifyRequest', dn[first], 'forwarded'), ('modifyRequest', dn[second], 'answered 53')]
    assert windows_dacl(key_sddl(kds_admin, kds_lab, first), domain_sid(kds_admin, kds_lab))
    assert key_sddl(kds_admin, kds_lab, second) == untouched


def test_a_plain_user_is_refused_in_check_mode_as_in_a_real_run(no_keys, kds, kds_admin, kds_lab):
    """The create right is read with the keys, so check mode predicts the refusal a real run meets, and the real
    run is refused before it sends its add."""
    user = 'u%s' % uuid.uuid4().hex[:8]
    password = 'User-%s-9a!' % uuid.uuid4().hex
    dn = 'CN=%s,CN=Users,%s' % (user, kds_lab['GMSA_LAB_BASE_DN'])
    assert kds_admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), kds_admin.result
    try:
        as_user = dict(match_by='key_id', key_id=str(uuid.uuid4()), effective_time_hours=0,
                       domain_username='%s@%s' % (user, kds_lab['GMSA_LAB_REALM']), domain_password=password)
        check, real = kds(as_user, check=True), kds(as_user)
        assert check.failed and real.failed and check['msg'] == real['msg'], (check, real)
        assert 'allowedChildClassesEffective' in real['msg'] and real['msg'].endswith('Nothing was changed.')
        assert 'written' not in real and not real.get('changed')
        assert keys_in_directory(kds_admin, kds_lab) == {}
    finally:
        kds_admin.delete(dn)
