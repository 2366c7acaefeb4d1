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
      add:
        description: SPNs to add.
        type: list
        elements: str
      remove:
        description: SPNs to remove.
        type: list
        elements: str
      set:
        description: The exact SPNs; overrides O(spn.add) and O(spn.remove).
        type: list
        elements: str
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

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils import _gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._values import first
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import Write, check_rights, execute, retry_on_conflict


def attempt(module, directory):
    p = module.params
    try:
        for lst in ('add', 'set'):
            for s in (p.get('spn') or {}).get(lst) or []:
                g.validate_spn(s)
        user, a = pr.find_one(directory, p['name'], '(objectCategory=person)(objectClass=user)', 'user account',
                              ['userAccountControl', 'servicePrincipalName'])
    except (pr.PrincipalError, g.PlanError) as e:
        raise ModuleFailure('%s. Nothing was changed.' % e)
    spns = list(a.get('servicePrincipalName') or [])
    new_spns = g.apply_list_action(spns, p.get('spn'))
    uac = int(first(a, 'userAccountControl') or 0)
    enabled = not uac & g.UAC_ACCOUNTDISABLE
    changes = {}
    ops = g.list_changes('servicePrincipalName', spns, new_spns)
    if ops:
        changes['servicePrincipalName'] = ops
    if p['enabled'] is not None and p['enabled'] != enabled:
        changes['userAccountControl'] = g.single_value_change(uac, g.uac_enabled(uac, p['enabled']))
    writes = []
    if changes:
        writes.append(Write('modify', user['dn'], 'update %s (%s)' % (user['dn'], ', '.join(sorted(changes))),
                            changes=changes))
    check_rights(directory, writes)
    execute(directory, writes, module.check_mode)
    after_enabled = enabled if p['enabled'] is None else p['enabled']
    return dict(changed=bool(writes), distinguished_name=user['dn'], spn=sorted(new_spns, key=str.lower),
                requests=[w.describe() for w in writes],
                diff=dict(before=dict(spn=sorted(spns, key=str.lower), enabled=enabled),
                          after=dict(spn=sorted(new_spns, key=str.lower), enabled=after_enabled)))


def core(module, directory):
    return retry_on_conflict(attempt, module, directory, 'user account')


def main():
    run_directory_module(dict(
        name=dict(type='str', required=True, aliases=['identity']),
        spn=dict(type='dict', options=g.list_action_spec()),
        enabled=dict(type='bool'),
    ), core)


if __name__ == '__main__':
    main()
