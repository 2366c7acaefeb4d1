"""Pure tests of the connection layer (no server): domain_server parsed once into endpoints, bad options refused
naming them, the Kerberos configuration scoped to the bind, KDCs of the bind user's realm."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _ldap_connection as lc


@pytest.mark.parametrize('value, expected', [
    ('dc1.example.com', (None, 'dc1.example.com', None)),
    ('dc1.example.com:3269', (None, 'dc1.example.com', 3269)),
    ('ldaps://dc1.example.com', ('ldaps', 'dc1.example.com', None)),
    ('LDAP://dc1.example.com:389/', ('ldap', 'dc1.example.com', 389)),
    ('[::1]:636', (None, '::1', 636)),
])
def test_split_server(value, expected):
    assert lc._split_server(value, None) == expected


def test_dn_to_dns():
    assert lc.dn_to_dns('DC=corp,DC=example,DC=com') == 'corp.example.com'


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
