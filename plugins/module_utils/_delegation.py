# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The least-privilege delegation a farm's directory tasks need on an OU, as exact access control entries.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure functions, no I/O.

Each right set is a list of explicit object ACEs written on the OU's DACL (MS-DTYP 2.4.4.3
ACCESS_ALLOWED_OBJECT_ACE). The GUIDs are schemaIDGUIDs of classes and attributes (MS-ADSC) and the
rightsGuid of an extended right (MS-ADTS 5.1.3.2.1); they are the same in every forest, and were read back
from the Samba lab DC's schema. Full control is written as its expanded mask 0x000F01FF (what Windows stores
for "Full control" on a directory object), never as GENERIC_ALL, so what is read back compares equal to
what was written.
"""
from __future__ import annotations

CLASS_GMSA = '7b8b558a-93a5-4af7-adca-c017e67f1057'       # msDS-GroupManagedServiceAccount
CLASS_GROUP = 'bf967a9c-0de6-11d0-a285-00aa003049e2'      # group
CLASS_COMPUTER = 'bf967a86-0de6-11d0-a285-00aa003049e2'   # computer
ATTR_MEMBER = 'bf9679c0-0de6-11d0-a285-00aa003049e2'      # member
ATTR_UAC = 'bf967a68-0de6-11d0-a285-00aa003049e2'         # userAccountControl
RIGHT_RESET_PASSWORD = '00299570-246d-11d0-a768-00aa006e0529'   # User-Force-Change-Password

# ACE flags (MS-DTYP 2.4.4.1)
CONTAINER_INHERIT = 0x02
INHERIT_ONLY = 0x08
INHERITED = 0x10
# Access mask bits for directory objects (MS-ADTS 5.1.3.2)
CREATE_CHILD = 0x01
DELETE_CHILD = 0x02
WRITE_PROPERTY = 0x20
CONTROL_ACCESS = 0x100
FULL_CONTROL = 0x000F01FF

# right set → (what it is for, [(flags, mask, object type, inherited object type)])
RIGHTS = {
    'gmsa': ('create and delete msDS-GroupManagedServiceAccount objects in the OU (and its sub-OUs), full control '
             'on those objects', [
                 (CONTAINER_INHERIT, CREATE_CHILD | DELETE_CHILD, CLASS_GMSA, None),
                 (CONTAINER_INHERIT | INHERIT_ONLY, FULL_CONTROL, None, CLASS_GMSA),
             ]),
    'host_groups': ('create and delete group objects in the OU (and its sub-OUs), full control on those objects', [
        (CONTAINER_INHERIT, CREATE_CHILD | DELETE_CHILD, CLASS_GROUP, None),
        (CONTAINER_INHERIT | INHERIT_ONLY, FULL_CONTROL, None, CLASS_GROUP),
    ]),
    'group_members': ('write the member attribute of group objects in the OU (and its sub-OUs)', [
        (CONTAINER_INHERIT | INHERIT_ONLY, WRITE_PROPERTY, ATTR_MEMBER, CLASS_GROUP),
    ]),
    'computers': ('write userAccountControl of computer objects in the OU (and its sub-OUs) and reset their '
                  'passwords', [
                      (CONTAINER_INHERIT | INHERIT_ONLY, WRITE_PROPERTY, ATTR_UAC, CLASS_COMPUTER),
                      (CONTAINER_INHERIT | INHERIT_ONLY, CONTROL_ACCESS, RIGHT_RESET_PASSWORD, CLASS_COMPUTER),
                  ]),
}

_SDDL_FLAGS = ((CONTAINER_INHERIT, 'CI'), (0x01, 'OI'), (0x04, 'NP'), (INHERIT_ONLY, 'IO'), (INHERITED, 'ID'))
_SDDL_RIGHTS = ((0x000F01FF, 'CCDCLCSWRPWPDTLOCRSDRCWDWO'), (CREATE_CHILD | DELETE_CHILD, 'CCDC'),
                (CREATE_CHILD, 'CC'), (DELETE_CHILD, 'DC'), (WRITE_PROPERTY, 'WP'), (CONTROL_ACCESS, 'CR'))


class DelegationError(ValueError):
    """A descriptor that cannot be read or changed as planned."""


def wanted(rights, sid):
    """The ACE keys for ``rights`` (list of RIGHTS names) granted to ``sid``, in a stable order."""
    out = []
    for name in rights:
        for flags, mask, obj, inherited in RIGHTS[name][1]:
            key = ('OA', flags, mask, obj, inherited, sid.upper())
            if key not in out:
                out.append(key)
    return out


def sddl(key, hex_mask=False):
    """An ACE key as SDDL text, the way Windows and samba-tool show it (``hex_mask``: the mask as a number, the
    only form winacl's SDDL parser takes for combined rights)."""
    kind, flags, mask, obj, inherited, sid = key
    f = ''.join(t for bit, t in _SDDL_FLAGS if flags & bit)
    r = ('0x%x' % mask) if hex_mask else dict(_SDDL_RIGHTS).get(mask, '0x%08x' % mask)
    return '(%s;%s;%s;%s;%s;%s)' % (kind, f, r, obj or '', inherited or '', sid)


def _require_winacl():
    from ansible_collections.gmsa.farm.plugins.module_utils._security import SecurityError, require_winacl
    try:
        require_winacl()
    except SecurityError as e:
        raise DelegationError(str(e))


def ace_key(ace):
    """A winacl ACE → the comparable key used here (None for ACEs this file never writes or removes)."""
    from winacl.dtyp.ace import ACE_OBJECT_PRESENCE, ACEType
    if ace.AceType != ACEType.ACCESS_ALLOWED_OBJECT_ACE_TYPE:
        return None
    flags = int(ace.AceFlags or 0)
    presence = int(ace.Flags or 0)
    obj = str(ace.ObjectType).lower() if presence & ACE_OBJECT_PRESENCE.ACE_OBJECT_TYPE_PRESENT else None
    inh = (str(ace.InheritedObjectType).lower()
           if presence & ACE_OBJECT_PRESENCE.ACE_INHERITED_OBJECT_TYPE_PRESENT else None)
    return ('OA', flags, int(ace.Mask), obj, inh, ace.Sid.to_sddl().upper())


def _new_ace(key):
    from winacl.dtyp.ace import ACE
    return ACE.from_sddl(sddl(key, hex_mask=True))


def plan(dacl_sd, keys, present=True):
    """(present keys among ``keys``, new descriptor bytes or None when nothing changes).

    ``present``: missing ACEs are added after the last explicit ACE (before the inherited ones, the canonical
    order); otherwise exactly the ACEs of ``keys`` are removed. Every other ACE, explicit or inherited, is kept
    in its place; an ACE that grants the same rights in another shape is not touched (it is not this
    delegation's)."""
    _require_winacl()
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    if not dacl_sd:
        raise DelegationError('the DACL could not be read (the account lacks READ_CONTROL on the object)')
    try:
        sd = SECURITY_DESCRIPTOR.from_bytes(bytes(dacl_sd))
    except Exception as e:  # winacl raises various errors on malformed input
        raise DelegationError('cannot parse the security descriptor (%d bytes): %s' % (len(dacl_sd), e))
    if sd.Dacl is None:
        raise DelegationError('the security descriptor read (%d bytes) has no DACL, which would grant everyone '
                              'full control: give the object a DACL first' % len(dacl_sd))
    aces = list(sd.Dacl.aces)
    have = [ace_key(a) for a in aces]
    explicit = set(k for k in have if k is not None and not k[1] & INHERITED)
    found = [k for k in keys if k in explicit]
    if present:
        missing = [k for k in keys if k not in explicit]
        if not missing:
            return found, None
        at = next((i for i, a in enumerate(aces) if int(a.AceFlags or 0) & INHERITED), len(aces))
        aces[at:at] = [_new_ace(k) for k in missing]
    else:
        if not found:
            return found, None
        drop = set(found)
        aces = [a for a, k in zip(aces, have) if k not in drop]
    sd.Dacl.aces = aces
    return found, sd.to_bytes()
