# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading managed service accounts for reports: who can retrieve each password, privileged reach.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

The number of searches does not grow with the number of accounts: one paged search for the accounts, batched
SID look-ups (200 SIDs a search), one search per distinct group that is allowed to retrieve a password, and one
per privileged group.
"""
from __future__ import annotations

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils import _gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._kds import from_filetime, iso
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import escape
from ansible_collections.gmsa.farm.plugins.module_utils._values import first, raw_first
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    granted_sids, guid_to_str, ldap_filter_bytes, parse_membership_sd, sid_to_bytes, sid_to_str,
)

IN_CHAIN = '1.2.840.113556.1.4.1941'
# Every managed service account class (gMSA, sMSA, dMSA): the one list is _gmsa.CLASS_BY_TYPE.
ACCOUNT_CLASSES = '(|%s)' % ''.join('(objectClass=%s)' % c for c in sorted(g.CLASS_BY_TYPE.values()))

# Privileged groups (seed 002: a gMSA in a privileged group is a risk): domain RIDs and builtin SIDs.
PRIVILEGED_DOMAIN_RIDS = {512: 'Domain Admins', 518: 'Schema Admins', 519: 'Enterprise Admins',
                          520: 'Group Policy Creator Owners'}
PRIVILEGED_BUILTIN_SIDS = {'S-1-5-32-544': 'Administrators', 'S-1-5-32-548': 'Account Operators',
                           'S-1-5-32-549': 'Server Operators', 'S-1-5-32-550': 'Print Operators',
                           'S-1-5-32-551': 'Backup Operators'}
PRIVILEGED_BY_NAME = ['DnsAdmins']


def account_filter(names=None, ldap_filter=None):
    parts = [ACCOUNT_CLASSES]
    if names:
        alts = []
        for n in names:
            base = n[:-1] if n.endswith('$') else n
            alts.append('(cn=%s)(sAMAccountName=%s$)' % (escape(base), escape(base)))
        parts.append('(|%s)' % ''.join(alts))
    if ldap_filter:
        f = ldap_filter.strip()
        parts.append(f if f.startswith('(') else '(%s)' % f)
    return '(&%s)' % ''.join(parts)


def computers_in_group(directory, group_dn):
    flt = '(&(objectCategory=computer)(memberOf:%s:=%s))' % (IN_CHAIN, escape(group_dn))
    return [pr.describe(e) for e in directory.search(directory.default_nc, flt, pr.PRINCIPAL_ATTRIBUTES, paged=True)]


def privileged_filter(domain_sid):
    parts = ['(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes('%s-%d' % (domain_sid, rid)))
             for rid in PRIVILEGED_DOMAIN_RIDS]
    parts += ['(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes(s)) for s in PRIVILEGED_BUILTIN_SIDS]
    parts += ['(&(objectClass=group)(sAMAccountName=%s))' % escape(n) for n in PRIVILEGED_BY_NAME]
    return '(|%s)' % ''.join(parts)


def privileged_reach(directory, domain_sid, group_dns):
    """For each group DN: the privileged groups it is, or is nested in.

    Asked from the groups' side (one search per distinct group, each evaluated over the ~10 privileged groups
    only), not from the accounts' side, so the cost follows the number of distinct groups, not of accounts.
    """
    flt = privileged_filter(domain_sid)
    privileged = dict((p['dn'].lower(), p['name']) for p in
                      (pr.describe(e) for e in directory.search(directory.default_nc, flt, pr.PRINCIPAL_ATTRIBUTES)))
    reach = {}
    for dn in group_dns:
        names = set()
        if dn.lower() in privileged:
            names.add(privileged[dn.lower()])
        for e in directory.search(directory.default_nc, '(&%s(member:%s:=%s))' % (flt, IN_CHAIN, escape(dn)),
                                  ['sAMAccountName']):
            names.add(privileged.get(e['dn'].lower()) or pr.describe(e)['name'])
        reach[dn.lower()] = names
    return reach


def build_report(directory, entries, base, now=None):
    """Search entries of accounts → list of per-account reports (see gmsa_info's RETURN)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    states = []
    all_sids = []
    for e in entries:
        st = g.read_state(e)
        st['_entry'] = e
        st['_allowed'] = granted_sids(parse_membership_sd(st['raw']['msDS-GroupMSAMembership']))
        st['_delegates'] = granted_sids(parse_membership_sd(st['raw']['msDS-AllowedToActOnBehalfOfOtherIdentity']))
        all_sids.extend(st['_allowed'])
        all_sids.extend(st['_delegates'])
        states.append(st)
    if not states:
        return []
    by_sid = pr.principals_by_sid(directory, all_sids)

    group_members = {}
    for sid in set(s for st in states for s in st['_allowed']):
        p = by_sid.get(sid)
        if p and p['type'] == 'group':
            group_members[sid] = computers_in_group(directory, p['dn'])

    account_sid = sid_to_str(raw_first(states[0]['_entry'], 'objectSid'))
    domain_sid = account_sid.rsplit('-', 1)[0] if account_sid else None
    # Groups an account is in: its direct groups and its primary group (normally Domain Computers, which is
    # not listed in memberOf but can itself be nested into a privileged group).
    primary = {}
    for rid in set(int(first(st['_entry']['attributes'], 'primaryGroupID') or 515) for st in states):
        found = directory.search(directory.default_nc, '(objectSid=%s)' % ldap_filter_bytes(
            sid_to_bytes('%s-%d' % (domain_sid, rid))), ['1.1']) if domain_sid else []
        if found:
            primary[rid] = found[0]['dn']
    direct = set()
    for st in states:
        direct.update(st['_entry']['attributes'].get('memberOf') or [])
    reach = privileged_reach(directory, domain_sid, sorted(direct | set(primary.values()))) if domain_sid else {}

    out = []
    for st in states:
        e = st['_entry']
        a = e['attributes']
        allowed = []
        unresolved = []
        retrievers = {}
        for sid in st['_allowed']:
            p = by_sid.get(sid)
            if p is None:
                unresolved.append(sid)
                continue
            allowed.append(dict(name=p['name'], sid=sid, type=p['type'], dn=p['dn']))
            if p['type'] == 'computer':
                retrievers[p['name'].lower()] = p['name']
            for c in group_members.get(sid, []):
                retrievers[c['name'].lower()] = c['name']
        delegates = [by_sid[s]['name'] if s in by_sid else s for s in st['_delegates']]
        pwd = first(a, 'pwdLastSet')
        pwd_set = from_filetime(pwd) if pwd not in (None, '0', 0) else None
        interval = st['password_interval_days']
        next_rotation = iso(pwd_set + datetime.timedelta(days=interval)) if pwd_set and interval else None
        mine = list(a.get('memberOf') or [])
        rid = int(first(a, 'primaryGroupID') or 515)
        if rid in primary:
            mine.append(primary[rid])
        priv_groups = sorted(set(n for dn in mine for n in reach.get(dn.lower(), ())))
        out.append(dict(
            distinguished_name=e['dn'],
            name=st['name'],
            sam_account_name=st['sam_account_name'],
            account_type=st['account_type'],
            object_guid=guid_to_str(raw_first(e, 'objectGUID')),
            sid=sid_to_str(raw_first(e, 'objectSid')),
            dns_hostname=st['dns_hostname'],
            spn=sorted(st['spn'], key=str.lower),
            kerberos_encryption_types=st['kerberos_encryption_types'],
            password_interval_days=interval,
            enabled=st['enabled'],
            outbound_auth_only=st['outbound_auth_only'],
            description=st['description'],
            allowed_principals=sorted(allowed, key=lambda x: x['name'].lower()),
            unresolved_sids=unresolved,
            effective_retrievers=sorted(retrievers.values(), key=str.lower),
            delegation=dict(trusted_for_delegation=st['trusted_for_delegation'],
                            trusted_to_auth_for_delegation=st['trusted_to_auth_for_delegation'],
                            allowed_to_delegate_to=sorted(st['allowed_to_delegate_to'], key=str.lower),
                            delegates=sorted(delegates, key=str.lower)),
            member_of=sorted(a.get('memberOf') or [], key=str.lower),
            privileged=bool(priv_groups),
            privileged_groups=priv_groups,
            host=(a.get('msDS-HostServiceAccountBL') or [None])[0],
            password_last_set=iso(pwd_set),
            next_rotation=next_rotation,
        ))
    return out
