# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve security principals given by people (names, DNs, SIDs, UPNs, GUIDs) with one batched search.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

``classify`` and ``match`` are pure; ``resolve`` does exactly one search for any number of principals.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils._domain import forest_domains, netbios_name
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    guid_to_bytes, guid_to_str, is_guid, is_sid, sid_to_bytes, sid_to_str,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import escape, first, ldap_filter_bytes, raw_first

PRINCIPAL_ATTRIBUTES = ['objectSid', 'objectGUID', 'sAMAccountName', 'userPrincipalName', 'objectClass',
                        'distinguishedName']

# Characters Windows refuses in sAMAccountName.
SAM_INVALID = set('"/\\[]:;|=,+*?<>@')


class PrincipalError(ValueError):
    pass


def classify(value):
    """How a principal was given: ('sid'|'guid'|'dn'|'upn'|'sam', normalised value)."""
    if isinstance(value, dict):
        raise PrincipalError('%r: a principal of another domain given as {name, server} is resolved through the '
                             'global catalog by the single form of gmsa only' % (value,))
    if not isinstance(value, str):
        raise PrincipalError('%r is not a principal name' % (value,))
    v = value.strip()
    if not v:
        raise PrincipalError('an empty principal name was given')
    if is_sid(v):
        return 'sid', v.upper()
    if is_guid(v):
        return 'guid', guid_to_str(v)
    if '=' in v and (',' in v or v.upper().startswith(('CN=', 'OU=', 'DC='))):
        return 'dn', v
    if '\\' in v:  # DOMAIN\name: the domain part is checked by check_domains
        v = v.split('\\', 1)[1]
        return 'sam', v
    if '@' in v:
        return 'upn', v
    return 'sam', v


def domain_part(value):
    """'CHILD' for 'CHILD\\WebHosts' (None when no domain is named)."""
    v = value.strip()
    return v.split('\\', 1)[0] if '\\' in v and not v.upper().startswith(('CN=', 'OU=', 'DC=')) else None


def foreign_names(values, netbios, dns):
    """Pure: the values that name another domain than this one (NetBIOS or DNS spelling)."""
    mine = set(x.lower() for x in (netbios, dns) if x)
    return [v for v in values if domain_part(v) and domain_part(v).lower() not in mine]


def check_domains(directory, values):
    """``DOMAIN\\name`` principals must name the domain the module is connected to: a same-named principal of
    this domain must not be granted in place of another domain's. One search (the domain's NetBIOS name), made
    only when a value names a domain."""
    if not any(domain_part(v) for v in values):
        return
    netbios = netbios_name(directory)
    foreign = foreign_names(values, netbios, directory.dns_domain)
    if foreign:
        raise PrincipalError('%s name another domain than %s (%s), the one this task is connected to; principals '
                             'are resolved in the connected domain only, so a same-named principal here could be '
                             'granted instead. Name them by SID, or run the task against their domain'
                             % (', '.join(foreign), netbios, directory.dns_domain))


def filter_for(kind, value):
    if kind == 'sid':
        return '(objectSid=%s)' % ldap_filter_bytes(sid_to_bytes(value))
    if kind == 'guid':
        return '(objectGUID=%s)' % ldap_filter_bytes(guid_to_bytes(value))
    if kind == 'dn':
        return '(distinguishedName=%s)' % escape(value)
    if kind == 'upn':
        return '(userPrincipalName=%s)' % escape(value)
    # A computer may be named with or without its trailing $.
    if value.endswith('$'):
        return '(sAMAccountName=%s)' % escape(value)
    return '(|(sAMAccountName=%s)(sAMAccountName=%s$))' % (escape(value), escape(value))


def principal_type(object_classes):
    oc = set(c.lower() for c in (object_classes or []))
    if 'msds-groupmanagedserviceaccount' in oc:
        return 'gmsa'
    if 'msds-delegatedmanagedserviceaccount' in oc:
        return 'dmsa'
    if 'msds-managedserviceaccount' in oc:
        return 'msa'
    if 'computer' in oc:
        return 'computer'
    if 'group' in oc:
        return 'group'
    if 'user' in oc:
        return 'user'
    if 'foreignsecurityprincipal' in oc:
        return 'foreign'
    return sorted(oc)[-1] if oc else 'unknown'


def describe(entry):
    """A search entry → dict(name, sid, dn, type, guid) in people's terms."""
    a = entry['attributes']
    sid = sid_to_str(raw_first(entry, 'objectSid') or first(a, 'objectSid'))
    guid = guid_to_str(raw_first(entry, 'objectGUID') or first(a, 'objectGUID'))
    return dict(name=first(a, 'sAMAccountName') or entry['dn'], sid=sid, dn=entry['dn'],
                type=principal_type(a.get('objectClass')), guid=guid, upn=first(a, 'userPrincipalName'))


def match(kind, value, principals):
    """Pick the principal(s) a given value means out of described search results."""
    lv = value.lower()
    if kind == 'sid':
        return [p for p in principals if p['sid'] == value]
    if kind == 'guid':
        return [p for p in principals if p['guid'] == value]
    if kind == 'dn':
        return [p for p in principals if p['dn'].lower() == lv]
    if kind == 'upn':
        return [p for p in principals if (p.get('upn') or '').lower() == lv]
    exact = [p for p in principals if (p['name'] or '').lower() == lv]
    if exact or lv.endswith('$'):
        return exact
    return [p for p in principals if (p['name'] or '').lower() == lv + '$']


def filters_for(values):
    """The LDAP filter parts that find ``values`` (to OR into one batched search with whatever else it needs)."""
    return [filter_for(*classify(v)) for v in values]


def match_all(values, entries, what='principal'):
    """Search entries → (dict value→principal, list of values that matched nothing).

    Raises PrincipalError naming every DN when one value matches more than one object.
    """
    described = [describe(e) for e in entries]
    resolved, missing = {}, []
    for v in values:
        hits = match(*classify(v), principals=described)
        if not hits:
            missing.append(v)
        elif len(hits) > 1:
            raise PrincipalError('%s %r is ambiguous: it matches %s' % (what, v, ', '.join(sorted(h['dn'] for h in hits))))
        else:
            resolved[v] = hits[0]
    return resolved, missing


def find_one(directory, name, class_filter, what, attributes=(), option='name'):
    """Exactly one principal of ``class_filter`` (an LDAP filter such as ``(objectCategory=computer)``) named
    ``name`` in any form ``classify`` takes, in the connected domain: one search. Returns (principal, its
    attributes); raises PrincipalError naming the option, the value and what was wrong."""
    try:
        kind, value = classify(name)
        check_domains(directory, [name])
    except PrincipalError as e:
        raise PrincipalError('%s: %s' % (option, e))
    entries = directory.search(directory.default_nc, '(&%s%s)' % (class_filter, filter_for(kind, value)),
                               PRINCIPAL_ATTRIBUTES + list(attributes))
    found, missing = match_all([name], entries, what=what)
    if missing:
        raise PrincipalError('%s: no %s %s in the domain' % (option, what, name))
    principal = found[name]
    return principal, [e for e in entries if e['dn'] == principal['dn']][0]['attributes']


def forest_principal_domain(server, domains):
    """The forest domain a {name, server} principal's ``server`` names - the domain's DNS name or one of its DCs'
    (the longest DNS suffix that matches). Pure."""
    s = (server or '').lower().rstrip('.')
    for d in sorted((d for d in domains if d.get('dns')), key=lambda d: -len(d['dns'])):
        dns = d['dns'].lower()
        if s == dns or s.endswith('.' + dns):
            return d
    raise PrincipalError('server %r is neither a domain of this forest nor one of its domain controllers (the '
                         'forest has %s)' % (server, ', '.join(sorted(d['dns'] for d in domains if d.get('dns')))))


def resolve_forest_principals(directory, values):
    """Principals given as ``{name, server}`` - microsoft.ad's form for another domain of the forest - looked up
    in the global catalog (the connected DC's, which holds every domain's principals; MS-ADTS 3.1.1.1.8), in the
    naming context of the domain ``server`` names. Returns (values with each dict replaced by the principal's SID,
    {SID: principal}); one global-catalog search per such principal, none when there is none."""
    if not any(isinstance(v, dict) for v in values):
        return list(values), {}
    domains = forest_domains(directory)
    gc = directory.global_catalog()
    out, found = [], {}
    for v in values:
        if not isinstance(v, dict):
            out.append(v)
            continue
        name, server = v.get('name'), v.get('server')
        if not isinstance(name, str) or not name.strip() or set(v) - {'name', 'server'}:
            raise PrincipalError('%r: a principal given as a dict has the keys name and server' % (v,))
        plain = name.split('\\', 1)[1] if '\\' in name and kind_is_plain(name) else name
        kind, value = classify(plain)
        base = forest_principal_domain(server, domains)['dn'] if server else ''
        hits = match(kind, value, [describe(e) for e in gc.search(base, filter_for(kind, value), PRINCIPAL_ATTRIBUTES)])
        where = server or 'the forest'
        if not hits:
            raise PrincipalError('no principal %s in %s (searched in the global catalog)' % (name, where))
        if len(hits) > 1:
            raise PrincipalError('%s in %s is ambiguous: it matches %s' % (name, where, ', '.join(sorted(
                h['dn'] for h in hits))))
        out.append(hits[0]['sid'])
        found[hits[0]['sid']] = hits[0]
    return out, found


def kind_is_plain(name):
    """``DOMAIN\\name`` (not a DN): the domain part is the dict's server's business."""
    return not name.upper().startswith(('CN=', 'OU=', 'DC='))


SID_BATCH = 200


def principals_by_sid(directory, sids):
    """SID → principal for ``sids`` that exist: searches of at most SID_BATCH SIDs each (none for no SIDs).

    A SID that lives on in another principal's sIDHistory (a migrated account) resolves to that principal, with
    ``via_sid_history`` set: its tokens carry the old SID, so what was granted to it still applies."""
    out = {}
    todo = sorted(set(sids))
    wanted = set(todo)
    for i in range(0, len(todo), SID_BATCH):
        flt = '(|%s)' % ''.join('(objectSid=%s)(sIDHistory=%s)' % ((ldap_filter_bytes(sid_to_bytes(s)),) * 2)
                                for s in todo[i:i + SID_BATCH])
        for e in directory.search(directory.default_nc, flt, PRINCIPAL_ATTRIBUTES + ['sIDHistory'], paged=True):
            p = describe(e)
            if p['sid'] in wanted:
                out[p['sid']] = p
            for old in (e.get('raw') or {}).get('sIDHistory') or []:
                old = sid_to_str(old)
                if old in wanted and old not in out:
                    out[old] = dict(p, via_sid_history=True)
    return out


def label(principal_or_sid):
    """How a principal appears in a diff: its sAMAccountName, or the bare SID when it no longer resolves."""
    if isinstance(principal_or_sid, dict):
        return principal_or_sid['name']
    return principal_or_sid
