# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a plan: the rights of every request checked before the first, then the requests sent in order.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

* ``check_rights`` proves, before the first request, that the bound account may make every request of the plan:
  attribute writes (``allowedAttributesEffective``), descriptor writes (``sDRightsEffective``), objects created
  or moved into a container (the container's ``allowedChildClassesEffective``), renames (the naming attribute,
  ``cn``, writable), deletes and moves out of a container and control access rights such as Reset Password
  (the DACLs read against the account's token: ``access``). One search per 200 objects and naming context
  (objects of the configuration partition, such as KDS root keys, are looked for there), and one for containers'
  DACLs when an object's own does not decide.
* ``execute`` sends the requests in order. A concurrent change met by the *first* request (nothing written yet)
  raises ``Conflict`` so the task re-reads and plans again (``converge``). A failure after other requests were
  written puts back what the plan lifted to make them (``Request.undo``: protection from accidental deletion)
  and fails the task with ``changed: true`` and the list of what was written; "Nothing was changed." is said
  only when it is true.
* Security-descriptor attributes are changed as delete-exact-old-value + add-new-value, which fails on a
  concurrent change (measured on Samba, which matches the binary value). Windows documents no matching rule for
  String(NT-Sec-Desc): when the DC refuses the value delete (noSuchAttribute, inappropriateMatching or
  unwillingToPerform) and a re-read shows the value is still the one the plan read, the change is sent again as
  a replace. That fallback is guarded by the re-read only: a write that lands between the re-read and the
  replace (a few milliseconds) can be lost.
"""
from __future__ import annotations

import random
import time

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object import access
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import Conflict, ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, RESULT, SD_RIGHT_DACL, dacl_control, escape, first, owner_dacl_control,
    parent_dn, raw_first, result_name,
)


# A concurrent writer changed what the plan read: the delete of the old value found nothing, or the value added
# exists now. Windows answers constraintViolation for an add to a single-valued attribute that another writer
# filled meanwhile; that code also means real refusals, so it counts as a conflict only when a re-read shows
# the attribute (empty when read) has a value now. On linked attributes (member, msDS-HostServiceAccount)
# Windows answers entryAlreadyExists / unwillingToPerform; they count as a conflict when a re-read shows the
# value added is there now / the value removed is gone.
CONFLICT_CODES = (RESULT['noSuchAttribute'], RESULT['attributeOrValueExists'])
# How a Windows DC may refuse a value delete on a security-descriptor attribute.
SD_VALUE_DELETE_REFUSALS = (RESULT['noSuchAttribute'], RESULT['inappropriateMatching'], RESULT['unwillingToPerform'])

MAX_ATTEMPTS = 12
RIGHTS_CHUNK = 200      # objects per effective-rights search (a list of many accounts plans many objects)
RIGHTS_ATTRIBUTES = ['allowedAttributesEffective', 'sDRightsEffective', 'allowedChildClassesEffective']


def _pause(n):
    time.sleep(random.uniform(0.01, 0.05 * (n + 1)))


def converge(directory, check_mode, make_plan, what, describe_failure=None):
    """Read and plan (``make_plan() -> Plan``), check the rights, send the requests; read and plan again whenever
    another writer changed ``what`` between the read and the first write, so nobody's change is overwritten.
    Returns the applied plan (``plan.written``: what was written, or would be in check mode)."""
    for n in range(MAX_ATTEMPTS):
        plan = make_plan()
        try:
            check_rights(directory, plan.requests)
            plan.written = execute(directory, plan.requests, check_mode, describe_failure)
            return plan
        except Conflict:
            _pause(n)
    raise ModuleFailure('the %s kept changing under this task (%d attempts, each re-reading it); nothing was '
                        'written' % (what, MAX_ATTEMPTS))


# --------------------------------------------------------------------------- rights (pure, then one search)
def _leaf_class(object_class):
    if isinstance(object_class, (list, tuple)):
        return object_class[-1] if object_class else None
    return object_class


def rights_needed(requests):
    """DN -> dict(attrs=set written by modify, dacl=bool, children=set of classes created or moved in,
    control=set of control access rights (GUIDs) a modify needs instead of attribute writes), for the rights
    check. Objects the plan itself creates are left out (their container's create right is checked)."""
    need = {}
    created = set()

    def entry(dn):
        return need.setdefault(dn.lower(), dict(dn=dn, attrs=set(), dacl=False, children=set(), control=set()))

    for r in requests:
        if r.op == 'add':
            created.add(r.dn.lower())
            cls = _leaf_class(r.object_class)
            if cls and not r.parent_checked:
                entry(parent_dn(r.dn))['children'].add(cls)
        elif r.dn.lower() in created:
            continue
        elif r.op == 'modify':
            e = entry(r.dn)
            if r.descriptor:
                e['dacl'] = True
            elif r.control_access:
                e['control'].add(r.control_access)
            else:
                e['attrs'] |= set(r.changes)
        elif r.op == 'move':
            # A rename writes the naming attribute (cn): Samba 4.22 and Windows list it in
            # allowedAttributesEffective when the account may write it (Samba leaves out ``name``).
            entry(r.dn)['attrs'].add((r.new_rdn or 'cn=').split('=', 1)[0])
            cls = _leaf_class(r.object_class)
            if r.new_superior and cls and r.new_superior.lower() != parent_dn(r.dn).lower():
                entry(r.new_superior)['children'].add(cls)
    return need


def _may_write_dacl(attributes, entry, token):
    """sDRightsEffective's DACL bit; where the DC leaves the attribute out (Samba 4.22 does for an account that is
    not an administrator, even one that may write the DACL - measured on the lab DC), the owner and DACL
    evaluated against the account's token. None: cannot tell (the DC decides)."""
    rights = first(attributes, 'sDRightsEffective')
    if rights not in (None, ''):
        return bool(int(rights) & SD_RIGHT_DACL)
    if not token or entry is None:
        return None
    return access.granted(raw_first(entry, 'nTSecurityDescriptor'), token, access.WRITE_DAC)


def missing_rights(need, entries, token=None):
    """Pure: what the bound account may not do, from a search of the objects' effective rights."""
    by_dn = dict((e['dn'].lower(), e) for e in entries)
    problems = []
    for key in sorted(need):
        n = need[key]
        dn = n['dn']
        entry = by_dn.get(key)
        if entry is None:
            continue    # not there (yet): the request itself reports it
        a = entry['attributes']
        allowed = set(x.lower() for x in a.get('allowedAttributesEffective') or [])
        denied = sorted(x for x in n['attrs'] if x.lower() not in allowed)
        if denied:
            its = 'it' if len(denied) == 1 else 'them'
            problems.append('may not write %s on %s (the DC leaves %s out of allowedAttributesEffective: the '
                            'account lacks the write permission, or the DC treats %s as system-only, as Samba 4.22 '
                            'does for msDS-AllowedToActOnBehalfOfOtherIdentity)' % (', '.join(denied), dn, its, its))
        if n['dacl'] and _may_write_dacl(a, entry, token) is False:
            problems.append("may not change the permissions (WRITE_DAC) of %s" % dn)
        for right in sorted(n['control']):
            if token and access.granted(raw_first(entry, 'nTSecurityDescriptor'), token, access.CONTROL_ACCESS,
                                        right) is False:
                problems.append('may not use the %s right on %s (its DACL grants it to none of the account\'s '
                                'SIDs)' % (access.CONTROL_ACCESS_RIGHTS.get(right, right), dn))
        may_create = set(x.lower() for x in a.get('allowedChildClassesEffective') or [])
        refused = sorted(c for c in n['children'] if c.lower() not in may_create)
        if refused:
            problems.append('may not create %s objects in %s (the DC leaves %s out of allowedChildClassesEffective)'
                            % (', '.join(refused), dn, 'it' if len(refused) == 1 else 'them'))
    return problems


def removals(requests):
    """Pure: (request, the object's DACL at that point of the plan) for every delete and every move to another
    container, the requests that need the right to take the object out of its container. A DACL the plan
    replaces earlier (protection lifted for the delete) is the one that counts."""
    planned, created, out = {}, set(), []
    for r in requests:
        key = r.dn.lower()
        if r.op == 'add':
            created.add(key)
        elif key in created:
            continue
        elif r.op == 'modify' and r.descriptor:   # a deferred one counts with the value it was planned with
            new = [v for op, values in r.changes.get('nTSecurityDescriptor') or [] if op == MODIFY_REPLACE
                   for v in values]
            if new:
                planned[key] = new[0]
        elif r.op == 'delete' or (r.op == 'move' and r.new_superior and
                                  r.new_superior.lower() != parent_dn(r.dn).lower()):
            out.append((r, planned.get(key, r.sd)))
    return out


def _naming_context(directory, dn):
    """Where to search for ``dn``: the configuration partition for its objects (KDS root keys), which a search of
    the domain partition does not find, else the domain partition."""
    config = getattr(directory, 'configuration_nc', None)
    if config and dn.lower().endswith(',' + config.lower()):
        return config
    return directory.default_nc


def _search_dns(directory, dns, attributes, controls=None):
    by_base = {}
    for dn in sorted(set(dns), key=str.lower):
        by_base.setdefault(_naming_context(directory, dn), []).append(dn)
    entries = []
    for base in sorted(by_base):
        dns = by_base[base]
        for i in range(0, len(dns), RIGHTS_CHUNK):
            flt = '(|%s)' % ''.join('(distinguishedName=%s)' % escape(dn) for dn in dns[i:i + RIGHTS_CHUNK])
            entries += directory.search(base, flt, attributes, controls=controls)
    return entries


def removal_problems(directory, taken, entries, token):
    """The deletes and moves the token may not make: the objects' DACLs first (from the plan, the task's read or
    ``entries``), the containers' DACLs read (one search) only for objects whose own DACL does not grant it."""
    sds = dict((e['dn'].lower(), raw_first(e, 'nTSecurityDescriptor')) for e in entries)
    undecided = []
    for r, sd in taken:
        sd = sd if sd is not None else sds.get(r.dn.lower())
        if access.granted(sd, token, access.DELETE) is not True:
            undecided.append((r, sd))
    if not undecided:
        return []
    parents = dict((e['dn'].lower(), raw_first(e, 'nTSecurityDescriptor')) for e in _search_dns(
        directory, [parent_dn(r.dn) for r, _sd in undecided], ['nTSecurityDescriptor'], dacl_control()))
    problems = []
    for r, sd in undecided:
        parent = parent_dn(r.dn)
        if access.may_delete(sd, parents.get(parent.lower()), token, _leaf_class(r.object_class)) is False:
            problems.append('may not %s %s (its DACL grants the account no DELETE and the DACL of %s no "delete '
                            'child" for it)' % ('delete' if r.op == 'delete' else 'move', r.dn, parent))
    return problems


def _token_problems(directory, need, taken, entries, token):
    problems = missing_rights(need, entries, token)
    if token and taken:
        problems += removal_problems(directory, taken, entries, token)
    return problems


def check_rights(directory, requests):
    """One search (one per 200 objects) for the effective rights on every object the plan writes (with the owner
    and DACL when the plan writes a DACL, uses a control access right such as Reset Password, deletes or moves an
    object: the rootDSE's tokenGroups say whose rights they grant), and, for deletes and moves whose object's own
    DACL does not grant them, one for the containers' DACLs; fails before the first write, naming every missing
    right."""
    need = rights_needed(requests)
    taken = removals(requests)
    by_dacl = any(n['dacl'] or n['control'] for n in need.values())   # DACL writes, control access rights
    token = directory.token_sids if (taken or by_dacl) else None
    read_sd = [r.dn for r, sd in taken if sd is None] if token else []
    with_sd = bool(token) and (by_dacl or bool(read_sd))
    entries = []
    if need or read_sd:
        entries = _search_dns(directory, [n['dn'] for n in need.values()] + read_sd,
                              RIGHTS_ATTRIBUTES + (['nTSecurityDescriptor'] if with_sd else []),
                              owner_dacl_control() if with_sd else None)
    problems = _token_problems(directory, need, taken, entries, token)
    if problems and token and (by_dacl or taken):
        # a refusal read from the token: make sure the token holds the account's own SID (an entry granted to the
        # account itself), then judge again
        own = directory.own_sid()
        if own and own.upper() not in set(t.upper() for t in token):
            problems = _token_problems(directory, need, taken, entries, token + [own])
    if problems:
        raise ModuleFailure('%s %s. Grant it those rights, or run as an account that has them. Nothing was '
                            'changed.' % (directory.bound_as, '; '.join(problems)))


# --------------------------------------------------------------------------- execute
def _get_ci(attrs, name):
    for k, v in attrs.items():
        if k.lower() == name.lower():
            return v
    return None


def _reread_unchanged(directory, request):
    found = directory.search(request.dn, '(objectClass=*)', sorted(request.sd_values), scope='base')
    if not found:
        return False
    return all(raw_first(found[0], attr) == old for attr, old in request.sd_values.items())


def _now_filled(directory, request):
    attrs = request.filled_empty() if request.op == 'modify' else []
    if not attrs:
        return False
    found = directory.search(request.dn, '(objectClass=*)', attrs, scope='base')
    return bool(found) and any(_get_ci(found[0]['attributes'], a) not in (None, [], '') for a in attrs)


def _linked_changed(directory, request, code):
    """Windows' answer to a concurrent change of a linked attribute: a re-read confirms another writer added the
    value this request adds (entryAlreadyExists) or removed the one it removes (unwillingToPerform)."""
    if request.op != 'modify' or code not in (RESULT['entryAlreadyExists'], RESULT['unwillingToPerform']):
        return False
    present = code == RESULT['entryAlreadyExists']
    values = request.linked_values(MODIFY_ADD if present else MODIFY_DELETE)
    if not values:
        return False
    found = directory.search(request.dn, '(objectClass=*)', sorted(values), scope='base')
    if not found:
        return False
    for attr, vals in values.items():
        have = set(str(v).lower() for v in (_get_ci(found[0]['attributes'], attr) or []))
        if any((str(v).lower() in have) == present for v in vals):
            return True
    return False


def is_conflict(directory, request, error):
    code = error.code
    return (code in CONFLICT_CODES or
            (code == RESULT['constraintViolation'] and _now_filled(directory, request)) or
            _linked_changed(directory, request, code))


def _send(directory, request):
    try:
        request.send(directory)
    except DirectoryError as e:
        if not (request.sd_values and e.code in SD_VALUE_DELETE_REFUSALS and _reread_unchanged(directory, request)):
            raise
        # The DC refused to delete the descriptor by value although it still holds that value: a Windows DC.
        # Replace it instead (guarded by the re-read just made).
        request.as_replace().send(directory)


def _moved(dn, later):
    """Where the object at ``dn`` is after the moves among the ``later`` written requests."""
    for r in later:
        if r.op == 'move' and r.dn.lower() == dn.lower():
            dn = '%s,%s' % (r.new_rdn, r.new_superior or parent_dn(r.dn))
    return dn


def _undo(directory, done):
    """Send the undo request of every written request that has one, newest first, to the object where it is now
    (a move written after the request took it elsewhere). Returns (undone whats, problems)."""
    undone, problems = [], []
    for i in reversed(range(len(done))):
        r = done[i]
        if r.undo is None:
            continue
        r.undo.dn = _moved(r.undo.dn, done[i + 1:])
        try:
            r.undo.send(directory)
            undone.append(r.what)
        except DirectoryError as e:
            problems.append('%s failed: %s' % (r.undo.what, e.msg))
    return undone, problems


def execute(directory, requests, check_mode, describe_failure=None):
    """Send the requests in order. Returns the list of what was written (what would be, in check mode)."""
    if check_mode:
        return [r.what for r in requests]
    done = []
    for r in requests:
        try:
            _send(directory, r)
        except DirectoryError as e:
            if not done and not getattr(e, 'outcome_unknown', False) and is_conflict(directory, r, e):
                raise Conflict()
            raise _failure(directory, done, r, e, describe_failure)
        done.append(r)
    return [r.what for r in done]


def _failure(directory, done, request, error, describe_failure):
    reason = describe_failure(request, error) if describe_failure else error.msg
    ldap_result = result_name(error.code) if error.code is not None else None
    unknown = getattr(error, 'outcome_unknown', False)
    undone, problems = _undo(directory, done) if not unknown else ([], [])
    kept = [r.what for r in done if r.what not in undone and r.undo is None]
    head = '%s failed: %s.' % (request.what, reason)
    if unknown:
        written = [r.what for r in done] + ['perhaps: %s' % request.what]
        lifted = [r.what for r in done if r.undo is not None]
        return ModuleFailure('%s The domain controller did not answer, so this request may or may not have been '
                             'applied.%s%s Run the task again: it plans from what is there now.' % (
                                 head, (' Written before it: %s.' % '; '.join(r.what for r in done)) if done else '',
                                 (' Not put back, since where the object is now is not known: %s.'
                                  % '; '.join(lifted)) if lifted else ''),
                             changed=True, written=written, ldap_result=ldap_result)
    if not done or (not kept and not problems):
        tail = ''
        if done:
            tail = ' What was written for it was put back (%s).' % '; '.join(undone)
        return ModuleFailure('%s%s Nothing was changed.' % (head, tail), written=[], ldap_result=ldap_result)
    msg = '%s Already written before the failure: %s.' % (head, '; '.join(r.what for r in done))
    if undone:
        msg += ' Put back: %s.' % '; '.join(undone)
    if problems:
        msg += ' Putting back failed: %s.' % '; '.join(problems)
    msg += ' The task stopped there; run it again to finish (it plans from what is there now).'
    return ModuleFailure(msg, changed=True, written=[r.what for r in done if r.what not in undone],
                         ldap_result=ldap_result)
