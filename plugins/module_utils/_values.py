# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generic LDAP value helpers shared by every directory module and the keytab code: one place for each.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure functions, no I/O. No import
of the collection or of Ansible: the Linux member's refresher package ``gmsa_farm_keytab`` carries this file.
"""
from __future__ import annotations

import re

try:
    from ldap3 import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE  # pylint: disable=unused-import
    from ldap3.protocol.microsoft import security_descriptor_control
    from ldap3.utils.dn import escape_rdn, parse_dn
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.operation.search import parse_filter
except ImportError:  # pragma: no cover - the connection layer reports the missing library
    MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE = 'MODIFY_ADD', 'MODIFY_DELETE', 'MODIFY_REPLACE'

# LDAP result codes the code decides on, by name (RFC 4511 4.1.9; MS-ADTS adds no codes of its own).
RESULT = dict(
    success=0, operationsError=1, sizeLimitExceeded=4, strongerAuthRequired=8, noSuchAttribute=16,
    inappropriateMatching=18, constraintViolation=19, attributeOrValueExists=20, noSuchObject=32, invalidDNSyntax=34,
    invalidCredentials=49, insufficientAccessRights=50, busy=51, unavailable=52, unwillingToPerform=53,
    notAllowedOnRDN=67, entryAlreadyExists=68, other=80,
)
RESULT_NAME = dict((v, k) for k, v in RESULT.items())

# sDRightsEffective bits (MS-ADTS 3.1.1.4.5.4): which parts of nTSecurityDescriptor the caller may write.
SD_RIGHT_DACL = 0x4


def result_name(code):
    return '%s (%s)' % (RESULT_NAME.get(code, 'result'), code)


def single(value):
    """A value as ldap3 decodes it - a list (multi-valued, or no schema) or one value - as one value: the first of
    a list (None when empty or absent)."""
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def first(attrs, name):
    """First value of an attribute in ldap3's decoded ``attributes`` (None when absent)."""
    return single(attrs.get(name))


def raw_first(entry, name):
    """First raw (bytes) value of an attribute of a search entry (None when absent)."""
    v = (entry.get('raw') or {}).get(name)
    return v[0] if v else None


def escape(value):
    """Escape a value for use inside an LDAP filter (RFC 4515 section 3: ``*``, ``(``, ``)``, ``\\`` and NUL)."""
    out = []
    for ch in value:
        if ch in '*()\\\x00':
            out.append('\\%02x' % ord(ch))
        else:
            out.append(ch)
    return ''.join(out)


def ldap_filter_bytes(data):
    """A binary value (a SID, a GUID) as an LDAP filter assertion value: every byte escaped (RFC 4515)."""
    return ''.join('\\%02x' % b for b in data)


def parent_dn(dn):
    """The DN of the parent ('' for a top-level DN), honouring escaped commas in the RDN."""
    i = 0
    while True:
        i = dn.find(',', i)
        if i < 0:
            return ''
        if i > 0 and dn[i - 1] == '\\':
            i += 1
            continue
        return dn[i + 1:]


def rdn_escape(value):
    return escape_rdn(value)


def dacl_control():
    """LDAP_SERVER_SD_FLAGS_OID asking for (or writing) the DACL part of nTSecurityDescriptor only."""
    return security_descriptor_control(sdflags=0x04)


def owner_dacl_control():
    """LDAP_SERVER_SD_FLAGS_OID asking for the owner and the DACL of nTSecurityDescriptor (no SACL: that needs
    a privilege readers do not have)."""
    return security_descriptor_control(sdflags=0x05)


def check_dn(option, value):
    """A DN given in an option: syntax checked before anything is sent (ldap3's parser, RFC 4514). Returns it
    without the spaces RFC 4514 allows around its separators (``OU=Farm, DC=x`` -> ``OU=Farm,DC=x``), the
    spelling the directory returns, so a task that compares it with a DN read back sees the same object."""
    if not isinstance(value, str) or not value.strip() or '=' not in value:
        raise ValueError('%s: %r is not a distinguished name (write it as OU=Servers,DC=example,DC=com)'
                         % (option, value))
    try:
        parts = parse_dn(value, escape=False, strip=True)
    except (LDAPInvalidDnError, ValueError, IndexError) as e:
        raise ValueError('%s: %r is not a valid distinguished name (%s)' % (option, value, e))
    return ''.join('%s=%s%s' % (attr, val, sep) for attr, val, sep in parts)


_FILTER_TOKEN = re.compile(r'\((?:[&|!]|[^()=<>~]+(?:=|>=|<=|~=|:[^()=]*:=)[^()]*)')


def check_filter(option, value):
    """An LDAP filter given in an option: balanced, every item ``(attr op value)`` (RFC 4515)."""
    v = (value or '').strip()
    depth = 0
    for ch in v:
        depth += (ch == '(') - (ch == ')')
        if depth < 0:
            break
    if not v.startswith('(') or depth != 0 or not _FILTER_TOKEN.match(v):
        raise ValueError('%s: %r is not an LDAP filter such as (objectClass=computer)' % (option, value))
    try:
        parse_filter(v, None, auto_escape=True, auto_encode=True, validator=None, check_names=False)
    except Exception as e:  # ldap3 raises several exception types for malformed filters
        raise ValueError('%s: %r is not a valid LDAP filter (%s)' % (option, value, e))
    return v


def check_range(option, value, low, high, unit=''):
    """A number given in an option, within the attribute's range (so nothing is written wrapped)."""
    if value is None:
        return None
    if not low <= value <= high:
        raise ValueError('%s: %s is outside %s..%s%s' % (option, value, low, high, unit))
    return value
