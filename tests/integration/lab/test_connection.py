"""The LDAP connection layer against the lab DC: every mode and every failure message."""
from __future__ import annotations

import datetime
import os
import subprocess

import pytest


def test_simple_bind_over_ldaps(run_module, lab):
    r = run_module('domain_info', {})
    assert not r.failed, r
    assert r['changed'] is False
    assert r['dns_domain'] == lab['GMSA_LAB_REALM'].lower()
    assert r['netbios_name'] == lab['GMSA_LAB_NETBIOS']
    assert r['default_naming_context'] == lab['GMSA_LAB_BASE_DN']
    assert r['dc_dns_hostname'].lower() == lab['GMSA_LAB_DC_FQDN']
    assert r['managed_service_accounts_container'] == 'CN=Managed Service Accounts,%s' % lab['GMSA_LAB_BASE_DN']
    assert r['schema'] == dict(group_managed_service_account=True, managed_service_account=True,
                               delegated_managed_service_account=False)
    assert r['domain_sid'].startswith('S-1-5-21-')
    assert '1.2.840.113556.1.4.319' in r['supported_controls']  # paged results
    assert len(set(r['supported_controls'])) == len(r['supported_controls'])   # Samba lists some twice


def test_simple_bind_over_starttls(run_module, lab):
    r = run_module('domain_info', dict(domain_tls='starttls'))
    assert not r.failed, r
    assert r['dns_domain'] == lab['GMSA_LAB_REALM'].lower()


def test_server_given_as_url(run_module, lab):
    r = run_module('domain_info', dict(domain_server=['ldap://%s' % lab['GMSA_DOMAIN_SERVER']]))
    assert not r.failed, r  # ldap:// means StartTLS, never plain


def test_kerberos_with_password_over_ldaps(run_module, lab):
    r = run_module('domain_info', dict(domain_auth='kerberos'))
    assert not r.failed, r
    assert r['dns_domain'] == lab['GMSA_LAB_REALM'].lower()


def test_kerberos_refuses_a_domain_backslash_user_naming_the_principal_to_give(run_module, lab):
    user = '%s\\Administrator' % lab['GMSA_LAB_NETBIOS']
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_username=user))
    assert r.failed and r['msg'] == (
        "domain_username %r is a DOMAIN\\user name, which Kerberos does not know: give the principal, user@REALM "
        "(here probably Administrator@%s - usually the user's UPN), or use domain_auth=simple"
        % (user, lab['GMSA_LAB_REALM']))
    r = run_module('domain_info', dict(domain_username=user, domain_password=lab['GMSA_DOMAIN_PASSWORD']))
    assert not r.failed, r          # a simple bind takes it


def test_kerberos_with_password_over_starttls(run_module):
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_tls='starttls'))
    assert not r.failed, r


def test_kerberos_with_ticket_cache(run_module, lab, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / 'cc')
    # The ticket comes from MIT kinit, an independent client.
    p = subprocess.run(['kinit', '-c', ccache, lab['GMSA_DOMAIN_USERNAME']], input=lab['GMSA_DOMAIN_PASSWORD'],
                       text=True, capture_output=True, check=False)
    assert p.returncode == 0, p.stderr
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_ccache=ccache, domain_username=None,
                                       domain_password=None))
    assert not r.failed, r


def test_kerberos_with_keytab(run_module, lab, tmp_path):
    keytab = str(tmp_path / 'admin.keytab')
    p = subprocess.run(['samba-tool', 'domain', 'exportkeytab', keytab, '--principal=Administrator',
                        '-s', lab['GMSA_LAB_SMB_CONF']], capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_keytab=keytab, domain_password=None,
                                       domain_username='Administrator@%s' % lab['GMSA_LAB_REALM']))
    assert not r.failed, r


def test_kerberos_without_ticket_says_so(run_module, tmp_path):
    ccache = 'FILE:%s' % (tmp_path / 'none')
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_ccache=ccache, domain_username=None,
                                       domain_password=None))
    assert r.failed
    assert r['msg'].startswith('Kerberos: could not get a ticket from the ticket cache %s' % ccache)
    assert 'run kinit first' in r['msg']


def test_kerberos_wrong_password(run_module, lab, delegated):
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_password='not-the-password'))
    assert r.failed
    assert r['msg'].startswith('Kerberos: could not get a ticket from the password of %s' % delegated['upn'])
    assert 'not-the-password' not in str(r)


def test_wrong_password(run_module, lab, delegated):
    r = run_module('domain_info', dict(domain_password='not-the-password'))
    assert r.failed
    assert r['msg'].startswith('Bind to %s:636 as %s was rejected: wrong user name or password'
                               % (lab['GMSA_DOMAIN_SERVER'], delegated['upn']))
    assert 'invalidCredentials (49)' in r['msg']
    assert 'not-the-password' not in str(r)


def _other_ca(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'Some other CA')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(key, hashes.SHA256()))
    path = tmp_path / 'other-ca.pem'
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def test_wrong_ca_rejected(run_module, lab, tmp_path):
    r = run_module('domain_info', dict(domain_ca_cert=_other_ca(tmp_path)))
    assert r.failed
    assert r['msg'].startswith('TLS: the certificate of %s:636 is not trusted (certificate verify failed'
                               % lab['GMSA_DOMAIN_SERVER'])
    assert 'domain_ca_cert' in r['msg']


def test_no_ca_rejected_by_default(run_module, lab):
    r = run_module('domain_info', dict(domain_ca_cert=None))
    assert r.failed
    assert r['msg'].startswith('TLS: the certificate of %s:636 is not trusted' % lab['GMSA_DOMAIN_SERVER'])


def test_wrong_ca_rejected_over_starttls(run_module, lab, tmp_path):
    r = run_module('domain_info', dict(domain_tls='starttls', domain_ca_cert=_other_ca(tmp_path)))
    assert r.failed
    assert r['msg'].startswith('TLS: the certificate of %s:389 is not trusted' % lab['GMSA_DOMAIN_SERVER'])


def test_name_not_in_certificate_rejected(run_module, lab):
    r = run_module('domain_info', dict(domain_server=[lab['GMSA_LAB_IP']]))
    assert r.failed
    assert r['msg'].startswith('TLS: the certificate of %s:636 is not trusted (the certificate does not name '
                               'this server' % lab['GMSA_LAB_IP'])


def test_unreachable_first_server_then_working_second(run_module, lab):
    r = run_module('domain_info', dict(domain_server=['%s:1' % lab['GMSA_LAB_IP'], 'nonexistent.invalid',
                                                      lab['GMSA_DOMAIN_SERVER']]))
    assert not r.failed, r
    assert r['dc_dns_hostname'].lower() == lab['GMSA_LAB_DC_FQDN']
    # the DCs that did not answer are named (a dead first DC makes every task slower until it is fixed)
    assert r.warning_texts == ['Connected to %s after 2 domain controllers did not answer: %s:1 (ldaps): connection '
                               'refused; nonexistent.invalid:636 (ldaps): name does not resolve'
                               % (lab['GMSA_DOMAIN_SERVER'], lab['GMSA_LAB_IP'])], r


def test_starttls_server_url_with_the_lab_env_file_port(run_module, lab, monkeypatch):
    """The connection guide's StartTLS form after `. .lab/lab.env` (GMSA_DOMAIN_PORT=636): ldap:// means 389."""
    monkeypatch.setenv('GMSA_DOMAIN_PORT', '636')
    r = run_module('domain_info', dict(domain_server='ldap://%s' % lab['GMSA_DOMAIN_SERVER']))
    assert not r.failed, r
    assert not r.warning_texts
    # StartTLS named with the LDAPS port: refused before connecting, naming the port and the mode
    r = run_module('domain_info', dict(domain_tls='starttls'))
    assert r.failed and r['msg'].startswith("domain_server '%s': StartTLS on port 636 (from domain_port (or "
                                            "GMSA_DOMAIN_PORT)), which is the LDAPS port" % lab['GMSA_DOMAIN_SERVER'])


def test_all_servers_unreachable(run_module, lab):
    r = run_module('domain_info', dict(domain_server=['%s:1' % lab['GMSA_LAB_IP'], 'nonexistent.invalid'],
                                       domain_timeout=3))
    assert r.failed
    assert r['msg'] == ('Could not reach any domain controller. Tried: %s:1 (ldaps): connection refused; '
                        'nonexistent.invalid:636 (ldaps): name does not resolve' % lab['GMSA_LAB_IP'])


def test_plain_ldap_refused(run_module, lab, admin):
    r = run_module('domain_info', dict(domain_tls='none'))
    assert r.failed
    assert r['msg'].startswith('domain_tls=none is refused: gmsa.farm never sends credentials')


def test_anonymous_simple_bind_refused(run_module):
    r = run_module('domain_info', dict(domain_password=''))
    assert r.failed
    assert r['msg'].startswith('domain_auth=simple needs domain_username and domain_password')


def test_environment_fallbacks(run_module, lab, monkeypatch):
    """AWX/AAP credentials inject GMSA_DOMAIN_* variables; no option is passed to the module."""
    for k in ('SERVER', 'USERNAME', 'PASSWORD', 'CA_CERT'):
        monkeypatch.setenv('GMSA_DOMAIN_' + k, lab['GMSA_DOMAIN_' + k])
    monkeypatch.setenv('GMSA_DOMAIN_TLS', 'starttls')
    r = run_module('domain_info', {}, conn=False)
    assert not r.failed, r
    assert r['dns_domain'] == lab['GMSA_LAB_REALM'].lower()
    assert os.environ['GMSA_DOMAIN_PASSWORD'] not in str(r)


@pytest.mark.parametrize('args, message', [
    (dict(domain_port=70000), 'domain_port 70000 is not a TCP port (1..65535)'),
    (dict(domain_server=['dc1.example.test:0']), "names port 0, which is not a TCP port"),
    (dict(domain_timeout=0), 'domain_timeout must be a positive number of seconds'),
], ids=['port', 'port in server', 'timeout'])
def test_bad_connection_options_name_the_option(run_module, lab, args, message):
    r = run_module('domain_info', args)
    assert r.failed and message in r['msg'], r


def test_a_ca_file_that_is_not_a_certificate_says_so(run_module, lab, tmp_path):
    bad = tmp_path / 'ca.pem'
    bad.write_text('this is not a certificate\n')
    r = run_module('domain_info', dict(domain_ca_cert=str(bad)))
    assert r.failed and 'is not a PEM certificate' in r['msg'] and 'could not reach' not in r['msg'], r


@pytest.mark.parametrize('args, message', [
    (dict(ldap_filter='objectClass=computer'), "ldap_filter: 'objectClass=computer' is not an LDAP filter"),
    (dict(ldap_filter='(&(a=b)'), "ldap_filter: '(&(a=b)' is not an LDAP filter"),
    (dict(path='Managed Service Accounts'), "path: 'Managed Service Accounts' is not a distinguished name"),
], ids=['filter without parentheses', 'unbalanced filter', 'path not a DN'])
def test_info_options_taking_a_filter_or_a_dn_are_checked(run_module, lab, args, message):
    r = run_module('gmsa_info', args)
    assert r.failed and message in r['msg'], r


def test_kerberos_with_a_lower_case_upn_and_no_krb5_conf_for_the_realm(run_module, lab, tmp_path, monkeypatch,
                                                                       delegated):
    """Users write UPNs in lower case and execution environments have no krb5.conf for their domain: the realm is
    upper-cased and the DCs of domain_server are the KDCs."""
    empty = tmp_path / 'krb5.conf'
    empty.write_text('[libdefaults]\n  dns_lookup_kdc = false\n')
    monkeypatch.setenv('KRB5_CONFIG', str(empty))
    user = delegated['name'] + '@' + lab['GMSA_LAB_REALM'].lower()
    r = run_module('domain_info', dict(domain_auth='kerberos', domain_username=user))
    assert not r.failed, r
    assert os.environ['KRB5_CONFIG'] == str(empty)     # put back after the task


def test_a_kerberos_bind_leaves_krb5_config_as_it_was_while_the_connection_is_in_use(lab, tmp_path, monkeypatch,
                                                                                     delegated):
    """In the same process (as a long-lived controller or a test run would be): the small krb5.conf naming the DCs
    is in KRB5_CONFIG only while the credentials are acquired and the bind runs; the bound connection, and a
    global catalog opened later, work without it."""
    from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import Directory
    empty = tmp_path / 'krb5.conf'
    empty.write_text('[libdefaults]\n  dns_lookup_kdc = false\n')
    monkeypatch.setenv('KRB5_CONFIG', str(empty))
    user = delegated['name'] + '@' + lab['GMSA_LAB_REALM'].lower()
    params = dict(lab['conn'], domain_auth='kerberos', domain_username=user, domain_password=delegated['password'])
    with Directory(params).connect() as d:
        assert os.environ['KRB5_CONFIG'] == str(empty)
        assert d.dns_domain == lab['GMSA_LAB_REALM'].lower()
        assert d.global_catalog().search('', '(objectClass=*)', ['dnsHostName'], scope='base')
        assert os.environ['KRB5_CONFIG'] == str(empty)
    assert os.environ['KRB5_CONFIG'] == str(empty)
