# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gMSA / sMSA / dMSA accounts: what they are, as the object engine reads it.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure: no I/O.

* the classes of the three account types (``CLASS_BY_TYPE``);
* ``PROPERTIES``: one row per option (option -> attribute, and its kind). The kinds of ``rows`` plus the three
  this kind adds (``sam``, ``dns``, ``principals``) know how a value is read, compared, created and changed, so
  adding an option is adding one row (and its documentation): ``plan_rows`` runs every row, and
  ``property_options`` builds the module's options from them;
* ``read_state``: a search entry -> the account's state in the task's terms;
* the input rules checked before anything is read (names, SPNs, DNS names, the ``attributes`` option).

The whole plan of a task (every request in order) is ``gmsa_plan.plan``.
"""
from __future__ import annotations

import functools
import re

from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._principals import SAM_INVALID
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    check_dn, check_range, first, parent_dn, raw_first,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.rows import (
    UAC_ACCOUNTDISABLE, UAC_TRUSTED_FOR_DELEGATION, UAC_TRUSTED_TO_AUTH_FOR_DELEGATION, UAC_WORKSTATION_TRUST_ACCOUNT,
    CreateOnly, EncTypes, List, RowPlan, String, UacBit, apply_list_action, enctype_names, list_changes,
    single_value_change,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    SecurityError, build_membership_sd, granted_sids, parse_membership_sd, update_membership_sd,
)


CLASS_BY_TYPE = {
    'group': 'msDS-GroupManagedServiceAccount',
    'standalone': 'msDS-ManagedServiceAccount',
    'delegated': 'msDS-DelegatedManagedServiceAccount',
}
TYPE_BY_CLASS = dict((v.lower(), k) for k, v in CLASS_BY_TYPE.items())

DEFAULT_INTERVAL = 30
INTERVAL_MAX = 2 ** 31 - 1      # msDS-ManagedPasswordInterval is a 32-bit signed integer

# option → attribute, and the kind of value it is. Adding an option is adding one row (see KINDS).
# types: the account types the row applies to (default: all).
PROPERTIES = [
    dict(option='sam_account_name', attr='sAMAccountName', kind='sam'),
    dict(option='dns_hostname', attr='dNSHostName', kind='dns'),
    dict(option='description', attr='description', kind='string'),
    dict(option='display_name', attr='displayName', kind='string'),
    dict(option='upn', attr='userPrincipalName', kind='string'),
    dict(option='spn', attr='servicePrincipalName', kind='list', outbound_clears=True),
    dict(option='allowed_to_delegate_to', attr='msDS-AllowedToDelegateTo', kind='list'),
    dict(option='kerberos_encryption_types', attr='msDS-SupportedEncryptionTypes', kind='enctypes'),
    dict(option='password_interval_days', attr='msDS-ManagedPasswordInterval', kind='create_only',
         types=('group', 'delegated'), default=DEFAULT_INTERVAL),
    dict(option='allowed_to_retrieve_password', attr='msDS-GroupMSAMembership', kind='principals',
         types=('group', 'delegated')),
    dict(option='delegates', attr='msDS-AllowedToActOnBehalfOfOtherIdentity', kind='principals'),
    dict(option='enabled', attr='userAccountControl', kind='uac', bit=UAC_ACCOUNTDISABLE, inverse=True),
    dict(option='trusted_for_delegation', attr='userAccountControl', kind='uac', bit=UAC_TRUSTED_FOR_DELEGATION),
    dict(option='trusted_to_auth_for_delegation', attr='userAccountControl', kind='uac',
         bit=UAC_TRUSTED_TO_AUTH_FOR_DELEGATION),
]

# What gmsa plans from (the rows' attributes, the type, the name, the identifiers, the sMSA's host link).
PLANNED_ATTRIBUTES = sorted(set([p['attr'] for p in PROPERTIES] +
                                ['cn', 'objectClass', 'objectSid', 'objectGUID', 'msDS-HostServiceAccountBL']))
# What the readers report about an account (gmsa_info, the audit, credential_spec): also its logon and groups.
ACCOUNT_ATTRIBUTES = sorted(set(PLANNED_ATTRIBUTES + ['distinguishedName', 'pwdLastSet', 'memberOf', 'primaryGroupID',
                                                      'lastLogonTimestamp']))

SPN_RE = re.compile(r'^[^/\s]+/[^/\s]+(/[^/\s]+)?$')
DNS_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}'
                    r'[A-Za-z0-9])?)*\.?$')


# --------------------------------------------------------------------------- validation (pure)

def wanted_sam(params):
    """The sAMAccountName a task asks for: ``sam_account_name`` (else ``name``) with the trailing ``$`` added,
    or ``sam_account_name`` exactly as given with ``do_not_append_dollar_to_sam`` (as microsoft.ad does)."""
    given = params.get('sam_account_name')
    return normalise_sam(given or params['name'],
                         append_dollar=not (given and params.get('do_not_append_dollar_to_sam')))


def normalise_sam(name, append_dollar=True):
    """``web`` / ``web$`` → ``web$`` (``web`` stays ``web`` with append_dollar=False); refuses what Windows
    refuses."""
    base = name[:-1] if name.endswith('$') else name
    if not base:
        raise PlanError('sam_account_name is empty')
    if len(base) > 15:
        raise PlanError('sam_account_name %r is %d characters long; managed service account names are at most 15 '
                        'characters before the trailing $ (Windows host tooling refuses longer ones)'
                        % (base, len(base)))
    bad = sorted(set(c for c in base if c in SAM_INVALID or ord(c) < 32))
    if bad:
        raise PlanError('sam_account_name %r contains characters Windows does not allow: %s'
                        % (base, ' '.join(repr(c) for c in bad)))
    if base.strip(' .') == '':
        raise PlanError('sam_account_name %r cannot consist of dots and spaces only' % base)
    if base != base.strip():
        raise PlanError('sam_account_name %r starts or ends with a space' % base)
    return base + '$' if append_dollar or name.endswith('$') else base


def validate_upn(upn):
    """``name@suffix`` ('' clears the attribute)."""
    if upn and (upn.count('@') != 1 or upn.startswith('@') or upn.endswith('@') or any(c.isspace() for c in upn)):
        raise PlanError('upn %r is not a user principal name (name@suffix, without spaces)' % upn)
    return upn


def validate_name(name):
    if not name or not name.strip():
        raise PlanError('name is empty')
    if len(name) > 64:
        raise PlanError('name %r is longer than 64 characters (the limit of cn)' % name)
    return name


def validate_spn(spn):
    if not SPN_RE.match(spn or ''):
        raise PlanError('%r is not a service principal name of the form service/host[:port][/service_name]' % spn)
    return spn


def validate_dns(name):
    if not DNS_RE.match(name or ''):
        raise PlanError('dns_hostname %r is not a valid DNS name' % name)
    return name


# --------------------------------------------------------------------------- current state (pure)

def read_state(entry):
    """A search entry of an account → dict of (people's terms) state + the raw values the planner needs.
    Text and list rows are read by the table; the kinds with a structure of their own are read here."""
    a = entry['attributes']
    classes = [c.lower() for c in (a.get('objectClass') or [])]
    acct_type = None
    for c in classes:
        if c in TYPE_BY_CLASS:
            acct_type = TYPE_BY_CLASS[c]
    uac = int(first(a, 'userAccountControl') or 0)
    enc = first(a, 'msDS-SupportedEncryptionTypes')
    interval = first(a, 'msDS-ManagedPasswordInterval')
    state = dict(
        dn=entry['dn'],
        account_type=acct_type,
        name=first(a, 'cn'),
        path=parent_dn(entry['dn']),
        sam_account_name=first(a, 'sAMAccountName'),
        kerberos_encryption_types=enctype_names(enc),
        password_interval_days=int(interval) if interval is not None else None,
        uac=uac,
        enc_raw=int(enc) if enc is not None else None,
        raw={},
    )
    state['parsed'] = {}
    for row in PROPERTIES:
        if row['kind'] in ('string', 'dns'):
            state[row['option']] = first(a, row['attr'])
        elif row['kind'] == 'list':
            state[row['option']] = list(a.get(row['attr']) or [])
        elif row['kind'] == 'principals':
            v = raw_first(entry, row['attr'])
            state['raw'][row['attr']] = bytes(v) if v is not None else None
            try:    # parsed once: the planner and the SID labels of the diff both read it
                state['parsed'][row['attr']] = _parsed(state['raw'][row['attr']])
            except SecurityError as e:  # refused by the rows' plan; a delete does not need it
                state['parsed'][row['attr']] = PlanError('cannot read a security descriptor of %s: %s'
                                                         % (entry['dn'], e))
        elif row['kind'] == 'uac':
            state[row['option']] = bool(uac & row['bit']) != bool(row.get('inverse'))
    state['outbound_auth_only'] = not state['dns_hostname'] and not state['spn']
    return state


@functools.lru_cache(maxsize=256)
def _parsed(raw):
    """A descriptor parsed once per value: the accounts of a farm mostly grant the same principals, so a list of
    many accounts holds few distinct descriptors (the parsed value is only read, never changed)."""
    return parse_membership_sd(raw)


def current_sids(state):
    """Every SID the account's principal options grant now (for their names in the diff)."""
    return [s for parsed in state['parsed'].values() if isinstance(parsed, dict) for s in granted_sids(parsed)]


# --------------------------------------------------------------------------- planning (pure)

def desired_sids(sd_option, current_sids, resolved):
    """dict(add/remove/set) of principal names → the new SID list, with ``remove`` of bare SIDs allowed."""
    def sids(values):
        out = []
        for v in values or []:
            p = resolved.get(v)
            if p is not None:
                out.append(p['sid'])
            elif v.upper().startswith('S-1-'):
                out.append(v.upper())
        return out
    if sd_option.get('set') is not None:
        return apply_list_action(current_sids, dict(set=sids(sd_option['set'])))
    return apply_list_action(current_sids, dict(add=sids(sd_option.get('add')), remove=sids(sd_option.get('remove'))))


def applies(row, acct_type):
    return acct_type in row.get('types', ('group', 'standalone', 'delegated'))


def validate_params(params, acct_type):
    """Rules across options, checked before anything is read."""
    spn_action = params.get('spn') or {}
    for opt in ('spn', 'allowed_to_delegate_to'):
        for lst in ('add', 'set'):
            for s in (params.get(opt) or {}).get(lst) or []:
                validate_spn(s)
    if params.get('dns_hostname'):
        validate_dns(params['dns_hostname'])
    if params.get('outbound_auth_only'):
        if params.get('dns_hostname'):
            raise PlanError('outbound_auth_only=true means the account has no dNSHostName; do not set dns_hostname')
        if spn_action.get('add') or spn_action.get('set'):
            raise PlanError('outbound_auth_only=true means the account has no SPNs; do not add or set spn')
    if params.get('trusted_for_delegation') and params.get('trusted_to_auth_for_delegation'):
        raise PlanError('trusted_for_delegation (unconstrained) and trusted_to_auth_for_delegation (protocol '
                        'transition) cannot both be true; choose one')
    if params.get('password_interval_days') is not None and params['password_interval_days'] < 1:
        raise PlanError('password_interval_days must be at least 1')
    if acct_type == 'standalone' and params.get('allowed_to_retrieve_password'):
        raise PlanError('allowed_to_retrieve_password applies to group and delegated managed service accounts; a '
                        'standalone one is bound to its host instead (host)')


class _Plan(RowPlan):
    """The rows' plan of one managed service account (a new one starts as a workstation trust account)."""

    def __init__(self, params, cur, acct_type, resolved, lbl):
        super(_Plan, self).__init__(params, cur, acct_type, resolved, lbl, uac=UAC_WORKSTATION_TRUST_ACCOUNT)


# --------------------------------------------------------------------------- one handler per kind
# Each handler: before(row, cur) -> value in people's terms; apply(row, plan) -> value after the task (and the
# writes it needs recorded on the plan); spec(row) -> the option's argument spec.

class _Sam(object):
    @staticmethod
    def spec(row):
        return dict(type='str')

    @staticmethod
    def before(row, cur):
        return cur['sam_account_name']

    @staticmethod
    def apply(row, plan):
        sam = wanted_sam(plan.params)
        old = plan.cur['sam_account_name'] if plan.cur else None
        if (old or '').lower() == sam.lower():
            return old
        plan.write(row['attr'], old, sam)
        return sam


class _Dns(String):
    """A DNS name, compared case-insensitively; an outbound-only account has none."""
    @staticmethod
    def apply(row, plan):
        old = plan.cur['dns_hostname'] if plan.cur else None
        want = old
        if plan.params.get('outbound_auth_only'):
            want = None
        elif plan.params.get('dns_hostname') is not None and plan.params['dns_hostname'].lower() != (old or '').lower():
            want = plan.params['dns_hostname']
        if plan.cur is None and plan.acct_type == 'group' and not want and not plan.params.get('outbound_auth_only'):
            raise PlanError('dns_hostname is required to create a group managed service account (the DNS name '
                            'clients use for the service), unless outbound_auth_only=true')
        if (want or '').lower() != (old or '').lower():
            plan.write(row['attr'], old, want)
        return want


class _Principals(object):
    """A security descriptor of principals (one allow ACE each, the shape Windows writes), given by name."""
    @staticmethod
    def spec(row):
        return dict(type='dict', options=principal_action_spec(), no_log=False)

    @staticmethod
    def before(row, cur):
        return None     # set by apply (needs the labels)

    @staticmethod
    def apply(row, plan):
        action = plan.params.get(row['option']) or {}
        opt, attr = row['option'], row['attr']
        if plan.cur is None:
            sids = desired_sids(action, [], plan.resolved)
            if sids:
                plan.create[attr] = build_membership_sd(sids)
            return sorted((plan.lbl(s) for s in sids), key=str.lower)
        raw = plan.cur['raw'][attr]
        parsed = plan.cur['parsed'][attr]
        if isinstance(parsed, PlanError):
            raise parsed
        for w in parsed['warnings']:
            plan.warnings.append('%s of %s: %s' % (opt, plan.cur['dn'], w))
        cur_sids = granted_sids(parsed)
        plan.before[opt] = sorted((plan.lbl(s) for s in cur_sids), key=str.lower)
        if not action:
            return plan.before[opt]
        new_sids = desired_sids(action, cur_sids, plan.resolved)
        if [s.upper() for s in new_sids] != [s.upper() for s in cur_sids]:
            if not new_sids and all(a['managed'] for a in parsed['aces']):
                new_raw = None
            elif raw is None:
                new_raw = build_membership_sd(new_sids)
            else:
                new_raw = update_membership_sd(parsed, exact=new_sids)
            if new_raw != raw:
                plan.changes[attr] = single_value_change(raw, new_raw)
                if raw is not None:
                    plan.sd_old[attr] = raw
        return sorted((plan.lbl(s) for s in new_sids), key=str.lower)


KINDS = dict(sam=_Sam, string=String, dns=_Dns, list=List, enctypes=EncTypes, create_only=CreateOnly,
             principals=_Principals, uac=UacBit)


def principal_action_spec():
    # raw: a principal is a string, or {name, server} for another domain of the forest (as in microsoft.ad)
    spec = dict((k, dict(type='list', elements='raw')) for k in ('add', 'remove', 'set'))
    spec['lookup_failure_action'] = dict(type='str', choices=['fail', 'warn', 'ignore'], default='fail')
    return spec


def property_options():
    """The module options the rows define (the rest of the spec is the account's identity and state)."""
    return dict((row['option'], KINDS[row['kind']].spec(row)) for row in PROPERTIES)


def plan_rows(params, current, resolved, sid_labels):
    """Compare the task with the account by running every row's handler (the account's own attributes; the
    rest of the plan - where it is, its protection, its host - is ``gmsa_plan.plan``).

    ``params``: the module's options; ``current``: ``read_state`` output or None; ``resolved``: principal input →
    principal dict; ``sid_labels``: SID → label for the diff.
    Returns dict(create=attrs|None, modify=changes|None, sd_old=..., before=dict, after=dict, warnings=list).
    """
    acct_type = params.get('account_type') or 'group'
    validate_params(params, acct_type)
    if current is not None and current['account_type'] != acct_type:
        raise PlanError('%s is a %s managed service account, not account_type=%s; the type cannot change: create '
                        'a new account' % (current['dn'], current['account_type'], acct_type))
    p = _Plan(params, current, acct_type, resolved, lambda sid: sid_labels.get(sid, sid))
    p.after.update(name=params['name'], account_type=acct_type)
    if current is not None:
        p.before.update(name=current['name'], account_type=current['account_type'])
    for row in PROPERTIES:
        if not applies(row, acct_type):
            continue
        kind = KINDS[row['kind']]
        if current is not None and row['option'] not in p.before:
            p.before[row['option']] = kind.before(row, current)
        p.after[row['option']] = kind.apply(row, p)
    if p.uac & UAC_TRUSTED_FOR_DELEGATION and p.uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION:
        raise PlanError('%s would be trusted for both unconstrained delegation and protocol transition; set '
                        'trusted_for_delegation=false or trusted_to_auth_for_delegation=false'
                        % (current['dn'] if current else params['name']))
    if current is None:
        p.create['userAccountControl'] = p.uac
        if acct_type == 'delegated':
            p.create['msDS-DelegatedMSAState'] = 3  # standalone dMSA (not migrating an existing account)
    elif p.uac != current['uac']:
        p.changes['userAccountControl'] = single_value_change(current['uac'], p.uac)
    p.after['outbound_auth_only'] = not p.after.get('dns_hostname') and not p.after.get('spn')
    if current is not None:
        p.before['outbound_auth_only'] = current['outbound_auth_only']
    return dict(create=p.create, modify=(p.changes or None) if current is not None else None, sd_old=p.sd_old,
                before=p.before, after=p.after, warnings=p.warnings)


# --------------------------------------------------------------------------- attributes (pure)
ATTR_NAME_RE = re.compile(r'^[A-Za-z][A-Za-z0-9-]*$')
# What the module, the directory or the password machinery own: never through ``attributes``.
SYSTEM_ATTRIBUTES = frozenset(a.lower() for a in (
    'cn', 'name', 'objectClass', 'objectCategory', 'distinguishedName', 'nTSecurityDescriptor', 'objectGUID',
    'objectSid', 'instanceType', 'whenCreated', 'whenChanged', 'uSNCreated', 'uSNChanged', 'unicodePwd',
    'userPassword', 'pwdLastSet', 'msDS-ManagedPasswordId', 'msDS-ManagedPasswordPreviousId',
    'msDS-ManagedPasswordInterval', 'msDS-DelegatedMSAState',
    'msDS-HostServiceAccount', 'msDS-HostServiceAccountBL', 'memberOf', 'primaryGroupID', 'msDS-KeyVersionNumber'))


def attribute_actions(params):
    """``attributes`` ({add, remove, set}: {attribute: value or list}) -> {attribute: {action: [str]}} after
    refusing what the module manages itself. Pure."""
    given = params.get('attributes') or {}
    managed = dict((row['attr'].lower(), row['option']) for row in PROPERTIES)
    out = {}
    for action in ('add', 'remove', 'set'):
        for attr, values in (given.get(action) or {}).items():
            if not ATTR_NAME_RE.match(attr or ''):
                raise PlanError('attributes.%s: %r is not an LDAP attribute name' % (action, attr))
            if attr.lower() in managed:
                raise PlanError('attributes.%s: %s is managed by this module\'s own option %s; use that option'
                                % (action, attr, managed[attr.lower()]))
            # The managed password and everything about it: refused before any read, so that no task (even one
            # that plans no write) reads the password into its diff.
            if attr.lower() in SYSTEM_ATTRIBUTES or attr.lower().startswith('msds-managedpassword'):
                raise PlanError('attributes.%s: %s is kept by the directory or by this module (name, path, '
                                'identity, password machinery) and cannot be written through attributes'
                                % (action, attr))
            if values is None:
                values = []
            if not isinstance(values, list):
                values = [values]
            if any(isinstance(v, (dict, list)) for v in values):
                raise PlanError('attributes.%s.%s: values must be strings or numbers' % (action, attr))
            key = next((k for k in out if k.lower() == attr.lower()), attr)
            out.setdefault(key, {})[action] = [str(v).lower() if isinstance(v, bool) else str(v) for v in values]
    return out


def plan_attributes(actions, current, creating):
    """{attribute: {action: values}} and the account's current values ({attribute: [str]}) -> (changes for a
    modify, or attribute values for a create, before, after). ``set`` replaces the attribute's values (an empty
    list clears it), ``add`` and ``remove`` keep the others; values compare exactly. Pure."""
    changes, before, after = {}, {}, {}
    for attr, act in sorted(actions.items()):
        cur = list(current.get(attr) or [])
        new = list(act['set']) if 'set' in act else list(cur)
        for v in act.get('add') or []:
            if v not in new:
                new.append(v)
        new = [v for v in new if v not in (act.get('remove') or [])]
        before[attr], after[attr] = cur, new
        if creating:
            if new:
                changes[attr] = new
        else:
            ops = list_changes(attr, cur, new, ci=False)
            if ops:
                changes[attr] = ops
    return changes, before, after


def principal_inputs(params):
    """Every principal name the task mentions, for the one batched lookup."""
    out = []
    for opt in ('allowed_to_retrieve_password', 'delegates'):
        action = params.get(opt) or {}
        for lst in ('add', 'remove', 'set'):
            out.extend(action.get(lst) or [])
    if params.get('host'):
        out.append(params['host'])
    seen = []
    for v in out:
        if v not in seen:
            seen.append(v)
    return seen


def spns_to_check(params):
    out = []
    for lst in ('add', 'set'):
        out.extend((params.get('spn') or {}).get(lst) or [])
    return out


# --------------------------------------------------------------------------- one task's input (pure)
class Wanted(object):
    """One account's task after the input rules: its options, sAMAccountName, the SPNs it adds (their holders
    are looked up), the principal names it gives (resolved in the batched read) and its ``attributes`` actions."""

    def __init__(self, params, sam, spns, principal_names, attributes):
        self.params, self.sam, self.spns = params, sam, spns
        self.principal_names, self.attributes = principal_names, attributes

    @property
    def extra_attributes(self):
        """The attributes the ``attributes`` option names: read with the account."""
        return sorted(self.attributes)


def validate(p):
    """Everything knowable without the directory, before anything is read. Returns a ``Wanted``; raises
    PlanError naming the option and the value."""
    try:
        sam = wanted_sam(p)
        validate_name(p['name'])
        validate_upn(p.get('upn'))
        if p.get('path') is not None:
            p['path'] = check_dn('path', p['path'])
        check_range('password_interval_days', p.get('password_interval_days'), 1, INTERVAL_MAX)
        present = p['state'] == 'present'
        spns = spns_to_check(p) if present else []
        for s in spns:
            validate_spn(s)
        for opt in ('allowed_to_retrieve_password', 'delegates'):
            for lst in ('add', 'remove', 'set'):
                for v in (p.get(opt) or {}).get(lst) or []:
                    pr.classify(v)
        if present:
            validate_params(p, p.get('account_type') or 'group')
        attributes = attribute_actions(p)
    except (pr.PrincipalError, ValueError) as e:    # PlanError is a ValueError
        raise PlanError(str(e))
    if p['account_type'] != 'standalone' and p.get('host'):
        raise PlanError('host applies to account_type=standalone only')
    return Wanted(p, sam, spns, principal_inputs(p) if present else [], attributes)
