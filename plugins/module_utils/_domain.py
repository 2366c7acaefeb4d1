# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Facts about the domain read from rootDSE, the domain head and the schema.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str
from ansible_collections.gmsa.farm.plugins.module_utils._values import RESULT, escape, first, single

# otherWellKnownObjects GUID of the Managed Service Accounts container (MS-ADTS 6.1.1.4)
WKGUID_MANAGED_SERVICE_ACCOUNTS = '1EB93889E40C45DF9F0C64D23BBB6237'

FUNCTIONAL_LEVELS = {
    0: '2000', 1: '2003_interim', 2: '2003', 3: '2008', 4: '2008_R2', 5: '2012', 6: '2012_R2', 7: '2016',
    10: '2025',
}

# LDAP_SERVER_EXTENDED_DN_OID: DN values come as <GUID=..>;<SID=..>;DN (MS-ADTS 3.1.1.3.4.1.5); without a control
# value the GUID and SID are hexadecimal (measured on Samba 4.22; the same default documented for Windows)
EXTENDED_DN_OID = '1.2.840.113556.1.4.529'
FLAG_CR_NTDS_DOMAIN = 2   # crossRef systemFlags: the partition is an AD domain (MS-ADTS 6.1.1.2.1.1.5)

CLASS_GMSA = 'msDS-GroupManagedServiceAccount'
CLASS_SMSA = 'msDS-ManagedServiceAccount'
CLASS_DMSA = 'msDS-DelegatedManagedServiceAccount'


def well_known_container(other_well_known_objects, wkguid):
    """Pick the DN for ``wkguid`` out of ``B:32:<GUID>:<DN>`` values; None when absent."""
    for value in other_well_known_objects or []:
        if isinstance(value, bytes):
            value = value.decode('utf-8')
        parts = value.split(':', 3)
        if len(parts) == 4 and parts[0] == 'B' and parts[2].upper() == wkguid.upper():
            return parts[3]
    return None


def level_name(value):
    value = single(value)
    if value is None:
        return None
    value = int(value)
    return FUNCTIONAL_LEVELS.get(value, str(value))


def schema_classes(directory, names):
    """Which of the object classes ``names`` the schema has: one search."""
    flt = '(&(objectClass=classSchema)(|%s))' % ''.join('(lDAPDisplayName=%s)' % n for n in names)
    found = set()
    for e in directory.search(directory.schema_nc, flt, ['lDAPDisplayName'], scope='one'):
        found.add(first(e['attributes'], 'lDAPDisplayName'))
    return dict((n, n in found) for n in names)


def domain_head(directory):
    """The domain head's otherWellKnownObjects and objectSid: one base search."""
    entries = directory.search(directory.default_nc, '(objectClass=*)', ['otherWellKnownObjects', 'objectSid'],
                               scope='base')
    return entries[0]['attributes'] if entries else {}


def managed_service_accounts_container(directory, head=None):
    head = head if head is not None else domain_head(directory)
    dn = well_known_container(head.get('otherWellKnownObjects'), WKGUID_MANAGED_SERVICE_ACCOUNTS)
    return dn or 'CN=Managed Service Accounts,%s' % directory.default_nc


def netbios_name(directory):
    entries = directory.search('CN=Partitions,%s' % directory.configuration_nc,
                               '(&(objectClass=crossRef)(nCName=%s)(nETBIOSName=*))' % escape(directory.default_nc),
                               ['nETBIOSName'], scope='one')
    if not entries:
        return None
    return first(entries[0]['attributes'], 'nETBIOSName')


def check_container(directory, path, object_class):
    """Before creating an object: does ``path`` exist, and may the bound account create ``object_class`` there?

    One base search of the constructed attribute allowedChildClassesEffective. ``path`` may be a
    ``<WKGUID=…,domain>`` DN: the entry's real DN comes back with it. Returns (problem message or None, DN).
    """
    try:
        entries = directory.search(path, '(objectClass=*)', ['allowedChildClassesEffective'], scope='base')
    except DirectoryError as e:
        if e.code == RESULT['noSuchObject']:
            entries = []
        else:
            raise
    if not entries:
        return ('path %s does not exist: create the OU or container first, or leave path out to use the default '
                'container.' % path), path
    real = entries[0]['dn']
    allowed = set(c.lower() for c in entries[0]['attributes'].get('allowedChildClassesEffective') or [])
    if object_class.lower() not in allowed:
        return ('Insufficient rights: %s cannot create %s objects in %s. Use an account with that right (Domain '
                'Admins, or delegate "Create %s objects" on the OU).' % (directory.bound_as, object_class, real,
                                                                         object_class)), real
    return None, real


def well_known_dn(directory, wkguid):
    """A DN that names a well-known container by GUID; the directory resolves it (renamed containers too)."""
    return '<WKGUID=%s,%s>' % (wkguid, directory.default_nc)


def parse_extended_dn(value):
    """``<GUID=..>;<SID=..>;DN`` -> (dn, sid string or None). Accepts the hexadecimal and the string format."""
    if isinstance(value, bytes):
        value = value.decode('utf-8')
    sid = None
    while value.startswith('<'):
        part, _sep, value = value.partition('>;')
        key, _eq, data = part[1:].partition('=')
        if key.upper() == 'SID' and data:
            sid = data if data.upper().startswith('S-') else sid_to_str(bytes.fromhex(data))
    return value, sid


def forest_domains(directory):
    """Every domain of the forest, each dict(dn, sid, dns): the domain crossRef objects of the configuration
    partition, which every DC holds, with nCName read as an extended DN so the SID comes along - one search, no
    referral to another domain's DC and no global catalog needed (a base search of another domain's naming
    context on a child domain's DC only returns a referral)."""
    base = 'CN=Partitions,%s' % directory.configuration_nc
    flt = '(&(objectClass=crossRef)(systemFlags:1.2.840.113556.1.4.803:=%d))' % FLAG_CR_NTDS_DOMAIN
    out = []
    for e in directory.search(base, flt, ['nCName', 'dnsRoot'], scope='one',
                              controls=[(EXTENDED_DN_OID, False, None)]):
        values = e['attributes'].get('nCName') or []
        if not values:
            continue
        dn, sid = parse_extended_dn(values[0] if isinstance(values, list) else values)
        dns = e['attributes'].get('dnsRoot') or []
        out.append(dict(dn=dn, sid=sid, dns=dns[0] if isinstance(dns, list) and dns else dns or None))
    return out


def forest_root_sid(directory, domains=None):
    """The forest root domain's SID (Enterprise/Schema Admins and the KDS key's EA/DA are its groups)."""
    root = (directory.root_domain_nc or '').lower()
    for d in domains if domains is not None else forest_domains(directory):
        if d['dn'].lower() == root and d['sid']:
            return d['sid']
    raise DirectoryError('the forest root domain %s has no domain crossRef with a SID in CN=Partitions of %s'
                         % (directory.root_domain_nc, directory.configuration_nc))
