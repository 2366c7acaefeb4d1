#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: gmsa_keytab
short_description: A Linux farm member's keytab for a gMSA, from the managed password
version_added: 1.0.0
description:
  - Runs on the Linux member host. Binds to a domain controller over LDAPS (or StartTLS) B(as the member computer)
    - by default with the machine keytab C(/etc/krb5.keytab) that joining the domain (realmd, adcli, sssd, Samba
    C(net ads join)) left there - and reads the gMSA's C(msDS-ManagedPassword). Only a computer in the gMSA's
    PrincipalsAllowedToRetrieveManagedPassword gets it.
  - Decodes the MSDS-MANAGEDPASSWORD_BLOB (current and previous password, query and unchanged intervals), derives
    the Kerberos keys for the account's encryption types with AD's salt for the account (RFC 3962, computed in
    Python), and writes them to O(path) with the right key version numbers - the current password
    at the account's kvno (C(msDS-KeyVersionNumber)) and the previous one at kvno - 1.
  - In the last 5 minutes before a rotation (the blob's QueryPasswordInterval is at most the 5-minute clock skew)
    the domain controller returns the next password as the current one and the password in use as the previous
    one. Then service principals get the next key at kvno + 1 beside the key in use at kvno, so tickets from before
    and after the rotation are accepted without another refresh; the account principal keeps the key in use until
    the rotation (C(kinit -k) takes the highest kvno).
  - Keys of earlier kvnos that the blob no longer sends (after a new account's first rotation the blob has no
    previous password; a member that was down may miss rotations) stay in the keytab for O(keep_previous_seconds)
    after the rotation that retired them, so tickets issued before it keep validating until they expire.
  - Each domain controller of O(domain_server) is tried in order until one gives the password; any failure on one
    (no answer, TLS, Kerberos or clock skew, an LDAP error) moves on to the next, and when none succeeds the
    error says what each one answered.
  - The keytab is replaced atomically (written beside O(path), then renamed over it), and only when a key,
    principal or kvno changed. A replaced keytab keeps its owner, group and mode; O(owner), O(group), O(mode)
    set them.
  - No password, key or blob is ever returned, logged or shown in a diff, at any verbosity. The result and the
    diff list entries by principal, kvno and encryption type.
  - The member role installs the same code as the refresher C(gmsa_farm_keytab) (run without Ansible by a systemd
    timer every minute; a tick that is not due asks the directory nothing) - due just after the rotation window
    opens and just after the rotation; see the role's README.
author:
  - gmsa.farm maintainers (@gmsa-farm)
requirements:
  - Python libraries C(ldap3), C(gssapi) and C(cryptography) on the member host, from the distribution
    (Debian/Ubuntu and RHEL family - C(python3-ldap3), C(python3-gssapi), C(python3-cryptography); RHEL's
    C(python3-ldap3) from EPEL). Nothing is compiled.
  - For O(domain_discovery) - C(dnspython) (Debian/Ubuntu C(python3-dnspython), RHEL C(python3-dns)).
  - MIT Kerberos on the member, with the domain's realm in C(/etc/krb5.conf) (a joined host has it).
  - For O(encryption_types=rc4) (and for an account without C(msDS-SupportedEncryptionTypes)) - MD4 from OpenSSL
    or C(pycryptodome).
extends_documentation_fragment:
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description: >-
      Reads the password and reports whether the keytab would change, writing nothing. Reading the password is
      what any member does; past the query interval that read is what lets the DC rotate the password.
  diff_mode:
    support: full
    description: The keytab's entries before and after (principal, kvno, encryption type; never a key).
  idempotent:
    support: full
    description: Changed only when the keys, principals or kvnos differ.
  platform:
    support: full
    platforms: posix
    description: Runs on the Linux member host itself (not on the controller), as root or as a user who can read
      the machine keytab.
options:
  name:
    description:
      - The gMSA, by name (C(WebFarm)) or sAMAccountName (C(WebFarm$)).
    type: str
    required: true
  path:
    description:
      - The keytab to write. It belongs to this gMSA - a file that holds keys of other principals and none of the
        gMSA's is refused, so the machine keytab can never be overwritten by mistake.
    type: path
    required: true
  state:
    description:
      - C(present) writes or refreshes the keytab; C(absent) removes it (no directory access needed), as a host
        that leaves the farm should.
    type: str
    choices: [present, absent]
    default: present
  encryption_types:
    description:
      - Which keys to write, among the ones the account has (its C(msDS-SupportedEncryptionTypes)).
      - An account without C(msDS-SupportedEncryptionTypes) (or with 0, which a KDC reads the same way) gets keys of
        all three types and a warning - a KDC then chooses the ticket's type from its own defaults (a Windows DC
        from C(DefaultDomainSupportedEncTypes)); RC4 only where this host has MD4 (the warning says when it was
        left out).
      - Fails when none is left - the account has no usable encryption type.
    type: list
    elements: str
    choices: [aes256, aes128, rc4]
    default: [aes256, aes128]
  principals:
    description:
      - Principals to write keys for. Default - the account (C(NAME$@REALM)) and each of its SPNs (what a
        Kerberos service such as Apache's mod_auth_gssapi looks up by the name in the ticket).
      - Without a realm, the domain's realm is added. Each must be the account (C(NAME$)) or one of its SPNs; other
        names are refused (no ticket for them is encrypted with this account's keys).
    type: list
    elements: str
  replaces:
    description:
      - Earlier generations of this gMSA (names), whose keytab O(path) may hold - after a rollover the keytab a
        service reads keeps its path and gets the new generation's keys in place.
      - A keytab that holds an earlier generation's account gets only the new keys - none of the earlier
        generation's is kept for older tickets, since a rollover follows a compromise and the compromised host
        had those keys. The service principals it held keep their names with the new generation's keys, so the
        service accepts tickets for its SPN as soon as the SPN has moved to the new generation.
    type: list
    elements: str
  keep_previous_seconds:
    description:
      - How long keys of an earlier kvno stay after the rotation that retired them - the longest lifetime of a
        service ticket in the domain (AD's default C(Maximum lifetime for service ticket) is 10 hours).
    type: int
    default: 36000
  domain_server:
    description:
      - DNS name of the domain controller(s), tried in order; C(host), C(host:port), C(ldaps://host[:port]) or
        C(ldap://host[:port]) (StartTLS). Use the name in its certificate and C(ldap/) SPN.
      - Unlike the directory modules, this module takes no E(GMSA_DOMAIN_*) environment fallbacks - on a member
        host only the member's own credentials are used.
    type: list
    elements: str
  domain_discovery:
    description:
      - A DNS domain whose DCs are found by DNS SRV (C(_ldap._tcp.dc._msdcs.DOMAIN)) and tried after O(domain_server)'s,
        lowest priority first (then highest weight), on the port of O(domain_tls).
      - Needs the Python library C(dnspython) on the member (Debian/Ubuntu C(python3-dnspython), RHEL C(python3-dns)).
      - One of O(domain_server) and O(domain_discovery) is required.
    type: str
  domain_port:
    description: TCP port; 636 with C(ldaps), 389 with C(starttls).
    type: int
  domain_tls:
    description: C(ldaps) or C(starttls); C(none) is refused (the password is only ever read over an encrypted
      connection, and AD returns it on no other).
    type: str
    choices: [ldaps, starttls, none]
    default: ldaps
  domain_ca_cert:
    description: PEM file of the CA(s) that issued the domain controllers' certificates; the system store otherwise.
    type: path
  domain_validate_certs:
    description: Validate the domain controller's certificate. Leave on outside a throw-away lab.
    type: bool
    default: true
  domain_timeout:
    description: Seconds to wait for the connection and each answer.
    type: int
    default: 10
  domain_auth:
    description:
      - C(kerberos) (default) - SASL GSSAPI with a ticket obtained from O(domain_keytab) (the machine keytab by
        default) into memory for this run, or from O(domain_ccache). A group change (the host joining the farm's
        host group) counts at once, since every run gets a new ticket.
      - C(simple) - the computer's DN or UPN and its password, inside the TLS session (labs, hosts not joined with
        a keytab).
    type: str
    choices: [simple, kerberos]
    default: kerberos
  domain_username:
    description:
      - The member computer's account. For C(kerberos) its principal (C(WEB05$) or C(WEB05$@EXAMPLE.COM));
        default - the host's short name in upper case with C($).
    type: str
  domain_password:
    description: The computer account's password (C(simple), or C(kerberos) without a keytab).
    type: str
  domain_keytab:
    description: The machine keytab for C(kerberos); default C(/etc/krb5.keytab) when neither O(domain_password)
      nor O(domain_ccache) is given.
    type: path
  domain_ccache:
    description: A ticket cache that already holds the computer's TGT (instead of a keytab).
    type: str
notes:
  - Salt, blob layout, rotation window and key derivation, with their sources and what was measured on Samba,
    are in the collection's C(docs/linux-facts.md).
seealso:
  - module: gmsa.farm.gmsa
  - module: gmsa.farm.host_group
  - name: MSDS-MANAGEDPASSWORD_BLOB (MS-ADTS 2.2.19)
    description: The structure of msDS-ManagedPassword.
    link: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/a9019740-3d73-46ef-a9ae-3ea8eb86ac2e
'''

EXAMPLES = r'''
- name: The web farm's keytab on a joined Linux member, readable by Apache
  gmsa.farm.gmsa_keytab:
    name: WebFarm
    path: /etc/gmsa-farm/WebFarm.keytab
    domain_server: [dc1.example.com, dc2.example.com]
    owner: root
    group: www-data
    mode: '0640'

- name: In a lab - bind with the computer's password instead of a machine keytab
  gmsa.farm.gmsa_keytab:
    name: LabFarm1
    path: /srv/lab/LabFarm1.keytab
    domain_server: dc1.gmsalab.test
    domain_ca_cert: /srv/lab/ca.pem
    domain_auth: simple
    domain_username: LABLNX01$@gmsalab.test
    domain_password: "{{ lab_computer_password }}"

- name: A host leaving the farm removes its keytab
  gmsa.farm.gmsa_keytab:
    name: WebFarm
    path: /etc/gmsa-farm/WebFarm.keytab
    domain_server: dc1.example.com
    state: absent
'''

RETURN = r'''
path:
  description: The keytab.
  returned: always
  type: str
account:
  description: The gMSA's sAMAccountName.
  returned: state is present
  type: str
  sample: WebFarm$
principals:
  description: The principals the keytab holds keys for.
  returned: state is present
  type: list
  elements: str
  sample: [WebFarm$@EXAMPLE.COM, HTTP/web.example.com@EXAMPLE.COM]
kvno:
  description: The account's key version number (msDS-KeyVersionNumber), read after the password.
  returned: state is present
  type: int
  sample: 3
encryption_types:
  description: The encryption types written.
  returned: state is present
  type: list
  elements: str
  sample: [aes256, aes128]
entries:
  description: Every entry of the keytab as written (or as it would be in check mode), without keys.
  returned: state is present
  type: list
  elements: dict
  contains:
    principal:
      description: The principal.
      type: str
    kvno:
      description: Its key version number.
      type: int
    encryption_type:
      description: MIT krb5's name of the encryption type.
      type: str
      sample: aes256-cts-hmac-sha1-96
previous_password:
  description: Whether the domain controller sent a previous password (none before the first rotation).
  returned: state is present
  type: bool
next_password_readable:
  description: Whether the blob's current password is already the next one (the minutes before a rotation).
  returned: state is present
  type: bool
query_password_seconds:
  description: Seconds until the domain controller rotates the password (QueryPasswordInterval).
  returned: state is present
  type: int
unchanged_password_seconds:
  description: Seconds during which the password will not change (UnchangedPasswordInterval).
  returned: state is present
  type: int
rotation:
  description: When the domain controller rotates the password next (UTC, ISO 8601), from the blob's query interval.
  returned: state is present
  type: str
  sample: '2026-12-22T08:01:00Z'
replaced:
  description: The earlier generation's principals whose keys this run took out of the keytab (a rollover).
  returned: when an earlier generation's keytab was replaced
  type: list
  elements: str
  sample: [WebFarm$@EXAMPLE.COM]
domain_controller:
  description: The domain controller that gave the password.
  returned: state is present
  type: str
  sample: dc1.example.com
next_refresh:
  description: When the keytab should be refreshed next (UTC, ISO 8601) - what the member role's refresh uses.
  returned: state is present
  type: str
  sample: '2026-12-22T07:56:00Z'
'''

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule, missing_required_lib  # noqa: E402

from ansible_collections.gmsa.farm.plugins.module_utils._keytab import (  # noqa: E402
    HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR, ENCTYPES, KeytabError, member_params, run,
)
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import (  # noqa: E402
    HAS_LDAP3, LDAP3_IMPORT_ERROR, Directory, DirectoryError, connection_argument_spec,
)


def argument_spec():
    """The directory modules' connection options without their environment fallbacks (a member host must never
    pick up the controller's GMSA_DOMAIN_* credentials), Kerberos by default, plus this module's own."""
    spec = connection_argument_spec()
    for option in spec.values():
        option.pop('fallback', None)
    spec['domain_server']['required'] = False
    spec['domain_auth']['default'] = 'kerberos'
    spec.update(
        name=dict(type='str', required=True),
        path=dict(type='path', required=True),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        encryption_types=dict(type='list', elements='str', choices=sorted(ENCTYPES), default=['aes256', 'aes128']),
        principals=dict(type='list', elements='str'),
        keep_previous_seconds=dict(type='int', default=36000),
        replaces=dict(type='list', elements='str'),
        domain_discovery=dict(type='str'),
    )
    return spec


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, add_file_common_args=True,
                           required_one_of=[('domain_server', 'domain_discovery')])
    for lib, ok, err in (('ldap3', HAS_LDAP3, LDAP3_IMPORT_ERROR),
                         ('cryptography', HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR)):
        if not ok:
            module.fail_json(msg=missing_required_lib(lib), exception=str(err))
    params = member_params(module.params)
    if not params['encryption_types']:
        module.fail_json(msg='encryption_types is empty: name at least one of %s' % ', '.join(sorted(ENCTYPES)))
    if params['keep_previous_seconds'] < 0:
        module.fail_json(msg='keep_previous_seconds is %d: give a number of seconds, 0 or more'
                         % params['keep_previous_seconds'])
    try:
        result = run(params, module.check_mode, lambda p: Directory(p).connect())
    except (KeytabError, DirectoryError) as e:
        module.fail_json(msg='%s: %s' % (params['name'], getattr(e, 'msg', None) or e), path=params['path'],
                         changed=False)
    except OSError as e:
        module.fail_json(msg='%s: the keytab %s could not be written (%s); the old one is unchanged'
                         % (params['name'], params['path'], e), path=params['path'], changed=False)
    if params['state'] == 'present' and os.path.exists(params['path']):
        # owner, group, mode (a replaced keytab already kept the old ones); check mode only reports.
        file_args = module.load_file_common_arguments(module.params, path=params['path'])
        result['changed'] = module.set_fs_attributes_if_different(file_args, result['changed'])
    for warning in result.pop('warnings', []):
        module.warn(warning)
    for internal in ('next_refresh_epoch', 'realm'):
        result.pop(internal, None)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
