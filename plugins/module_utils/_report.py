# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading managed service accounts for reports: who can retrieve each password, privileged reach.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

The number of searches does not grow with the number of accounts: one paged search for the accounts, batched
SID look-ups (200 SIDs a search), two searches per distinct group that is allowed to retrieve a password (the
groups nested in it, then every principal in it - through memberOf in chain or through a primary group, which
the in-chain rule does not follow), and one per group an account is in (privileged reach).

The report must never under-report: a grant it cannot enumerate (a well-known SID such as Authenticated Users,
or a principal of another domain, granted directly or as a member of an allowed group) makes the account's
retrievers *unbounded*, with the reason; a member the auditor could not read makes them unbounded too, the
reason starting with "Incomplete:" and naming the object. Every entry an access check counts is counted
(_security.ace_grants_read); a SID kept in another principal's sIDHistory resolves to that principal.
"""
from __future__ import annotations

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._kds import from_filetime, iso
from ansible_collections.gmsa.farm.plugins.module_utils._domain import forest_domains, forest_root_sid
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    escape, first, ldap_filter_bytes, owner_dacl_control, raw_first,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    PRINCIPAL_SELF, conditional_sids, granted_sids, guid_to_str, parse_membership_sd,
    sid_to_bytes, sid_to_str,
)

IN_CHAIN = '1.2.840.113556.1.4.1941'
# Every managed service account class (gMSA, sMSA, dMSA), as the gmsa module's account types name them.
ACCOUNT_CLASSES = '(|%s)' % ''.join('(objectClass=%s)' % c for c in sorted(g.CLASS_BY_TYPE.values()))

# Privileged groups (Microsoft's "Secure group managed service accounts": a gMSA in a privileged group is a risk): the groups AD protects with AdminSDHolder
# and the other tier-0 groups (MS-ADTS 6.1.1.6.17; "Appendix C: Protected Accounts and Groups in AD").
# Domain RIDs of the account's own domain; forest-wide groups exist only in the forest root domain.
PRIVILEGED_DOMAIN_RIDS = {512: 'Domain Admins', 516: 'Domain Controllers', 520: 'Group Policy Creator Owners',
                          521: 'Read-only Domain Controllers', 526: 'Key Admins'}
PRIVILEGED_ROOT_RIDS = {498: 'Enterprise Read-only Domain Controllers', 518: 'Schema Admins',
                        519: 'Enterprise Admins', 527: 'Enterprise Key Admins'}
PRIVILEGED_BUILTIN_SIDS = {'S-1-5-32-544': 'Administrators', 'S-1-5-32-548': 'Account Operators',
                           'S-1-5-32-549': 'Server Operators', 'S-1-5-32-550': 'Print Operators',
                           'S-1-5-32-551': 'Backup Operators', 'S-1-5-32-552': 'Replicator'}
PRIVILEGED_BY_NAME = ['DnsAdmins']

# Well-known SIDs no directory search can enumerate: a grant to one is unbounded.
WELL_KNOWN_UNBOUNDED = {
    'S-1-1-0': 'Everyone', 'S-1-5-11': 'Authenticated Users', 'S-1-5-15': 'This Organization',
    'S-1-5-1000': 'Other Organization', 'S-1-5-2': 'Network', 'S-1-5-4': 'Interactive', 'S-1-5-6': 'Service',
    'S-1-5-32-545': 'Users', 'S-1-5-32-546': 'Guests', 'S-1-5-7': 'Anonymous Logon', 'S-1-5-9':
    'Enterprise Domain Controllers', 'S-1-5-18': 'Local System',
}


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


def rid_of(sid):
    return int(sid.rsplit('-', 1)[1])


def principals_in_group(directory, group, domain_sid):
    """Every member the DC counts in ``group`` (a described principal): members in chain, of any class, and
    members through a primary group - of the group itself or of any group nested in it (the in-chain rule does
    not follow primaryGroupID). Two searches.

    Returns (members, unread): ``members`` are described principals, foreign security principals included (a
    well-known SID such as Authenticated Users, or a principal of a trusted domain, is one); ``unread`` are the
    member DNs the groups list that neither search returned - objects of another domain of the forest (no
    foreign security principal stands for those) or objects this account may not read."""
    groups = directory.search(directory.default_nc, '(|(distinguishedName=%s)(&(objectClass=group)(memberOf:%s:=%s)))'
                              % (escape(group['dn']), IN_CHAIN, escape(group['dn'])), ['objectSid', 'member'],
                              paged=True)
    rids = set()
    listed = set()
    group_dns = set()
    for e in groups:
        group_dns.add(e['dn'].lower())
        listed.update(m.lower() for m in (e['attributes'].get('member') or []))
        g_sid = sid_to_str(raw_first(e, 'objectSid'))
        if g_sid and domain_sid and g_sid.startswith(domain_sid + '-'):
            rids.add(rid_of(g_sid))
    either = '(memberOf:%s:=%s)%s' % (IN_CHAIN, escape(group['dn']),
                                      ''.join('(primaryGroupID=%d)' % r for r in sorted(rids)))
    found = directory.search(directory.default_nc, '(|%s)' % either, pr.PRINCIPAL_ATTRIBUTES, paged=True)
    members = [pr.describe(e) for e in found]
    seen = group_dns | set(m['dn'].lower() for m in members)
    return members, sorted(dn for dn in listed if dn not in seen)


def member_reason(member, group, domain_sid):
    """Why a member of an allowed group makes the retrievers unbounded (a foreign security principal: a
    well-known SID or a principal of another domain), or None."""
    if member['type'] != 'foreign':
        return None
    sid = member['sid'] or member['dn'].split(',')[0].split('=', 1)[-1]
    if sid in WELL_KNOWN_UNBOUNDED:
        return '%s (%s) is a member of %s: every principal it stands for can retrieve this password' % (
            WELL_KNOWN_UNBOUNDED[sid], sid, group['name'])
    return '%s, a principal of another domain or a well-known SID, is a member of %s: its members are not ' \
           'enumerated here' % (sid, group['name'])


def _domain_of(dn):
    return ','.join(p.strip() for p in dn.lower().split(',') if p.strip().startswith('dc='))


def unread_reason(dn, group, default_nc):
    if _domain_of(dn) != _domain_of(default_nc):     # a child domain's DN also ends with its parent's
        return '%s, an object of another domain, is a member of %s: its members are not enumerated here' % (
            dn, group['name'])
    return 'Incomplete: %s, a member of %s, could not be read by this account' % (dn, group['name'])


# --------------------------------------------------------------------------- who can change who retrieves
# Whoever can write msDS-GroupMSAMembership, or the members of a group it grants, is one write away from the
# password. From the object's own descriptor (MS-ADTS 5.1.3.3: simple and object-specific access; the owner holds
# READ_CONTROL and WRITE_DAC implicitly): the owner; allow entries (not inherit-only) with WRITE_DAC, WRITE_OWNER,
# GENERIC_ALL or GENERIC_WRITE; WRITE_PROPERTY with no object type or the attribute's (or its property set's)
# schemaIDGUID; for a group also the validated write "add/remove self as member" (it adds the writer only).
# Deny entries are not subtracted: the list may name a principal a deny stops, never miss one.
WRITE_DAC, WRITE_OWNER, GENERIC_ALL, GENERIC_WRITE = 0x00040000, 0x00080000, 0x10000000, 0x40000000
DS_WRITE_PROP, DS_SELF = 0x20, 0x08
ATTR_GMSA_MEMBERSHIP = '888eedd6-ce04-df40-b462-b8a50e41ba38'
ATTR_MEMBER = 'bf9679c0-0de6-11d0-a285-00aa003049e2'
PROPERTY_SET_MEMBERSHIP = 'bc0ac240-79a9-11d0-9020-00c04fc2d4cf'
_WHOLE = ((WRITE_DAC, 'change permissions'), (WRITE_OWNER, 'take ownership'), (GENERIC_ALL, 'full control'),
          (GENERIC_WRITE, 'write all properties'))


def _trustee_rights(sd_bytes, rights):
    """Pure: the owner and every allow entry of a descriptor that is not inherit-only, each entry's rights named by
    ``rights(mask, is_object, object_type) -> [how, ...]`` (object_type: the object entry's GUID in lower case, or
    None) -> [(sid, [how, ...])], owner first, each SID once, in descriptor order; SIDs without a right left out."""
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    from winacl.dtyp.ace import ACE_OBJECT_PRESENCE
    if not sd_bytes:
        return []
    sd = SECURITY_DESCRIPTOR.from_bytes(bytes(sd_bytes))
    out, order = {}, []

    def add(sid, hows):
        sid = sid.upper()
        for how in hows:
            if sid not in out:
                out[sid] = []
                order.append(sid)
            if how not in out[sid]:
                out[sid].append(how)
    if sd.Owner is not None:
        add(sd.Owner.to_sddl(), ['owner (may change permissions)'])
    for ace in (sd.Dacl.aces if sd.Dacl else []):
        name = ace.AceType.name if hasattr(ace.AceType, 'name') else str(ace.AceType)
        if 'ALLOWED' not in name or int(ace.AceFlags or 0) & 0x08 or getattr(ace, 'Sid', None) is None:
            continue
        is_object = 'OBJECT' in name
        obj = None
        if is_object and int(ace.Flags or 0) & ACE_OBJECT_PRESENCE.ACE_OBJECT_TYPE_PRESENT:
            obj = str(ace.ObjectType).lower()
        add(ace.Sid.to_sddl(), rights(int(ace.Mask), is_object, obj))
    return [(s, out[s]) for s in order]


def changers(sd_bytes, targets, self_write=False):
    """Pure: the trustees of a (owner + DACL) descriptor who can change the attribute whose GUIDs are ``targets``
    -> [(sid, [how, ...])], owner first. ``self_write``: the validated write on it counts too (group members)."""
    targets = set(t.lower() for t in targets)

    def rights(mask, is_object, obj):
        hows = []
        if is_object:
            if mask & DS_WRITE_PROP and (obj is None or obj in targets):
                hows.append('write property' if obj is None else 'write this attribute')
            if self_write and mask & DS_SELF and (obj is None or obj in targets):
                hows.append('add/remove self as member')
            return hows
        hows.extend(how for bit, how in _WHOLE if mask & bit)
        if mask & DS_WRITE_PROP:
            hows.append('write property')
        if self_write and mask & DS_SELF:
            hows.append('add/remove self as member')
        return hows
    return _trustee_rights(sd_bytes, rights)


# --------------------------------------------------------------------------- dMSA: successors and creators
# From Microsoft's "Delegated Managed Service Accounts overview" (Windows Server 2025) and the published
# "BadSuccessor" research (Akamai, 2025); Samba 4.22 has no dMSA class, so none of this was measured:
# * a dMSA that supersedes an account (msDS-ManagedAccountPrecededByLink, msDS-DelegatedMSAState 1 = migrating or
#   2 = migrated) gets that account's groups in its tickets, so its privileged reach is the union of both;
# * whoever may create a dMSA in an OU (CreateChild for the class or for all classes, or full control, change
#   permissions or take ownership of the OU, which lead to it) could point one at any account and inherit its
#   privileges; Microsoft's August 2025 update (CVE-2025-53779) narrowed what the KDC accepts, yet who may create
#   dMSAs stays the question to ask.
CLASS_DMSA_GUID = '0feb936f-47b3-49f2-9386-1dedc2c23765'
DMSA_SUCCESSION_STATES = (1, 2)
CREATE_CHILD = 0x01
DMSA_CREATOR_OK_RIDS = (512, 519)                   # Domain Admins, Enterprise Admins
DMSA_CREATOR_OK_SIDS = ('S-1-5-32-544', 'S-1-5-18')   # Administrators, SYSTEM


def superseded(entry):
    """DNs of the accounts a dMSA supersedes, when its state makes it inherit their access (else [])."""
    a = entry['attributes']
    classes = [c.lower() for c in a.get('objectClass') or []]
    if 'msds-delegatedmanagedserviceaccount' not in classes:
        return []
    try:
        state = int(first(a, 'msDS-DelegatedMSAState'))
    except (TypeError, ValueError):
        return []
    if state not in DMSA_SUCCESSION_STATES:
        return []
    return list(a.get('msDS-ManagedAccountPrecededByLink') or [])


def dmsa_creator_entries(sd_bytes):
    """Pure: [(sid, [how])] of a container's descriptor who may create dMSAs in it (owner included)."""
    def rights(mask, is_object, obj):
        if is_object:
            if mask & CREATE_CHILD and obj in (None, CLASS_DMSA_GUID):
                return ['create dMSA objects' if obj else 'create child objects of any class']
            return []
        return ((['create child objects of any class'] if mask & CREATE_CHILD else [])
                + [how for bit, how in _WHOLE[:3] if mask & bit])
    return _trustee_rights(sd_bytes, rights)


def domain_sid_of(directory):
    found = directory.search(directory.default_nc, '(objectClass=*)', ['objectSid'], scope='base')
    return sid_to_str(raw_first(found[0], 'objectSid')) if found else None


def dmsa_creators(directory, base, domain_sid):
    """Every OU and container under ``base`` with the principals that may create dMSAs there; those that are not
    Domain Admins, Enterprise Admins, Administrators or SYSTEM are ``flagged``. One paged search, one SID lookup."""
    found = directory.search(base, '(|(objectClass=organizationalUnit)(objectClass=container))',
                             ['nTSecurityDescriptor'], paged=True, controls=owner_dacl_control())
    per = [(e['dn'], dmsa_creator_entries(raw_first(e, 'nTSecurityDescriptor'))) for e in found]
    by_sid = pr.principals_by_sid(directory, set(sid for dummy, pairs in per for sid, dummy2 in pairs))
    ok = set(DMSA_CREATOR_OK_SIDS) | set('%s-%d' % (domain_sid, r) for r in DMSA_CREATOR_OK_RIDS)
    out = []
    for dn, pairs in per:
        for sid, how in pairs:
            out.append(dict(container=dn, name=label_of(sid, by_sid), sid=sid, rights=how, flagged=sid not in ok))
    return sorted(out, key=lambda x: (not x['flagged'], x['container'].lower(), x['name'].lower()))


def label_of(sid, by_sid):
    if sid in by_sid:
        return by_sid[sid]['name']
    return WELL_KNOWN_UNBOUNDED.get(sid) or PRIVILEGED_BUILTIN_SIDS.get(sid) or sid


def unbounded_reason(sid, principal, domain_sid):
    """Why a grant cannot be enumerated, or None when it can."""
    if sid in WELL_KNOWN_UNBOUNDED:
        return '%s (%s) is granted: every principal it stands for can retrieve this password' % (
            WELL_KNOWN_UNBOUNDED[sid], sid)
    if principal is None and domain_sid and not sid.startswith(domain_sid + '-'):
        return '%s is granted and is not of this domain: its members are not enumerated here' % sid
    if principal is not None and principal['type'] == 'foreign':
        return '%s (a principal of another domain or a well-known SID) is granted: its members are not enumerated ' \
               'here' % sid
    return None


def privileged_filter(domain_sid, root_sid=None):
    parts = ['(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes('%s-%d' % (domain_sid, rid)))
             for rid in PRIVILEGED_DOMAIN_RIDS]
    parts += ['(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes('%s-%d' % (root_sid or domain_sid, rid)))
              for rid in PRIVILEGED_ROOT_RIDS]
    parts += ['(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes(s)) for s in PRIVILEGED_BUILTIN_SIDS]
    parts += ['(&(objectClass=group)(sAMAccountName=%s))' % escape(n) for n in PRIVILEGED_BY_NAME]
    return '(|%s)' % ''.join(parts)


def privileged_reach(directory, domain_sid, group_dns, root_sid=None):
    """For each group DN: the privileged groups it is, or is nested in.

    Asked from the groups' side (one search per distinct group, each evaluated over the ~10 privileged groups
    only), not from the accounts' side, so the cost follows the number of distinct groups, not of accounts.
    """
    flt = privileged_filter(domain_sid, root_sid)
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


def forest_privileged_members(gc, root_sid):
    """Every object (lower-case DN) that is, directly or nested, in a forest-wide privileged group (Enterprise
    Admins, Schema Admins, Enterprise Key Admins, Enterprise Read-only DCs) -> those groups' names.

    Asked from a global catalog: these are universal groups of the forest root domain, and a DC of another
    domain that is not a GC neither holds them nor lists them in memberOf (MS-ADTS 3.1.1.1.8, 3.1.1.4.5.8).
    One search per group, whatever the number of accounts.
    """
    out = {}
    for rid, name in sorted(PRIVILEGED_ROOT_RIDS.items()):
        found = gc.search('', '(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes('%s-%d' % (root_sid, rid))),
                          ['1.1'])
        if not found:
            continue
        for e in gc.search('', '(memberOf:%s:=%s)' % (IN_CHAIN, escape(found[0]['dn'])), ['1.1'], paged=True):
            out.setdefault(e['dn'].lower(), set()).add(name)
    return out


def build_report(directory, entries, base, now=None, warnings=None):
    """Search entries of accounts → list of per-account reports (see gmsa_info's RETURN). ``warnings``: a list
    that receives what could not be evaluated. Every lookup is made once for all the accounts (``_Estate``)."""
    states = [_account_state(e) for e in entries]
    if not states:
        return []
    estate = _Estate(directory, states, warnings)
    return [estate.report(st) for st in states]


def _account_state(entry):
    """One account's state (the gmsa planner's read) with the SIDs its descriptors grant."""
    st = g.read_state(entry)
    st['_entry'] = entry
    parsed = parse_membership_sd(st['raw']['msDS-GroupMSAMembership'])
    st['_allowed'] = granted_sids(parsed)
    st['_conditional'] = conditional_sids(parsed)
    st['_delegates'] = granted_sids(parse_membership_sd(st['raw']['msDS-AllowedToActOnBehalfOfOtherIdentity']))
    st['_changers'] = changers(raw_first(entry, 'nTSecurityDescriptor'), [ATTR_GMSA_MEMBERSHIP])
    return st


class _Estate(object):
    """What the reports of a set of accounts need from the directory, read once for all of them, in this order:
    the principals their descriptors name, the descriptors of the allowed groups, the forest's domains (and its
    root's privileged groups through the global catalog), the members of every group involved, and the groups
    the accounts are in (direct, primary, a dMSA's predecessors') with the privileged groups they reach."""

    def __init__(self, directory, states, warnings):
        self.directory = directory
        allowed_groups = set(s for st in states for s in st['_allowed'])
        self.by_sid = pr.principals_by_sid(directory, [sid for st in states for sid in st['_allowed'] +
                                                       st['_delegates'] + [x for x, dummy in st['_changers']]])
        self.group_sds = self._group_changers(allowed_groups)
        account_sid = sid_to_str(raw_first(states[0]['_entry'], 'objectSid'))
        self.domain_sid = account_sid.rsplit('-', 1)[0] if account_sid else None
        self.cross = self._forest(warnings)
        changer_sids = set(sid for st in states for sid, dummy in st['_changers'])
        changer_sids |= set(sid for cs in self.group_sds.values() for sid, dummy in cs)
        self.group_members, self.group_unbounded = self._groups(allowed_groups | changer_sids)
        self.primary, self.predecessors, direct = self._account_groups(states)
        self.reach = privileged_reach(directory, self.domain_sid, sorted(direct | set(self.primary.values())),
                                      self.root_sid) if self.domain_sid else {}

    def _group_changers(self, allowed_groups):
        """Who can change the members of each allowed group: the groups' own descriptors, in one search."""
        d, by_sid = self.directory, self.by_sid
        group_sds = {}
        dns = sorted(set(by_sid[x]['dn'] for x in allowed_groups if x in by_sid and by_sid[x]['type'] == 'group'))
        if dns:
            for ge in d.search(d.default_nc, '(|%s)' % ''.join('(distinguishedName=%s)' % escape(dn) for dn in dns),
                               ['nTSecurityDescriptor'], controls=owner_dacl_control()):
                group_sds[ge['dn'].lower()] = changers(
                    raw_first(ge, 'nTSecurityDescriptor'), [ATTR_MEMBER, PROPERTY_SET_MEMBERSHIP], self_write=True)
            more = [sid for cs in group_sds.values() for sid, dummy in cs if sid not in by_sid]
            by_sid.update(pr.principals_by_sid(d, more))
        return group_sds

    def _forest(self, warnings):
        """The forest root's SID, and the members of its forest-wide privileged groups (global catalog) when the
        forest has more than one domain; what cannot be evaluated goes to ``warnings``."""
        domains = forest_domains(self.directory)
        self.root_sid = root_sid = forest_root_sid(self.directory, domains)
        if len(domains) > 1 and root_sid and self.domain_sid and self.domain_sid != root_sid and warnings is not None:
            # Built-in groups are domain local: the forest root's Administrators, Account Operators, ... may hold
            # this domain's accounts, and only a DC of the root domain lists that (the global catalog does not).
            warnings.append('Membership in the forest root domain\'s built-in groups (Administrators, Account '
                            'Operators, Server Operators, Backup Operators, Print Operators) was not evaluated: they '
                            'are domain local groups of the root domain, which a DC of this domain does not list. '
                            'Run gmsa_info against a DC of the root domain too.')
        if len(domains) < 2:
            return {}
        # forest-wide privileged groups live in the root domain: only a global catalog sees their members
        try:
            return forest_privileged_members(self.directory.global_catalog(), root_sid)
        except DirectoryError as e:
            if warnings is not None:
                warnings.append('Membership in Enterprise Admins, Schema Admins, Enterprise Key Admins and '
                                'Enterprise Read-only DCs was not evaluated (the forest has %d domains and they '
                                'are universal groups of the root domain): %s' % (len(domains), e))
            return {}

    def _groups(self, sids):
        """The non-group members of each group among ``sids``, and why its membership is unbounded."""
        members_of, unbounded = {}, {}
        for sid in sids:
            p = self.by_sid.get(sid)
            if p and p['type'] == 'group':
                members, unread = principals_in_group(self.directory, p, self.domain_sid)
                members_of[sid] = [m for m in members if m['type'] != 'group']
                reasons = [r for r in (member_reason(m, p, self.domain_sid) for m in members) if r]
                reasons += [unread_reason(dn, p, self.directory.default_nc) for dn in unread]
                unbounded[sid] = reasons
        return members_of, unbounded

    def _primary_group_dn(self, rid):
        d = self.directory
        found = d.search(d.default_nc, '(objectSid=%s)' % ldap_filter_bytes(
            sid_to_bytes('%s-%d' % (self.domain_sid, rid))), ['1.1']) if self.domain_sid else []
        return found[0]['dn'] if found else None

    def _account_groups(self, states):
        """Groups the accounts are in: their direct groups and their primary group (normally Domain Computers,
        which is not listed in memberOf but can itself be nested into a privileged group); for a dMSA, the
        superseded accounts' groups (direct and primary) count as its own. Returns (primary group DN by RID,
        predecessor DN -> its groups, every group DN)."""
        primary = {}
        for rid in set(int(first(st['_entry']['attributes'], 'primaryGroupID') or 515) for st in states):
            dn = self._primary_group_dn(rid)
            if dn:
                primary[rid] = dn
        direct = set()
        for st in states:
            direct.update(st['_entry']['attributes'].get('memberOf') or [])
        predecessors = {}
        wanted = sorted(set(dn for st in states for dn in superseded(st['_entry'])))
        if wanted:
            d = self.directory
            for pe in d.search(d.default_nc, '(|%s)' % ''.join(
                    '(distinguishedName=%s)' % escape(dn) for dn in wanted), ['memberOf', 'primaryGroupID']):
                groups = list(pe['attributes'].get('memberOf') or [])
                dn = self._primary_group_dn(int(first(pe['attributes'], 'primaryGroupID') or 513))
                groups += [dn] if dn else []
                predecessors[pe['dn'].lower()] = groups
                direct.update(groups)
        return primary, predecessors, direct

    # ------------------------------------------------------------------ per account (no directory access)
    def trustees(self, pairs):
        return [dict(name=label_of(sid, self.by_sid), sid=sid, rights=how) for sid, how in pairs]

    def effective(self, pairs):
        names = {}
        for sid, dummy in pairs:
            p = self.by_sid.get(sid)
            if p is None:
                continue
            if p['type'] not in ('group', 'foreign'):
                names[p['name'].lower()] = p['name']
            for c in self.group_members.get(sid, []):
                if c['type'] != 'foreign':
                    names[c['name'].lower()] = c['name']
        return sorted(names.values(), key=str.lower)

    def allowed(self, st):
        """(allowed principals, unresolved SIDs, effective retrievers, unbounded reasons) of one account."""
        e = st['_entry']
        allowed, unresolved, retrievers, unbounded = [], [], {}, []
        for sid in st['_allowed']:
            if sid == PRINCIPAL_SELF:   # the access check puts the account's own SID in its place
                allowed.append(dict(name='SELF (the account itself)', sid=sid, type='well_known', dn=e['dn']))
                retrievers[st['sam_account_name'].lower()] = st['sam_account_name']
                continue
            p = self.by_sid.get(sid)
            reason = unbounded_reason(sid, p, self.domain_sid)
            if reason:
                unbounded.append(reason)
            if p is None:
                if sid in WELL_KNOWN_UNBOUNDED:
                    allowed.append(dict(name=WELL_KNOWN_UNBOUNDED[sid], sid=sid, type='well_known', dn=None))
                else:
                    unresolved.append(sid)
                continue
            allowed.append(dict(name=p['name'], sid=sid, type=p['type'], dn=p['dn'],
                                **({'sid_history': True} if p.get('via_sid_history') else {})))
            if p['type'] not in ('group', 'foreign'):
                retrievers[p['name'].lower()] = p['name']
            for c in self.group_members.get(sid, []):
                if c['type'] != 'foreign':
                    retrievers[c['name'].lower()] = c['name']
            unbounded.extend(self.group_unbounded.get(sid, []))
        return allowed, unresolved, retrievers, unbounded

    def privileged_groups(self, e):
        mine = list(e['attributes'].get('memberOf') or [])
        rid = int(first(e['attributes'], 'primaryGroupID') or 515)
        if rid in self.primary:
            mine.append(self.primary[rid])
        for dn in superseded(e):
            mine += self.predecessors.get(dn.lower(), [])
        return sorted(set(n for dn in mine for n in self.reach.get(dn.lower(), ())) |
                      self.cross.get(e['dn'].lower(), set()))

    def membership_changers(self, st):
        by_sid = self.by_sid
        out = []
        for x in st['_allowed']:
            if x in by_sid and by_sid[x]['type'] == 'group':
                pairs = self.group_sds.get(by_sid[x]['dn'].lower(), [])
                out.append(dict(group=by_sid[x]['name'], changers=self.trustees(pairs),
                                effective=self.effective(pairs)))
        return out

    def report(self, st):
        e, a = st['_entry'], st['_entry']['attributes']
        allowed, unresolved, retrievers, unbounded = self.allowed(st)
        priv_groups = self.privileged_groups(e)
        out = dict(
            distinguished_name=e['dn'], name=st['name'], sam_account_name=st['sam_account_name'],
            account_type=st['account_type'], object_guid=guid_to_str(raw_first(e, 'objectGUID')),
            sid=sid_to_str(raw_first(e, 'objectSid')), dns_hostname=st['dns_hostname'],
            spn=sorted(st['spn'], key=str.lower), kerberos_encryption_types=st['kerberos_encryption_types'],
            password_interval_days=st['password_interval_days'], enabled=st['enabled'],
            outbound_auth_only=st['outbound_auth_only'], description=st['description'],
            allowed_principals=sorted(allowed, key=lambda x: x['name'].lower()),
            unresolved_sids=unresolved,
            conditional_principals=sorted((self.by_sid[x]['name'] if x in self.by_sid else x)
                                          for x in st['_conditional']),
            grant_changers=self.trustees(st['_changers']),
            grant_changers_readable=bool(raw_first(e, 'nTSecurityDescriptor')),
            grant_changers_effective=self.effective(st['_changers']),
            membership_changers=self.membership_changers(st),
            effective_retrievers=sorted(retrievers.values(), key=str.lower),
            retrievers_unbounded=bool(unbounded), unbounded_reasons=unbounded,
            delegation=self.delegation(st),
            member_of=sorted(a.get('memberOf') or [], key=str.lower), supersedes=superseded(e),
            privileged=bool(priv_groups), privileged_groups=priv_groups,
            host=first(a, 'msDS-HostServiceAccountBL'),
        )
        out.update(_times(a, st['password_interval_days']))
        out['orphaned'] = st['account_type'] != 'standalone' and not allowed
        return out

    def delegation(self, st):
        delegates = [self.by_sid[s]['name'] if s in self.by_sid else s for s in st['_delegates']]
        return dict(trusted_for_delegation=st['trusted_for_delegation'],
                    trusted_to_auth_for_delegation=st['trusted_to_auth_for_delegation'],
                    allowed_to_delegate_to=sorted(st['allowed_to_delegate_to'], key=str.lower),
                    delegates=sorted(delegates, key=str.lower))


def _times(a, interval):
    """password_last_set, next_rotation, last_logon and stale of one account's attributes."""
    pwd = first(a, 'pwdLastSet')
    pwd_set = from_filetime(pwd) if pwd not in (None, '0', 0) else None
    logon = first(a, 'lastLogonTimestamp')
    last_logon = from_filetime(logon) if logon not in (None, '0', 0) else None
    return dict(password_last_set=iso(pwd_set),
                next_rotation=iso(pwd_set + datetime.timedelta(days=interval)) if pwd_set and interval else None,
                last_logon=iso(last_logon), stale=last_logon is None)


# Enabled user accounts (not computers, not managed accounts) with SPNs; krbtgt has one and is no service.
CANDIDATE_FILTER = ('(&(objectCategory=person)(objectClass=user)(servicePrincipalName=*)'
                    '(!(userAccountControl:1.2.840.113556.1.4.803:=2))(!(sAMAccountName=krbtgt)))')


def migration_candidates(directory, base):
    """User accounts that run services (they have SPNs): what Microsoft's "Secure group managed service accounts" moves to gMSAs. One paged search."""
    out = []
    for e in directory.search(base, CANDIDATE_FILTER, ['sAMAccountName', 'servicePrincipalName', 'pwdLastSet'],
                              paged=True):
        a = e['attributes']
        pwd = first(a, 'pwdLastSet')
        out.append(dict(name=first(a, 'sAMAccountName'), distinguished_name=e['dn'],
                        spn=sorted(a.get('servicePrincipalName') or [], key=str.lower),
                        password_last_set=iso(from_filetime(pwd)) if pwd not in (None, '0', 0) else None))
    return sorted(out, key=lambda x: x['name'].lower())
