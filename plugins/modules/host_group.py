#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: host_group
short_description: Manage a farm's host security group (the principal allowed to retrieve a gMSA password)
version_added: 1.0.0
description:
  - Creates, updates or deletes the security group whose members are the farm's hosts, over LDAP.
  - Member changes are per-value modifications (add this member, delete that member), sent with any description
    or scope change in one modify request, never a read-modify-write of the whole list. When another writer
    changed the group meanwhile, the request fails as a whole and the module re-reads and plans again, so
    members added by others at the same time are kept and nothing is half written. A member another writer
    added or removed first (the domain controller answers entryAlreadyExists or unwillingToPerform) counts as
    such a change only once a re-read shows it; any other refusal fails the task.
  - The rights for every request are checked before the first one is sent.
  - Members are resolved in one search; a no-op run costs one search plus the connection, and one more when
    the group has members the task does not name (their names, for the diff).
  - A host added to the group only gets the new membership in its Kerberos tickets after it purges them or
    reboots (C(gmsa.farm.gmsa_host) does that).
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - gmsa.farm.list_values
attributes:
  check_mode:
    support: full
    description: Reports exactly the changes and diff a real run would make, writing nothing.
  diff_mode:
    support: full
    description: Members by name, scope, description, before and after.
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
      - The group's name (CN and sAMAccountName), for example C(ITFarmHosts).
    type: str
    required: true
  path:
    description:
      - DN of the OU or container for a new group. Defaults to the domain's Users container.
    type: str
  scope:
    description:
      - Group scope. The directory changes a global group to domain local, and a domain local group to global,
        only through universal, so such a change is two requests (through universal, then to the scope asked).
    type: str
    choices: [global, domainlocal, universal]
    default: global
  description:
    description:
      - The group's description; an empty string clears it.
    type: str
  members:
    description:
      - Member computers (or groups), by sAMAccountName (computers with or without C($)), DN, SID, UPN or
        objectGUID.
    type: dict
    suboptions:
      add: {description: Members to add., type: list, elements: str}
      remove: {description: Members to remove., type: list, elements: str}
      set: {description: Exactly these members., type: list, elements: str}
      lookup_failure_action: {description: What to do when a member does not exist., type: str,
                              choices: [fail, warn, ignore], default: fail}
  state:
    description:
      - C(present) creates or updates the group; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: gmsa.farm.gmsa
'''

EXAMPLES = r'''
- name: The farm's host group with its members
  gmsa.farm.host_group:
    name: ITFarmHosts
    path: OU=Groups,DC=contoso,DC=com
    description: Hosts of the ITFarm web farm (may retrieve the ITFarm1 gMSA password)
    members:
      set: [WEB01, WEB02, WEB03]

- name: Add a member host, keep the others
  gmsa.farm.host_group:
    name: ITFarmHosts
    members:
      add: [WEB04$]

- name: Remove a compromised host at once
  gmsa.farm.host_group:
    name: ITFarmHosts
    members:
      remove: [WEB02]
'''

RETURN = r'''
distinguished_name:
  description: DN of the group.
  returned: success
  type: str
  sample: CN=ITFarmHosts,OU=Groups,DC=contoso,DC=com
sid:
  description: objectSid of the group; null when it does not exist (yet, in check mode).
  returned: success
  type: str
members:
  description: sAMAccountNames of the members after the task (members the module cannot resolve are shown
    by DN).
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
from ansible_collections.gmsa.farm.plugins.module_utils._object import host_group


def main():
    run_directory_module(host_group.argument_spec(), host_group.run)


if __name__ == '__main__':
    main()
