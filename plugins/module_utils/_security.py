# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SIDs, GUIDs and the security descriptors of msDS-GroupMSAMembership / msDS-AllowedToActOnBehalfOfOtherIdentity.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

The binary parsing and serialisation of security descriptors, ACLs, ACEs and SIDs is done by the ``winacl``
library (pure Python, well kept, used by the msldap/pypykatz family); this file only decides *what* goes into
the descriptor. Pure functions, no I/O: unit-tested without a server.

Windows writes these descriptors as: owner BUILTIN\\Administrators (S-1-5-32-544), no group, no SACL, a DACL
with one ACCESS_ALLOWED ACE per principal, mask 0x000F01FF, no inheritance flags
(``O:BAD:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;<SID>)``).
"""
from __future__ import annotations

import functools
import uuid

from ansible_collections.gmsa.farm.plugins.module_utils._values import single

# winacl is imported on first use (require_winacl): a task that touches no descriptor does not pay for it.
ACCESS_ALLOWED_ACE = AceFlags = ACEType = ACL = SE_SACL = SECURITY_DESCRIPTOR = SID = None
HAS_WINACL = None
WINACL_IMPORT_ERROR = None

OWNER_BUILTIN_ADMINISTRATORS = 'S-1-5-32-544'
FULL_CONTROL_MASK = 0x000F01FF
READ_PROPERTY = 0x10
SE_DACL_PRESENT = 0x0004
SE_SELF_RELATIVE = 0x8000


class SecurityError(ValueError):
    """Malformed SID, GUID or descriptor."""


def require_winacl():
    global ACCESS_ALLOWED_ACE, AceFlags, ACEType, ACL, SE_SACL, SECURITY_DESCRIPTOR, SID, HAS_WINACL
    global WINACL_IMPORT_ERROR
    if HAS_WINACL is None:
        try:
            from winacl.dtyp.ace import ACCESS_ALLOWED_ACE, AceFlags, ACEType
            from winacl.dtyp.acl import ACL
            from winacl.dtyp.security_descriptor import SE_SACL, SECURITY_DESCRIPTOR
            from winacl.dtyp.sid import SID
            HAS_WINACL = True
        except ImportError as e:
            HAS_WINACL = False
            WINACL_IMPORT_ERROR = e
    if not HAS_WINACL:
        raise SecurityError('the Python library winacl is required on the host that runs this module '
                            '(pip install winacl): %s' % WINACL_IMPORT_ERROR)


def sid_to_str(value):
    """objectSid (bytes, or a string ldap3 already formatted) → ``S-1-5-…``."""
    value = single(value)
    if value is None:
        return None
    if isinstance(value, str):
        if value.upper().startswith('S-1-'):
            return value.upper()
        raise SecurityError('not a SID: %r' % value)
    _sid_bytes_check(value)
    # Binary SID (MS-DTYP 2.4.2.2): revision, sub-authority count, 48-bit big-endian authority, LE u32s.
    count = value[1]
    authority = int.from_bytes(value[2:8], 'big')
    subs = [int.from_bytes(value[8 + 4 * i:12 + 4 * i], 'little') for i in range(count)]
    return 'S-%d-%d%s' % (value[0], authority, ''.join('-%d' % s for s in subs))


def _sid_bytes_check(value):
    if len(value) < 8 or value[0] != 1 or len(value) != 8 + 4 * value[1]:
        raise SecurityError('not a binary SID: %s' % value.hex())


def is_sid(text):
    if not isinstance(text, str) or not text.upper().startswith('S-1-'):
        return False
    parts = text.split('-')[2:]
    return len(parts) >= 2 and all(p.isdigit() for p in parts)


def sid_to_bytes(text):
    """``S-1-5-…`` → binary SID (for LDAP filters on objectSid)."""
    if not is_sid(text):
        raise SecurityError('not a SID: %r' % text)
    parts = [int(p) for p in text.split('-')[1:]]
    rev, authority, subs = parts[0], parts[1], parts[2:]
    if len(subs) > 15:
        raise SecurityError('a SID has at most 15 sub-authorities: %r' % text)
    return (bytes([rev, len(subs)]) + authority.to_bytes(6, 'big') +
            b''.join(s.to_bytes(4, 'little') for s in subs))


def guid_to_str(value):
    """objectGUID (bytes in AD's mixed-endian layout, or a formatted string) → lowercase 8-4-4-4-12."""
    value = single(value)
    if value is None:
        return None
    if isinstance(value, str):
        return str(uuid.UUID(value.strip('{}'))).lower()
    return str(uuid.UUID(bytes_le=bytes(value)))


def guid_to_bytes(text):
    try:
        return uuid.UUID(text.strip('{}')).bytes_le
    except ValueError:
        raise SecurityError('not a GUID: %r' % text)


def is_guid(text):
    try:
        uuid.UUID(text.strip('{}'))
    except (ValueError, AttributeError):
        return False
    return len(text.strip('{}')) == 36


# --------------------------------------------------------------------------- descriptors

def build_membership_sd(sids):
    """A descriptor of exactly Windows' shape granting each SID in ``sids`` (order kept, duplicates dropped)."""
    require_winacl()
    seen = []
    for s in sids:
        s = s.upper()
        if s not in seen:
            seen.append(s)
    return _serialise(OWNER_BUILTIN_ADMINISTRATORS, [_ace(s) for s in seen])


def _ace(sid_text):
    ace = ACCESS_ALLOWED_ACE()
    ace.AceFlags = AceFlags(0)
    ace.Mask = FULL_CONTROL_MASK
    ace.Sid = SID.from_string(sid_text)
    return ace


def _serialise(owner_sid, aces, acl_revision=2):
    sd = SECURITY_DESCRIPTOR()
    sd.Control = SE_SACL(SE_SELF_RELATIVE | SE_DACL_PRESENT)
    sd.Owner = SID.from_string(owner_sid) if owner_sid else None
    acl = ACL()
    acl.AclRevision = acl_revision
    acl.aces = list(aces)
    sd.Dacl = acl
    return sd.to_bytes()


# Which entries of msDS-GroupMSAMembership let a caller read msDS-ManagedPassword. The DC runs an access check for
# READ_PROPERTY on the descriptor with no object-type list (MS-ADTS 5.1.3.3.2, simple access; Samba 4.22's
# gmsa_allowed_to_view_managed_password does the same). Measured on the lab, each shape granted to one computer:
#   allow, no flags / CI / OICI: retrieves;  allow CIIO (inherit-only): does not;
#   allow 0x10 (READ_PROPERTY alone): retrieves;  GENERIC_READ or GENERIC_ALL bits alone: do not (no mapping);
#   object allow entries (with or without object types): do not;  a deny of READ_PROPERTY before the allow: does not.
# Conditional (callback) allow entries grant when their condition holds (MS-DTYP 2.4.4.17; measured: a computer
# read the password under (Member_of {SID(AU)}), not under (Member_of {SID(BA)})). A report cannot evaluate every
# condition (claims, device groups), so they count as granting and are named as conditional.
INHERIT_ONLY_ACE = 0x08
ALLOWED_TYPES = ('ACCESS_ALLOWED_ACE_TYPE', 'ACCESS_ALLOWED_CALLBACK_ACE_TYPE')
CONDITIONAL_TYPES = ('ACCESS_ALLOWED_CALLBACK_ACE_TYPE',)
PRINCIPAL_SELF = 'S-1-5-10'     # replaced by the account's own SID in the access check


def ace_grants_read(ace_type, flags, mask):
    """Whether an entry of that type, flags and mask lets its trustee read the managed password."""
    return ace_type in ALLOWED_TYPES and not flags & INHERIT_ONLY_ACE and bool(mask & READ_PROPERTY)


def parse_membership_sd(data):
    """Descriptor bytes → dict(owner, aces=[dict(sid, type, mask, flags, managed, grants, conditional)],
    warnings=[...]).

    ``grants``: the entry lets its trustee read the password (``ace_grants_read``); ``managed``: it has exactly
    the shape this collection writes (allow, no flags, READ_PROPERTY in the mask). Entries that grant in another
    shape (inheritance flags, a condition) count as granted and are removed by ``set``/``remove`` like the
    others; entries that grant nothing are kept untouched. Both are reported in ``warnings``.
    """
    require_winacl()
    if not data:
        return dict(owner=None, aces=[], warnings=[], acl_revision=2)
    try:
        sd = SECURITY_DESCRIPTOR.from_bytes(bytes(data))
    except Exception as e:  # winacl raises various errors on malformed input
        raise SecurityError('cannot parse the security descriptor (%d bytes): %s' % (len(data), e))
    out = []
    warnings = []
    for ace in (sd.Dacl.aces if sd.Dacl is not None else []):
        sid = ace.Sid.to_sddl() if getattr(ace, 'Sid', None) is not None else None
        ace_type = ace.AceType.name if hasattr(ace.AceType, 'name') else str(ace.AceType)
        flags = int(ace.AceFlags) if ace.AceFlags is not None else 0
        mask = int(ace.Mask) if getattr(ace, 'Mask', None) is not None else 0
        managed = (ace.AceType == ACEType.ACCESS_ALLOWED_ACE_TYPE and flags == 0 and bool(mask & READ_PROPERTY))
        grants = sid is not None and ace_grants_read(ace_type, flags, mask)
        out.append(dict(sid=sid, type=ace_type, mask=mask, flags=flags, managed=managed, grants=grants,
                        conditional=grants and ace_type in CONDITIONAL_TYPES, _ace=ace))
        if grants and not managed:
            warnings.append('%s is granted through an entry of another shape than Windows writes (%s mask=0x%08x '
                            'flags=0x%02x%s): it counts as granted, and set/remove change it like the others'
                            % (sid, ace_type, mask, flags, ', only when its condition holds'
                               if ace_type in CONDITIONAL_TYPES else ''))
        elif not managed:
            warnings.append('keeping an entry this collection does not manage: %s %s mask=0x%08x flags=0x%02x'
                            % (ace_type, sid, mask, flags))
        elif mask != FULL_CONTROL_MASK:
            warnings.append('%s is granted with mask 0x%08x instead of 0x%08x as Windows writes'
                            % (sid, mask, FULL_CONTROL_MASK))
    owner = sd.Owner.to_sddl() if sd.Owner is not None else None
    revision = sd.Dacl.AclRevision if sd.Dacl is not None else 2
    revision = getattr(revision, 'value', revision)
    if sd.Sacl is not None or sd.Group is not None:
        warnings.append('the descriptor has a group or SACL that Windows does not write; they are dropped on the '
                        'next change')
    return dict(owner=owner, aces=out, warnings=warnings, acl_revision=revision)


def granted_sids(parsed):
    """SIDs that the parsed descriptor grants the password read to (every entry that grants, any shape), each
    once, in descriptor order."""
    out = []
    for a in parsed['aces']:
        if a['grants'] and a['sid'].upper() not in out:
            out.append(a['sid'].upper())
    return out


def conditional_sids(parsed):
    """SIDs granted only through conditional entries (they read the password when the condition holds)."""
    plain = set(a['sid'].upper() for a in parsed['aces'] if a['grants'] and not a['conditional'])
    return [s for s in granted_sids(parsed) if s not in plain]


def update_membership_sd(parsed, add=(), remove=(), exact=None):
    """New descriptor bytes from a parsed one.

    * ``exact`` (list of SIDs): the granted SIDs become exactly these.
    * otherwise ``add`` SIDs not yet granted are appended and ``remove`` SIDs are dropped.
    A SID is dropped with every entry that grants it, whatever its shape (inheritance flags, a condition), so
    nothing it was granted through is left behind. Entries that grant nothing and the owner are kept as they
    are; granting entries that stay keep their place and mask.
    """
    require_winacl()
    remove_set = set(s.upper() for s in remove)
    current = granted_sids(parsed)
    if exact is not None:
        want = []
        for s in exact:
            if s.upper() not in want:
                want.append(s.upper())
        remove_set = set(current) - set(want)
        add = [s for s in want if s not in current]
    aces = []
    for a in parsed['aces']:
        if a['grants'] and a['sid'].upper() in remove_set:
            continue
        aces.append(a['_ace'])
    have = set(current) - remove_set
    for s in add:
        if s.upper() not in have:
            aces.append(_ace(s.upper()))
            have.add(s.upper())
    return _serialise(parsed.get('owner') or OWNER_BUILTIN_ADMINISTRATORS, aces, parsed.get('acl_revision') or 2)


# --------------------------------------------------------------------------- protection from accidental deletion

EVERYONE = 'S-1-1-0'
DELETE = 0x00010000
DELETE_TREE = 0x00000040
PROTECT_MASK = DELETE | DELETE_TREE  # (D;;DTSD;;;WD), what "Protect object from accidental deletion" writes


def _is_protect_ace(ace):
    from winacl.dtyp.ace import ACEType as _T
    return (ace.AceType == _T.ACCESS_DENIED_ACE_TYPE and ace.Sid.to_sddl() == EVERYONE
            and int(ace.Mask) & PROTECT_MASK == PROTECT_MASK and not int(ace.AceFlags or 0) & 0x10)


def is_protected(dacl_sd):
    """Whether a (DACL-only) nTSecurityDescriptor denies Everyone DELETE and DELETE_TREE."""
    require_winacl()
    if not dacl_sd:
        return False
    return _protected(bytes(dacl_sd))


@functools.lru_cache(maxsize=64)
def _protected(dacl_sd):
    """Parsing a DACL is most of a no-op task's CPU (an account's has about 90 entries on Samba); a task asks
    about the same descriptor when it plans and when it reports, so the answer is kept per descriptor value."""
    sd = SECURITY_DESCRIPTOR.from_bytes(dacl_sd)
    return any(_is_protect_ace(a) for a in (sd.Dacl.aces if sd.Dacl else []))


def set_protected(dacl_sd, protect):
    """The DACL-only descriptor with the deny-delete entry for Everyone added (first, as deny entries go) or
    removed; everything else kept."""
    require_winacl()
    from winacl.dtyp.ace import ACCESS_DENIED_ACE
    sd = SECURITY_DESCRIPTOR.from_bytes(bytes(dacl_sd))
    aces = [a for a in sd.Dacl.aces if not _is_protect_ace(a)]
    if protect:
        ace = ACCESS_DENIED_ACE()
        ace.AceFlags = AceFlags(0)
        ace.Mask = PROTECT_MASK
        ace.Sid = SID.from_string(EVERYONE)
        aces.insert(0, ace)
    sd.Dacl.aces = aces
    return sd.to_bytes()


DELETE_CHILD = 0x00000002


def _is_deny_delete_child(ace):
    from winacl.dtyp.ace import ACEType as _T
    return (ace.AceType == _T.ACCESS_DENIED_ACE_TYPE and ace.Sid.to_sddl() == EVERYONE
            and int(ace.Mask) & DELETE_CHILD and not int(ace.AceFlags or 0) & 0x10)


def parent_denies_delete_child(dacl_sd):
    require_winacl()
    sd = SECURITY_DESCRIPTOR.from_bytes(bytes(dacl_sd))
    return any(_is_deny_delete_child(a) for a in (sd.Dacl.aces if sd.Dacl else []))


def deny_delete_child(dacl_sd):
    """The parent's DACL-only descriptor with (D;;DC;;;WD) first: deletion through the parent's "delete child"
    right is closed too, as Windows does when it protects an object (other children stay deletable through the
    DELETE right their own DACLs grant)."""
    require_winacl()
    from winacl.dtyp.ace import ACCESS_DENIED_ACE
    sd = SECURITY_DESCRIPTOR.from_bytes(bytes(dacl_sd))
    ace = ACCESS_DENIED_ACE()
    ace.AceFlags = AceFlags(0)
    ace.Mask = DELETE_CHILD
    ace.Sid = SID.from_string(EVERYONE)
    sd.Dacl.aces.insert(0, ace)
    return sd.to_bytes()
