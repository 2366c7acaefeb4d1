#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: ou_delegation
short_description: Delegate on an OU exactly the rights a farm's directory tasks need (least privilege)
version_added: 1.0.0
description:
  - Writes, on the DACL of one OU, the explicit access control entries that let a user or group run this
    collection's directory tasks there without being Domain Admins, and nothing more. Run it once as an account
    that may change the OU's permissions (WRITE_DAC), then run the farm as the delegated account.
  - Each right set of O(rights) is a fixed list of object ACEs, inherited by the OU's sub-OUs. What each grants, and
    which modules and playbooks need it, is in the README's "Least privilege" section.
  - V(gmsa) - create and delete C(msDS-GroupManagedServiceAccount) objects, full control on them.
    Enough for M(gmsa.farm.gmsa) (except the options listed below) and M(gmsa.farm.gmsa_info).
  - V(host_groups) - create and delete groups, full control on them, for M(gmsa.farm.host_group).
  - V(group_members) - write the C(member) attribute of groups (host groups created by someone else).
  - V(computers) - write C(userAccountControl) of computer objects and reset their passwords, for
    M(gmsa.farm.computer_account) (the C(compromised_host) playbook); give it on the OU of the member computers.
  - No OU delegation grants what these need, so they stay with Domain Admins (or the named right) - KDS root keys
    (M(gmsa.farm.kds_root_key), Enterprise Admins or the forest root's Domain Admins); the delegation options of
    M(gmsa.farm.gmsa) (O(gmsa.farm.gmsa#module:trusted_for_delegation),
    O(gmsa.farm.gmsa#module:trusted_to_auth_for_delegation),
    O(gmsa.farm.gmsa#module:allowed_to_delegate_to)), which need C(SeEnableDelegationPrivilege) on the domain
    controllers; O(gmsa.farm.gmsa#module:protect_from_deletion), which also writes the parent OU's DACL.
  - Only the entries this module writes are ever added or removed; every other entry, explicit or inherited,
    stays where it is. The new DACL is computed from a fresh read just before it is written, so a change another
    writer made a moment earlier is kept.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports the entries a real run would add or remove, writing nothing.
  diff_mode:
    support: full
    description: The trustee's entries of these right sets (SDDL), before and after.
  idempotent:
    support: full
    description: A second run with the same options changes nothing.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller or execution environment; talks LDAP to the domain controller.
options:
  path:
    description:
      - DN of the OU (or container) to delegate on.
    type: str
    required: true
  trustee:
    description:
      - The user or group that gets the rights, by sAMAccountName, DN, SID, UPN or objectGUID. A group is the
        better choice - membership then decides who runs the farm.
    type: str
    required: true
  rights:
    description:
      - The right sets to grant (or, with O(state=absent), to remove).
    type: list
    elements: str
    choices: [gmsa, host_groups, group_members, computers]
    required: true
  state:
    description:
      - V(present) adds the entries that are missing; V(absent) removes exactly these entries.
    type: str
    choices: [present, absent]
    default: present
notes:
  - The GUIDs in the entries are the schemaIDGUIDs of the classes and attributes (MS-ADSC) and the rightsGuid of
    the Reset Password extended right (MS-ADTS), the same in every forest.
seealso:
  - module: gmsa.farm.gmsa
  - module: gmsa.farm.host_group
  - module: gmsa.farm.computer_account
'''

EXAMPLES = r'''
- name: Let the farm operators' group run the directory side of the web farm in its OU
  gmsa.farm.ou_delegation:
    path: OU=WebFarm,OU=Services,DC=contoso,DC=com
    trustee: FarmOperators
    rights: [gmsa, host_groups]

- name: And respond to compromised members in the OU of the farm's computers
  gmsa.farm.ou_delegation:
    path: OU=WebServers,DC=contoso,DC=com
    trustee: FarmOperators
    rights: [computers]
'''

RETURN = r'''
distinguished_name:
  description: DN of the OU.
  returned: success
  type: str
  sample: OU=WebFarm,OU=Services,DC=contoso,DC=com
trustee:
  description: The trustee as resolved.
  returned: success
  type: dict
  contains:
    name:
      description: Its sAMAccountName.
      type: str
    sid:
      description: Its SID (the SID the entries name).
      type: str
    dn:
      description: Its DN.
      type: str
aces:
  description: The entries of the right sets asked for, as SDDL.
  returned: success
  type: list
  elements: str
  sample: ['(OA;CI;CCDC;7b8b558a-93a5-4af7-adca-c017e67f1057;;S-1-5-21-1-2-3-1105)']
added:
  description: The entries added (in check mode, that would be).
  returned: success
  type: list
  elements: str
removed:
  description: The entries removed (in check mode, that would be).
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
from ansible_collections.gmsa.farm.plugins.module_utils._object import ou_delegation as kind

ARGUMENT_SPEC = dict(
    path=dict(type='str', required=True),
    trustee=dict(type='str', required=True),
    rights=dict(type='list', elements='str', required=True, choices=kind.RIGHT_SETS),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def main():
    run_directory_module(ARGUMENT_SPEC, kind.run)


if __name__ == '__main__':
    main()
