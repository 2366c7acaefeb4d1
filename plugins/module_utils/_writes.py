# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of every LDAP write a directory task makes, and the one executor that sends it.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

A task reads everything it needs, then plans the complete ordered list of ``Write`` requests. Check mode, the
diff, the rights check and the failure report all read that one list:

* ``check_rights`` proves, before the first request, that the bound account may make every write of the plan
  (``allowedAttributesEffective`` for attribute changes, ``sDRightsEffective`` for descriptor writes): one search.
* ``execute`` sends the requests in order. A concurrent change met by the *first* request (nothing written yet)
  raises ``Conflict`` so the task re-reads and plans again. A failure after other requests were written fails
  the task with ``changed: true`` and the list of what was written; "Nothing was changed." is said only when
  it is true.
* Security-descriptor attributes are changed as delete-exact-old-value + add-new-value, which fails on a
  concurrent change (Samba matches the binary value). Windows documents no matching rule for
  String(NT-Sec-Desc): when the DC refuses the value delete (noSuchAttribute, inappropriateMatching or
  unwillingToPerform) and a re-read shows the value is still the one the plan read, the change is sent again as
  a replace. That fallback is guarded by the re-read only: a write that lands between the re-read and the
  replace (a few milliseconds) can be lost.
"""
from __future__ import annotations

import random
import time

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError, escape
from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_ADD, MODIFY_REPLACE, RESULT, SD_RIGHT_DACL, first, raw_first, result_name,
)


# A concurrent writer changed what the plan read: the delete of the old value found nothing, or the value added
# exists now. Windows answers constraintViolation for an add to a single-valued attribute that another writer
# filled meanwhile; that code also means real refusals, so it counts as a conflict only when a re-read shows
# the attribute (empty when read) has a value now.
CONFLICT_CODES = (RESULT['noSuchAttribute'], RESULT['attributeOrValueExists'])
# Attributes the directory modules change value by value; every other attribute they write is single-valued.
MULTI_VALUED = frozenset(a.lower() for a in ('servicePrincipalName', 'msDS-AllowedToDelegateTo', 'member',
                                             'msDS-HostServiceAccount', 'objectClass'))
# How a Windows DC may refuse a value delete on a security-descriptor attribute.
SD_VALUE_DELETE_REFUSALS = (RESULT['noSuchAttribute'], RESULT['inappropriateMatching'], RESULT['unwillingToPerform'])


class Conflict(Exception):
    """Another writer changed the object between the read and the first write; nothing was written."""


MAX_ATTEMPTS = 12


def retry_on_conflict(attempt, module, directory, what):
    """Run ``attempt(module, directory)`` (read, plan, write) again whenever another writer changed ``what``
    between its read and its first write: each attempt re-reads, so nobody's change is overwritten."""
    for n in range(MAX_ATTEMPTS):
        try:
            return attempt(module, directory)
        except Conflict:
            time.sleep(random.uniform(0.01, 0.05 * (n + 1)))
    raise ModuleFailure('the %s kept changing under this task (%d attempts, each re-reading it); nothing was '
                        'written' % (what, MAX_ATTEMPTS))


class Write(object):
    """One LDAP request of a plan.

    op: 'add' (attributes, object_class), 'modify' (changes), 'move' (new_rdn, new_superior) or 'delete'.
    what: what it does, in people's words (shown in check mode, in the result and in failure reports).
    descriptor: True when it writes nTSecurityDescriptor (needs WRITE_DAC: sDRightsEffective).
    sd_values: {attribute: old raw value} for security-descriptor attributes changed by value (see above).
    deferred: for a modify whose values depend on an earlier request of the plan (the DACL a new object gets at
    its add): ``deferred(directory) -> changes``, called just before it is sent (never in check mode).
    """

    def __init__(self, op, dn, what, changes=None, attributes=None, object_class=None, new_rdn=None,
                 new_superior=None, controls=None, descriptor=False, sd_values=None, deferred=None):
        self.op, self.dn, self.what = op, dn, what
        self.changes = changes or {}
        self.attributes = attributes or {}
        self.object_class = object_class
        self.new_rdn, self.new_superior = new_rdn, new_superior
        self.controls = controls
        self.descriptor = descriptor
        self.sd_values = sd_values or {}
        self.deferred = deferred
        if deferred is not None and not self.changes:
            self.changes = {'nTSecurityDescriptor': []} if descriptor else {}

    def filled_empty(self):
        """Single-valued attributes this modify adds to because they were empty when read."""
        return sorted(a for a, ops in self.changes.items()
                      if a.lower() not in MULTI_VALUED and [op for op, _v in ops] == [MODIFY_ADD])

    def describe(self):
        """The request without values (no bytes, no secrets), for results and check mode."""
        out = dict(op=self.op, dn=self.dn, what=self.what)
        if self.op == 'modify':
            out['attributes'] = sorted(self.changes)
        elif self.op == 'add':
            out['attributes'] = sorted(self.attributes)
        elif self.op == 'move':
            out['new_rdn'] = self.new_rdn
            if self.new_superior:
                out['new_superior'] = self.new_superior
        return out

    def send(self, directory):
        if self.deferred is not None:
            self.changes = self.deferred(directory)
        if self.op == 'add':
            directory.add(self.dn, self.object_class, self.attributes)
        elif self.op == 'modify':
            directory.modify(self.dn, self.changes, controls=self.controls)
        elif self.op == 'move':
            directory.move(self.dn, self.new_rdn, new_superior=self.new_superior)
        elif self.op == 'delete':
            directory.delete(self.dn, controls=self.controls)
        else:  # pragma: no cover
            raise ValueError(self.op)

    def as_replace(self):
        """The same modify with each security-descriptor attribute written by replace (the Windows fallback)."""
        changes = {}
        for attr, ops in self.changes.items():
            if attr in self.sd_values:
                added = [v for op, values in ops if op == MODIFY_ADD for v in values]
                changes[attr] = [(MODIFY_REPLACE, added)]
            else:
                changes[attr] = ops
        return Write('modify', self.dn, self.what, changes=changes, controls=self.controls)


def rights_needed(writes):
    """DN → (attributes written by modify, whether the DACL is written), for the rights check."""
    need = {}
    for w in writes:
        attrs, dacl = need.get(w.dn, (set(), False))
        if w.op == 'modify' and not w.descriptor:
            attrs |= set(w.changes)
        need[w.dn] = (attrs, dacl or w.descriptor)
    return need


def missing_rights(need, entries):
    """Pure: what the bound account may not do, from a search of the objects' effective rights."""
    by_dn = dict((e['dn'].lower(), e['attributes']) for e in entries)
    problems = []
    for dn, (attrs, dacl) in sorted(need.items()):
        a = by_dn.get(dn.lower())
        if a is None:
            continue  # created by an earlier request of the plan: the create right was checked
        allowed = set(x.lower() for x in a.get('allowedAttributesEffective') or [])
        denied = sorted(x for x in attrs if x.lower() not in allowed)
        if denied:
            problems.append('may not write %s on %s (the DC leaves %s out of allowedAttributesEffective: the '
                            'account lacks the write permission, or the DC treats %s as system-only, as Samba 4.22 '
                            'does for msDS-AllowedToActOnBehalfOfOtherIdentity)' % (
                                ', '.join(denied), dn, 'it' if len(denied) == 1 else 'them',
                                'it' if len(denied) == 1 else 'them'))
        if dacl and not int(first(a, 'sDRightsEffective') or 0) & SD_RIGHT_DACL:
            problems.append("may not change the permissions (WRITE_DAC) of %s" % dn)
    return problems


RIGHTS_CHUNK = 200      # objects per effective-rights search (a list of many accounts plans many objects)


def check_rights(directory, writes):
    """One search (one per 200 objects) for the effective rights on every object the plan modifies; fails before
    the first write, naming every missing right."""
    need = rights_needed([w for w in writes if w.op in ('modify',)])
    dns = sorted(need)
    entries = []
    for i in range(0, len(dns), RIGHTS_CHUNK):
        flt = '(|%s)' % ''.join('(distinguishedName=%s)' % escape(dn) for dn in dns[i:i + RIGHTS_CHUNK])
        entries += directory.search(directory.default_nc, flt, ['allowedAttributesEffective', 'sDRightsEffective'])
    problems = missing_rights(need, entries)
    if problems:
        raise ModuleFailure('%s %s. Grant it those rights, or run as an account that has them. Nothing was '
                            'changed.' % (directory.bound_as, '; '.join(problems)))


def _reread_unchanged(directory, write):
    found = directory.search(write.dn, '(objectClass=*)', sorted(write.sd_values), scope='base')
    if not found:
        return False
    return all(raw_first(found[0], attr) == old for attr, old in write.sd_values.items())


def _now_filled(directory, write):
    attrs = write.filled_empty() if write.op == 'modify' else []
    if not attrs:
        return False
    found = directory.search(write.dn, '(objectClass=*)', attrs, scope='base')
    return bool(found) and any(found[0]['attributes'].get(a) not in (None, [], '') for a in attrs)


def execute(directory, writes, check_mode, describe_failure=None):
    """Send the plan in order. Returns the list of what was written (what would be, in check mode)."""
    done = []
    for w in writes:
        if check_mode:
            done.append(w.what)
            continue
        try:
            try:
                w.send(directory)
            except DirectoryError as e:
                if not (w.sd_values and e.code in SD_VALUE_DELETE_REFUSALS and _reread_unchanged(directory, w)):
                    raise
                # The DC refused to delete the descriptor by value although it still holds that value: a
                # Windows DC. Replace it instead (guarded by the re-read just made).
                w.as_replace().send(directory)
        except DirectoryError as e:
            if not done and (e.code in CONFLICT_CODES or
                             (e.code == RESULT['constraintViolation'] and _now_filled(directory, w))):
                raise Conflict()
            reason = describe_failure(w, e) if describe_failure else e.msg
            if done:
                raise ModuleFailure('%s failed: %s. Already written before the failure: %s. The task stopped there; '
                                    'run it again to finish (it plans from what is there now).' % (
                                        w.what, reason, '; '.join(done)), changed=True, written=list(done),
                                    ldap_result=result_name(e.code) if e.code is not None else None)
            raise ModuleFailure('%s failed: %s. Nothing was changed.' % (w.what, reason), written=[],
                                ldap_result=result_name(e.code) if e.code is not None else None)
        done.append(w.what)
    return done
