"""KDS root keys as the delegated identity sees them on the lab DC, whose key carries the descriptor Windows writes
(Enterprise Admins, Domain Admins, SYSTEM): present but unreadable, never "no key". Read-only on the shared lab's
keys: nothing here creates or deletes one (the KDS lab's tests do that)."""
from __future__ import annotations

import uuid

import ldap3

from conftest import dump_tree


def container(lab):
    return 'CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,%s' % (
        lab['GMSA_LAB_BASE_DN'])


def truth(admin, lab):
    """The key ids, read as Administrator."""
    admin.search(container(lab), '(objectClass=msKds-ProvRootKey)', search_scope=ldap3.LEVEL, attributes=['cn'])
    return sorted(e['raw_attributes']['cn'][0].decode() for e in admin.response if e.get('type') == 'searchResEntry')


def test_the_delegated_identity_really_cannot_read_the_key(lab, delegated):
    from conftest import ldap3_connect
    conn = ldap3_connect(lab, delegated['upn'], delegated['password'])
    try:
        conn.search(container(lab), '(objectClass=msKds-ProvRootKey)', search_scope=ldap3.LEVEL, attributes=['cn'])
        assert [e for e in conn.response if e.get('type') == 'searchResEntry'] == []
        conn.search(container(lab), '(objectClass=*)', search_scope=ldap3.LEVEL, attributes=['cn'])
        entries = [e for e in conn.response if e.get('type') == 'searchResEntry']
        assert entries and all(not e['raw_attributes'].get('cn') for e in entries)
    finally:
        conn.unbind()


def test_info_lists_unreadable_keys_and_names_the_missing_right(run_module, admin, lab, delegated):
    ids = truth(admin, lab)
    assert ids, 'the lab DC has a KDS root key'
    r = run_module('kds_root_key_info', {})
    assert not r.failed, r
    assert sorted(k['key_id'] for k in r['keys']) == ids
    assert all(k['readable'] is False and k['usable'] is None for k in r['keys'])
    assert r['usable'] is None and r['unreadable_keys'] == ids and r['active_key_id'] is None
    text = ' '.join(r.warning_texts)
    assert delegated['upn'] in text and 'Read Property' in text and 'Enterprise Admins' in text
    # Administrator reads the same keys, usable.
    a = run_module('kds_root_key_info', {}, as_admin=True)
    assert a['usable'] is True and all(k['readable'] for k in a['keys']) and a['unreadable_keys'] == []


def test_no_second_key_beside_keys_it_cannot_read(run_module, admin, lab, delegated):
    before = dump_tree(admin, container(lab))
    for check in (True, False):
        r = run_module('kds_root_key', dict(effective_time_hours=0), check=check)
        assert r.failed, r
        assert 'Not creating another key' in r['msg'] and r['msg'].endswith('Nothing was changed.')
        assert r['unreadable_keys'] == truth(admin, lab)
    assert dump_tree(admin, container(lab)) == before


def test_gmsa_check_mode_is_inconclusive_and_the_dc_decides(run_module, admin, lab, ou, computers):
    name = 'v%s' % uuid.uuid4().hex[:8]
    args = dict(name=name, path=ou, dns_hostname='%s.%s' % (name, lab['GMSA_LAB_REALM'].lower()))
    c = run_module('gmsa', args, check=True)
    assert not c.failed and c['changed'] is True, c
    assert any('cannot read' in w and 'The create is planned' in w for w in c.warning_texts), c.warning_texts
    r = run_module('gmsa', args)
    assert not r.failed and r['changed'] is True, r
    # The DC computed its password from the key the delegated identity could not read: an allowed host reads it.
    host = computers.create('h%s' % uuid.uuid4().hex[:8])
    assert not run_module('gmsa', dict(args, allowed_to_retrieve_password=dict(set=[host['sam']]))).failed
    blob = computers.managed_password(host, 'CN=%s,%s' % (name, ou))
    assert blob is not None and len(blob) >= 290
