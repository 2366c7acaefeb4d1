#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: computer_account
short_description: Disable a member computer's account and reset its password (compromised host response)
version_added: 1.0.0
description:
  - Acts on a farm member's computer account over LDAP, without contacting the host - what the response to a
    compromised host needs in the directory.
  - O(enabled=false) disables the account (userAccountControl ACCOUNTDISABLE, changed on the value read, so a
    concurrent change is not overwritten); the domain controllers then refuse it new tickets.
  - O(reset_password=true) sets a new random password (240 characters, never returned or logged), so the
    machine password the attacker may hold no longer works. Tickets already issued stay valid until they expire;
    the result says so.
  - Refuses, before any write and in check mode too, the accounts of domain controllers and read-only domain
    controllers and trust accounts (C(userAccountControl) SERVER_TRUST_ACCOUNT, PARTIAL_SECRETS_ACCOUNT or
    INTERDOMAIN_TRUST_ACCOUNT, or primary group Domain Controllers (516) or Read-only Domain Controllers (521)).
    Disabling one or resetting its password breaks replication and Kerberos with that DC or trust; a
    compromised DC is a forest recovery, not a member response.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports what would change, writing nothing.
  diff_mode:
    support: full
    description: Whether the account is enabled, before and after (a password reset shows as reset, never a value).
  idempotent:
    support: partial
    description: Disabling is idempotent; O(reset_password=true) sets a new password on every run by design.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller or execution environment; talks LDAP to the domain controller.
options:
  name:
    description:
      - The computer, by name (C(WEB02)), sAMAccountName (C(WEB02$)), DN, objectGUID or SID.
      - O(identity) is microsoft.ad's name for the same lookup.
    type: str
    required: true
    aliases: [identity]
  enabled:
    description:
      - Whether the account is enabled; unchanged when not given.
    type: bool
  reset_password:
    description:
      - Set a new random password on the account.
    type: bool
    default: false
seealso:
  - module: gmsa.farm.host_group
'''

EXAMPLES = r'''
- name: A compromised member - disable its account and invalidate the machine password it knows
  gmsa.farm.computer_account:
    name: WEB02
    enabled: false
    reset_password: true
'''

RETURN = r'''
distinguished_name:
  description: DN of the computer account.
  returned: success
  type: str
  sample: CN=WEB02,CN=Computers,DC=contoso,DC=com
enabled:
  description:
    - Whether the account is enabled after the task (in check mode, would be). A task with only O(name) is a read
      that also proves the account exists; the compromised_host playbook uses it to reset the password only while
      the account is still enabled, so that a rerun changes nothing.
  returned: success
  type: bool
password_reset:
  description: Whether the password was (in check mode, would be) reset.
  returned: success
  type: bool
exposure:
  description: What stays possible after the task, in people's words (tickets issued before it).
  returned: success
  type: str
requests:
  description: The LDAP requests sent (would be sent, in check mode), without values.
  returned: success
  type: list
  elements: dict
'''

import secrets
import string

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._gmsa import UAC_ACCOUNTDISABLE, single_value_change, uac_enabled
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_REPLACE, first
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import Write, check_rights, execute

EXPOSURE = ('Kerberos tickets the host obtained before this task stay valid until they expire (service tickets '
            'and TGTs: 10 hours by default; a TGT is renewable for up to 7 days unless its account is disabled). '
            'Grants through groups it was in when they were issued travel with them: give a new gMSA generation '
            'to principals those tickets cannot carry (the compromised_host playbook grants it to the remaining '
            'members directly).')


def random_password():
    alphabet = string.ascii_letters + string.digits + '!#%+,-./:;=?@_'
    return ''.join(secrets.choice(alphabet) for dummy in range(240))


UAC_INTERDOMAIN_TRUST_ACCOUNT = 0x0800
UAC_SERVER_TRUST_ACCOUNT = 0x2000
UAC_PARTIAL_SECRETS_ACCOUNT = 0x04000000
PROTECTED_UAC = ((UAC_SERVER_TRUST_ACCOUNT, 'a domain controller (SERVER_TRUST_ACCOUNT)'),
                 (UAC_PARTIAL_SECRETS_ACCOUNT, 'a read-only domain controller (PARTIAL_SECRETS_ACCOUNT)'),
                 (UAC_INTERDOMAIN_TRUST_ACCOUNT, 'a trust account (INTERDOMAIN_TRUST_ACCOUNT)'))
PROTECTED_PRIMARY_GROUPS = {516: 'Domain Controllers', 521: 'Read-only Domain Controllers'}
# Computers, and trust accounts (user objects named like computers, DOMAIN$), so a trust is found and refused
# rather than reported missing.
ACCOUNT_FILTER = '(|(objectCategory=computer)(&(objectCategory=person)(userAccountControl:1.2.840.113556.1.4.803:=%d)))' \
    % UAC_INTERDOMAIN_TRUST_ACCOUNT


def refusal(uac, primary_group_id):
    """Why this account must not be disabled or reset (a DC, an RODC, a trust), or None. Pure."""
    why = [text for bit, text in PROTECTED_UAC if uac & bit]
    if primary_group_id in PROTECTED_PRIMARY_GROUPS:
        why.append('its primary group is %s (%d)' % (PROTECTED_PRIMARY_GROUPS[primary_group_id], primary_group_id))
    return why


def core(module, directory):
    p = module.params
    try:
        computer, attrs = pr.find_one(directory, p['name'], ACCOUNT_FILTER, 'computer',
                                      ['userAccountControl', 'primaryGroupID'])
    except pr.PrincipalError as e:
        raise ModuleFailure('%s. Nothing was changed.' % e)
    uac = int(first(attrs, 'userAccountControl') or 0)
    why = refusal(uac, int(first(attrs, 'primaryGroupID') or 0))
    if why:
        raise ModuleFailure('name: %s is %s: disabling it or resetting its password would break replication and '
                            'Kerberos with it. This module acts on member computers only. Nothing was changed.'
                            % (computer['dn'], ' and '.join(why)))
    if not uac & 0x1000:    # WORKSTATION_TRUST_ACCOUNT: what a member computer (and a managed account) is
        raise ModuleFailure('name: %s is not a member computer account (userAccountControl 0x%x has no '
                            'WORKSTATION_TRUST_ACCOUNT). Nothing was changed.' % (computer['dn'], uac))
    enabled = not uac & UAC_ACCOUNTDISABLE
    changes = {}
    if p['enabled'] is not None and p['enabled'] != enabled:
        changes['userAccountControl'] = single_value_change(uac, uac_enabled(uac, p['enabled']))
    writes = []
    if changes:
        verb = 'enable' if p['enabled'] else 'disable'
        writes.append(Write('modify', computer['dn'], '%s %s' % (verb, computer['dn']), changes=changes))
    if p['reset_password']:
        # unicodePwd: the quoted password in UTF-16LE, replaced (a reset needs the Reset Password right); only
        # ever sent over the TLS connection the connection layer insists on.
        writes.append(Write('modify', computer['dn'], 'reset the password of %s' % computer['dn'],
                            changes={'unicodePwd': [(MODIFY_REPLACE, [('"%s"' % random_password())
                                                                      .encode('utf-16-le')])]}))
    check_rights(directory, [w for w in writes if 'unicodePwd' not in w.changes])
    execute(directory, writes, module.check_mode)
    after_enabled = enabled if p['enabled'] is None else p['enabled']
    return dict(changed=bool(writes), distinguished_name=computer['dn'], enabled=after_enabled,
                password_reset=p['reset_password'],
                exposure=EXPOSURE, requests=[w.describe() for w in writes],
                diff=dict(before=dict(enabled=enabled, password='unchanged'),
                          after=dict(enabled=after_enabled,
                                     password='reset' if p['reset_password'] else 'unchanged')))


def main():
    run_directory_module(dict(
        name=dict(type='str', required=True, aliases=['identity']),
        enabled=dict(type='bool'),
        reset_password=dict(type='bool', default=False, no_log=False),
    ), core)


if __name__ == '__main__':
    main()
