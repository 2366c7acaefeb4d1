# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KDS root keys (class msKds-ProvRootKey): functions to build, describe, choose and restrict keys, all pure
but ``search_keys`` (the one-level listing the info module and the gMSA checks read).

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

Facts (MS-GKDI; MS-ADTS 3.1.1.4.3 for what a reader without rights sees):
* container ``CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,<configuration NC>``;
  RDN ``CN=<key id>`` (lowercase GUID, no braces);
* a DC uses a key once ``msKds-UseStartTime <= now - (10 h + 5 min)``; among usable keys, the latest
  ``msKds-CreateTime`` wins;
* times are FILETIME (100-ns ticks since 1601-01-01 UTC) written as decimal integers.
"""
from __future__ import annotations

import datetime
import os
import struct
import uuid

from ansible_collections.gmsa.farm.plugins.module_utils._values import first

FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)
# How long after msKds-UseStartTime a DC starts using a key: replication allowance plus clock skew.
USABLE_DELAY = datetime.timedelta(hours=10, minutes=5)

ATTRIBUTES = [
    'cn', 'msKds-Version', 'msKds-DomainID', 'msKds-UseStartTime', 'msKds-CreateTime', 'msKds-KDFAlgorithmID',
    'msKds-SecretAgreementAlgorithmID', 'msKds-PublicKeyLength', 'msKds-PrivateKeyLength',
]

# RFC 5114 section 2.3: 2048-bit MODP group with 256-bit prime order subgroup, the group Windows' KDS uses.
_DH_PRIME = bytes.fromhex(
    '87a8e61db4b6663cffbbd19c651959998ceef608660dd0f25d2ceed4435e3b00e00df8f1d61957d4faf7df4561b2aa30'
    '16c3d91134096faa3bf4296d830e9a7c209e0c6497517abd5a8a9d306bcf67ed91f9e6725b4758c022e0b1ef4275bf7b'
    '6c5bfc11d45f9088b941f54eb1e59bb8bc39a0bf12307f5c4fdb70c581b23f76b63acae1caa6b7902d52526735488a0e'
    'f13c6d9a51bfa4ab3ad8347796524d8ef6a167b5a41825d967e144e5140564251ccacb83e6b486f6b3ca3f7971506026'
    'c0b857f689962856ded4010abd0be621c3a3960a54e710c375f26375d7014103a4b54330c198af126116d2276e11715f'
    '693877fad7ef09cadb094ae91e1a1597'
)
_DH_GENERATOR = bytes.fromhex(
    '3fb32c9b73134d0b2e77506660edbd484ca7b18f21ef205407f4793a1a0ba12510dbc15077be463fff4fed4aac0bb555'
    'be3a6c1b0c6b47b1bc3773bf7e8c6f62901228f8c28cbb18a55ae31341000a650196f931c77a57f2ddf463e5e9ec144b'
    '777de62aaab8a8628ac376d282d6ed3864e67982428ebc831d14348f6f2f9193b5045af2767164e1dfc967c1fb3f2e55'
    'a4bd1bffe83b9c80d052b985d182ea0adb2a3b7313d3fe14c8484b1e052588b9b7d2bbd2df016199ecd06e1557cd0915'
    'b3353bbb64e0ec377fd028370df92b52c7891428cdc67eb6184b523d1db246c32f63078490f00ef8d647d148d4795451'
    '5e2327cfef98c582664b4c0f6cc41659'
)


def container_dn(configuration_nc):
    return 'CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,%s' % configuration_nc


def to_filetime(dt):
    delta = dt - FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10 ** 7 + delta.microseconds * 10


def from_filetime(value):
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    value = int(value)
    return FILETIME_EPOCH + datetime.timedelta(microseconds=value // 10)


def iso(dt):
    return dt.astimezone(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ') if dt else None


def kdf_param():
    """msKds-KDFParam: u32 0, u32 1, u32 14 (byte length of the name), u32 0, UTF-16LE 'SHA512\\0'."""
    name = 'SHA512\x00'.encode('utf-16-le')
    return struct.pack('<IIII', 0, 1, len(name), 0) + name


def secret_agreement_param():
    """msKds-SecretAgreementParam: FFC DH parameters, u32 524, u32 'DHPM', u32 256, prime, generator."""
    return struct.pack('<III', 524, 0x4D504844, 256) + _DH_PRIME + _DH_GENERATOR


def start_time_for(now, effective_time_hours):
    """UseStartTime so that DCs may use the key ``effective_time_hours`` from ``now`` (0: at once)."""
    return now + datetime.timedelta(hours=effective_time_hours) - USABLE_DELAY


def new_key_attributes(key_id, now, effective_time_hours, dc_computer_dn, root_key_data=None, config=None,
                       security_descriptor=None):
    """The exact attribute set Windows writes for a new root key: its defaults, overridden by the forest's KDS
    configuration (``config``: configured_parameters()), and the protected descriptor."""
    start = start_time_for(now, effective_time_hours)
    attrs = {
        'cn': key_id,
        'msKds-Version': 1,
        'msKds-DomainID': dc_computer_dn,
        'msKds-UseStartTime': to_filetime(start),
        'msKds-CreateTime': to_filetime(now),
        'msKds-KDFAlgorithmID': 'SP800_108_CTR_HMAC',
        'msKds-KDFParam': kdf_param(),
        'msKds-SecretAgreementAlgorithmID': 'DH',
        'msKds-SecretAgreementParam': secret_agreement_param(),
        'msKds-PublicKeyLength': 2048,
        'msKds-PrivateKeyLength': 512,
        'msKds-RootKeyData': root_key_data if root_key_data is not None else os.urandom(64),
    }
    attrs.update(config or {})
    if security_descriptor is not None:
        attrs['nTSecurityDescriptor'] = security_descriptor
    return attrs


def normalise_key_id(value):
    """A key id as Windows names it: lowercase hyphenated GUID without braces; ValueError when not a GUID."""
    return str(uuid.UUID(value.strip().strip('{}'))).lower()


# --------------------------------------------------------------------------- the key's descriptor
# Add-KdsRootKey writes a protected DACL granting only Enterprise Admins, Domain Admins and SYSTEM. Whoever can
# read msKds-RootKeyData can compute every gMSA password in the forest, so the key must not inherit anything.
KEY_SDDL = 'D:P(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY)'
SE_DACL_PROTECTED = 0x1000
SE_SACL_PROTECTED = 0x2000
_KEY_TRUSTEE_RIDS = ('-519', '-512')    # Enterprise Admins, Domain Admins of the forest root domain
SYSTEM = 'S-1-5-18'
INHERITED_ACE = 0x10


def key_security_descriptor(root_domain_sid):
    """The binary descriptor Add-KdsRootKey gives a key, for the forest root domain's SID: DACL present and
    protected, no SACL in the descriptor and the SACL-protected bit clear, so the audit entries the key inherits
    from the Configuration partition stay (winacl's SDDL parser sets that bit along with the DACL's)."""
    from winacl.dtyp.security_descriptor import SE_SACL, SECURITY_DESCRIPTOR
    sd = SECURITY_DESCRIPTOR.from_sddl(KEY_SDDL, domain_sid=root_domain_sid)
    sd.Control = SE_SACL(int(sd.Control) & ~SE_SACL_PROTECTED)
    return sd.to_bytes()


def key_dacl_report(dacl_sd, root_domain_sid):
    """Pure: how a key's DACL compares with the one Windows writes. Returns dict(dacl_protected,
    extra_trustees: SIDs granted any access beyond EA, DA and SYSTEM, wider: bool)."""
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    from winacl.dtyp.ace import ACEType
    sd = SECURITY_DESCRIPTOR.from_bytes(bytes(dacl_sd))
    allowed = {SYSTEM} | set(root_domain_sid + rid for rid in _KEY_TRUSTEE_RIDS)
    extra = []
    for ace in (sd.Dacl.aces if sd.Dacl else []):
        if ace.AceType in (ACEType.ACCESS_ALLOWED_ACE_TYPE, ACEType.ACCESS_ALLOWED_OBJECT_ACE_TYPE):
            sid = ace.Sid.to_sddl()
            if sid not in allowed and sid not in extra:
                extra.append(sid)
    protected = bool(int(sd.Control) & SE_DACL_PROTECTED)
    return dict(dacl_protected=protected, extra_trustees=extra, wider=bool(extra) or not protected)


def _explicit_denials(sd):
    """The explicit deny entries of a parsed descriptor's DACL: they only narrow who may use the key. Written first,
    the canonical order ("Order of ACEs in a DACL",
    https://learn.microsoft.com/en-us/windows/win32/secauthz/order-of-aces-in-a-dacl)."""
    from winacl.dtyp.ace import ACEType
    deny = (ACEType.ACCESS_DENIED_ACE_TYPE, ACEType.ACCESS_DENIED_OBJECT_ACE_TYPE)
    return [a for a in (sd.Dacl.aces if sd.Dacl else [])
            if a.AceType in deny and not int(a.AceFlags or 0) & INHERITED_ACE]


def restricted_dacl(current_sd, root_domain_sid):
    """Pure: the descriptor a restriction writes (DACL part) given the key's DACL as it is now (``current_sd``,
    bytes, or None): the DACL Add-KdsRootKey writes, preceded by the explicit deny entries the key has (they only
    narrow it, so a denial someone added - even while this task ran - is kept; allow entries for anyone else and
    everything inherited go)."""
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    wanted = key_security_descriptor(root_domain_sid)
    if not current_sd:
        return wanted
    denials = _explicit_denials(SECURITY_DESCRIPTOR.from_bytes(bytes(current_sd)))
    if not denials:
        return wanted
    sd = SECURITY_DESCRIPTOR.from_bytes(wanted)
    sd.Dacl.aces = denials + list(sd.Dacl.aces)
    return sd.to_bytes()


def restricted_sddl(current_sd):
    """Pure: the DACL a restriction leaves, as SDDL for the diff: KEY_SDDL with the key's explicit deny entries
    first."""
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    denials = _explicit_denials(SECURITY_DESCRIPTOR.from_bytes(bytes(current_sd))) if current_sd else []
    return 'D:P%s%s' % (''.join(a.to_sddl() for a in denials), KEY_SDDL[len('D:P'):])


# --------------------------------------------------------------------------- Set-KdsConfiguration
# The forest's KDS configuration object: its algorithm choices apply to new keys (Windows' Add-KdsRootKey
# copies them); absent values mean Windows' defaults.
CONFIG_ATTRIBUTES = ['msKds-KDFAlgorithmID', 'msKds-KDFParam', 'msKds-SecretAgreementAlgorithmID',
                     'msKds-SecretAgreementParam', 'msKds-PublicKeyLength', 'msKds-PrivateKeyLength']


def config_dn(configuration_nc):
    return ('CN=Group Key Distribution Service Server Configuration,CN=Server Configuration,'
            'CN=Group Key Distribution Service,CN=Services,%s' % configuration_nc)


def configured_parameters(entry):
    """Pure: the configuration object's search entry (or None) → the attribute values it sets."""
    if entry is None:
        return {}
    out = {}
    for name in CONFIG_ATTRIBUTES:
        raw = (entry.get('raw') or {}).get(name)
        if not raw:
            continue
        if name.endswith('Length'):
            out[name] = int(raw[0])
        elif name.endswith('AlgorithmID'):
            out[name] = raw[0].decode('utf-8')
        else:
            out[name] = bytes(raw[0])
    return out


# --------------------------------------------------------------------------- reading the keys
# An attribute the requester may not read is absent when the DC evaluates a filter (MS-ADTS 3.1.1.4.3), so a
# search for (objectClass=msKds-ProvRootKey) finds nothing for an account that may not read the key objects (with
# the descriptor Windows writes, anyone but Enterprise Admins, the forest root's Domain Admins and SYSTEM).
# Measured on the Samba lab: such an account's (objectClass=*) one-level search of the container returns each key's
# DN with no attribute values. Keys are therefore listed with (objectClass=*), and a key seen only by its DN is
# reported as unreadable, never as absent.
LIST_FILTER = '(objectClass=*)'


def search_keys(directory, attributes=None, controls=None):
    """Every object in the key container (one one-level search), readable or not."""
    return directory.search(container_dn(directory.configuration_nc), LIST_FILTER,
                            list(attributes or ATTRIBUTES), scope='one', controls=controls)


def split_listing(entries, container):
    """A subtree search of the key container → (the container's entry or None, the keys' entries)."""
    top = [e for e in entries if e['dn'].lower() == container.lower()]
    return (top[0] if top else None), [e for e in entries if e['dn'].lower() != container.lower()]


def is_readable(entry):
    a = entry['attributes']
    return bool(a.get('msKds-UseStartTime') or a.get('msKds-CreateTime'))


def key_id_from_dn(dn):
    rdn = dn.split(',', 1)[0]
    return rdn.split('=', 1)[1] if '=' in rdn else rdn


def unreadable_warning(keys, bound_as):
    """The warning for keys this account sees only by name, naming the right it lacks (or None)."""
    hidden = [k['key_id'] for k in keys if not k['readable']]
    if not hidden:
        return None
    return ('%d KDS root key%s exist%s that %s cannot read (%s): reading a key needs the Read Property right on its '
            'msKds-ProvRootKey object, which the descriptor Windows writes grants only to Enterprise Admins, the '
            'forest root domain\'s Domain Admins and SYSTEM. Whether a usable key exists cannot be told from this '
            'account; a domain controller still computes gMSA passwords from such a key.' % (
                len(hidden), '' if len(hidden) == 1 else 's', 's' if len(hidden) == 1 else '', bound_as,
                ', '.join(sorted(hidden))))


def _key_id(value):
    """(the key id as Windows names it, True) for a GUID; (the value as it is, False) otherwise."""
    try:
        return normalise_key_id(value), True
    except (ValueError, AttributeError):
        return value, False


def describe_key(entry, now):
    """Search entry → the public description of a key (never its key material). A key this account sees only by
    its DN has ``readable: false`` and ``usable: null`` (unknown)."""
    a = entry['attributes']
    if not is_readable(entry):
        key_id, valid_id = _key_id(key_id_from_dn(entry['dn']))
        return dict(key_id=key_id, distinguished_name=entry['dn'], readable=False, creation_time=None,
                    effective_time=None, created=None, effective=None, usable_at=None, usable=None,
                    valid_id=valid_id, domain_controller=None, kdf_algorithm=None, _created=None)
    start = from_filetime(first(a, 'msKds-UseStartTime'))
    created = from_filetime(first(a, 'msKds-CreateTime'))
    usable_at = start + USABLE_DELAY if start else None
    key_id, valid_id = _key_id(first(a, 'cn'))
    return dict(
        key_id=key_id,
        distinguished_name=entry['dn'],
        readable=True,
        creation_time=iso(created),
        effective_time=iso(start),
        # the names before 1.0.0, kept as documented aliases until 2.0.0
        created=iso(created),
        effective=iso(start),
        usable_at=iso(usable_at),
        usable=bool(valid_id and usable_at is not None and usable_at <= now),
        valid_id=valid_id,
        domain_controller=first(a, 'msKds-DomainID'),
        kdf_algorithm=first(a, 'msKds-KDFAlgorithmID'),
        _created=created,
    )


def public(key):
    return dict((k, v) for k, v in key.items() if not k.startswith('_'))


def active_key(keys):
    """The key DCs use now: the usable one with the latest creation time, or None."""
    usable = [k for k in keys if k['usable']]
    return max(usable, key=lambda k: k['_created']) if usable else None


def choose_existing(keys, match_by, key_id=None):
    """The existing key that satisfies ``state=present`` for ``match_by``, or None (a key must be created)."""
    if match_by == 'never':
        return None
    if match_by == 'key_id':
        for k in keys:
            if k['key_id'] == key_id:
                return k
        return None
    # any: prefer the key DCs use now; else the pending key that becomes usable first.
    act = active_key(keys)
    if act:
        return act
    pending = [k for k in keys if k['valid_id'] and k['usable_at']]
    return min(pending, key=lambda k: k['usable_at']) if pending else None


# --------------------------------------------------------------------------- which key an account derives from
# msDS-ManagedPasswordId is a KeyIdentifier (MS-GKDI 2.2.4): u32 version 1, magic "KDSK", u32 flags, u32 L0, L1,
# L2 indexes, then the root key's GUID (16 bytes, the mixed-endian layout of objectGUID), then the domain and
# forest names. Read back from the lab: the GUID at offset 24 is the cn of the key the account was created under.
PASSWORD_ID_MAGIC = b'KDSK'


def password_id_root_key(blob):
    """The root key id (lowercase GUID) a msDS-ManagedPasswordId value names, or None when it is not one."""
    if not blob or len(blob) < 40 or bytes(blob[4:8]) != PASSWORD_ID_MAGIC:
        return None
    return str(uuid.UUID(bytes_le=bytes(blob[24:40])))


def accounts_using_key(entries, key_id):
    """Pure: DNs of the accounts whose current password (msDS-ManagedPasswordId) derives from ``key_id``."""
    out = []
    for e in entries:
        raw = (e.get('raw') or {}).get('msDS-ManagedPasswordId') or []
        if raw and password_id_root_key(raw[0]) == key_id:
            out.append(e['dn'])
    return sorted(out)
