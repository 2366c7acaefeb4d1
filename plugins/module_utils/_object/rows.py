# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property rows: how an option becomes an LDAP attribute, for every kind of object.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure: no I/O.

A kind describes its options as rows, ``dict(option=..., attr=..., kind=...)``. The row's kind (``KINDS``) knows
how that kind of value is read, compared, created and changed, and which argument spec its option has:

* ``spec(row)`` - the option's argument spec;
* ``before(row, cur)`` - the current value in people's terms (``cur``: the kind's state of the object);
* ``apply(row, plan)`` - the value after the task; records on ``plan`` (a ``RowPlan``) the attribute values of a
  new object (``plan.create``) or the changes to an existing one (``plan.changes``).

Every change to an attribute that already has a value is written as delete-old-value + add-new-value in one
modify request, so a concurrent writer makes the request fail (and the task re-reads and plans again) instead of
being silently overwritten. A kind with a value of its own shape adds a class with the same three methods.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils._enctypes import SUPPORTED_BITS
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE

UAC_ACCOUNTDISABLE = 0x2
UAC_WORKSTATION_TRUST_ACCOUNT = 0x1000
UAC_TRUSTED_FOR_DELEGATION = 0x80000
UAC_NOT_DELEGATED = 0x100000
UAC_TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000

# msDS-SupportedEncryptionTypes bits by name (MS-KILE 2.2.7), from the table the keytab code reads too.
ENCTYPES = SUPPORTED_BITS
ENCTYPE_CHOICES = ['aes128', 'aes256', 'rc4', 'des']
DEFAULT_ENCTYPES = ['aes128', 'aes256']


def enctype_names(mask):
    if mask is None:
        return None
    mask = int(mask)
    names = [n for n, bit in ENCTYPES if mask & bit == bit]
    return names


def enctype_mask(names, keep_other_bits=0):
    m = keep_other_bits
    for n in names:
        m |= dict(ENCTYPES)[n]
    return m


# --------------------------------------------------------------------------- list actions
def apply_list_action(current, action, ci=True):
    """``current`` list + dict(add, remove, set) → new list (current order and spelling kept)."""
    if not action:
        return list(current)
    key = (lambda s: s.lower()) if ci else (lambda s: s)
    if action.get('set') is not None:
        want = []
        seen = set()
        for v in action['set']:
            if key(v) not in seen:
                seen.add(key(v))
                want.append(v)
        existing = dict((key(v), v) for v in current)
        return [existing.get(key(v), v) for v in want]
    out = list(current)
    have = set(key(v) for v in out)
    for v in action.get('add') or []:
        if key(v) not in have:
            out.append(v)
            have.add(key(v))
    remove = set(key(v) for v in action.get('remove') or [])
    return [v for v in out if key(v) not in remove]


def list_changes(attr, current, new, ci=True):
    key = (lambda s: s.lower()) if ci else (lambda s: s)
    cur_keys = set(key(v) for v in current)
    new_keys = set(key(v) for v in new)
    ops = []
    gone = [v for v in current if key(v) not in new_keys]
    added = [v for v in new if key(v) not in cur_keys]
    if gone:
        ops.append((MODIFY_DELETE, gone))
    if added:
        ops.append((MODIFY_ADD, added))
    return ops


def uac_enabled(uac, enabled):
    """userAccountControl with the ACCOUNTDISABLE bit set or cleared, every other bit kept."""
    return uac & ~UAC_ACCOUNTDISABLE if enabled else uac | UAC_ACCOUNTDISABLE


def single_value_change(old, new):
    """Delete-old + add-new (or add / delete alone): a concurrent change makes the request fail, not vanish."""
    if old == new:
        return []
    ops = []
    if old is not None:
        ops.append((MODIFY_DELETE, [old]))
    if new is not None:
        ops.append((MODIFY_ADD, [new]))
    return ops


def list_action_spec():
    return dict(add=dict(type='list', elements='str'), remove=dict(type='list', elements='str'),
                set=dict(type='list', elements='str'))


def _enc_after(action, current_names, current_raw):
    if not action:
        return current_names, current_raw
    names = apply_list_action(current_names or [], action, ci=False)
    order = [n for n, dummy in ENCTYPES]
    names = sorted(set(names), key=order.index)
    other = (current_raw or 0) & ~sum(b for dummy, b in ENCTYPES)
    return names, enctype_mask(names, other)


# --------------------------------------------------------------------------- what one task builds up
class RowPlan(object):
    """What one run of the rows builds up: the attributes of a new object, or the changes to an existing one.
    ``uac``: the userAccountControl of a new object (an existing one's comes from ``cur['uac']``)."""

    def __init__(self, params, cur, acct_type=None, resolved=None, lbl=None, uac=0):
        self.params, self.cur, self.acct_type = params, cur, acct_type
        self.resolved, self.lbl = resolved or {}, lbl or (lambda value: value)
        self.create = {} if cur is None else None
        self.changes = {}
        self.sd_old = {}
        self.warnings = []
        self.before, self.after = {}, {}
        self.uac = uac if cur is None else cur.get('uac', uac)

    def write(self, attr, old, new):
        """A single-valued attribute: set at create, or delete-old/add-new."""
        if self.create is not None:
            if new is not None:
                self.create[attr] = new
        elif old != new:
            self.changes[attr] = single_value_change(old, new)


# --------------------------------------------------------------------------- the kinds of values
class String(object):
    """Free text; '' clears it."""
    @staticmethod
    def spec(row):
        return dict(type='str')

    @staticmethod
    def before(row, cur):
        return cur[row['option']]

    @staticmethod
    def apply(row, plan):
        old = plan.cur[row['option']] if plan.cur else None
        want = plan.params.get(row['option'])
        if want is None:
            return old
        want = want or None
        plan.write(row['attr'], old, want)
        return want


class List(object):
    """Multi-valued strings, case-insensitive, changed value by value (add/remove/set)."""
    @staticmethod
    def spec(row):
        return dict(type='dict', options=list_action_spec())

    @staticmethod
    def before(row, cur):
        return sorted(cur[row['option']], key=str.lower)

    @staticmethod
    def apply(row, plan):
        cur = plan.cur[row['option']] if plan.cur else []
        new = apply_list_action(cur, plan.params.get(row['option']))
        if row.get('outbound_clears') and plan.params.get('outbound_auth_only'):
            new = []
        if plan.create is not None:
            if new:
                plan.create[row['attr']] = new
        else:
            ops = list_changes(row['attr'], cur, new)
            if ops:
                plan.changes[row['attr']] = ops
        return sorted(new, key=str.lower)


class EncTypes(object):
    """msDS-SupportedEncryptionTypes by name; bits this collection does not name are kept."""
    @staticmethod
    def spec(row):
        return dict(type='dict', options=dict((k, dict(type='list', elements='str', choices=ENCTYPE_CHOICES))
                                              for k in ('add', 'remove', 'set')))

    @staticmethod
    def before(row, cur):
        return cur['kerberos_encryption_types']

    @staticmethod
    def apply(row, plan):
        action = plan.params.get(row['option'])
        if plan.cur is None:
            names = DEFAULT_ENCTYPES if not action else apply_list_action(DEFAULT_ENCTYPES, action, ci=False)
            names, mask = _enc_after(dict(set=names), [], 0)
            plan.create[row['attr']] = mask
            return names
        names, mask = _enc_after(action, plan.cur['kerberos_encryption_types'], plan.cur['enc_raw'])
        if action and mask != plan.cur['enc_raw']:
            plan.changes[row['attr']] = single_value_change(plan.cur['enc_raw'], mask)
        return names


class CreateOnly(object):
    """Written at create; the directory refuses later changes, so a different value fails the task."""
    @staticmethod
    def spec(row):
        return dict(type='int', no_log=False)

    @staticmethod
    def before(row, cur):
        return cur[row['option']]

    @staticmethod
    def apply(row, plan):
        want = plan.params.get(row['option'])
        if plan.cur is None:
            value = want or row['default']
            plan.create[row['attr']] = value
            return value
        have = plan.cur[row['option']]
        if want is not None and have is not None and want != have:
            raise PlanError(
                '%s is %d on %s and can only be set when the account is created (the directory refuses any later '
                'change). To use %d, create a new account with it, move the services to it host by host '
                '(gmsa.farm.windows_service_identity), then remove the old one.'
                % (row['option'], have, plan.cur['dn'], want))
        return have


class UacBit(object):
    """One userAccountControl bit, changed by OR / AND-NOT on the current value (written once, after all rows)."""
    @staticmethod
    def spec(row):
        return dict(type='bool')

    @staticmethod
    def before(row, cur):
        return bool(cur['uac'] & row['bit']) != bool(row.get('inverse'))

    @staticmethod
    def apply(row, plan):
        have = bool(plan.uac & row['bit']) != bool(row.get('inverse'))
        want = plan.params.get(row['option'])
        if want is None or want == have:
            return have
        if want != bool(row.get('inverse')):
            plan.uac |= row['bit']
        else:
            plan.uac &= ~row['bit']
        return want


KINDS = dict(string=String, list=List, enctypes=EncTypes, create_only=CreateOnly, uac=UacBit)


def options(rows, kinds=None):
    """The module options the rows define."""
    kinds = kinds or KINDS
    return dict((row['option'], kinds[row['kind']].spec(row)) for row in rows)


def run_rows(rows, plan, kinds=None, applies=lambda row: True):
    """Every row's handler on ``plan``: fills plan.before (existing objects) and plan.after."""
    kinds = kinds or KINDS
    for row in rows:
        if not applies(row):
            continue
        kind = kinds[row['kind']]
        if plan.cur is not None and row['option'] not in plan.before:
            plan.before[row['option']] = kind.before(row, plan.cur)
        plan.after[row['option']] = kind.apply(row, plan)
    return plan
