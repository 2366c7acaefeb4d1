# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""May the bound account delete (or move away) an object? Read from the DACLs, before the first write.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure: no I/O.

The directory answers most rights questions itself (``allowedAttributesEffective``, ``sDRightsEffective``,
``allowedChildClassesEffective``), but none says whether the caller may delete an object. MS-ADTS 3.1.1.5.5.3
("Delete Operation", access checks) and 3.1.1.5.4 (a move to another parent) grant it with RIGHT_DELETE on the
object or RIGHT_DS_DELETE_CHILD on its parent for the object's class. This file evaluates both DACLs against
the SIDs of the bound account's token (the rootDSE's ``tokenGroups``: Samba 4.22 returns the account's own SID,
its groups and the well-known SIDs of a network logon, measured on the lab DC) the way MS-DTYP 2.5.3.2
(AccessCheck) walks a DACL: ACEs in order, inherit-only ACEs skipped, the first allow or deny of a bit decides.

It answers True (granted), False (refused) or None (this evaluation cannot tell: a conditional ACE, an
OWNER RIGHTS ACE, an object type it does not know). Only False stops a task; None leaves the decision to the DC,
so a token or an ACE shape this code does not model never blocks a delete the DC would allow.
"""
from __future__ import annotations

CONTROL_ACCESS = 0x00000100     # ADS_RIGHT_DS_CONTROL_ACCESS: an extended right, named by an object ACE's type
DELETE = 0x00010000
DELETE_CHILD = 0x00000002
READ_CONTROL = 0x00020000
WRITE_DAC = 0x00040000
INHERIT_ONLY = 0x08
OWNER_RIGHTS = 'S-1-3-4'

# schemaIDGUIDs of the classes the modules delete (MS-ADSC; read back from the Samba lab DC's schema).
CLASS_GUIDS = {
    'group': 'bf967a9c-0de6-11d0-a285-00aa003049e2',
    'computer': 'bf967a86-0de6-11d0-a285-00aa003049e2',
    'user': 'bf967aba-0de6-11d0-a285-00aa003049e2',
    'msds-groupmanagedserviceaccount': '7b8b558a-93a5-4af7-adca-c017e67f1057',
    'msds-managedserviceaccount': 'ce206244-5827-4a86-ba1c-1c0c386c1b64',
    'msds-delegatedmanagedserviceaccount': '0feb936f-47b3-49f2-9386-1dedc2c23765',
    'mskds-provrootkey': 'aa02fd41-17e0-4f18-8687-b2239649736b',
    'organizationalunit': 'bf967aa5-0de6-11d0-a285-00aa003049e2',
    'container': 'bf967a8b-0de6-11d0-a285-00aa003049e2',
}

# Control access rights (extended rights) by rightsGuid, with their display names (MS-ADTS 5.1.3.2.1).
RESET_PASSWORD = '00299570-246d-11d0-a768-00aa006e0529'
CONTROL_ACCESS_RIGHTS = {RESET_PASSWORD: 'Reset Password (User-Force-Change-Password)'}


def _parse(sd_bytes):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    sd = SECURITY_DESCRIPTOR.from_bytes(bytes(sd_bytes))
    owner = sd.Owner.to_sddl().upper() if sd.Owner is not None else None
    return owner, (sd.Dacl.aces if sd.Dacl is not None else None)   # None: no DACL at all


def _ace_object_type(ace):
    from winacl.dtyp.ace import ACE_OBJECT_PRESENCE
    if 'OBJECT' not in ace.AceType.name:
        return None
    if int(ace.Flags or 0) & ACE_OBJECT_PRESENCE.ACE_OBJECT_TYPE_PRESENT:
        return str(ace.ObjectType).lower()
    return None


def granted(sd_bytes, token, bit, object_type=None):
    """Pure: is ``bit`` granted by the DACL in ``sd_bytes`` to a token of SIDs ``token``? ``object_type``: the
    GUID an object ACE must name to apply (None: an allowing object ACE makes the answer uncertain)."""
    if not sd_bytes:
        return None
    token = set(s.upper() for s in token)
    owner, aces = _parse(sd_bytes)
    if aces is None:
        return True     # a NULL DACL grants every access (MS-DTYP 2.5.3.2)
    # The owner may read and change the DACL whatever it says, unless an OWNER RIGHTS ACE says otherwise
    # (MS-DTYP 2.5.3.2). Read without the owner part (a DACL-only read), this cannot be known.
    if bit in (READ_CONTROL, WRITE_DAC):
        if owner is None:
            return _walk(aces, token, bit, object_type) or None
        if owner in token and not any(a.Sid.to_sddl().upper() == OWNER_RIGHTS for a in aces):
            return True
    return _walk(aces, token, bit, object_type)


def _walk(aces, token, bit, object_type):
    uncertain = False
    for ace in aces:
        if int(ace.AceFlags or 0) & INHERIT_ONLY or not int(ace.Mask) & bit:
            continue
        kind = ace.AceType.name
        if 'ALLOWED' not in kind and 'DENIED' not in kind:
            continue
        sid = ace.Sid.to_sddl().upper()
        obj = _ace_object_type(ace)
        if obj is not None and object_type is None:
            uncertain = uncertain or 'ALLOWED' in kind     # an object type this check was not told about
            continue
        if obj is not None and obj != object_type.lower():
            continue
        if 'CALLBACK' in kind or sid == OWNER_RIGHTS:
            uncertain = uncertain or 'ALLOWED' in kind
            continue
        if sid not in token:
            continue
        return 'ALLOWED' in kind
    return None if uncertain else False


def may_delete(object_sd, parent_sd, token, object_class):
    """RIGHT_DELETE on the object, or RIGHT_DS_DELETE_CHILD on the parent for the object's class.
    ``parent_sd`` None: not read (asked only when the object's own DACL does not grant it)."""
    on_object = granted(object_sd, token, DELETE)
    if on_object:
        return True
    class_guid = CLASS_GUIDS.get((object_class or '').lower())
    on_parent = granted(parent_sd, token, DELETE_CHILD, class_guid) if parent_sd is not None else None
    if on_parent:
        return True
    if on_object is None or on_parent is None or class_guid is None:
        return None
    return False
