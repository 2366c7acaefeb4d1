# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host group kind: a security group whose members are a farm's hosts.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

* Description: the ``group`` class, one row (``description``) and two hooks: the scope (``groupType``, changed
  through universal where the directory allows no direct change) and the members (a DN list resolved from the
  names the task gives in one batched search, changed value by value).
* ``read`` - one search finds the group (with its DACL when the task deletes it) and every member the task
  names; one more, only when the group has members the task did not name, finds their names for the diff, and
  for a new group one checks its container.
* ``plan`` - pure: the requests (create with its members, modify, delete), the diff, warnings and result.
* ``run`` - the task: validate, then read + plan + apply through ``converge``.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._domain import check_container, well_known_dn
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import converge
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure, NOTHING_CHANGED, PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.plan import Plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._object.rows import (
    RowPlan, apply_list_action, list_action_spec, list_changes, options, run_rows, single_value_change,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    check_dn, dacl_control, escape, first, raw_first, rdn_escape,
)

CLASSES = ['top', 'group']
WKGUID_USERS = 'A9D1CA15768811D1ADED00C04FD8D5CD'
ATTRIBUTES = ['cn', 'sAMAccountName', 'groupType', 'description', 'member', 'objectSid', 'objectClass']
ROWS = [dict(option='description', attr='description', kind='string')]

SECURITY_ENABLED = 0x80000000
SCOPE_BITS = {'global': 0x2, 'domainlocal': 0x4, 'universal': 0x8}
SCOPES = ['global', 'domainlocal', 'universal']


def argument_spec():
    spec = dict(
        name=dict(type='str', required=True),
        path=dict(type='str'),
        scope=dict(type='str', choices=SCOPES, default='global'),
        members=dict(type='dict', options=dict(
            list_action_spec(), lookup_failure_action=dict(type='str', choices=['fail', 'warn', 'ignore'],
                                                           default='fail'))),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
    )
    spec.update(options(ROWS))
    return spec


# --------------------------------------------------------------------------- scope (groupType)
def group_type(scope):
    """groupType of a security group of this scope: a signed 32-bit integer."""
    return (SECURITY_ENABLED | SCOPE_BITS[scope]) - (1 << 32)


def scope_of(value):
    value = int(value) & 0xF
    for k in SCOPES:
        if value & SCOPE_BITS[k]:
            return k
    return None


def scope_steps(have, want):
    """The scopes a group goes through from ``have`` to ``want``: a global group becomes domain local (and back)
    through universal, in two changes ("Changing a Group's Scope or Type",
    learn.microsoft.com/windows/win32/ad/changing-a-groupampaposs-scope-or-type); Samba 4.22 refuses the direct
    change too (unwillingToPerform, "Change from security/distribution global group forbidden!")."""
    if have == want or have is None:
        return []
    if 'universal' not in (have, want):
        return ['universal', want]
    return [want]


# --------------------------------------------------------------------------- pure
def validate(params):
    """Everything knowable from the options alone; returns the member values the task names (each once)."""
    name = params['name']
    bad = sorted(set(c for c in name if c in pr.SAM_INVALID))
    if bad:
        raise PlanError('name %r contains characters Windows does not allow: %s' % (name, ' '.join(bad)))
    if not name.strip() or name != name.strip():
        raise PlanError('name %r is empty or starts or ends with a space' % name)
    if len(name) > 64:
        raise PlanError('name %r is longer than 64 characters' % name)
    if params.get('path') is not None:
        params['path'] = check_dn('path', params['path'])
    action = params.get('members') or {}
    inputs = []
    for lst in ('add', 'remove', 'set'):
        for v in action.get(lst) or []:
            pr.classify(v)
            if v not in inputs:
                inputs.append(v)
    return inputs


def current(entry):
    """The group as read (None when it does not exist): its DN, SID, scope, description and member DNs."""
    if entry is None:
        return None
    a = entry['attributes']
    return dict(dn=entry['dn'], sid=sid_to_str(raw_first(entry, 'objectSid')), group_type=int(first(a, 'groupType')),
                scope=scope_of(first(a, 'groupType')), description=first(a, 'description'),
                members=list(a.get('member') or []), sd=raw_first(entry, 'nTSecurityDescriptor'))


def members_after(current_dns, action, resolved):
    """The member DNs after the task: ``current_dns`` changed by the task's add/remove/set (names resolved)."""
    def dns_of(values):
        return [resolved[v]['dn'] for v in values or [] if v in resolved]
    if action.get('set') is not None:
        return apply_list_action(current_dns, dict(set=dns_of(action['set'])))
    return apply_list_action(current_dns, dict(add=dns_of(action.get('add')), remove=dns_of(action.get('remove'))))


def _names(dns, labels):
    return sorted((labels.get(d.lower()) or d for d in dns), key=str.lower)


def plan(params, cur, resolved, missing=(), labels=None, container=None):
    """Pure: the plan for one group. ``cur``: ``current()`` of the group read; ``resolved``: member value ->
    principal; ``missing``: member values that matched nothing; ``labels``: lowercased DN -> name for the diff;
    ``container``: the real DN of the container a new group goes to."""
    labels = dict(labels or {})
    labels.update((p['dn'].lower(), p['name']) for p in resolved.values())
    name = params['name']
    if params['state'] == 'absent':
        return _plan_absent(name, cur)
    out = Plan()
    action = params.get('members') or {}
    if missing:
        text = 'members: no such principal in the domain: %s' % ', '.join(missing)
        how = action.get('lookup_failure_action') or 'fail'
        if how == 'fail':
            raise PlanError(text)
        if how == 'warn':
            out.warnings.append(text + ' (skipped)')
    have = cur['members'] if cur else []
    new = members_after(have, action, resolved)
    rows = run_rows(ROWS, RowPlan(params, cur))
    out.after = dict(name=name, scope=params['scope'], description=rows.after['description'],
                     members=_names(new, labels))
    if cur is None:
        _plan_create(out, params, rows, new, container)
    else:
        _plan_update(out, params, cur, rows, have, new, labels)
    out.result.update(members=out.after['members'])
    return out


def _plan_absent(name, cur):
    if cur is None:
        return Plan(result=dict(distinguished_name=None, sid=None, members=[]))
    out = Plan(before=dict(name=name, distinguished_name=cur['dn']),
               result=dict(distinguished_name=cur['dn'], sid=cur['sid'], members=[]))
    # The DACL read with the group lets the rights check decide the delete without reading it again.
    out.add(Request('delete', cur['dn'], 'delete %s' % cur['dn'], object_class=CLASSES[-1], sd=cur.get('sd')))
    return out


def _plan_create(out, params, rows, new, container):
    dn = 'CN=%s,%s' % (rdn_escape(params['name']), container)
    attrs = dict(rows.create, sAMAccountName=params['name'], groupType=group_type(params['scope']))
    if new:
        attrs['member'] = new
    # check_container proved the create right in the container when it resolved it: no second check.
    out.add(Request('add', dn, 'create %s' % dn, attributes=attrs, object_class=CLASSES, parent_checked=True))
    out.after['distinguished_name'] = dn
    out.result.update(distinguished_name=dn, sid=None)


def _plan_update(out, params, cur, rows, have, new, labels):
    dn = cur['dn']
    out.before = dict(name=params['name'], scope=cur['scope'], description=cur['description'],
                      members=_names(have, labels), distinguished_name=dn)
    out.after['distinguished_name'] = dn
    out.result.update(distinguished_name=dn, sid=cur['sid'])
    # One request: single values as delete-old/add-new, members value by value, so a concurrent change of any
    # of them makes it fail with nothing written, and the task re-reads and plans again. A member another writer
    # added first is answered entryAlreadyExists, one it removed first unwillingToPerform ("IADsGroup::Add
    # method", learn.microsoft.com/windows/win32/api/iads/nf-iads-iadsgroup-add; "IADsGroup::Remove method",
    # learn.microsoft.com/windows/win32/api/iads/nf-iads-iadsgroup-remove; Samba 4.22 answers the same): the
    # engine re-plans on them only once a re-read confirms the other writer's change. A scope change the
    # directory makes only through universal takes a second request.
    changes = dict(rows.changes)
    ops = list_changes('member', have, new)
    if ops:
        changes['member'] = ops
    old_type = cur['group_type']
    steps = scope_steps(cur['scope'], params['scope'])
    for scope in steps:
        changes['groupType'] = single_value_change(old_type, group_type(scope))
        old_type = group_type(scope)
        what = 'update %s (%s)' % (dn, ', '.join(sorted(changes)))
        if len(steps) > 1:
            what += ' to a %s group' % scope
        out.add(Request('modify', dn, what, changes=changes))
        changes = {}
    if changes:
        out.add(Request('modify', dn, 'update %s (%s)' % (dn, ', '.join(sorted(changes))), changes=changes))


# --------------------------------------------------------------------------- reads
def read(directory, params, inputs):
    """One search: the group by sAMAccountName (with its DACL when the task deletes it, for the rights check) and
    every member value the task names. Returns (group entry or None, resolved, missing). Raises PrincipalError
    when a value is ambiguous."""
    name = params['name']
    parts = ['(&(objectClass=group)(sAMAccountName=%s))' % escape(name)] + pr.filters_for(inputs)
    deleting = params['state'] == 'absent'
    entries = directory.search(directory.default_nc, '(|%s)' % ''.join(sorted(set(parts))),
                               sorted(set(ATTRIBUTES + pr.PRINCIPAL_ATTRIBUTES + (['nTSecurityDescriptor'] if deleting
                                                                                  else []))),
                               controls=dacl_control() if deleting else None)
    group = None
    for e in entries:
        if 'group' in [c.lower() for c in e['attributes'].get('objectClass') or []] and \
                (first(e['attributes'], 'sAMAccountName') or '').lower() == name.lower():
            group = e
    resolved, missing = pr.match_all(inputs, entries, what='member')
    return group, resolved, missing


def member_labels(directory, member_dns, known):
    """Names of the members the task did not name (one paged search, made only when there are any)."""
    unknown = [d for d in member_dns if d.lower() not in known]
    labels = {}
    if unknown:
        flt = '(|%s)' % ''.join('(distinguishedName=%s)' % escape(d) for d in unknown)
        for e in directory.search(directory.default_nc, flt, pr.PRINCIPAL_ATTRIBUTES, paged=True):
            labels[e['dn'].lower()] = pr.describe(e)['name']
    return labels


def _read_and_plan(directory, params, inputs):
    group, resolved, missing = read(directory, params, inputs)
    cur = current(group)
    labels, container = {}, None
    if params['state'] == 'present' and cur is not None:
        labels = member_labels(directory, cur['members'], set(p['dn'].lower() for p in resolved.values()))
    elif params['state'] == 'present':
        problem, container = check_container(directory, params.get('path') or well_known_dn(directory, WKGUID_USERS),
                                             'group')
        if problem:
            raise PlanError(problem.rstrip('.'))
    return plan(params, cur, resolved, missing, labels, container)


def _created_sid(directory, dn, written):
    try:
        found = directory.search(dn, '(objectClass=*)', ['objectSid'], scope='base')
    except DirectoryError as e:
        raise ModuleFailure('%s was created, but reading its objectSid back failed: %s' % (dn, e.msg),
                            changed=True, written=written)
    return sid_to_str(raw_first(found[0], 'objectSid')) if found else None


def _refused_unchanged(step, *args):
    """Run a step that comes before any write; a refusal of the task's input fails it saying nothing changed."""
    try:
        return step(*args)
    except (PlanError, pr.PrincipalError, ValueError) as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING_CHANGED))


def run(module, directory):
    """The task: validate, read + plan + apply (re-planned on a concurrent change), the new group's SID."""
    params = module.params
    inputs = _refused_unchanged(validate, params)
    _refused_unchanged(pr.check_domains, directory, inputs)
    done = converge(directory, module.check_mode,
                    lambda: _refused_unchanged(_read_and_plan, directory, params, inputs), 'group')
    for text in done.warnings:
        module.warn(text)
    result = done.module_result()
    created = [r for r in done.requests if r.op == 'add']
    if created and not module.check_mode:
        result['sid'] = _created_sid(directory, created[0].dn, done.written)
    return result
