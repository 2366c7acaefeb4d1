# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Linux farm member's keytab from a gMSA's managed password.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

Used two ways, with the same code:
* by the module ``gmsa.farm.gmsa_keytab`` (through Ansible), and
* by the member's refresher ``gmsa_farm_keytab`` (``_keytab_refresh.py``, which the member role installs as a small
  package with this file and ``_ldap_connection.py``; none of them needs Ansible at run time).

Nothing here imports Ansible. No password, key or blob is ever put in a message, a log line or a result: the
result describes keytab entries by principal, kvno and encryption type only.

Facts relied on (sources in docs/linux-facts.md, L1-L16):
* MSDS-MANAGEDPASSWORD_BLOB layout (MS-ADTS 2.2.19); measured on Samba 4.22: 290 bytes, no previous password on
  a new account.
* The rotation window (MS-ADTS 3.1.1.4.5.39 msDS-ManagedPassword; Samba's gmsa_recalculate_managed_pwd): when the
  QueryPasswordInterval is at most the maximum clock skew (5 minutes), the blob's "current" password is the NEXT one
  and its "previous" the one in use, and UnchangedPasswordInterval is about a whole password interval ahead.
  Outside it, Unchanged = Query - 5 minutes. msDS-KeyVersionNumber names the key in use until the rotation.
  Measured on Samba 4.22 with its clock moved (blobs kept as unit test data).
* Salt of a gMSA (a computer-class account): REALM + "host" + lower(name without $) + "." + lower(DNS domain)
  (MS-KILE 3.1.1.2); AES keys from the password decoded as UTF-16LE with unpaired surrogates replaced by U+FFFD
  and encoded UTF-8 (what Samba and Windows do with machine passwords); RC4 key = MD4 of the raw UTF-16LE bytes.
* Keys are derived here (RFC 3962 with the standard library's PBKDF2 and cryptography's AES) and the keytab is
  written in MIT's file format, so a member needs no compiled Kerberos binding: distro packages only.
"""
from __future__ import annotations

import datetime
import hashlib
import os
import socket
import struct
import tempfile
import time

from ._enctypes import KEYTAB_TYPES

try:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - depends on the host
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = e


ENCTYPES = KEYTAB_TYPES   # name -> (Kerberos enctype number, msDS-SupportedEncryptionTypes bit, label)
ENCTYPE_NAMES = dict((v[0], k) for k, v in ENCTYPES.items())
BLOB_HEADER = struct.Struct('<HHIHHHH')
# The maximum clock skew of MS-ADTS / Kerberos: the rotation window is the last CLOCK_SKEW seconds before a rotation.
CLOCK_SKEW = 300
# Refresh this long after the window opens / after the rotation (well inside the 5-minute window).
REFRESH_DELAY = 30
# Keys of an earlier kvno stay in the keytab this long after the rotation that retired them: tickets encrypted with
# them are valid until they expire (AD's default maximum service ticket lifetime: 10 hours).
DEFAULT_KEEP_PREVIOUS = 10 * 3600
ATTRIBUTES = ['sAMAccountName', 'objectClass', 'servicePrincipalName', 'msDS-SupportedEncryptionTypes',
              'msDS-KeyVersionNumber', 'msDS-ManagedPassword']


MACHINE_KEYTAB = '/etc/krb5.keytab'
# The option defaults that the refresh command fills in when its configuration leaves them out (the module's
# argument spec has the same ones).
DEFAULTS = dict(state='present', encryption_types=['aes256', 'aes128'], domain_tls='ldaps', domain_auth='kerberos',
                domain_validate_certs=True, domain_timeout=10, keep_previous_seconds=DEFAULT_KEEP_PREVIOUS)


def member_params(params):
    """Defaults, then the machine's own identity: its keytab (/etc/krb5.keytab) and its account, read from that
    keytab (the host name would be wrong past 15 characters, where the join truncated the account name)."""
    p = dict(DEFAULTS)
    p.update((k, v) for k, v in params.items() if v is not None)
    if p['domain_auth'] == 'kerberos' and not (p.get('domain_password') or p.get('domain_ccache')):
        p['domain_keytab'] = p.get('domain_keytab') or MACHINE_KEYTAB
    if not p.get('domain_username') and (p['domain_auth'] == 'simple' or p.get('domain_keytab')):
        p['domain_username'] = machine_principal(p.get('domain_keytab')) or \
            socket.gethostname().split('.')[0][:15].upper() + '$'
    return p


def machine_principal(path):
    """The computer account's principal (NAME$@REALM) in a machine keytab, or None (no file, unreadable, none)."""
    try:
        entries = read_keytab(path) if path else []
    except (KeytabError, OSError):
        return None
    for principal, _kvno, _enctype, _key, _stamp in entries:
        name = principal.rpartition('@')[0]
        if '/' not in name and name.endswith('$'):
            return principal
    return None


class KeytabError(Exception):
    """A failure with a message for a person; never carries secret material."""


class ManagedPassword(object):
    """The parts of an MSDS-MANAGEDPASSWORD_BLOB. ``current``/``previous`` are the raw UTF-16LE bytes without the
    terminating NUL (``previous`` is None when the DC sent none). ``__repr__`` never shows them."""

    def __init__(self, current, previous, query_seconds, unchanged_seconds):
        self.current = current
        self.previous = previous
        self.query_seconds = query_seconds
        self.unchanged_seconds = unchanged_seconds

    def __repr__(self):
        return ('ManagedPassword(previous=%s, query_seconds=%s, unchanged_seconds=%s)'
                % (self.previous is not None, self.query_seconds, self.unchanged_seconds))

    @property
    def in_window(self):
        """The last minutes before a rotation: the DC answers with the next password as "current" and the one in
        use as "previous". A DC says so by a query interval of at most the clock skew (5 minutes); its unchanged
        interval then runs to the end of the next password's life, beyond the query interval."""
        return self.previous is not None and self.query_seconds <= CLOCK_SKEW

    @property
    def rotates_at(self):
        """Seconds from the read until the DC rotates the password."""
        return max(self.query_seconds, 0)


def _utf16_string(blob, offset, what):
    """The NUL-terminated UTF-16LE string at ``offset`` (bytes, without the NUL)."""
    end = offset
    while end + 1 < len(blob):
        if blob[end] == 0 and blob[end + 1] == 0:
            return blob[offset:end]
        end += 2
    raise KeytabError('the managed password blob is malformed: the %s password has no terminating NUL' % what)


def parse_blob(blob):
    """Parse an MSDS-MANAGEDPASSWORD_BLOB (MS-ADTS 2.2.19) by its offsets (they are not aligned)."""
    if not isinstance(blob, (bytes, bytearray)) or len(blob) < BLOB_HEADER.size:
        raise KeytabError('the managed password blob is malformed: %d bytes, shorter than its header'
                          % len(blob or b''))
    version, _reserved, length, cur, prev, query, unchanged = BLOB_HEADER.unpack_from(blob)
    if version != 1:
        raise KeytabError('the managed password blob has version %d; only version 1 is known' % version)
    if length > len(blob):
        raise KeytabError('the managed password blob is malformed: it says %d bytes, %d arrived' % (length, len(blob)))
    for label, off, size in (('current password', cur, 4), ('previous password', prev, 0),
                             ('query interval', query, 8), ('unchanged interval', unchanged, 8)):
        if off and (off < BLOB_HEADER.size or off + size > length):
            raise KeytabError('the managed password blob is malformed: the %s offset %d is outside it' % (label, off))
    if not cur or not query or not unchanged:
        raise KeytabError('the managed password blob is malformed: a required offset is zero')
    current = _utf16_string(blob, cur, 'current')
    previous = _utf16_string(blob, prev, 'previous') if prev else None
    q = struct.unpack_from('<q', blob, query)[0] / 1e7
    u = struct.unpack_from('<q', blob, unchanged)[0] / 1e7
    if not current:
        raise KeytabError('the managed password blob is malformed: the current password is empty')
    return ManagedPassword(current, previous, q, u)


def salt(sam_account_name, dns_domain):
    """AD's salt for a computer-class account such as a gMSA (MS-KILE 3.1.1.2)."""
    name = sam_account_name[:-1] if sam_account_name.endswith('$') else sam_account_name
    return '%shost%s.%s' % (dns_domain.upper(), name.lower(), dns_domain.lower())


def _md4(data):
    try:
        return hashlib.new('md4', data).digest()
    except ValueError:
        pass
    for mod in ('Cryptodome.Hash.MD4', 'Crypto.Hash.MD4'):
        try:
            md4 = __import__(mod, fromlist=['MD4'])
            return md4.new(data).digest()
        except ImportError:
            continue
    raise KeytabError('encryption type rc4 needs MD4, which this host\'s OpenSSL does not offer (OpenSSL 3 moved it '
                      'to the legacy provider): install pycryptodome (pip install pycryptodome) or leave rc4 out of '
                      'encryption_types')


def nfold(data, nbytes):
    """RFC 3961 section 5.1 n-fold of ``data`` to ``nbytes`` bytes."""
    bits_in, bits_out = len(data) * 8, nbytes * 8
    lcm = bits_in * bits_out // _gcd(bits_in, bits_out)
    big = 0
    value = int.from_bytes(data, 'big')
    for i in range(lcm // bits_in):
        rot = (13 * i) % bits_in       # each copy rotated right by 13 more bits
        copy = ((value >> rot) | (value << (bits_in - rot))) & ((1 << bits_in) - 1)
        big = (big << bits_in) | copy
    out = [0] * nbytes
    blob = big.to_bytes(lcm // 8, 'big')
    for off in range(0, len(blob), nbytes):   # ones' complement addition of the nbytes-long chunks
        carry = 0
        for j in range(nbytes - 1, -1, -1):
            t = out[j] + blob[off + j] + carry
            out[j], carry = t & 0xff, t >> 8
        while carry:
            for j in range(nbytes - 1, -1, -1):
                t = out[j] + carry
                out[j], carry = t & 0xff, t >> 8
                if not carry:
                    break
    return bytes(out)


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _aes_block(key, block):
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return encryptor.update(block) + encryptor.finalize()


def aes_string_to_key(password_utf8, account_salt, key_size, iterations=4096):
    """RFC 3962 string-to-key: PBKDF2-HMAC-SHA1 of the password and salt, then DK(tkey, "kerberos") (RFC 3961
    5.1: the 128-bit n-fold of the constant, encrypted with AES-CBC under a zero IV until there are enough bytes)."""
    if not HAS_CRYPTOGRAPHY:
        raise KeytabError('the Python library cryptography is required for AES keys (Debian/Ubuntu: apt-get install '
                          'python3-cryptography; RHEL: dnf install python3-cryptography): %s'
                          % CRYPTOGRAPHY_IMPORT_ERROR)
    tkey = hashlib.pbkdf2_hmac('sha1', password_utf8, account_salt, iterations, key_size)
    block, out = nfold(b'kerberos', 16), b''
    while len(out) < key_size:
        block = _aes_block(tkey, block)
        out += block
    return out[:key_size]


def derive_keys(raw_password, account_salt, enctypes):
    """{enctype name: key bytes} for one password. AES: RFC 3962 string-to-key of the password as UTF-8; RC4: the
    NT hash (RFC 4757: MD4 of the UTF-16LE password)."""
    keys = {}
    utf8 = raw_password.decode('utf-16-le', 'replace').encode('utf-8')
    for name in enctypes:
        if name == 'rc4':
            keys[name] = _md4(bytes(raw_password))
        else:
            keys[name] = aes_string_to_key(utf8, account_salt.encode('utf-8'), 32 if name == 'aes256' else 16)
    return keys


def usable_enctypes(wanted, supported_bits):
    """The wanted encryption types the account has keys for. ``supported_bits`` is msDS-SupportedEncryptionTypes
    (None when unset: then AD keeps AES and RC4 keys for the account, so every wanted type is usable)."""
    if supported_bits is None:
        return list(wanted)
    return [n for n in wanted if supported_bits & ENCTYPES[n][1]]


def have_md4():
    """Whether this host can compute RC4 keys (MD4 through OpenSSL or pycryptodome)."""
    try:
        _md4(b'')
        return True
    except KeytabError:
        return False


def account_enctypes(sam, wanted, supported_raw, md4_available):
    """Pure: the encryption types to write keys of, and warnings. ``supported_raw`` is the account's
    msDS-SupportedEncryptionTypes as read; unset and 0 mean the same to a KDC (Samba's KDC replaces 0 with its
    default set): its tickets then come with a type of the KDC's defaults (on a Windows DC
    DefaultDomainSupportedEncTypes decides), so keys of every type it may use are written - RC4 only where this
    host can compute it."""
    supported = None if supported_raw in (None, '', '0', 0) else int(supported_raw)
    enctypes = usable_enctypes(wanted, supported)
    if supported is not None:
        return enctypes, []
    extra = [n for n in ('aes256', 'aes128', 'rc4') if n not in enctypes]
    skipped = [] if md4_available else [n for n in ('rc4',) if n in extra or n in enctypes]
    enctypes = [n for n in list(enctypes) + extra if n not in skipped]
    warning = ('%s has no msDS-SupportedEncryptionTypes (or 0): a KDC then encrypts its tickets with a type of its '
               'own defaults (on Windows DCs DefaultDomainSupportedEncTypes decides), so keys of %s were written'
               % (sam, ', '.join(enctypes)))
    if skipped:
        warning += ('; rc4 was left out: this host has no MD4 (OpenSSL 3 keeps it in the legacy provider; '
                    'pycryptodome provides it)')
    return enctypes, [warning + '. Set kerberos_encryption_types on the gMSA (for example [aes256, aes128]) to '
                      'choose.']


def plan_versions(mp, kvno, principal, is_account):
    """[(principal, kvno, 'current'|'previous')] for one principal; ``kvno`` is msDS-KeyVersionNumber, which names
    the key in use.

    Outside the rotation window: current at kvno, previous (when the DC sends one) at kvno - 1. Inside it: the
    blob's current password is the next one, so it goes to kvno + 1, and its previous password is the one in use, at
    kvno: tickets from before and after the rotation are both accepted without another refresh. The account's own
    principal keeps only the key in use until the rotation: MIT kinit -k takes the highest kvno of the client
    principal, and the KDC does not know the next key yet."""
    if mp.in_window:
        if is_account:
            return [(principal, kvno, 'previous')]
        return [(principal, kvno + 1, 'current'), (principal, kvno, 'previous')]
    out = [(principal, kvno, 'current')]
    if mp.previous is not None and kvno > 1:
        out.append((principal, kvno - 1, 'previous'))
    return out


def next_refresh(mp, now):
    """When the keytab should be refreshed next (epoch seconds): inside the window, just after the rotation (the
    account's own principal gets the new key, the DC's kvno moves); outside it, just after the window opens (the
    next password becomes readable CLOCK_SKEW seconds before the rotation)."""
    return now + refresh_wait(mp.rotates_at, mp.in_window)


def refresh_wait(rotates_in, in_window):
    """Seconds from a read until the next refresh, given the seconds until the rotation."""
    if in_window:
        return rotates_in + REFRESH_DELAY
    return max(rotates_in - CLOCK_SKEW, 0) + REFRESH_DELAY


def kept_entries(existing, planned, now, keep_seconds):
    """Entries of ``existing`` [(principal, kvno, enctype, key, timestamp)] to carry over into a keytab whose new
    entries are ``planned``: keys of a kvno below the lowest planned one of the same principal (the DC no longer
    sends them: a first rotation comes with no previous password, and rotations missed while a member was down skip
    kvnos) while a ticket encrypted with them may still be valid. The retiring rotation happened at most CLOCK_SKEW
    seconds after the entry's successor was first written (that successor was written in the window at the
    earliest), so an entry is kept until successor timestamp + CLOCK_SKEW + ``keep_seconds``."""
    lowest = {}
    for p, k, _e, _key in planned:
        lowest[p.lower()] = min(k, lowest.get(p.lower(), k))
    written = {}
    for p, k, _e, _key, stamp in existing:
        written.setdefault((p.lower(), k), stamp)
        written[(p.lower(), k)] = min(written[(p.lower(), k)], stamp)
    out = []
    for p, k, e, key, stamp in existing:
        floor = lowest.get(p.lower())
        if floor is None or k >= floor:
            continue
        successors = [s for (q, v), s in written.items() if q == p.lower() and v > k]
        retired = min(successors) if successors else now
        if now < retired + CLOCK_SKEW + keep_seconds:
            out.append((p, k, e, key))
    return out


def iso(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# ---------------------------------------------------------------------------------------------------- keytab file
# MIT krb5's keytab file format, version 0x0502 (big-endian): per entry a signed 32-bit size (negative: a hole),
# the principal (component count, realm and components as 16-bit counted strings, 32-bit name type), a 32-bit
# timestamp, an 8-bit kvno, the key (16-bit enctype, counted key bytes), and the kvno again in 32 bits.
KEYTAB_VERSION = b'\x05\x02'
NT_PRINCIPAL = 1


def _split_principal(principal):
    name, sep, realm = principal.rpartition('@')
    if not sep or not name or not realm or '@' in name:
        raise KeytabError('%r is not a Kerberos principal name (name@REALM)' % principal)
    return name.split('/'), realm


def _counted(text):
    data = text.encode('utf-8')
    return struct.pack('>H', len(data)) + data


def keytab_bytes(entries, stamps=None, now=None):
    """The keytab file holding ``entries`` [(principal, kvno, enctype number, key)]."""
    now = int(time.time() if now is None else now)
    out = [KEYTAB_VERSION]
    for principal, kvno, enctype, key in entries:
        components, realm = _split_principal(principal)
        stamp = (stamps or {}).get((principal, kvno, enctype, key), now)
        body = (struct.pack('>H', len(components)) + _counted(realm) + b''.join(_counted(c) for c in components) +
                struct.pack('>IIBHH', NT_PRINCIPAL, stamp, kvno & 0xff, enctype, len(key)) + bytes(key) +
                struct.pack('>I', kvno))
        out.append(struct.pack('>i', len(body)) + body)
    return b''.join(out)


def parse_keytab(data, path='keytab'):
    """[(principal, kvno, enctype number, key bytes, timestamp)] of a keytab file's bytes."""
    if data[:2] != KEYTAB_VERSION:
        raise KeytabError('path %s is not a keytab this module can read (it does not start with the MIT keytab '
                          'version 0x0502); move it away or choose another path' % path)
    out, i = [], 2
    try:
        while i + 4 <= len(data):
            size = struct.unpack_from('>i', data, i)[0]
            i += 4
            if size <= 0:          # a hole left by a removed entry
                i += -size
                continue
            body, i = data[i:i + size], i + size
            if len(body) < size:
                raise ValueError('truncated entry')
            count, j = struct.unpack_from('>H', body, 0)[0], 2
            parts = []
            for _n in range(count + 1):
                length = struct.unpack_from('>H', body, j)[0]
                parts.append(body[j + 2:j + 2 + length].decode('utf-8'))
                j += 2 + length
            _name_type, stamp, kvno8, enctype, keylen = struct.unpack_from('>IIBHH', body, j)
            j += 13
            key = body[j:j + keylen]
            j += keylen
            kvno = struct.unpack_from('>I', body, j)[0] if len(body) >= j + 4 else kvno8
            out.append(('/'.join(parts[1:]) + '@' + parts[0], kvno, enctype, bytes(key), stamp))
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise KeytabError('path %s is not a readable keytab (%s); move it away or choose another path' % (path, e))
    return out


def read_keytab(path):
    """[(principal, kvno, enctype number, key bytes, timestamp)] of the keytab at path; [] when there is no file."""
    if not os.path.exists(path):
        return []
    if not os.path.isfile(path):
        raise KeytabError('path %s exists and is not a file' % path)
    with open(path, 'rb') as f:
        return parse_keytab(f.read(), path)


def write_keytab_atomic(path, entries, stamps=None):
    """Write ``entries`` [(principal, kvno, enctype number, key)] to a new file next to ``path`` and rename it over
    ``path``: readers see the old keytab or the new one, never half of one. A keytab that is replaced keeps its
    owner, group and mode (a service reading it never loses access); a new one is 0600, owned by the caller.
    ``stamps`` maps an entry to the timestamp it had (an entry keeps the time it was first written); others get
    the current time."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise KeytabError('the directory of path %s does not exist' % path)
    data = keytab_bytes(entries, stamps)       # every name checked before anything is written
    mode, uid, gid = 0o600, None, None
    if os.path.exists(path):
        st = os.stat(path)
        mode, uid, gid = st.st_mode & 0o7777, st.st_uid, st.st_gid
    tmpdir = tempfile.mkdtemp(prefix='.gmsa-keytab-', dir=directory)
    tmp = os.path.join(tmpdir, 'keytab')
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        if uid is not None:
            os.chown(tmp, uid, gid)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        os.rmdir(tmpdir)


def enctype_label(number):
    return ENCTYPES[ENCTYPE_NAMES[number]][2] if number in ENCTYPE_NAMES else 'enctype %d' % number


def describe(entries):
    """Entries as text lines without key material, sorted: ``kvno 2 aes256-cts-hmac-sha1-96 HTTP/web@REALM``."""
    return sorted('kvno %d %s %s' % (kvno, enctype_label(e), principal)
                  for principal, kvno, e, _key in (item[:4] for item in entries))


# ------------------------------------------------------------------------------------------------ the directory
def _kvno(entry):
    from ._values import first   # here, not at the top: an idle refresher tick imports no LDAP library
    kvno = first((entry or {}).get('attributes') or {}, 'msDS-KeyVersionNumber')
    return int(kvno) if kvno not in (None, '') else None


def fetch(directory, name):
    """Read the account with its managed password and kvno (one search), then its kvno again (a base search). The
    first read may be what makes the DC rotate the password (a DC rotates when the password is read after its
    query interval): the blob then already holds the new passwords while the kvno beside it is the old one. When the
    two kvnos differ the account is read once more, so the kvno labels always belong to the blob. Returns (entry,
    blob or None, kvno)."""
    from ._values import escape, raw_first   # here, not at the top: an idle refresher tick imports no LDAP library
    sam = name if name.endswith('$') else name + '$'
    from_filter = '(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName=%s))' % escape(sam)
    for _attempt in range(3):
        found = directory.search(directory.default_nc, from_filter, ATTRIBUTES)
        if not found:
            raise KeytabError('there is no gMSA named %s in %s (or %s may not read it)'
                              % (sam, directory.dns_domain, directory.bound_as))
        entry = found[0]
        blob = raw_first(entry, 'msDS-ManagedPassword')
        again = directory.search(entry['dn'], '(objectClass=*)', ['msDS-KeyVersionNumber'], scope='base')
        kvno = _kvno(again[0] if again else None)
        if _kvno(entry) in (None, kvno):
            return entry, blob, kvno
    raise KeytabError('the kvno of %s kept changing while its password was read (%s, then %s); try again'
                      % (sam, _kvno(entry), kvno))


def desired_entries(directory, params, carried_principals=()):
    """Everything the blob gives the keytab, from one domain controller. ``carried_principals``: service principals
    an earlier generation's keytab held, which get this account's keys too (its SPNs move to it after a rollover).
    Returns (entries, facts for the result, warnings)."""
    from ._values import first
    entry, blob, kvno = fetch(directory, params['name'])
    attrs = entry['attributes']
    sam = first(attrs, 'sAMAccountName') or params['name']
    if blob is None:
        raise KeytabError(
            '%s is not allowed to retrieve the managed password of %s: the domain controller returned no '
            'msDS-ManagedPassword. Add this computer (or a group it is in, such as the farm\'s host group) to the '
            'gMSA\'s PrincipalsAllowedToRetrieveManagedPassword. A group change is seen at the next bind: this '
            'module gets a new ticket every run.' % (directory.bound_as, sam))
    if not kvno:
        raise KeytabError('the domain controller did not return msDS-KeyVersionNumber for %s' % sam)
    mp = parse_blob(blob)
    realm = directory.dns_domain.upper()
    supported = first(attrs, 'msDS-SupportedEncryptionTypes')
    enctypes, warnings = account_enctypes(sam, params['encryption_types'], supported, have_md4())
    supported = None if supported in (None, '', '0', 0) else int(supported)
    if not enctypes:
        raise KeytabError(
            '%s has no usable encryption type: encryption_types asks for %s, and the account\'s '
            'msDS-SupportedEncryptionTypes (%s) allows none of them. Set kerberos_encryption_types on the gMSA (for '
            'example [aes256, aes128]) or ask for a type it supports.'
            % (sam, ', '.join(params['encryption_types']), supported))
    account = '%s@%s' % (sam, realm)
    spns = list(attrs.get('servicePrincipalName') or [])
    if params.get('principals'):
        names = [p if '@' in p else '%s@%s' % (p, realm) for p in params['principals']]
        known = set(n.lower() for n in [account] + ['%s@%s' % (x, realm) for x in spns])
        unknown = [n for n in names if n.lower() not in known]
        if unknown:
            raise KeytabError('principals %s are not names of %s (its account %s and its SPNs: %s): a ticket for '
                              'them is never encrypted with this account\'s keys'
                              % (', '.join(unknown), sam, account, ', '.join(spns) or 'none'))
    else:
        names = [account] + ['%s@%s' % (x, realm) for x in spns]
    names += [c for c in carried_principals if c.lower() not in set(n.lower() for n in names)]
    account_salt = salt(sam, directory.dns_domain)
    keys = {'current': derive_keys(mp.current, account_salt, enctypes)}
    if mp.previous is not None:
        keys['previous'] = derive_keys(mp.previous, account_salt, enctypes)
    entries = []
    for principal in names:
        for p, k, which in plan_versions(mp, kvno, principal, principal.lower() == account.lower()):
            for name in enctypes:
                entries.append((p, k, ENCTYPES[name][0], keys[which][name]))
    now = time.time()
    due = next_refresh(mp, now)
    facts = dict(account=sam, principals=names, kvno=kvno, encryption_types=enctypes, realm=realm,
                 next_password_readable=mp.in_window, previous_password=mp.previous is not None,
                 query_password_seconds=int(mp.query_seconds), unchanged_password_seconds=int(mp.unchanged_seconds),
                 rotation=iso(now + mp.rotates_at), next_refresh=iso(due), next_refresh_epoch=int(due),
                 domain_controller=directory.server_name)
    del keys, mp
    return entries, facts, warnings


def _ours(existing, names):
    """Whether an existing keytab was written for this account: it holds one of the principals it is written for."""
    wanted = set(n.lower() for n in names)
    return any(item[0].lower() in wanted for item in existing)


def _refuse_foreign(path, existing, names, sam):
    if existing and not _ours(existing, names):
        others = sorted(set(item[0] for item in existing))
        raise KeytabError('path %s already holds keys of other principals (%s) and none of %s: it is not a keytab '
                          'this module wrote, so it is left alone. Give the gMSA a keytab of its own (for example '
                          '/etc/gmsa-farm/%s.keytab); never point path at the machine keytab.'
                          % (path, ', '.join(others[:5]), ', '.join(names[:3]), sam.rstrip('$')))


def srv_lookup(name):
    """[(priority, weight, host, port)] of a DNS SRV name (dnspython; imported only when discovery is asked for)."""
    try:
        import dns.resolver
    except ImportError:
        raise KeytabError('domain_discovery needs the Python library dnspython (Debian/Ubuntu: apt-get install '
                          'python3-dnspython; RHEL: dnf install python3-dns), or list the DCs in domain_server')
    try:
        answers = dns.resolver.resolve(name, 'SRV')
    except Exception as e:  # pylint: disable=broad-except  # NXDOMAIN, no answer, timeout: all say the same here
        raise KeytabError('domain_discovery: no DNS SRV records %s (%s)' % (name, e))
    return [(a.priority, a.weight, str(a.target).rstrip('.'), a.port) for a in answers]


def domain_controllers(params, lookup=None):
    """(DCs to try in order, the discovery's error or None): domain_server as given, then, with domain_discovery,
    the DCs of the domain's ``_ldap._tcp.dc._msdcs.<domain>`` SRV records (lowest priority first, then highest
    weight) not already listed. Discovered DCs are reached on the port of domain_tls (636 for LDAPS; the SRV
    record's 389 is plain LDAP)."""
    servers = list(params.get('domain_server') or [])
    domain = params.get('domain_discovery')
    error = None
    if domain:
        name = '_ldap._tcp.dc._msdcs.%s' % domain.strip('.').lower()
        try:
            records = (lookup or srv_lookup)(name)
        except KeytabError as e:
            records, error = [], str(e)
        known = set(x.lower() for x in servers)
        for _priority, _weight, host, _port in sorted(records, key=lambda r: (r[0], -r[1], r[2])):
            if host.lower() not in known:
                known.add(host.lower())
                servers.append(host)
    if not servers:
        raise KeytabError(error or 'no domain controller to ask: give domain_server, or domain_discovery with a DNS '
                          'domain whose _ldap._tcp.dc._msdcs SRV records list its DCs')
    return servers, error


def connection_settings(params):
    """The connection options parsed once (ConnectionSettings): domain_server's DCs, then the discovered ones.
    Imported here, not at the top: an idle refresher tick imports no LDAP library."""
    from ._ldap_connection import ConnectionSettings, DirectoryError
    servers, discovery_error = domain_controllers(params)
    explicit = list(params.get('domain_server') or [])
    try:
        return ConnectionSettings.from_params(params, extra_hosts=servers[len(explicit):]), discovery_error
    except DirectoryError as e:
        raise KeytabError(e.msg)


def read_directory(params, open_directory, read):
    """``read(directory)`` on the first domain controller that answers it (``open_directory(settings)`` with the
    settings of that one DC). Any failure on a DC - no answer, TLS, Kerberos (clock skew included), a bind or
    search error, an answer this module cannot use - moves on to the next one; when none succeeds, the error says
    what each DC answered."""
    settings, discovery_error = connection_settings(params)
    failures = [discovery_error] if discovery_error else []
    for server in settings.servers:
        try:
            with open_directory(settings.only(server)) as directory:
                return read(directory)
        except Exception as e:  # pylint: disable=broad-except  # any DC failure: report it, try the next DC
            text = str(getattr(e, 'msg', None) or e)
            # The connection layer's own "tried these" wording says nothing more for a single DC.
            text = text.replace('Could not reach any domain controller. Tried: ', 'no answer from ')
            failures.append('%s: %s' % (server.entry, text))
    if len(settings.servers) == 1 and len(failures) == 1:
        raise KeytabError(failures[0])
    raise KeytabError('no domain controller gave the password (tried %d, in order). %s'
                      % (len(settings.servers), ' | '.join(failures)))


def check_path(path, check_mode=False):
    """What is knowable about ``path`` before any directory access: it must be a file (or nothing) in an existing
    directory this process can write to (the new keytab is written beside it, then renamed over it). In check mode
    a missing directory passes: an earlier task of the same run may create it."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise KeytabError('path %s is a directory; give the keytab file to write (for example %s/NAME.keytab)'
                          % (path, path.rstrip('/')))
    if check_mode and not os.path.exists(directory):
        return
    if not os.path.isdir(directory):
        raise KeytabError('path %s: its directory %s does not exist' % (path, directory))
    if not os.access(directory, os.W_OK | os.X_OK):
        raise KeytabError('path %s: this process (uid %d) cannot write to its directory %s, where the new keytab is '
                          'written before it replaces the old one' % (path, os.getuid(), directory))


def run(params, check_mode, open_directory, now=None):
    """The whole task: returns a result dict (no secrets). ``open_directory(settings)`` returns a connected
    Directory (a context manager) for the one DC of ``settings`` (ConnectionSettings). Raises KeytabError with a
    message for a person; on any failure the keytab is left as it was."""
    path = params['path']
    if params.get('state') != 'absent':
        check_path(path, check_mode)
    existing = read_keytab(path)
    if params.get('state') == 'absent':
        return _remove(params, existing, check_mode)
    entries, facts, warnings = read_directory(params, open_directory,
                                              lambda d: desired_entries(d, params, _carried_names(params, existing)))
    result = dict(changed=False, path=path)
    entries = entries + _kept_entries(params, existing, entries, facts, result, now)
    result.update(facts)
    if warnings:
        result['warnings'] = warnings
    result['entries'] = [dict(principal=p, kvno=k, encryption_type=enctype_label(e)) for p, k, e, _key in entries]
    if sorted(item[:4] for item in existing) != sorted(entries):
        result.update(changed=True, diff=_diff(path, existing, entries))
        if not check_mode:
            write_keytab_atomic(path, entries, dict((item[:4], item[4]) for item in existing))
    del entries, existing
    return result


def _remove(params, existing, check_mode):
    """state=absent: the keytab goes, if it is this account's (its own principals, or an earlier generation's)."""
    path = params['path']
    result = dict(changed=False, path=path)
    if not existing:
        return result
    sam = params['name'] if params['name'].endswith('$') else params['name'] + '$'
    realms = sorted(set(item[0].rsplit('@', 1)[-1] for item in existing))
    accounts = [sam] + [n if n.endswith('$') else n + '$' for n in params.get('replaces') or []]
    names = ['%s@%s' % (a, r) for a in accounts for r in realms] + list(params.get('principals') or [])
    _refuse_foreign(path, existing, names, sam)
    result.update(changed=True, diff=dict(before='\n'.join(describe(existing)) + '\n', after=''))
    if not check_mode:
        os.unlink(path)
    return result


def _carried_names(params, existing):
    """An earlier generation's keytab: its service principals keep their names with the new keys, so a service
    keeps accepting tickets for its SPN once the SPN has moved to the new generation."""
    earlier_accounts = set('%s$' % n.rstrip('$').lower() for n in params.get('replaces') or [])
    held = [item[0] for item in existing]
    if any(p.rpartition('@')[0].lower() in earlier_accounts for p in held):
        return sorted(set(p for p in held if '/' in p.rpartition('@')[0]))
    return []


def _kept_entries(params, existing, entries, facts, result, now):
    """The existing entries that stay beside the new ones: none after a rollover (an earlier generation's keytab:
    its keys go at once - a rollover follows a compromise, and the compromised host had them; listed in
    ``result['replaced']``), else the retired keys still valid for tickets issued before a rotation."""
    account = '%s@%s' % (facts['account'], facts['realm'])
    earlier = ['%s@%s' % (n if n.endswith('$') else n + '$', facts['realm']) for n in params.get('replaces') or []]
    _refuse_foreign(params['path'], existing, [account] + facts['principals'] + earlier, facts['account'])
    if _ours(existing, earlier) and not _ours(existing, [account]):
        result['replaced'] = sorted(set(item[0] for item in existing if item[0].lower() in
                                        set(e.lower() for e in earlier)))
        return []
    keep = params.get('keep_previous_seconds')
    keep = DEFAULT_KEEP_PREVIOUS if keep is None else keep
    return kept_entries([item for item in existing if item[0] in facts['principals']], entries,
                        time.time() if now is None else now, keep)


def _diff(path, existing, entries):
    """Before and after as kvno/type/principal lines (no key), new keys marked."""
    old_keys = dict((describe([item])[0], item[3]) for item in existing)
    new_keys = dict((describe([item])[0], item[3]) for item in entries)
    return dict(before_header=path, after_header=path,
                before=''.join(line + '\n' for line in describe(existing)),
                after=''.join(line + ('  (new key)\n' if old_keys.get(line, new_keys[line]) != new_keys[line] else '\n')
                              for line in describe(entries)))
