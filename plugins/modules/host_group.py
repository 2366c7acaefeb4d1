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
    members added by others at the same time are kept and nothing is half written.
  - Members are resolved in one search; a no-op run costs one search plus the connection.
  - A host added to the group only gets the new membership in its Kerberos tickets after it purges them or
    reboots (C(gmsa.farm.gmsa_host) does that).
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
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
      - Group scope. Changing it follows the directory's rules (global and domain local groups convert through
        universal).
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
      add:
        description: Members to add.
        type: list
        elements: str
      remove:
        description: Members to remove.
        type: list
        elements: str
      set:
        description: Exactly these members; overrides O(members.add) and O(members.remove).
        type: list
        elements: str
      lookup_failure_action:
        description: What to do when a member does not exist.
        type: str
        choices: [fail, warn, ignore]
        default: fail
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
'''

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import escape
from ansible_collections.gmsa.farm.plugins.module_utils import _gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._domain import check_container, well_known_dn
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_ADD, MODIFY_DELETE, check_dn, first, raw_first, rdn_escape,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import Write, check_rights, execute, retry_on_conflict


SECURITY_ENABLED = 0x80000000
SCOPE_BITS = {'global': 0x2, 'domainlocal': 0x4, 'universal': 0x8}
GROUP_ATTRIBUTES = ['cn', 'sAMAccountName', 'groupType', 'description', 'member', 'objectSid', 'objectClass']
WKGUID_USERS = 'A9D1CA15768811D1ADED00C04FD8D5CD'


def group_type(scope):
    value = SECURITY_ENABLED | SCOPE_BITS[scope]
    return value - (1 << 32)  # groupType is a signed 32-bit integer


def scope_of(value):
    value = int(value) & 0xF
    for k, bit in SCOPE_BITS.items():
        if value & bit:
            return k
    return None


def core(module, directory):
    return retry_on_conflict(attempt, module, directory, 'group')


def attempt(module, directory):
    p = module.params
    name = p['name']
    try:
        bad = sorted(set(c for c in name if c in pr.SAM_INVALID))
        if bad:
            raise g.PlanError('name %r contains characters Windows does not allow: %s' % (name, ' '.join(bad)))
        if not name.strip() or name != name.strip():
            raise g.PlanError('name %r is empty or starts or ends with a space' % name)
        if len(name) > 64:
            raise g.PlanError('name %r is longer than 64 characters' % name)
        if p.get('path') is not None:
            check_dn('path', p['path'])
        action = p.get('members') or {}
        inputs = []
        for lst in ('add', 'remove', 'set'):
            for v in action.get(lst) or []:
                pr.classify(v)
                if v not in inputs:
                    inputs.append(v)
        pr.check_domains(directory, inputs)
    except (g.PlanError, pr.PrincipalError, ValueError) as e:
        raise ModuleFailure('%s. Nothing was changed.' % e)

    parts = ['(&(objectClass=group)(sAMAccountName=%s))' % escape(name)] + pr.filters_for(inputs)
    entries = directory.search(directory.default_nc, '(|%s)' % ''.join(sorted(set(parts))),
                               sorted(set(GROUP_ATTRIBUTES + pr.PRINCIPAL_ATTRIBUTES)))
    group = None
    for e in entries:
        if 'group' in [c.lower() for c in e['attributes'].get('objectClass') or []] and \
                (first(e['attributes'], 'sAMAccountName') or '').lower() == name.lower():
            group = e
    try:
        resolved, missing = pr.match_all(inputs, entries, what='member')
    except pr.PrincipalError as e:
        raise ModuleFailure('%s. Nothing was changed.' % e)

    result = dict(changed=False)
    if p['state'] == 'absent':
        if group is None:
            result.update(distinguished_name=None, sid=None, members=[], diff=dict(before={}, after={}))
            return result
        execute(directory, [Write('delete', group['dn'], 'delete %s' % group['dn'])], module.check_mode)
        result.update(changed=True, distinguished_name=group['dn'], sid=sid_to_str(raw_first(group, 'objectSid')),
                      members=[], diff=dict(before=dict(name=name, distinguished_name=group['dn']), after={}))
        return result

    how = action.get('lookup_failure_action') or 'fail'
    if missing:
        text = 'members: no such principal in the domain: %s' % ', '.join(missing)
        if how == 'fail':
            raise ModuleFailure(text + '. Nothing was changed.')
        if how == 'warn':
            module.warn(text + ' (skipped)')

    current_dns = list(group['attributes'].get('member') or []) if group is not None else []
    # Names for the diff: members the task named are known; the others are looked up in one more search,
    # only when there are any.
    dn_label = dict((x['dn'].lower(), x['name']) for x in resolved.values())
    unknown = [d for d in current_dns if d.lower() not in dn_label]
    if unknown:
        flt = '(|%s)' % ''.join('(distinguishedName=%s)' % escape(d) for d in unknown)
        for e in directory.search(directory.default_nc, flt, pr.PRINCIPAL_ATTRIBUTES, paged=True):
            dn_label[e['dn'].lower()] = pr.describe(e)['name']

    def label(dn):
        return dn_label.get(dn.lower()) or dn

    def dns_of(values):
        return [resolved[v]['dn'] for v in values or [] if v in resolved]
    if action.get('set') is not None:
        new_dns = g.apply_list_action(current_dns, dict(set=dns_of(action['set'])))
    else:
        new_dns = g.apply_list_action(current_dns, dict(add=dns_of(action.get('add')),
                                                        remove=dns_of(action.get('remove'))))
    cur_keys = set(d.lower() for d in current_dns)
    new_keys = set(d.lower() for d in new_dns)
    to_add = [d for d in new_dns if d.lower() not in cur_keys]
    to_remove = [d for d in current_dns if d.lower() not in new_keys]

    before = {}
    after = dict(name=name, scope=p['scope'], description=p.get('description') or None,
                 members=sorted((label(d) for d in new_dns), key=str.lower))
    if group is None:
        problem, path = check_container(directory, p.get('path') or well_known_dn(directory, WKGUID_USERS), 'group')
        if problem:
            raise ModuleFailure(problem + ' Nothing was changed.')
        dn = 'CN=%s,%s' % (rdn_escape(name), path)
        attrs = {'sAMAccountName': name, 'groupType': group_type(p['scope'])}
        if p.get('description'):
            attrs['description'] = p['description']
        if new_dns:
            attrs['member'] = new_dns
        execute(directory, [Write('add', dn, 'create %s' % dn, attributes=attrs, object_class=['top', 'group'])],
                module.check_mode)
        result['changed'] = True
        after['distinguished_name'] = dn
        sid = None
        if not module.check_mode:
            created = directory.search(dn, '(objectClass=*)', ['objectSid'], scope='base')
            sid = sid_to_str(raw_first(created[0], 'objectSid')) if created else None
    else:
        dn = group['dn']
        a = group['attributes']
        cur_scope = scope_of(first(a, 'groupType'))
        cur_desc = first(a, 'description')
        before = dict(name=name, scope=cur_scope, description=cur_desc,
                      members=sorted((label(d) for d in current_dns), key=str.lower), distinguished_name=dn)
        after['distinguished_name'] = dn
        if p.get('description') is None:
            after['description'] = cur_desc
        changes = {}
        if after['description'] != cur_desc:
            changes['description'] = g.single_value_change(cur_desc, after['description'])
        if cur_scope != p['scope']:
            changes['groupType'] = g.single_value_change(int(first(a, 'groupType')), group_type(p['scope']))
        member_ops = []
        if to_remove:
            member_ops.append((MODIFY_DELETE, to_remove))
        if to_add:
            member_ops.append((MODIFY_ADD, to_add))
        if member_ops:
            changes['member'] = member_ops
        if changes:
            # One request: single values as delete-old/add-new, members value by value. A concurrent change of
            # any of them makes it fail (nothing written) and the task re-reads and plans again.
            write = Write('modify', dn, 'update %s (%s)' % (dn, ', '.join(sorted(changes))), changes=changes)
            check_rights(directory, [write])
            execute(directory, [write], module.check_mode)
            result['changed'] = True
        sid = sid_to_str(raw_first(group, 'objectSid'))
    result.update(distinguished_name=dn, sid=sid, members=after['members'], diff=dict(before=before, after=after))
    return result


def main():
    run_directory_module(dict(
        name=dict(type='str', required=True),
        path=dict(type='str'),
        scope=dict(type='str', choices=['global', 'domainlocal', 'universal'], default='global'),
        description=dict(type='str'),
        members=dict(type='dict', options=dict(
            add=dict(type='list', elements='str'), remove=dict(type='list', elements='str'),
            set=dict(type='list', elements='str'),
            lookup_failure_action=dict(type='str', choices=['fail', 'warn', 'ignore'], default='fail'))),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    ), core)


if __name__ == '__main__':
    main()
