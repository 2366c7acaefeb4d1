# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One LDAP write request of a plan.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. No I/O except ``send``.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_REPLACE

# Attributes the directory modules change value by value; every other attribute they write is single-valued.
MULTI_VALUED = frozenset(a.lower() for a in ('servicePrincipalName', 'msDS-AllowedToDelegateTo', 'member',
                                             'msDS-HostServiceAccount', 'objectClass'))
# Linked attributes: Windows answers a concurrent change to them with entryAlreadyExists (adding a value that
# is there) or unwillingToPerform (removing one that is not), the codes IADsGroup::Add/Remove document.
LINKED = frozenset(a.lower() for a in ('member', 'msDS-HostServiceAccount'))


class Request(object):
    """One LDAP request of a plan.

    op: 'add' (attributes, object_class), 'modify' (changes), 'move' (new_rdn, new_superior) or 'delete'.
    what: what it does, in people's words (shown in check mode, in the result and in failure reports).
    descriptor: True when it writes nTSecurityDescriptor (needs WRITE_DAC: sDRightsEffective).
    sd_values: {attribute: old raw value} for security-descriptor attributes changed by value.
    deferred: for a modify whose values depend on the directory at the moment it is sent (a DACL recomputed
    from a fresh read, the DACL a new object got at its add): ``deferred(directory) -> changes``, called just
    before it is sent (never in check mode).
    undo: the request that takes this one back (protection lifted for a move or a delete is put back when a
    later request of the plan fails).
    object_class: for 'add', the classes; for 'move' and 'delete', the object's most specific class (the rights
    check asks the new container whether the account may create a child of that class there, and the old one
    whether it may delete it).
    sd: for 'delete' and 'move', the object's DACL as the task read it (raw bytes), so the rights check need not
    read it again.
    parent_checked: for 'add', the task already proved the account may create the object in its container (the
    rights check does not ask again).
    control_access: for a modify that a control access right allows rather than attribute writes (a password
    reset: unicodePwd replaced needs Reset Password, MS-ADTS 3.1.1.3.1.5.1), that right's rightsGuid: the rights
    check reads it from the object's DACL instead of allowedAttributesEffective.
    """

    def __init__(self, op, dn, what, changes=None, attributes=None, object_class=None, new_rdn=None,
                 new_superior=None, controls=None, descriptor=False, sd_values=None, deferred=None, undo=None,
                 parent_checked=False, sd=None, control_access=None):
        self.op, self.dn, self.what = op, dn, what
        self.changes = changes or {}
        self.attributes = attributes or {}
        self.object_class = object_class
        self.new_rdn, self.new_superior = new_rdn, new_superior
        self.controls = controls
        self.descriptor = descriptor
        self.sd_values = sd_values or {}
        self.deferred = deferred
        self.undo = undo
        self.parent_checked = parent_checked
        self.sd = sd
        self.control_access = control_access
        if deferred is not None and not self.changes:
            self.changes = {'nTSecurityDescriptor': []} if descriptor else {}

    def __repr__(self):
        return 'Request(%r, %r)' % (self.op, self.dn)

    def filled_empty(self):
        """Single-valued attributes this modify adds to because they were empty when read."""
        return sorted(a for a, ops in self.changes.items()
                      if a.lower() not in MULTI_VALUED and [op for op, _v in ops] == [MODIFY_ADD])

    def linked_values(self, op):
        """{attribute: values} this modify adds (op=MODIFY_ADD) or removes on linked attributes."""
        out = {}
        for attr, ops in self.changes.items():
            if attr.lower() in LINKED:
                vals = [v for o, values in ops if o == op for v in values]
                if vals:
                    out[attr] = vals
        return out

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
        return Request('modify', self.dn, self.what, changes=changes, controls=self.controls)
