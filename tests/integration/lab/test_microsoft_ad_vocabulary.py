"""microsoft.ad's vocabulary in gmsa (identity, upn, do_not_append_dollar_to_sam) and the KDS root key names that
work in templates, against the lab DC, checked with raw ldap3 as Administrator."""
from __future__ import annotations

import datetime
import uuid

import ldap3

from conftest import sid_text


def iso_from_filetime(value):
    """FILETIME (100 ns since 1601) -> ISO 8601 UTC, written here independently of the collection."""
    t = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=int(value) // 10)
    return t.strftime('%Y-%m-%dT%H:%M:%SZ')


def test_kds_root_key_info_returns_kds_root_keys_with_creation_and_effective_time(lab, admin, run_module):
    # as Administrator: only Enterprise Admins, the forest root's Domain Admins and SYSTEM may read a key's times
    r = run_module('kds_root_key_info', {}, as_admin=True)
    assert not r.get('failed'), r
    assert r['kds_root_keys'] and r['keys'] == r['kds_root_keys']          # the old name: the same list
    admin.search('', '(objectClass=*)', search_scope=ldap3.BASE, attributes=['configurationNamingContext'])
    config = admin.response[0]['raw_attributes']['configurationNamingContext'][0].decode()
    admin.search('CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,%s' % config,
                 '(objectClass=msKds-ProvRootKey)', search_scope=ldap3.LEVEL,
                 attributes=['cn', 'msKds-CreateTime', 'msKds-UseStartTime'])
    raw = {e['raw_attributes']['cn'][0].decode(): e['raw_attributes'] for e in admin.response
           if e.get('type') == 'searchResEntry'}
    assert sorted(raw) == sorted(k['key_id'] for k in r['kds_root_keys'])
    for k in r['kds_root_keys']:
        a = raw[k['key_id']]
        assert k['creation_time'] == k['created'] == iso_from_filetime(a['msKds-CreateTime'][0])
        assert k['effective_time'] == k['effective'] == iso_from_filetime(a['msKds-UseStartTime'][0])


def uid(prefix):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def read(admin, dn, attrs):
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=list(attrs))
    entries = [e for e in admin.response if e.get('type') == 'searchResEntry']
    return entries[0]['raw_attributes'] if entries else None


def test_identity_finds_the_account_by_every_form_microsoft_ad_takes(lab, admin, ou, run_module):
    name = uid('vi')
    r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name, upn='%s@gmsalab.test' % name))
    assert r['changed'] and not r.get('failed'), r
    dn = 'CN=%s,%s' % (name, ou)
    raw = read(admin, dn, ['objectGUID', 'objectSid', 'userPrincipalName'])
    assert raw['userPrincipalName'] == [('%s@gmsalab.test' % name).encode()]
    guid = str(uuid.UUID(bytes_le=raw['objectGUID'][0]))
    sid = sid_text(raw['objectSid'][0])
    for ident in (name, name + '$', dn, guid, '{%s}' % guid.upper(), sid, '%s@gmsalab.test' % name):
        # found, and nothing to change: the account's own name and sAMAccountName stand in for the options
        r = run_module('gmsa', dict(identity=ident, dns_hostname='%s.gmsalab.test' % name))
        assert not r.get('failed') and r['changed'] is False, (ident, r)
        assert r['distinguished_name'] == dn and r['object_guid'] == guid and r['sid'] == sid, (ident, r)


def test_identity_with_a_new_name_renames_and_keeps_the_sam_account_name(lab, admin, ou, run_module):
    name, new = uid('vr'), uid('vn')
    assert run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name))['changed']
    guid = str(uuid.UUID(bytes_le=read(admin, 'CN=%s,%s' % (name, ou), ['objectGUID'])['objectGUID'][0]))
    check = run_module('gmsa', dict(identity=guid, name=new, dns_hostname='%s.gmsalab.test' % name), check=True)
    assert check['changed'] and read(admin, 'CN=%s,%s' % (name, ou), ['1.1']) is not None
    r = run_module('gmsa', dict(identity=guid, name=new, dns_hostname='%s.gmsalab.test' % name))
    assert r['changed'] and r['distinguished_name'] == 'CN=%s,%s' % (new, ou), r
    raw = read(admin, 'CN=%s,%s' % (new, ou), ['sAMAccountName', 'objectGUID'])
    assert raw['sAMAccountName'] == [name.encode() + b'$'] and str(uuid.UUID(bytes_le=raw['objectGUID'][0])) == guid
    again = run_module('gmsa', dict(identity=guid, name=new, dns_hostname='%s.gmsalab.test' % name))
    assert not again.get('failed') and again['changed'] is False, dict(again)


def test_identity_that_finds_nothing(lab, ou, run_module):
    missing = str(uuid.uuid4())
    r = run_module('gmsa', dict(identity=missing, dns_hostname='x.gmsalab.test'))
    assert r.get('failed') and 'matches no managed service account; to create one, give name' in r['msg'], r
    gone = run_module('gmsa', dict(identity=missing, state='absent'))
    assert not gone.get('failed') and gone['changed'] is False, gone


def test_upn_set_and_cleared_and_a_bad_one_refused(lab, admin, ou, run_module):
    name = uid('vu')
    base = dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name)
    bad = run_module('gmsa', dict(base, upn='no at sign'))
    assert bad.get('failed') and "upn 'no at sign' is not a user principal name" in bad['msg'] and \
        'Nothing was changed' in bad['msg']
    assert run_module('gmsa', base)['changed']
    r = run_module('gmsa', dict(base, upn='%s@svc.gmsalab.test' % name))
    assert r['changed'] and r['diff']['after']['upn'] == '%s@svc.gmsalab.test' % name
    assert read(admin, 'CN=%s,%s' % (name, ou), ['userPrincipalName'])['userPrincipalName'] == [
        ('%s@svc.gmsalab.test' % name).encode()]
    assert run_module('gmsa', dict(base, upn='%s@svc.gmsalab.test' % name))['changed'] is False
    assert run_module('gmsa', dict(base, upn=''))['changed']
    assert not read(admin, 'CN=%s,%s' % (name, ou), ['userPrincipalName']).get('userPrincipalName')


def test_do_not_append_dollar_to_sam_keeps_the_name_as_given(lab, admin, ou, run_module):
    name = uid('vd')
    args = dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name, sam_account_name=name.upper(),
                do_not_append_dollar_to_sam=True)
    # as Administrator: Samba 4.22 refuses (unwillingToPerform) a computer-class account whose sAMAccountName has
    # no $ when an OU-delegated account creates it (measured on the lab); the refusal leaves nothing behind
    refused = run_module('gmsa', args)
    assert refused.get('failed') and 'Nothing was changed' in refused['msg'] and refused['written'] == []
    assert read(admin, 'CN=%s,%s' % (name, ou), ['1.1']) is None
    r = run_module('gmsa', args, as_admin=True)
    assert not r.get('failed') and r['changed'] and r['sam_account_name'] == name.upper(), dict(r)
    assert read(admin, 'CN=%s,%s' % (name, ou), ['sAMAccountName'])['sAMAccountName'] == [name.upper().encode()]
    assert run_module('gmsa', args, as_admin=True)['changed'] is False
    # without the option the $ is appended, as before: a rename of the logon name
    plain = run_module('gmsa', dict(args, do_not_append_dollar_to_sam=False), check=True, as_admin=True)
    assert plain['changed'] and plain['diff']['after']['sam_account_name'] == name.upper() + '$'


def test_attributes_add_remove_set_other_ldap_attributes(lab, admin, ou, run_module):
    name = uid('va')
    base = dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name)
    # set at create, in the same add request
    phones = dict(telephoneNumber='+1 555 0100', otherTelephone=['+1 555 0101', '+1 555 0102'])
    r = run_module('gmsa', dict(base, attributes=dict(set=phones)))
    assert not r.get('failed') and r['changed'], dict(r)
    dn = 'CN=%s,%s' % (name, ou)
    raw = read(admin, dn, ['telephoneNumber', 'otherTelephone'])
    assert raw['telephoneNumber'] == [b'+1 555 0100']
    assert sorted(raw['otherTelephone']) == [b'+1 555 0101', b'+1 555 0102']
    again = run_module('gmsa', dict(base, attributes=dict(set=dict(telephoneNumber='+1 555 0100'))))
    assert not again.get('failed') and again['changed'] is False, dict(again)
    # add and remove keep the other values; check mode writes nothing and shows the diff
    change = dict(base, attributes=dict(add=dict(otherTelephone='+1 555 0103'), remove=dict(otherTelephone='+1 555 0101')))
    check = run_module('gmsa', change, check=True)
    assert check['changed'] and check['diff']['after']['attributes'] == {'otherTelephone': ['+1 555 0102', '+1 555 0103']}
    assert sorted(read(admin, dn, ['otherTelephone'])['otherTelephone']) == [b'+1 555 0101', b'+1 555 0102']
    assert run_module('gmsa', change)['changed']
    assert sorted(read(admin, dn, ['otherTelephone'])['otherTelephone']) == [b'+1 555 0102', b'+1 555 0103']
    # set to nothing clears it
    assert run_module('gmsa', dict(base, attributes=dict(set=dict(telephoneNumber=None))))['changed']
    assert not read(admin, dn, ['telephoneNumber']).get('telephoneNumber')


def test_attributes_refuses_what_the_module_manages_before_any_write(lab, admin, ou, run_module):
    name = uid('vm')
    base = dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name)
    spn_message = "servicePrincipalName is managed by this module's own option spn"
    for attrs, message in ((dict(set=dict(servicePrincipalName='http/x')), spn_message),
                           (dict(add=dict(userPrincipalName='a@b')), "own option upn"),
                           (dict(set=dict(nTSecurityDescriptor='x')), 'kept by the directory or by this module'),
                           (dict(set=dict(msDS_Bad='x')), 'is not an LDAP attribute name')):
        r = run_module('gmsa', dict(base, attributes=attrs))
        assert r.get('failed') and message in r['msg'] and 'Nothing was changed' in r['msg'], (attrs, r)
    admin.search(ou, '(cn=%s)' % name, attributes=['1.1'])
    assert not [e for e in admin.response if e.get('type') == 'searchResEntry']


def test_computer_account_takes_identity_by_guid_and_sid(lab, admin, computers, run_module):
    host = computers.create(uid('VC')[:12].upper())
    for ident in (host['guid'], host['sid']):
        r = run_module('computer_account', dict(identity=ident, enabled=False), check=True)
        assert not r.get('failed') and r['changed'] is True, (ident, r)
    # check mode changed nothing: the computer is still enabled
    uac = int(read(admin, host['dn'], ['userAccountControl'])['userAccountControl'][0])
    assert not uac & 2


def test_name_server_principals_resolve_through_the_global_catalog(lab, admin, ou, computers, run_module):
    """{name, server} as microsoft.ad takes it, looked up in the DC's global catalog (3269, measured on Samba: the
    lab forest's one domain stands in for another domain of the forest). The grant really works: the computer
    reads the managed password, bound as itself."""
    host = computers.create(uid('VG')[:12].upper())
    name = uid('vg')
    dn = 'CN=%s,%s' % (name, ou)
    base = dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name)
    for server in ('gmsalab.test', 'dc1.gmsalab.test'):
        r = run_module('gmsa', dict(base, allowed_to_retrieve_password=dict(set=[dict(name=host['sam'], server=server)])))
        assert not r.get('failed'), r
    assert computers.managed_password(host, dn), 'the computer cannot retrieve the password'
    # the grant is the computer's SID, as an independent read of the descriptor shows
    sd = read(admin, dn, ['msDS-GroupMSAMembership'])['msDS-GroupMSAMembership'][0]
    assert host['sid'] in sid_text_all(bytes(sd))
    # a server that is no domain of the forest, and a name the global catalog does not hold: refused, nothing written
    for principal, message in ((dict(name=host['sam'], server='other.example'), "server 'other.example' is neither"),
                               (dict(name='NoSuchHost$', server='gmsalab.test'), 'no principal NoSuchHost$ in gmsalab')):
        r = run_module('gmsa', dict(base, allowed_to_retrieve_password=dict(set=[principal])))
        assert r.get('failed') and message in r['msg'] and 'Nothing was changed' in r['msg'], r
    assert computers.managed_password(host, dn)


def sid_text_all(blob):
    """Every SID-shaped run of bytes in a security descriptor (revision 1, up to 15 sub-authorities), as text."""
    out = set()
    for i in range(len(blob) - 8):
        if blob[i] == 1 and 1 <= blob[i + 1] <= 15 and i + 8 + 4 * blob[i + 1] <= len(blob):
            out.add(sid_text(blob[i:i + 8 + 4 * blob[i + 1]]))
    return out
