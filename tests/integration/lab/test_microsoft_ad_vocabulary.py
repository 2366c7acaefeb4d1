"""The names microsoft.ad users know, against the lab DC, checked with raw ldap3 as Administrator."""
from __future__ import annotations

import datetime

import ldap3


def iso_from_filetime(value):
    """FILETIME (100 ns since 1601) -> ISO 8601 UTC, written here independently of the collection."""
    t = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(microseconds=int(value) // 10)
    return t.strftime('%Y-%m-%dT%H:%M:%SZ')


def test_kds_root_key_info_returns_kds_root_keys_with_creation_and_effective_time(lab, admin, run_module):
    r = run_module('kds_root_key_info', {})
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
