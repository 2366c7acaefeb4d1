"""Pure tests of the KDS root key helpers (no server): FILETIME values, start-time rules, which key is usable,
password ids captured from the lab DC, and the descriptor of a new key."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def test_filetime_round_trip():
    assert kds.to_filetime(datetime.datetime(1601, 1, 1, tzinfo=UTC)) == 0
    assert kds.to_filetime(datetime.datetime(1970, 1, 1, tzinfo=UTC)) == 116444736000000000
    assert kds.from_filetime(kds.to_filetime(NOW)) == NOW
    assert kds.from_filetime(['116444736000000000']) == datetime.datetime(1970, 1, 1, tzinfo=UTC)


def test_start_time_rules():
    assert kds.start_time_for(NOW, 0) == NOW - datetime.timedelta(hours=10, minutes=5)
    assert kds.start_time_for(NOW, 10) == NOW - datetime.timedelta(minutes=5)
    attrs = kds.new_key_attributes('k', NOW, 0, 'CN=DC1,OU=Domain Controllers,DC=x', b'\0' * 64)
    assert sorted(attrs) == sorted([
        'cn', 'msKds-Version', 'msKds-DomainID', 'msKds-UseStartTime', 'msKds-CreateTime', 'msKds-KDFAlgorithmID',
        'msKds-KDFParam', 'msKds-SecretAgreementAlgorithmID', 'msKds-SecretAgreementParam',
        'msKds-PublicKeyLength', 'msKds-PrivateKeyLength', 'msKds-RootKeyData'])
    assert len(attrs['msKds-KDFParam']) == 30 and len(attrs['msKds-SecretAgreementParam']) == 524
    assert len(kds.new_key_attributes('k', NOW, 0, 'x')['msKds-RootKeyData']) == 64


def _key(key_id, created_h, start_h):
    return kds.describe_key(dict(dn='CN=%s' % key_id, attributes={
        'cn': key_id,
        'msKds-CreateTime': kds.to_filetime(NOW + datetime.timedelta(hours=created_h)),
        'msKds-UseStartTime': kds.to_filetime(NOW + datetime.timedelta(hours=start_h))}), NOW)


def test_choose_keys():
    old = _key('00000000-0000-0000-0000-000000000001', -100, -100)
    new = _key('00000000-0000-0000-0000-000000000002', -50, -50)
    pending = _key('00000000-0000-0000-0000-000000000003', 0, 0)
    bogus = _key('not-a-guid', -10, -200)
    assert old['usable'] and new['usable'] and not pending['usable'] and not bogus['usable']
    assert kds.active_key([old, new, pending, bogus])['key_id'].endswith('2')
    assert kds.choose_existing([pending], 'any')['key_id'].endswith('3')
    assert kds.choose_existing([bogus], 'any') is None
    assert kds.choose_existing([old, new], 'never') is None
    assert kds.choose_existing([old, new], 'key_id', old['key_id']) is old
    assert pending['usable_at'] == '2026-11-22T22:05:00Z'


def test_normalise_key_id():
    assert kds.normalise_key_id('{7C1F4A36-8A5A-4A8E-9B1E-1C0F5D0C2A11}') == '7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11'
    with pytest.raises(ValueError):
        kds.normalise_key_id('nope')


# msDS-ManagedPasswordId of a gMSA read from the lab DC (Samba 4.22), created under key 42516203-baa3-8753-...
LAB_PASSWORD_ID = bytes.fromhex(
    '010000004b44534b020000006c010000130000000600000003625142a3ba538756b970db0ef735b9000000001a0000001a000000'
    '67006d00730061006c00610062002e007400650073007400000067006d00730061006c00610062002e0074006500730074000000')


def test_password_id_names_the_root_key_the_account_derives_from():
    assert kds.password_id_root_key(LAB_PASSWORD_ID) == '42516203-baa3-8753-56b9-70db0ef735b9'
    assert kds.password_id_root_key(b'\x01\x00\x00\x00XXXX' + bytes(40)) is None
    assert kds.password_id_root_key(None) is None
    entries = [dict(dn='CN=a', raw={'msDS-ManagedPasswordId': [LAB_PASSWORD_ID]}), dict(dn='CN=b', raw={})]
    assert kds.accounts_using_key(entries, '42516203-baa3-8753-56b9-70db0ef735b9') == ['CN=a']
    assert kds.accounts_using_key(entries, '00000000-0000-0000-0000-000000000000') == []


def test_a_key_seen_only_by_its_dn_is_unreadable_not_absent():
    dn = 'CN=42516203-baa3-8753-56b9-70db0ef735b9,CN=Master Root Keys,CN=x'
    k = kds.describe_key(dict(dn=dn, attributes={'cn': [], 'msKds-UseStartTime': []}), NOW)
    assert k['readable'] is False and k['usable'] is None and k['key_id'] == '42516203-baa3-8753-56b9-70db0ef735b9'
    assert kds.active_key([k]) is None and kds.choose_existing([k], 'any') is None
    text = kds.unreadable_warning([k], 'op@EXAMPLE.COM')
    assert text.startswith('1 KDS root key exists that op@EXAMPLE.COM cannot read (42516203-')
    assert 'Read Property' in text
    assert kds.unreadable_warning([_key('00000000-0000-0000-0000-000000000001', 0, -20)], 'x') is None


def test_new_key_descriptor_protects_the_dacl_only():
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    data = kds.key_security_descriptor('S-1-5-21-1-2-3')
    control = int.from_bytes(data[2:4], 'little')
    assert control & 0x1000 and not control & 0x2000 and control & 0x0004
    assert SECURITY_DESCRIPTOR.from_bytes(data).Sacl is None
