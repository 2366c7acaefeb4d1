# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Linux farm member's keytab from a gMSA's managed password.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

Used two ways, with the same code:
* by the module ``gmsa.farm.gmsa_keytab`` (through Ansible), and
* as the refresh command of the member's systemd timer: ``python3 _keytab.py --config FILE`` (the member role
  copies this file and ``_ldap_connection.py`` side by side; neither needs Ansible at run time).

Nothing here imports Ansible. No password, key or blob is ever put in a message, a log line or a result: the
result describes keytab entries by principal, kvno and encryption type only.

Facts relied on (sources in docs/linux-facts.md, L1-L8):
* MSDS-MANAGEDPASSWORD_BLOB layout (MS-ADTS 2.2.19); measured on Samba 4.22: 290 bytes, no previous password on
  a new account, UnchangedPasswordInterval = QueryPasswordInterval - 5 minutes.
* Between the two intervals the blob's "current" password is already the next one; the account's kvno moves when
  the DC rotates it after the query interval (MS-ADTS 2.2.19, and gmsad's measurements on Windows).
* Salt of a gMSA (a computer-class account): REALM + "host" + lower(name without $) + "." + lower(DNS domain)
  (MS-KILE 3.1.1.2); AES keys from the password decoded as UTF-16LE with unpaired surrogates replaced by U+FFFD
  and encoded UTF-8 (what Samba and Windows do with machine passwords); RC4 key = MD4 of the raw UTF-16LE bytes.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import socket
import struct
import sys
import tempfile
import time

try:
    import krb5
    HAS_KRB5 = True
    KRB5_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - depends on the host
    HAS_KRB5 = False
    KRB5_IMPORT_ERROR = e


# name -> (Kerberos enctype number (RFC 3961/3962/4757), msDS-SupportedEncryptionTypes bit (MS-KILE 2.2.7), label)
ENCTYPES = {
    'aes256': (18, 0x10, 'aes256-cts-hmac-sha1-96'),
    'aes128': (17, 0x08, 'aes128-cts-hmac-sha1-96'),
    'rc4': (23, 0x04, 'arcfour-hmac'),
}
ENCTYPE_NAMES = dict((v[0], k) for k, v in ENCTYPES.items())
BLOB_HEADER = struct.Struct('<HHIHHHH')
# Start refreshing this long after the blob says the next password is readable / the password rotates.
REFRESH_DELAY = 60
ATTRIBUTES = ['sAMAccountName', 'objectClass', 'servicePrincipalName', 'msDS-SupportedEncryptionTypes',
              'msDS-ManagedPassword']


MACHINE_KEYTAB = '/etc/krb5.keytab'
# The option defaults that the refresh command fills in when its configuration leaves them out (the module's
# argument spec has the same ones).
DEFAULTS = dict(state='present', encryption_types=['aes256', 'aes128'], domain_tls='ldaps', domain_auth='kerberos',
                domain_validate_certs=True, domain_timeout=10)


def member_params(params):
    """Defaults, then the machine's own identity: its keytab (/etc/krb5.keytab) and its account (HOST$)."""
    p = dict(DEFAULTS)
    p.update((k, v) for k, v in params.items() if v is not None)
    if p['domain_auth'] == 'kerberos' and not (p.get('domain_password') or p.get('domain_ccache')):
        p['domain_keytab'] = p.get('domain_keytab') or MACHINE_KEYTAB
    if not p.get('domain_username') and (p['domain_auth'] == 'simple' or p.get('domain_keytab')):
        p['domain_username'] = socket.gethostname().split('.')[0].upper() + '$'
    return p


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
    def next_is_current(self):
        """True between the unchanged and the query interval: "current" is the next password, not yet in use,
        and "previous" is the one in use (MS-ADTS 2.2.19; see the module docstring)."""
        return self.previous is not None and self.unchanged_seconds <= 0 < self.query_seconds


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


def derive_keys(context, raw_password, account_salt, enctypes):
    """{enctype name: key bytes} for one password. AES: RFC 3962 string-to-key by MIT krb5 (pykrb5); RC4: the NT
    hash (RFC 4757: MD4 of the UTF-16LE password)."""
    keys = {}
    utf8 = raw_password.decode('utf-16-le', 'replace').encode('utf-8')
    for name in enctypes:
        number = ENCTYPES[name][0]
        if name == 'rc4':
            keys[name] = _md4(bytes(raw_password))
        else:
            keys[name] = krb5.c_string_to_key(context, number, utf8, account_salt.encode('utf-8')).data
    return keys


def usable_enctypes(wanted, supported_bits):
    """The wanted encryption types the account has keys for. ``supported_bits`` is msDS-SupportedEncryptionTypes
    (None when unset: then AD keeps AES and RC4 keys for the account, so every wanted type is usable)."""
    if supported_bits is None:
        return list(wanted)
    return [n for n in wanted if supported_bits & ENCTYPES[n][1]]


def plan_versions(mp, kvno, principal, is_account):
    """[(principal, kvno, 'current'|'previous')] for one principal.

    Outside the rotation window: current at kvno, previous at kvno - 1 (tickets issued before the last rotation
    keep working). Inside it (next_is_current): the next password at kvno + 1 and the one in use at kvno, so tickets
    from either side of the rotation are accepted; the account's own principal (used by kinit, which takes the
    highest kvno) keeps only the password in use until the DC rotates it."""
    if mp.next_is_current:
        if is_account:
            return [(principal, kvno, 'previous')]
        return [(principal, kvno + 1, 'current'), (principal, kvno, 'previous')]
    out = [(principal, kvno, 'current')]
    if mp.previous is not None and kvno > 1:
        out.append((principal, kvno - 1, 'previous'))
    return out


def next_refresh(mp, now):
    """When the keytab should be refreshed next (epoch seconds): just after the next password becomes readable, or,
    inside the window, just after the rotation (so the account's own principal gets the new key)."""
    if mp.next_is_current or mp.unchanged_seconds <= 0:
        wait = mp.query_seconds
    else:
        wait = mp.unchanged_seconds
    return now + max(wait, 0) + REFRESH_DELAY


def iso(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


# ---------------------------------------------------------------------------------------------------- keytab file
def _context():
    if not HAS_KRB5:
        raise KeytabError('the Python library krb5 (pykrb5) is required on the member host (pip install krb5; it '
                          'builds against MIT krb5: apt-get install libkrb5-dev gcc python3-dev): %s'
                          % KRB5_IMPORT_ERROR)
    return krb5.init_context()


def read_keytab(context, path):
    """[(principal, kvno, enctype number, key bytes)] of the keytab at path; [] when there is no file."""
    if not os.path.exists(path):
        return []
    if not os.path.isfile(path):
        raise KeytabError('path %s exists and is not a file' % path)
    kt = krb5.kt_resolve(context, ('FILE:%s' % path).encode('utf-8'))
    out = []
    try:
        for entry in kt:
            name = krb5.unparse_name_flags(context, entry.principal).decode('utf-8')
            out.append((name, entry.kvno, entry.key.enctype, bytes(entry.key.data)))
    except krb5.Krb5Error as e:
        raise KeytabError('path %s is not a readable keytab (%s); move it away or choose another path'
                          % (path, _krb5_text(e)))
    return out


def _krb5_text(e):
    return getattr(e, 'message', None) or str(e)


def write_keytab_atomic(context, path, entries):
    """Write ``entries`` [(principal, kvno, enctype number, key)] to a new file next to ``path`` and rename it over
    ``path``: readers see the old keytab or the new one, never half of one. A keytab that is replaced keeps its
    owner, group and mode (a service reading it never loses access); a new one is 0600, owned by the caller."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise KeytabError('the directory of path %s does not exist' % path)
    mode, uid, gid = 0o600, None, None
    if os.path.exists(path):
        st = os.stat(path)
        mode, uid, gid = st.st_mode & 0o7777, st.st_uid, st.st_gid
    tmpdir = tempfile.mkdtemp(prefix='.gmsa-keytab-', dir=directory)
    tmp = os.path.join(tmpdir, 'keytab')
    try:
        kt = krb5.kt_resolve(context, ('FILE:%s' % tmp).encode('utf-8'))
        stamp = int(time.time())
        for principal, kvno, enctype, key in entries:
            princ = krb5.parse_name_flags(context, principal.encode('utf-8'))
            block = krb5.init_keyblock(context, enctype, key)
            krb5.kt_add_entry(context, kt, princ, kvno, stamp, block)
        del kt
        os.chmod(tmp, mode)
        if uid is not None:
            os.chown(tmp, uid, gid)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
        os.rmdir(tmpdir)


def describe(entries):
    """Entries as text lines without key material, sorted: ``kvno 2 aes256-cts-hmac-sha1-96 HTTP/web@REALM``."""
    return sorted('kvno %d %s %s' % (kvno, ENCTYPES[ENCTYPE_NAMES[e]][2] if e in ENCTYPE_NAMES else 'enctype %d' % e,
                                     principal)
                  for principal, kvno, e, _key in entries)


# ------------------------------------------------------------------------------------------------ the directory
def fetch(directory, name):
    """Read the account and its managed password (one search), then its kvno (a second search: the first read may
    be what makes the DC rotate the password, and kvno moves with it). Returns (entry attributes, blob or None,
    kvno)."""
    sam = name if name.endswith('$') else name + '$'
    from_filter = '(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName=%s))' % _escape(sam)
    found = directory.search(directory.default_nc, from_filter, ATTRIBUTES)
    if not found:
        raise KeytabError('there is no gMSA named %s in %s (or %s may not read it)'
                          % (sam, directory.dns_domain, directory.bound_as))
    entry = found[0]
    blob = (entry.get('raw') or {}).get('msDS-ManagedPassword') or [None]
    again = directory.search(entry['dn'], '(objectClass=*)', ['msDS-KeyVersionNumber'], scope='base')
    kvno = (again[0]['attributes'].get('msDS-KeyVersionNumber') if again else None)
    if isinstance(kvno, list):
        kvno = kvno[0] if kvno else None
    return entry, blob[0], int(kvno) if kvno not in (None, '') else None


def _escape(value):
    return ''.join('\\%02x' % ord(ch) if ch in '*()\\\x00' else ch for ch in value)


def _one(attrs, name):
    v = attrs.get(name)
    if isinstance(v, list):
        return v[0] if v else None
    return v


def desired_entries(context, directory, params):
    """Everything the keytab should hold, from the directory. Returns (entries, facts for the result)."""
    entry, blob, kvno = fetch(directory, params['name'])
    attrs = entry['attributes']
    sam = _one(attrs, 'sAMAccountName') or params['name']
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
    supported = _one(attrs, 'msDS-SupportedEncryptionTypes')
    supported = None if supported in (None, '') else int(supported)
    enctypes = usable_enctypes(params['encryption_types'], supported)
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
    else:
        names = [account] + ['%s@%s' % (s, realm) for s in spns]
    account_salt = salt(sam, directory.dns_domain)
    keys = {'current': derive_keys(context, mp.current, account_salt, enctypes)}
    if mp.previous is not None:
        keys['previous'] = derive_keys(context, mp.previous, account_salt, enctypes)
    entries = []
    for principal in names:
        for p, k, which in plan_versions(mp, kvno, principal, principal.lower() == account.lower()):
            for name in enctypes:
                entries.append((p, k, ENCTYPES[name][0], keys[which][name]))
    now = time.time()
    facts = dict(account=sam, principals=names, kvno=kvno, encryption_types=enctypes,
                 next_password_readable=mp.next_is_current, previous_password=mp.previous is not None,
                 query_password_seconds=int(mp.query_seconds), unchanged_password_seconds=int(mp.unchanged_seconds),
                 next_refresh=iso(next_refresh(mp, now)), next_refresh_epoch=int(next_refresh(mp, now)))
    del keys, mp
    return entries, facts


def _ours(existing, sam, realm):
    """Whether an existing keytab was written for this account (it holds the account's own principal)."""
    account = ('%s@%s' % (sam, realm)).lower()
    return any(p.lower() == account for p, _k, _e, _key in existing)


def _refuse_foreign(path, existing, sam, realm):
    if existing and not _ours(existing, sam, realm):
        others = sorted(set(p for p, _k, _e, _key in existing))
        raise KeytabError('path %s already holds keys of other principals (%s) and none of %s: it is not a keytab '
                          'this module wrote, so it is left alone. Give the gMSA a keytab of its own (for example '
                          '/etc/gmsa-farm/%s.keytab); never point path at the machine keytab.'
                          % (path, ', '.join(others[:5]), sam, sam.rstrip('$')))


def run(params, check_mode, open_directory):
    """The whole task: returns a result dict (no secrets). ``open_directory(params)`` returns a connected Directory
    (a context manager). Raises KeytabError / the directory's error with a message for a person."""
    context = _context()
    path = params['path']
    existing = read_keytab(context, path)
    result = dict(changed=False, path=path)
    if params.get('state') == 'absent':
        sam = params['name'] if params['name'].endswith('$') else params['name'] + '$'
        if not existing:
            return result
        realms = set(p.rsplit('@', 1)[-1] for p, _k, _e, _key in existing)
        if not any(_ours(existing, sam, r) for r in realms):
            _refuse_foreign(path, existing, sam, sorted(realms)[0])
        result.update(changed=True, diff=dict(before='\n'.join(describe(existing)) + '\n', after=''))
        if not check_mode:
            os.unlink(path)
        return result
    with open_directory(params) as directory:
        entries, facts = desired_entries(context, directory, params)
        realm = directory.dns_domain.upper()
    _refuse_foreign(path, existing, facts['account'], realm)
    result.update(facts)
    result['entries'] = [dict(principal=p, kvno=k, encryption_type=ENCTYPES[ENCTYPE_NAMES[e]][2])
                         for p, k, e, _key in entries]
    if sorted(existing) != sorted(entries):
        old_keys = dict((describe([item])[0], item[3]) for item in existing)
        new_keys = dict((describe([item])[0], item[3]) for item in entries)
        result.update(changed=True, diff=dict(
            before_header=path, after_header=path,
            before=''.join(line + '\n' for line in describe(existing)),
            after=''.join(line + ('  (new key)\n' if old_keys.get(line, new_keys[line]) != new_keys[line] else '\n')
                          for line in describe(entries))))
        if not check_mode:
            write_keytab_atomic(context, path, entries)
    del entries, existing
    return result


# ------------------------------------------------------------------------------------- the refresh command (timer)
def _log(message):
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def refresh_command(argv=None):
    """``python3 _keytab.py --config FILE [--force]``: what the member's systemd timer runs. The config is the
    module's options as JSON (no secrets: the host binds with its machine keytab). It talks to the directory only
    when a refresh is due (the time the last blob gave, or a day since the last check), then writes the keytab if
    its keys changed. One line per run for the journal."""
    parser = argparse.ArgumentParser(prog='gmsa-farm-keytab', description=refresh_command.__doc__)
    parser.add_argument('--config', required=True)
    parser.add_argument('--force', action='store_true', help='refresh now, whatever the schedule says')
    args = parser.parse_args(argv)
    with open(args.config) as f:
        params = member_params(json.load(f))
    state_path = params.get('state_file') or params['path'] + '.refresh.json'
    state = {}
    if os.path.exists(state_path):
        with open(state_path) as f:
            state = json.load(f)
    now = time.time()
    due = min(state.get('next_refresh_epoch', 0), state.get('checked_epoch', 0) + params.get('max_age', 86400))
    if not args.force and os.path.exists(params['path']) and now < due:
        _log('%s: keytab %s is current; next refresh at %s' % (params['name'], params['path'], iso(due)))
        return 0
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    connection = __import__('_ldap_connection')

    def open_directory(p):
        return connection.Directory(p).connect()
    try:
        result = run(params, False, open_directory)
    except (KeytabError, connection.DirectoryError) as e:
        _log('%s: refresh FAILED: %s' % (params['name'], getattr(e, 'msg', None) or e))
        return 1
    with open(state_path + '.tmp', 'w') as f:
        json.dump(dict(checked_epoch=int(now), next_refresh_epoch=result['next_refresh_epoch'],
                       next_refresh=result['next_refresh'], kvno=result['kvno']), f)
    os.replace(state_path + '.tmp', state_path)
    _log('%s: keytab %s %s (kvno %d, %s, %d principals); next refresh at %s'
         % (params['name'], params['path'], 'updated' if result['changed'] else 'unchanged', result['kvno'],
            ', '.join(result['encryption_types']), len(result['principals']), result['next_refresh']))
    return 0


if __name__ == '__main__':
    raise SystemExit(refresh_command())
