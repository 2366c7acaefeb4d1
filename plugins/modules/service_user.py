#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: service_user
short_description: The SPNs and enabled state of an ordinary user account that runs a service (moving it to a gMSA)
version_added: 1.0.0
description:
  - Changes, over LDAP, what a move to a gMSA changes on the old service account - a user account, not a managed
    one - its service principal names and whether it is enabled. The C(migrate_service_account) playbook uses it
    to take the SPNs off the user account before giving them to the gMSA (SPNs are unique), to put them back if
    that fails, and to disable the account at the end.
  - SPNs are changed value by value and the enabled flag on the value read, in one modify request, so a
    concurrent change is never overwritten; the module re-reads and retries instead.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - gmsa.farm.list_values
attributes:
  check_mode:
    support: full
    description: Reports the change and the diff, writing nothing.
  diff_mode:
    support: full
    description: SPNs and the enabled state, before and after.
  idempotent:
    support: full
    description: A second run with the same options changes nothing.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller or execution environment; talks LDAP to the domain controller.
options:
  name:
    description:
      - The user account, by sAMAccountName, C(DOMAIN\\name) of the connected domain, UPN, DN, objectGUID or SID.
      - O(identity) is microsoft.ad's name for the same lookup.
    type: str
    required: true
    aliases: [identity]
  spn:
    description:
      - Its service principal names (C(servicePrincipalName)), compared case-insensitively.
    type: dict
    suboptions:
      add: {description: SPNs to add., type: list, elements: str}
      remove: {description: SPNs to remove., type: list, elements: str}
      set: {description: Exactly these SPNs., type: list, elements: str}
  enabled:
    description:
      - Whether the account is enabled; unchanged when not given.
    type: bool
seealso:
  - module: gmsa.farm.gmsa
'''

EXAMPLES = r'''
- name: Take the SPNs off the old service account (before the gMSA gets them)
  gmsa.farm.service_user:
    name: svc_web
    spn:
      set: []

- name: Retire it once every host runs the service under the gMSA
  gmsa.farm.service_user:
    name: svc_web
    enabled: false
'''

RETURN = r'''
distinguished_name:
  description: DN of the user account.
  returned: success
  type: str
spn:
  description: Its SPNs after the task (in check mode, as they would be).
  returned: success
  type: list
  elements: str
requests:
  description: The LDAP requests sent (would be sent, in check mode), without values.
  returned: success
  type: list
  elements: dict
'''

from ansible_collections.gmsa.farm.plugins.module_utils._module import run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._object import service_user


def main():
    run_directory_module(service_user.argument_spec(), service_user.run)


if __name__ == '__main__':
    main()
