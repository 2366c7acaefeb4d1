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
    concurrent change is not overwritten - the module reads the account again and plans anew); the domain
    controllers then refuse it new tickets.
  - O(reset_password=true) sets a new random password (240 characters, never returned or logged), so the
    machine password the attacker may hold no longer works. Tickets already issued stay valid until they expire;
    the result says so.
  - Refuses, before any write and in check mode too, the accounts of domain controllers and read-only domain
    controllers and trust accounts (C(userAccountControl) SERVER_TRUST_ACCOUNT, PARTIAL_SECRETS_ACCOUNT or
    INTERDOMAIN_TRUST_ACCOUNT, or primary group Domain Controllers (516) or Read-only Domain Controllers (521)).
    Disabling one or resetting its password breaks replication and Kerberos with that DC or trust; a
    compromised DC is a forest recovery, not a member response.
  - Both rights are checked before the first write - the right to change userAccountControl, and the Reset
    Password right, read from the account's DACL against the bound account's token. Where that reading cannot
    tell (a conditional entry, say) the domain controller's answer decides; a reset it refuses after the account
    was disabled fails the task with C(changed=true), saying the account was disabled.
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

from ansible_collections.gmsa.farm.plugins.module_utils._module import run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._object import computer_account


def main():
    run_directory_module(computer_account.argument_spec(), computer_account.run)


if __name__ == '__main__':
    main()
