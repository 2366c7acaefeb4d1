# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # Documents exactly the options of plugins/module_utils/_ldap_connection.py connection_argument_spec().
    DOCUMENTATION = r'''
options:
  domain_server:
    description:
      - DNS name of the domain controller(s) to talk to, tried in order; the next is used only when one
        cannot be reached (refused, timed out, name does not resolve). A wrong password or an untrusted
        certificate stops at once.
      - Each entry may be C(host), C(host:port), C(ldaps://host[:port]) or C(ldap://host[:port]) (StartTLS).
      - Use the name in the DC's certificate (and, for Kerberos, of its C(ldap/) SPN), not an IP address.
      - Falls back to the E(GMSA_DOMAIN_SERVER) environment variable (comma-separated for several).
    type: list
    elements: str
  domain_port:
    description:
      - TCP port. Defaults to 636 with O(domain_tls=ldaps) and 389 with O(domain_tls=starttls).
      - Falls back to E(GMSA_DOMAIN_PORT).
    type: int
  domain_tls:
    description:
      - How the connection is encrypted before anything is sent. C(ldaps) is TLS from the first byte;
        C(starttls) upgrades a port-389 connection with the StartTLS extended operation.
      - C(none) exists only to be refused with a clear message; the collection never binds or reads gMSA and
        KDS attributes over an unencrypted connection.
      - Falls back to E(GMSA_DOMAIN_TLS).
    type: str
    choices: [ldaps, starttls, none]
    default: ldaps
  domain_auth:
    description:
      - C(simple) binds with O(domain_username) and O(domain_password) inside the TLS session.
      - C(kerberos) binds with SASL GSSAPI (with TLS channel binding). The ticket comes from
        O(domain_username) + O(domain_password) (obtained in memory, nothing written to disk), from
        O(domain_keytab), or from the ticket cache (O(domain_ccache), E(KRB5CCNAME) or the default cache).
        The Kerberos configuration is read from E(KRB5_CONFIG) or C(/etc/krb5.conf).
      - Falls back to E(GMSA_DOMAIN_AUTH).
    type: str
    choices: [simple, kerberos]
    default: simple
  domain_username:
    description:
      - The account to bind as. For C(simple) a UPN (C(admin@example.com)), C(DOMAIN\\user) or a DN; for
        C(kerberos) the principal (C(admin@example.com) or C(admin@EXAMPLE.COM) - the realm is upper-cased, as AD
        realms are).
      - With C(kerberos) and a principal that names its realm, the module needs no krb5.conf entry for that realm;
        it asks the domain controllers of O(domain_server) as the realm's KDCs (a file of its own put first in
        E(KRB5_CONFIG) only while the ticket is obtained and the bind runs; the system's configuration still
        applies to everything else).
      - Falls back to E(GMSA_DOMAIN_USERNAME).
    type: str
  domain_password:
    description:
      - Password of O(domain_username). Never logged or returned.
      - Falls back to E(GMSA_DOMAIN_PASSWORD).
    type: str
  domain_keytab:
    description:
      - With O(domain_auth=kerberos), a keytab to get the ticket from (in memory); O(domain_username) picks
        the principal when the keytab holds several.
      - Falls back to E(GMSA_DOMAIN_KEYTAB).
    type: path
  domain_ccache:
    description:
      - With O(domain_auth=kerberos) and no password or keytab, the ticket cache to use, for example
        C(FILE:/tmp/krb5cc_1000). Default is E(KRB5CCNAME) or the system default cache.
      - Falls back to E(GMSA_DOMAIN_CCACHE).
    type: str
  domain_ca_cert:
    description:
      - PEM file with the CA certificate(s) that issued the domain controllers' certificates. Without it, the
        system trust store is used.
      - Falls back to E(GMSA_DOMAIN_CA_CERT).
    type: path
  domain_validate_certs:
    description:
      - Whether to validate the DC's certificate and name. Only turn this off in a throw-away lab.
      - Falls back to E(GMSA_DOMAIN_VALIDATE_CERTS).
    type: bool
    default: true
  domain_timeout:
    description:
      - Seconds to wait for a connection and for each answer.
      - A domain controller that does not answer a read in time fails the task, which then has written nothing
        more. One that does not answer a write in time fails it with C(changed=true), since the write may or may
        not have been applied, and the result lists what was written before it; run the task again (it plans
        from what is there then).
      - Falls back to E(GMSA_DOMAIN_TIMEOUT).
    type: int
    default: 10
requirements:
  - ldap3 >= 2.9.1 on the host that runs the module (normally the controller or execution environment)
  - gssapi and MIT Kerberos for O(domain_auth=kerberos)
notes:
  - All options also come from C(module_defaults) with the group C(group/gmsa.farm.ldap).
'''
