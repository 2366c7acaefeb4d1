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

from ansible_collections.gmsa.farm.plugins.module_utils import _delegation as dl
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_REPLACE, check_dn, dacl_control, raw_first,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import Write, check_rights, execute

TRUSTEE_FILTER = '(|(objectCategory=person)(objectCategory=group)(objectCategory=computer))'


def read_dacl(directory, dn):
    found = directory.search(dn, '(objectClass=*)', ['nTSecurityDescriptor', 'objectClass'], scope='base',
                             controls=dacl_control())
    if not found:
        raise ModuleFailure('path: no object %s. Nothing was changed.' % dn)
    return raw_first(found[0], 'nTSecurityDescriptor')


def core(module, directory):
    p = module.params
    if not p['rights']:
        raise ModuleFailure('rights: give at least one of gmsa, host_groups, group_members, computers. '
                            'Nothing was changed.')
    try:
        check_dn('path', p['path'])
    except ValueError as e:
        raise ModuleFailure('%s. Nothing was changed.' % e)
    try:
        trustee, dummy = pr.find_one(directory, p['trustee'], TRUSTEE_FILTER, 'user, group or computer',
                                     option='trustee')
    except pr.PrincipalError as e:
        raise ModuleFailure('%s. Nothing was changed.' % e)
    sid = trustee['sid']
    keys = dl.wanted(p['rights'], sid)
    present = p['state'] == 'present'
    dn = p['path']
    try:
        found, new_sd = dl.plan(read_dacl(directory, dn), keys, present)
    except dl.DelegationError as e:
        raise ModuleFailure('%s: %s. Nothing was changed.' % (dn, e))
    added = [dl.sddl(k) for k in keys if k not in found] if present and new_sd is not None else []
    removed = [dl.sddl(k) for k in found] if not present else []
    writes = []
    if new_sd is not None:
        def fresh(directory):
            # Recomputed on the DACL as it is just before the write: another writer's change is kept.
            dummy, sd = dl.plan(read_dacl(directory, dn), keys, present)
            return {'nTSecurityDescriptor': [(MODIFY_REPLACE, [sd if sd is not None else new_sd])]}
        what = '%s %d entr%s for %s on %s' % ('add' if present else 'remove', len(added or removed),
                                              'y' if len(added or removed) == 1 else 'ies', trustee['name'], dn)
        writes.append(Write('modify', dn, what, controls=dacl_control(), descriptor=True, deferred=fresh))
    check_rights(directory, writes)
    execute(directory, writes, module.check_mode)
    before = sorted(dl.sddl(k) for k in found)
    after = sorted(dl.sddl(k) for k in keys) if present else []
    return dict(changed=bool(writes), distinguished_name=dn,
                trustee=dict(name=trustee['name'], sid=sid, dn=trustee['dn']),
                aces=[dl.sddl(k) for k in keys], added=added, removed=removed,
                requests=[w.describe() for w in writes],
                diff=dict(before=dict(path=dn, trustee=trustee['name'], aces=before),
                          after=dict(path=dn, trustee=trustee['name'], aces=after)))


def main():
    run_directory_module(dict(
        path=dict(type='str', required=True),
        trustee=dict(type='str', required=True),
        rights=dict(type='list', elements='str', required=True,
                    choices=['gmsa', 'host_groups', 'group_members', 'computers']),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ), core)


if __name__ == '__main__':
    main()
