"""Pure tests of the KDS helpers and the connection layer's parsing (no server)."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils import _ldap_connection as lc
from ansible_collections.gmsa.farm.plugins.module_utils._domain import level_name, well_known_container

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


@pytest.mark.parametrize('value, expected', [
    ('dc1.example.com', (None, 'dc1.example.com', None)),
    ('dc1.example.com:3269', (None, 'dc1.example.com', 3269)),
    ('ldaps://dc1.example.com', ('ldaps', 'dc1.example.com', None)),
    ('LDAP://dc1.example.com:389/', ('ldap', 'dc1.example.com', 389)),
    ('[::1]:636', (None, '::1', 636)),
])
def test_split_server(value, expected):
    assert lc._split_server(value, None) == expected


def test_escape_and_dn_to_dns():
    assert lc.escape('a*(b)\\') == 'a\\2a\\28b\\29\\5c'
    assert lc.dn_to_dns('DC=corp,DC=example,DC=com') == 'corp.example.com'


def test_domain_helpers():
    values = ['B:32:6227F0AF1FC2410D8E3BB10615BB5B0F:CN=NTDS Quotas,DC=x',
              'B:32:1EB93889E40C45DF9F0C64D23BBB6237:CN=Managed Service Accounts,DC=x']
    assert well_known_container(values, '1eb93889e40c45df9f0c64d23bbb6237') == 'CN=Managed Service Accounts,DC=x'
    assert well_known_container([], '1EB93889E40C45DF9F0C64D23BBB6237') is None
    assert level_name(['4']) == '2008_R2' and level_name('7') == '2016' and level_name(None) is None


def test_refuses_plain_ldap_before_any_network():
    with pytest.raises(lc.DirectoryError, match='domain_tls=none is refused'):
        lc.Directory(dict(domain_server=['x'], domain_tls='none', domain_auth='simple')).connect()


@pytest.mark.parametrize('entry, tls, port, expected', [
    ('dc1.example.com', 'ldaps', None, ('dc1.example.com', 636, 'ldaps')),
    ('dc1.example.com', 'starttls', None, ('dc1.example.com', 389, 'starttls')),
    ('dc1.example.com', 'ldaps', 1636, ('dc1.example.com', 1636, 'ldaps')),
    # GMSA_DOMAIN_PORT=636 from an LDAPS env file does not apply to an explicit ldap:// server
    ('ldap://dc1.example.com', 'ldaps', 636, ('dc1.example.com', 389, 'starttls')),
    ('ldaps://dc1.example.com', 'starttls', 389, ('dc1.example.com', 636, 'ldaps')),
    ('ldap://dc1.example.com:3389', 'ldaps', 636, ('dc1.example.com', 3389, 'starttls')),
    ('dc1.example.com:3269', 'ldaps', 636, ('dc1.example.com', 3269, 'ldaps')),
])
def test_endpoint_port_and_mode(entry, tls, port, expected):
    assert lc.endpoint(entry, tls, port) == expected


@pytest.mark.parametrize('entry, tls, port, text', [
    ('dc1.example.com', 'starttls', 636, "StartTLS on port 636 (from domain_port (or GMSA_DOMAIN_PORT)), which is "
                                         "the LDAPS port. Use port 389"),
    ('ldap://dc1.example.com:636', 'ldaps', None, "StartTLS on port 636 (in domain_server 'ldap://dc1.example.com:636')"),
    ('dc1.example.com:389', 'ldaps', None, 'LDAPS on port 389'),
    ('ldaps://dc1.example.com:3268', 'ldaps', None, 'LDAPS on port 3268'),
])
def test_endpoint_refuses_the_other_modes_port_naming_both(entry, tls, port, text):
    with pytest.raises(lc.DirectoryError) as e:
        lc.endpoint(entry, tls, port)
    assert text in e.value.msg


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


def test_a_bind_user_of_another_domain_does_not_take_these_dcs_for_its_kdcs():
    from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import kdcs_for_realm
    assert kdcs_for_realm('CORP.TEST', ['dc1.corp.test', 'dc2.corp.test', 'dc1.corp.test']) == [
        'dc1.corp.test', 'dc2.corp.test']
    # an Enterprise Admin of the forest root binding to a child domain's DC: the child's DC is not its KDC
    assert kdcs_for_realm('CORP.TEST', ['dc1.child.corp.test']) == []
    assert kdcs_for_realm('CHILD.CORP.TEST', ['dc1.child.corp.test']) == ['dc1.child.corp.test']
    assert kdcs_for_realm('CORP.TEST', ['127.0.0.10', 'dc1', 'dc1.corp']) == ['127.0.0.10', 'dc1', 'dc1.corp']


def test_connection_settings_parse_every_server_once_in_order():
    s = lc.ConnectionSettings.from_params(dict(
        domain_server=['dc1.example.com', 'ldap://dc2.example.com', 'dc3.example.com:1636'], domain_tls='ldaps',
        domain_auth='kerberos', domain_username='u@example.com', domain_timeout=5))
    assert [(e.host, e.port, e.mode) for e in s.servers] == [
        ('dc1.example.com', 636, 'ldaps'), ('dc2.example.com', 389, 'starttls'), ('dc3.example.com', 1636, 'ldaps')]
    assert s.servers[1].entry == 'ldap://dc2.example.com' and s.timeout == 5 and s.validate_certs is True
    one = s.only(s.servers[2])
    assert one.servers == [s.servers[2]] and one.username == 'u@example.com' and s.servers[0] in s.servers
    assert s.servers[0].global_catalog() == lc.Endpoint('dc1.example.com', 3269, 'ldaps')
    assert s.servers[1].global_catalog().port == 3268
    assert lc.ConnectionSettings.of(s) is s


def test_connection_settings_add_discovered_dcs_in_the_mode_of_domain_tls():
    s = lc.ConnectionSettings.from_params(dict(domain_server=['dc1.example.com'], domain_tls='starttls',
                                               domain_auth='kerberos'), extra_hosts=['dc2.example.com'])
    assert [(e.host, e.port, e.mode) for e in s.servers] == [('dc1.example.com', 389, 'starttls'),
                                                             ('dc2.example.com', 389, 'starttls')]


@pytest.mark.parametrize('params, text', [
    (dict(domain_server=['dc1'], domain_auth='simple', domain_username='u'), 'needs domain_username and domain_password'),
    (dict(domain_server=[], domain_auth='kerberos'), 'domain_server is required'),
    (dict(domain_server=['dc1:99999'], domain_auth='kerberos'), 'names port 99999, which is not a TCP port'),
    (dict(domain_server=['dc1:x'], domain_auth='kerberos'), "'dc1:x' is not a host name"),
    (dict(domain_server=['dc1'], domain_auth='kerberos', domain_timeout=0), 'domain_timeout must be a positive'),
    (dict(domain_server=['dc1'], domain_auth='kerberos', domain_port=0), 'domain_port 0 is not a TCP port'),
    (dict(domain_server=['dc1'], domain_auth='kerberos', domain_keytab='/nonexistent'), 'domain_keytab /nonexistent'),
])
def test_connection_settings_refuse_bad_options_naming_them(params, text):
    with pytest.raises(lc.DirectoryError) as e:
        lc.ConnectionSettings.from_params(params)
    assert text in e.value.msg


def test_connection_settings_never_show_the_password():
    s = lc.ConnectionSettings.from_params(dict(domain_server=['dc1'], domain_username='u', domain_password='s3cret!'))
    assert 's3cret!' not in repr(s) and s.password == 's3cret!'


def test_the_krb5_configuration_is_set_only_inside_its_scope(monkeypatch, tmp_path):
    monkeypatch.setenv('KRB5_CONFIG', '/etc/site-krb5.conf')
    with lc.krb5_config_scope(str(tmp_path / 'krb5.conf')):
        assert lc.os.environ['KRB5_CONFIG'] == '%s:/etc/site-krb5.conf' % (tmp_path / 'krb5.conf')
    assert lc.os.environ['KRB5_CONFIG'] == '/etc/site-krb5.conf'
    monkeypatch.delenv('KRB5_CONFIG')
    with pytest.raises(RuntimeError):
        with lc.krb5_config_scope('/tmp/x.conf'):
            assert lc.os.environ['KRB5_CONFIG'] == '/tmp/x.conf:/etc/krb5.conf'
            raise RuntimeError()
    assert 'KRB5_CONFIG' not in lc.os.environ
    with lc.krb5_config_scope(None):
        assert 'KRB5_CONFIG' not in lc.os.environ


def test_krb5_conf_names_the_kdcs_or_asks_dns():
    text = lc.krb5_conf_text('EXAMPLE.COM', ['dc1.example.com', 'dc2.example.com'])
    assert 'default_realm = EXAMPLE.COM' in text and text.count('kdc = ') == 2 and 'dns_lookup_kdc' not in text
    assert 'dns_lookup_kdc = true' in lc.krb5_conf_text('CHILD.EXAMPLE.COM', [])
