# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gMSA / sMSA / dMSA accounts: one table from option to attribute, and a pure planner.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

``PROPERTIES`` is the one place where an option becomes an LDAP attribute (``spn`` → ``servicePrincipalName``).
``read_state`` turns a search entry into the account's state in people's terms; ``plan`` compares it with what
the task asks and returns the LDAP changes plus a diff. Both are pure: the module does the I/O at the ends.

Every change to an attribute that already has a value is written as delete-old-value + add-new-value in one
modify request, so a concurrent writer makes the request fail (and the module re-reads and retries) instead of
being silently overwritten.
"""
from __future__ import annotations

import re

from ansible_collections.gmsa.farm.plugins.module_utils._principals import SAM_INVALID
from ansible_collections.gmsa.farm.plugins.module_utils._values import first, parent_dn, raw_first
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    granted_sids, parse_membership_sd, update_membership_sd, build_membership_sd,
)

try:
    from ldap3 import MODIFY_ADD, MODIFY_DELETE
except ImportError:  # pragma: no cover
    MODIFY_ADD, MODIFY_DELETE = 'MODIFY_ADD', 'MODIFY_DELETE'

CLASS_BY_TYPE = {
    'group': 'msDS-GroupManagedServiceAccount',
    'standalone': 'msDS-ManagedServiceAccount',
    'delegated': 'msDS-DelegatedManagedServiceAccount',
}
TYPE_BY_CLASS = dict((v.lower(), k) for k, v in CLASS_BY_TYPE.items())

UAC_ACCOUNTDISABLE = 0x2
UAC_WORKSTATION_TRUST_ACCOUNT = 0x1000
UAC_TRUSTED_FOR_DELEGATION = 0x80000
UAC_NOT_DELEGATED = 0x100000
UAC_TRUSTED_TO_AUTH_FOR_DELEGATION = 0x1000000

ENCTYPES = [('des', 0x3), ('rc4', 0x4), ('aes128', 0x8), ('aes256', 0x10)]
DEFAULT_ENCTYPES = ['aes128', 'aes256']
DEFAULT_INTERVAL = 30

# option name → attribute, how it is compared and changed. Adding an option is adding one row.
PROPERTIES = [
    dict(option='sam_account_name', attr='sAMAccountName', kind='string_ci'),
    dict(option='dns_hostname', attr='dNSHostName', kind='string_ci'),
    dict(option='description', attr='description', kind='string'),
    dict(option='display_name', attr='displayName', kind='string'),
    dict(option='spn', attr='servicePrincipalName', kind='list_ci'),
    dict(option='allowed_to_delegate_to', attr='msDS-AllowedToDelegateTo', kind='list_ci'),
    dict(option='kerberos_encryption_types', attr='msDS-SupportedEncryptionTypes', kind='enctypes'),
    dict(option='password_interval_days', attr='msDS-ManagedPasswordInterval', kind='create_only'),
    dict(option='allowed_to_retrieve_password', attr='msDS-GroupMSAMembership', kind='principals_sd'),
    dict(option='delegates', attr='msDS-AllowedToActOnBehalfOfOtherIdentity', kind='principals_sd'),
    dict(option='enabled', attr='userAccountControl', kind='uac', bit=UAC_ACCOUNTDISABLE, inverse=True),
    dict(option='trusted_for_delegation', attr='userAccountControl', kind='uac', bit=UAC_TRUSTED_FOR_DELEGATION),
    dict(option='trusted_to_auth_for_delegation', attr='userAccountControl', kind='uac',
         bit=UAC_TRUSTED_TO_AUTH_FOR_DELEGATION),
]
PROPERTY = dict((p['option'], p) for p in PROPERTIES)

ACCOUNT_ATTRIBUTES = sorted(set(
    [p['attr'] for p in PROPERTIES] +
    ['cn', 'objectClass', 'objectSid', 'objectGUID', 'distinguishedName', 'pwdLastSet', 'memberOf',
     'msDS-HostServiceAccountBL', 'primaryGroupID']))

SPN_RE = re.compile(r'^[^/\s]+/[^/\s]+(/[^/\s]+)?$')
DNS_RE = re.compile(r'^(?=.{1,253}$)([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}'
                    r'[A-Za-z0-9])?)*\.?$')


class PlanError(ValueError):
    """The task asks for something that cannot or must not be done; nothing is written."""


# --------------------------------------------------------------------------- validation (pure)

def normalise_sam(name):
    """``web`` / ``web$`` → ``web$``; refuses what Windows refuses."""
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
    return base + '$'


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


# --------------------------------------------------------------------------- current state (pure)

def read_state(entry):
    """A search entry of an account → dict of (people's terms) state + the raw values the planner needs."""
    a = entry['attributes']
    classes = [c.lower() for c in (a.get('objectClass') or [])]
    acct_type = None
    for c in classes:
        if c in TYPE_BY_CLASS:
            acct_type = TYPE_BY_CLASS[c]
    uac = int(first(a, 'userAccountControl') or 0)
    enc = first(a, 'msDS-SupportedEncryptionTypes')
    interval = first(a, 'msDS-ManagedPasswordInterval')
    membership = raw_first(entry, 'msDS-GroupMSAMembership')
    rbcd = raw_first(entry, 'msDS-AllowedToActOnBehalfOfOtherIdentity')
    spns = list(a.get('servicePrincipalName') or [])
    dns = first(a, 'dNSHostName')
    return dict(
        dn=entry['dn'],
        account_type=acct_type,
        name=first(a, 'cn'),
        path=parent_dn(entry['dn']),
        sam_account_name=first(a, 'sAMAccountName'),
        dns_hostname=dns,
        description=first(a, 'description'),
        display_name=first(a, 'displayName'),
        spn=spns,
        allowed_to_delegate_to=list(a.get('msDS-AllowedToDelegateTo') or []),
        kerberos_encryption_types=enctype_names(enc),
        password_interval_days=int(interval) if interval is not None else None,
        uac=uac,
        enc_raw=int(enc) if enc is not None else None,
        membership_raw=bytes(membership) if membership is not None else None,
        rbcd_raw=bytes(rbcd) if rbcd is not None else None,
        enabled=not uac & UAC_ACCOUNTDISABLE,
        trusted_for_delegation=bool(uac & UAC_TRUSTED_FOR_DELEGATION),
        trusted_to_auth_for_delegation=bool(uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION),
        outbound_auth_only=not dns and not spns,
    )


# --------------------------------------------------------------------------- list actions (pure)

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


def plan(params, current, resolved, sid_labels):
    """Compare the task with the account.

    ``params``: the module's options (already validated for shape); ``current``: ``read_state`` output or None;
    ``resolved``: principal input → principal dict; ``sid_labels``: SID → label for the diff.
    Returns dict(create=attrs|None, modify=changes|None, before=dict, after=dict, warnings=list).
    """
    warnings = []
    sam = normalise_sam(params.get('sam_account_name') or params['name'])
    acct_type = params.get('account_type') or 'group'
    outbound = params.get('outbound_auth_only')

    def lbl(sid):
        return sid_labels.get(sid, sid)

    spn_action = params.get('spn') or {}
    for lst in ('add', 'set'):
        for s in spn_action.get(lst) or []:
            validate_spn(s)
    for lst in ('add', 'set'):
        for s in (params.get('allowed_to_delegate_to') or {}).get(lst) or []:
            validate_spn(s)
    if params.get('dns_hostname'):
        validate_dns(params['dns_hostname'])
    if outbound:
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

    if current is None:
        return _plan_create(params, sam, acct_type, resolved, lbl, warnings)
    return _plan_update(params, current, sam, acct_type, resolved, lbl, warnings)


def _enc_after(params, current_names, current_raw):
    action = params.get('kerberos_encryption_types')
    if not action:
        return current_names, current_raw
    names = apply_list_action(current_names or [], action, ci=False)
    order = [n for n, dummy in ENCTYPES]
    names = sorted(set(names), key=order.index)
    other = (current_raw or 0) & ~sum(b for dummy, b in ENCTYPES)
    return names, enctype_mask(names, other)


def _plan_create(params, sam, acct_type, resolved, lbl, warnings):
    if acct_type == 'group' and not params.get('dns_hostname') and not params.get('outbound_auth_only'):
        raise PlanError('dns_hostname is required to create a group managed service account (the DNS name '
                        'clients use for the service), unless outbound_auth_only=true')
    attrs = {'sAMAccountName': sam}
    uac = UAC_WORKSTATION_TRUST_ACCOUNT
    if params.get('enabled') is False:
        uac |= UAC_ACCOUNTDISABLE
    if params.get('trusted_for_delegation'):
        uac |= UAC_TRUSTED_FOR_DELEGATION
    if params.get('trusted_to_auth_for_delegation'):
        uac |= UAC_TRUSTED_TO_AUTH_FOR_DELEGATION
    attrs['userAccountControl'] = uac
    after = dict(name=params['name'], sam_account_name=sam, account_type=acct_type)
    if params.get('dns_hostname'):
        attrs['dNSHostName'] = params['dns_hostname']
    after['dns_hostname'] = params.get('dns_hostname')
    if acct_type in ('group', 'delegated'):
        interval = params.get('password_interval_days') or DEFAULT_INTERVAL
        attrs['msDS-ManagedPasswordInterval'] = interval
        after['password_interval_days'] = interval
    if acct_type == 'delegated':
        attrs['msDS-DelegatedMSAState'] = 3  # standalone dMSA (not migrating an existing account)
    enc_action = params.get('kerberos_encryption_types')
    names = DEFAULT_ENCTYPES if not enc_action else apply_list_action(DEFAULT_ENCTYPES, enc_action, ci=False)
    names, mask = _enc_after(dict(kerberos_encryption_types=dict(set=names)), [], 0)
    attrs['msDS-SupportedEncryptionTypes'] = mask
    after['kerberos_encryption_types'] = names
    spns = apply_list_action([], params.get('spn'))
    if spns:
        attrs['servicePrincipalName'] = spns
    after['spn'] = sorted(spns, key=str.lower)
    a2d = apply_list_action([], params.get('allowed_to_delegate_to'))
    if a2d:
        attrs['msDS-AllowedToDelegateTo'] = a2d
    after['allowed_to_delegate_to'] = sorted(a2d, key=str.lower)
    for opt, attr in (('allowed_to_retrieve_password', 'msDS-GroupMSAMembership'),
                      ('delegates', 'msDS-AllowedToActOnBehalfOfOtherIdentity')):
        if acct_type == 'standalone' and opt == 'allowed_to_retrieve_password':
            continue
        sids = desired_sids(params.get(opt) or {}, [], resolved)
        if sids:
            attrs[attr] = build_membership_sd(sids)
        after[opt] = sorted((lbl(s) for s in sids), key=str.lower)
    for opt in ('description', 'display_name'):
        if params.get(opt) is not None:
            attrs[PROPERTY[opt]['attr']] = params[opt]
        after[opt] = params.get(opt)
    after.update(enabled=params.get('enabled') is not False,
                 trusted_for_delegation=bool(params.get('trusted_for_delegation')),
                 trusted_to_auth_for_delegation=bool(params.get('trusted_to_auth_for_delegation')),
                 outbound_auth_only=not params.get('dns_hostname') and not spns)
    return dict(create=attrs, modify=None, sd_old={}, before={}, after=after, warnings=warnings)


def _plan_update(params, cur, sam, acct_type, resolved, lbl, warnings):
    if cur['account_type'] != acct_type:
        raise PlanError('%s is a %s managed service account, not account_type=%s; the type cannot change: create '
                        'a new account' % (cur['dn'], cur['account_type'], acct_type))
    changes = {}
    sd_old = {}     # security-descriptor attributes changed by value: the value read (for the Windows fallback)
    before = dict(name=cur['name'], sam_account_name=cur['sam_account_name'], account_type=cur['account_type'])
    after = dict(before)
    after['sam_account_name'] = cur['sam_account_name']

    want_interval = params.get('password_interval_days')
    before['password_interval_days'] = after['password_interval_days'] = cur['password_interval_days']
    if want_interval is not None and cur['password_interval_days'] is not None and \
            want_interval != cur['password_interval_days']:
        raise PlanError(
            'password_interval_days is %d on %s and can only be set when the account is created (the directory '
            'refuses any later change). To use %d days, create a new account with the new interval, move the '
            'services to it host by host (gmsa.farm.windows_service_identity), then remove the old one.'
            % (cur['password_interval_days'], cur['dn'], want_interval))

    if sam.lower() != (cur['sam_account_name'] or '').lower():
        changes['sAMAccountName'] = single_value_change(cur['sam_account_name'], sam)
        after['sam_account_name'] = sam

    outbound = params.get('outbound_auth_only')
    # dNSHostName
    want_dns = cur['dns_hostname']
    if outbound:
        want_dns = None
    elif params.get('dns_hostname') is not None and params['dns_hostname'].lower() != (want_dns or '').lower():
        want_dns = params['dns_hostname']
    before['dns_hostname'] = cur['dns_hostname']
    after['dns_hostname'] = want_dns
    if (want_dns or '').lower() != (cur['dns_hostname'] or '').lower():
        changes['dNSHostName'] = single_value_change(cur['dns_hostname'], want_dns)

    # SPNs and constrained delegation targets
    for opt in ('spn', 'allowed_to_delegate_to'):
        attr = PROPERTY[opt]['attr']
        new = apply_list_action(cur[opt], params.get(opt))
        if opt == 'spn' and outbound:
            new = []
        before[opt] = sorted(cur[opt], key=str.lower)
        after[opt] = sorted(new, key=str.lower)
        ops = list_changes(attr, cur[opt], new)
        if ops:
            changes[attr] = ops

    # encryption types
    names, mask = _enc_after(params, cur['kerberos_encryption_types'], cur['enc_raw'])
    before['kerberos_encryption_types'] = cur['kerberos_encryption_types']
    after['kerberos_encryption_types'] = names
    if params.get('kerberos_encryption_types') and mask != cur['enc_raw']:
        changes['msDS-SupportedEncryptionTypes'] = single_value_change(cur['enc_raw'], mask)

    # security descriptors
    for opt, raw_key in (('allowed_to_retrieve_password', 'membership_raw'), ('delegates', 'rbcd_raw')):
        attr = PROPERTY[opt]['attr']
        parsed = parse_membership_sd(cur[raw_key])
        for w in parsed['warnings']:
            warnings.append('%s of %s: %s' % (opt, cur['dn'], w))
        cur_sids = granted_sids(parsed)
        before[opt] = sorted((lbl(s) for s in cur_sids), key=str.lower)
        action = params.get(opt)
        if not action or (acct_type == 'standalone' and opt == 'allowed_to_retrieve_password'):
            after[opt] = before[opt]
            continue
        new_sids = desired_sids(action, cur_sids, resolved)
        after[opt] = sorted((lbl(s) for s in new_sids), key=str.lower)
        if [s.upper() for s in new_sids] != [s.upper() for s in cur_sids]:
            if not new_sids and all(a['managed'] for a in parsed['aces']):
                new_raw = None
            elif cur[raw_key] is None:
                new_raw = build_membership_sd(new_sids)
            else:
                new_raw = update_membership_sd(parsed, exact=new_sids)
            if new_raw != cur[raw_key]:
                changes[attr] = single_value_change(cur[raw_key], new_raw)
                if cur[raw_key] is not None:
                    sd_old[attr] = cur[raw_key]

    # userAccountControl bits
    uac = cur['uac']
    for opt in ('enabled', 'trusted_for_delegation', 'trusted_to_auth_for_delegation'):
        prop = PROPERTY[opt]
        have = bool(uac & prop['bit']) != bool(prop.get('inverse'))
        before[opt] = have
        want = params.get(opt)
        if want is None or want == have:
            after[opt] = have
            continue
        after[opt] = want
        if want != bool(prop.get('inverse')):
            uac |= prop['bit']
        else:
            uac &= ~prop['bit']
    if uac & UAC_TRUSTED_FOR_DELEGATION and uac & UAC_TRUSTED_TO_AUTH_FOR_DELEGATION:
        raise PlanError('%s would be trusted for both unconstrained delegation and protocol transition; set '
                        'trusted_for_delegation=false or trusted_to_auth_for_delegation=false'
                        % cur['dn'])
    if uac != cur['uac']:
        changes['userAccountControl'] = single_value_change(cur['uac'], uac)

    for opt in ('description', 'display_name'):
        before[opt] = cur[opt]
        want = params.get(opt)
        if want is None:
            after[opt] = cur[opt]
            continue
        want = want or None  # '' clears
        after[opt] = want
        if want != cur[opt]:
            changes[PROPERTY[opt]['attr']] = single_value_change(cur[opt], want)

    before['outbound_auth_only'] = cur['outbound_auth_only']
    after['outbound_auth_only'] = not after['dns_hostname'] and not after['spn']
    return dict(create=None, modify=changes or None, sd_old=sd_old, before=before, after=after, warnings=warnings)


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
