"""The keytab logic of gmsa_keytab without a DC: blob parsing and refusals, salt, keys, atomic files, and the whole
run against a stand-in directory. Blobs here are built from MS-ADTS 2.2.19's layout for the parser's edge cases; the
rotation window is proven on blobs captured from the lab DC (test_keytab_rotation.py)."""
from __future__ import annotations

import json
import os
import struct

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _keytab as K

krb5 = pytest.importorskip('krb5')      # MIT krb5's own string-to-key and keytab reader, to check ours against

DAY = 86400


def blob(current, previous=None, query=30 * DAY, unchanged=30 * DAY - 300, pad=1):
    """An MSDS-MANAGEDPASSWORD_BLOB; ``pad`` bytes between parts make the offsets unaligned, as the spec allows."""
    parts = bytearray(16)
    cur = len(parts)
    parts += current + b'\x00\x00' + b'\xee' * pad
    prev = 0
    if previous is not None:
        prev = len(parts)
        parts += previous + b'\x00\x00' + b'\xee' * pad
    q = len(parts)
    parts += struct.pack('<q', int(query * 1e7))
    u = len(parts)
    parts += struct.pack('<q', int(unchanged * 1e7))
    struct.pack_into('<HHIHHHH', parts, 0, 1, 0, len(parts), cur, prev, q, u)
    return bytes(parts)


# 128 UTF-16 units with an unpaired high surrogate (0xD800) and an unpaired low one (0xDC00), as random AD
# passwords have; no unit is 0.
PW1 = b''.join(struct.pack('<H', v) for v in [0xD800, 0x0041] + [0x1000 + i for i in range(125)] + [0xDC00])
PW2 = b''.join(struct.pack('<H', 0x2000 + i) for i in range(128))


def test_parse_blob_current_previous_and_intervals():
    mp = K.parse_blob(blob(PW1, PW2, query=10 * DAY, unchanged=10 * DAY - 300))
    assert mp.current == PW1 and mp.previous == PW2
    assert mp.query_seconds == 10 * DAY and mp.unchanged_seconds == 10 * DAY - 300
    assert not mp.in_window
    assert 'previous=True' in repr(mp) and PW1.hex() not in repr(mp)
    assert K.parse_blob(blob(PW1)).previous is None


@pytest.mark.parametrize('data,message', [
    (b'\x01\x00', 'shorter than its header'),
    (b'\x02' + blob(PW1)[1:], 'version 2'),
    (blob(PW1)[:-4], 'it says'),
    (blob(PW1)[:8] + struct.pack('<H', 9999) + blob(PW1)[10:], 'current password offset 9999 is outside it'),
])
def test_parse_blob_refuses_malformed(data, message):
    with pytest.raises(K.KeytabError, match=message):
        K.parse_blob(data)


def test_parse_blob_refuses_password_without_nul():
    b = bytearray(blob(PW1, pad=0))
    b[16 + len(PW1):16 + len(PW1) + 2] = b'\x41\x00'     # the NUL overwritten: runs into the intervals
    b[-16:] = b'\x01' * 16
    with pytest.raises(K.KeytabError, match='no terminating NUL'):
        K.parse_blob(bytes(b))


def test_salt_is_the_computer_salt_of_ms_kile():
    assert K.salt('WebFarm$', 'Example.COM') == 'EXAMPLE.COMhostwebfarm.example.com'
    assert K.salt('webfarm', 'example.com') == 'EXAMPLE.COMhostwebfarm.example.com'


def test_nfold_and_aes_string_to_key_give_the_rfc_test_vectors():
    # RFC 3961 appendix A.1 and RFC 3962 appendix B.
    for data, size, expected in [(b'012345', 8, 'be072631276b1955'), (b'password', 7, '78a07b6caf85fa'),
                                 (b'Rough Consensus, and Running Code', 8, 'bb6ed30870b7f0e0'),
                                 (b'password', 21, '59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e'),
                                 (b'Q', 21, '518a54a215a8452a518a54a215a8452a518a54a215'),
                                 (b'kerberos', 16, '6b65726265726f737b9b5b2b93132b93')]:
        assert K.nfold(data, size).hex() == expected
    assert K.aes_string_to_key(b'password', b'ATHENA.MIT.EDUraeburn', 16, 1).hex() == \
        '42263c6e89f4fc28b8df68ee09799f15'
    assert K.aes_string_to_key(b'password', b'ATHENA.MIT.EDUraeburn', 32, 1200).hex() == \
        '55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a'


def test_keytab_file_is_mit_format_read_back_by_mit_krb5(tmp_path):
    path = str(tmp_path / 'k.keytab')
    entries = [('HTTP/web.example.com@EXAMPLE.COM', 300, 18, b'\x01' * 32),
               ('WebFarm$@EXAMPLE.COM', 2, 17, b'\x02' * 16)]
    K.write_keytab_atomic(path, entries, {entries[0]: 1234567})
    ctx = krb5.init_context()
    theirs = [(krb5.unparse_name_flags(ctx, e.principal).decode(), e.kvno, e.key.enctype, bytes(e.key.data),
               e.timestamp) for e in krb5.kt_resolve(ctx, ('FILE:%s' % path).encode())]
    assert theirs == K.read_keytab(path)
    assert theirs[0][1] == 300 and theirs[0][4] == 1234567      # a kvno above 255 (the 32-bit field)
    # MIT's own writer, read by ours.
    mit = str(tmp_path / 'mit.keytab')
    kt = krb5.kt_resolve(ctx, ('FILE:%s' % mit).encode())
    krb5.kt_add_entry(ctx, kt, krb5.parse_name_flags(ctx, b'a/b@R'), 7, 0, krb5.init_keyblock(ctx, 18, b'k' * 32))
    del kt
    assert [e[:4] for e in K.read_keytab(mit)] == [('a/b@R', 7, 18, b'k' * 32)]
    (tmp_path / 'junk').write_bytes(b'\x05\x02\x00\x00\x00\x40xx')
    with pytest.raises(K.KeytabError, match='is not a readable keytab'):
        K.read_keytab(str(tmp_path / 'junk'))


def test_aes_keys_use_utf8_with_replacement_characters_and_rc4_the_raw_bytes():
    ctx = krb5.init_context()
    keys = K.derive_keys(PW1, 'EXAMPLE.COMhostweb.example.com', ['aes256', 'aes128', 'rc4'])
    text = '\ufffdA' + ''.join(chr(0x1000 + i) for i in range(125)) + '\ufffd'
    for name, number in (('aes256', 18), ('aes128', 17)):
        expected = krb5.c_string_to_key(ctx, number, text.encode('utf-8'), b'EXAMPLE.COMhostweb.example.com').data
        assert keys[name] == expected and len(expected) == (32 if name == 'aes256' else 16)
    from Crypto.Hash import MD4  # an independent MD4
    assert keys['rc4'] == MD4.new(PW1).digest()


def test_account_enctypes_unset_or_zero_means_the_kdc_defaults():
    for raw in (None, '', '0', 0):
        types, warnings = K.account_enctypes('web$', ['aes256', 'aes128'], raw, True)
        assert types == ['aes256', 'aes128', 'rc4'], raw
        assert len(warnings) == 1 and 'msDS-SupportedEncryptionTypes' in warnings[0] and 'web$' in warnings[0]


def test_account_enctypes_leaves_rc4_out_without_md4_and_says_so():
    types, warnings = K.account_enctypes('web$', ['aes256', 'aes128'], None, False)
    assert types == ['aes256', 'aes128'] and 'rc4 was left out' in warnings[0]
    # an explicit setting is followed as it is, with no warning
    assert K.account_enctypes('web$', ['aes256', 'aes128'], '24', False) == (['aes256', 'aes128'], [])
    assert K.account_enctypes('web$', ['aes256'], '4', True) == ([], [])


def test_usable_enctypes():
    assert K.usable_enctypes(['aes256', 'aes128'], None) == ['aes256', 'aes128']
    assert K.usable_enctypes(['aes256', 'aes128', 'rc4'], 0x18) == ['aes256', 'aes128']
    assert K.usable_enctypes(['aes256'], 0x4) == []
    assert K.usable_enctypes(['aes256', 'aes128'], 0x3) == []      # DES only


def test_versions_outside_and_inside_the_rotation_window():
    normal = K.parse_blob(blob(PW1, PW2))
    assert K.plan_versions(normal, 5, 'A$@R', True) == [('A$@R', 5, 'current'), ('A$@R', 4, 'previous')]
    assert K.plan_versions(normal, 5, 'HTTP/a@R', False) == [('HTTP/a@R', 5, 'current'), ('HTTP/a@R', 4, 'previous')]
    first = K.parse_blob(blob(PW1))
    assert K.plan_versions(first, 1, 'A$@R', True) == [('A$@R', 1, 'current')]
    # The last minutes before the rotation (the DC's shape: query under 5 minutes, unchanged a whole interval
    # ahead): current is the next password, previous is the one in use.
    window = K.parse_blob(blob(PW1, PW2, query=200, unchanged=200 + DAY - 300))
    assert window.in_window
    assert K.plan_versions(window, 5, 'HTTP/a@R', False) == [('HTTP/a@R', 6, 'current'), ('HTTP/a@R', 5, 'previous')]
    assert K.plan_versions(window, 5, 'A$@R', True) == [('A$@R', 5, 'previous')]


def test_next_refresh_follows_the_blob():
    assert K.next_refresh(K.parse_blob(blob(PW1, query=30 * DAY, unchanged=30 * DAY - 300)), 1000) == \
        1000 + 30 * DAY - 300 + K.REFRESH_DELAY
    assert K.next_refresh(K.parse_blob(blob(PW1, PW2, query=200, unchanged=200 + DAY - 300)), 1000) == \
        1000 + 200 + K.REFRESH_DELAY


class FakeDirectory(object):
    """Answers like a DC: the account search (with or without the password blob), then the kvno."""

    def __init__(self, blob_value, kvno=3, enctypes='24', spns=('HTTP/web.example.com',), found=True):
        self.blob, self.kvno, self.enctypes, self.spns, self.found = blob_value, kvno, enctypes, spns, found
        self.default_nc, self.dns_domain, self.bound_as = 'DC=example,DC=com', 'example.com', 'WEB1$'
        self.server_name = 'dc1.example.com'
        self.searches = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def search(self, base, ldap_filter, attributes, scope='subtree'):
        self.searches.append((base, ldap_filter, tuple(attributes), scope))
        if scope == 'base':
            return [dict(dn=base, attributes={'msDS-KeyVersionNumber': str(self.kvno)}, raw={})]
        if not self.found:
            return []
        attrs = {'sAMAccountName': 'WebFarm$', 'servicePrincipalName': list(self.spns),
                 'msDS-KeyVersionNumber': str(self.kvno)}
        if self.enctypes is not None:
            attrs['msDS-SupportedEncryptionTypes'] = self.enctypes
        raw = {'msDS-ManagedPassword': [self.blob]} if self.blob else {}
        return [dict(dn='CN=WebFarm,CN=Managed Service Accounts,DC=example,DC=com', attributes=attrs, raw=raw)]


def run(tmp_path, directory, check=False, **params):
    p = dict(name='WebFarm', path=str(tmp_path / 'web.keytab'), state='present', encryption_types=['aes256', 'aes128'],
             domain_server=['dc1.example.com'], domain_auth='kerberos')
    p.update(params)
    return K.run(p, check, lambda _p: directory)


def test_run_check_write_rerun_and_no_secret_in_the_result(tmp_path):
    d = FakeDirectory(blob(PW1, PW2))
    checked = run(tmp_path, d, check=True)
    assert checked['changed'] is True and not (tmp_path / 'web.keytab').exists()
    written = run(tmp_path, d)
    assert written['changed'] is True and written['kvno'] == 3 and written['previous_password'] is True
    assert written['diff'] == checked['diff']
    assert written['diff']['after'].splitlines() == sorted(
        'kvno %d %s %s' % (v, e, p) for p in ('WebFarm$@EXAMPLE.COM', 'HTTP/web.example.com@EXAMPLE.COM')
        for v in (3, 2) for e in ('aes256-cts-hmac-sha1-96', 'aes128-cts-hmac-sha1-96'))
    assert oct(os.stat(tmp_path / 'web.keytab').st_mode & 0o777) == '0o600'
    entries = K.read_keytab(str(tmp_path / 'web.keytab'))
    assert len(entries) == 8
    text = json.dumps([checked, written])
    for _p, _v, _e, key, _stamp in entries:
        assert key.hex() not in text
    assert PW1.hex() not in text and PW1.decode('utf-16-le', 'replace') not in text
    again = run(tmp_path, d)
    assert again['changed'] is False and 'diff' not in again
    # Reads: the account with its password, then its kvno - nothing else.
    assert [s[3] for s in d.searches] == ['subtree', 'base'] * 3


def test_rotation_rewrites_with_new_kvno_and_marks_keys_that_changed(tmp_path):
    run(tmp_path, FakeDirectory(blob(PW2)))
    os.chmod(tmp_path / 'web.keytab', 0o640)
    r = run(tmp_path, FakeDirectory(blob(PW1, PW2), kvno=4))
    assert r['changed'] is True
    after = r['diff']['after']
    assert 'kvno 4 aes256-cts-hmac-sha1-96 WebFarm$@EXAMPLE.COM\n' in after
    assert 'kvno 3 aes256-cts-hmac-sha1-96 WebFarm$@EXAMPLE.COM\n' in after     # the old password, same key
    r = run(tmp_path, FakeDirectory(blob(PW2, PW1), kvno=4))      # same kvno, other keys (e.g. a re-created account)
    assert 'kvno 4 aes256-cts-hmac-sha1-96 WebFarm$@EXAMPLE.COM  (new key)\n' in r['diff']['after']
    # A replaced keytab keeps its mode (a service reading it keeps access).
    assert oct(os.stat(tmp_path / 'web.keytab').st_mode & 0o777) == '0o640'
    assert [f for f in os.listdir(tmp_path) if f.startswith('.gmsa-keytab-')] == []


def test_refusals_change_nothing(tmp_path):
    with pytest.raises(K.KeytabError, match='WEB1\\$ is not allowed to retrieve the managed password of WebFarm\\$'):
        run(tmp_path, FakeDirectory(None))
    with pytest.raises(K.KeytabError, match='no usable encryption type.*aes256, aes128.*\\(4\\)'):
        run(tmp_path, FakeDirectory(blob(PW1), enctypes='4'))
    with pytest.raises(K.KeytabError, match='there is no gMSA named WebFarm\\$'):
        run(tmp_path, FakeDirectory(blob(PW1), found=False))
    assert os.listdir(tmp_path) == []
    # A keytab of other principals (the machine keytab) is never touched, present or absent.
    machine = str(tmp_path / 'krb5.keytab')
    K.write_keytab_atomic(machine, [('WEB1$@EXAMPLE.COM', 2, 18, b'k' * 32)])
    before = open(machine, 'rb').read()
    with pytest.raises(K.KeytabError, match='holds keys of other principals \\(WEB1\\$@EXAMPLE.COM\\)'):
        run(tmp_path, FakeDirectory(blob(PW1)), path=machine)
    with pytest.raises(K.KeytabError, match='holds keys of other principals'):
        run(tmp_path, FakeDirectory(blob(PW1)), path=machine, state='absent')
    assert open(machine, 'rb').read() == before


def test_absent_removes_only_its_own_keytab(tmp_path):
    run(tmp_path, FakeDirectory(blob(PW1)))
    checked = run(tmp_path, None, check=True, state='absent')
    assert checked['changed'] is True and (tmp_path / 'web.keytab').exists()
    assert 'WebFarm$@EXAMPLE.COM' in checked['diff']['before'] and checked['diff']['after'] == ''
    assert run(tmp_path, None, state='absent')['changed'] is True and not (tmp_path / 'web.keytab').exists()
    assert run(tmp_path, None, state='absent')['changed'] is False


def test_a_failed_write_leaves_the_old_keytab(tmp_path):
    path = str(tmp_path / 'web.keytab')
    K.write_keytab_atomic(path, [('WebFarm$@EXAMPLE.COM', 1, 18, b'a' * 32)])
    before = open(path, 'rb').read()
    with pytest.raises(Exception):
        K.write_keytab_atomic(path, [('WebFarm$@EXAMPLE.COM', 2, 18, b'b' * 32), ('bad@@', 2, 18, b'c' * 32)])
    assert open(path, 'rb').read() == before
    assert os.listdir(tmp_path) == ['web.keytab']


def test_member_params_fill_the_machine_identity(monkeypatch):
    monkeypatch.setattr(K.socket, 'gethostname', lambda: 'web05.example.com')
    p = K.member_params(dict(name='x', path='/k', domain_server=['dc1']))
    assert p['domain_auth'] == 'kerberos' and p['domain_keytab'] == '/etc/krb5.keytab'
    assert p['domain_username'] == 'WEB05$' and p['domain_timeout'] == 10 and p['state'] == 'present'
    p = K.member_params(dict(name='x', path='/k', domain_server=['dc1'], domain_ccache='FILE:/tmp/cc'))
    assert 'domain_keytab' not in p and 'domain_username' not in p


def test_principals_option_reruns_on_its_own_keytab_and_refuses_names_not_on_the_account(tmp_path):
    only_spn = ['HTTP/web.example.com']
    first = run(tmp_path, FakeDirectory(blob(PW1)), principals=only_spn)
    assert first['changed'] is True and first['principals'] == ['HTTP/web.example.com@EXAMPLE.COM']
    again = run(tmp_path, FakeDirectory(blob(PW1)), principals=only_spn)
    assert again['changed'] is False
    before = open(tmp_path / 'web.keytab', 'rb').read()
    with pytest.raises(K.KeytabError, match='principals HTTP/other.example.com@EXAMPLE.COM are not names of WebFarm'):
        run(tmp_path, FakeDirectory(blob(PW1)), principals=['HTTP/other.example.com'])
    assert open(tmp_path / 'web.keytab', 'rb').read() == before


def test_an_account_without_supported_encryption_types_gets_every_type_a_kdc_may_use_and_a_warning(tmp_path):
    r = run(tmp_path, FakeDirectory(blob(PW1), enctypes=None))
    assert r['encryption_types'] == ['aes256', 'aes128', 'rc4']
    assert len(r['warnings']) == 1 and 'msDS-SupportedEncryptionTypes' in r['warnings'][0]
    assert 'DefaultDomainSupportedEncTypes' in r['warnings'][0]


def test_bad_paths_are_refused_before_the_directory_is_asked(tmp_path):
    d = FakeDirectory(blob(PW1))
    with pytest.raises(K.KeytabError, match='path %s is a directory' % tmp_path):
        run(tmp_path, d, path=str(tmp_path))
    with pytest.raises(K.KeytabError, match='its directory %s/missing does not exist' % tmp_path):
        run(tmp_path, d, path=str(tmp_path / 'missing' / 'k.keytab'))
    assert d.searches == []


class FailingDirectory(object):
    def __init__(self, error):
        self.error = error

    def __enter__(self):
        raise self.error

    def __exit__(self, *exc):
        return False


def test_every_domain_controller_is_tried_and_each_error_is_reported(tmp_path):
    class DirectoryError(Exception):
        def __init__(self, msg):
            super(DirectoryError, self).__init__(msg)
            self.msg = msg
    answers = {'dc1': FailingDirectory(DirectoryError('Could not reach any domain controller. Tried: dc1:636')),
               'dc2': FailingDirectory(DirectoryError('Kerberos: Clock skew too great')),
               'dc3': FakeDirectory(blob(PW1))}
    tried = []

    def open_directory(settings):
        tried.append([server.entry for server in settings.servers])
        return answers[settings.servers[0].entry]
    p = dict(name='WebFarm', path=str(tmp_path / 'web.keytab'), state='present', encryption_types=['aes256'],
             domain_server=['dc1', 'dc2', 'dc3'], domain_auth='kerberos')
    assert K.run(p, False, open_directory)['changed'] is True
    assert tried == [['dc1'], ['dc2'], ['dc3']]
    del answers['dc3']
    p['domain_server'] = ['dc1', 'dc2']
    before = open(tmp_path / 'web.keytab', 'rb').read()
    with pytest.raises(K.KeytabError) as e:
        K.run(p, False, open_directory)
    assert 'tried 2, in order' in str(e.value)
    assert 'dc1: no answer from dc1:636' in str(e.value) and 'dc2: Kerberos: Clock skew too great' in str(e.value)
    assert open(tmp_path / 'web.keytab', 'rb').read() == before


def test_a_rollover_replaces_the_earlier_generations_keys_in_place(tmp_path):
    run(tmp_path, FakeDirectory(blob(PW1), kvno=5))
    old = dict((e[:3], e[3]) for e in K.read_keytab(str(tmp_path / 'web.keytab')))
    # The new generation before its SPNs moved over: none of its names is in the keytab.
    with pytest.raises(K.KeytabError, match='holds keys of other principals'):
        run(tmp_path, NewGeneration(blob(PW2), spns=()), name='WebFarm-2')
    r = run(tmp_path, NewGeneration(blob(PW2), spns=()), name='WebFarm-2', replaces=['WebFarm'])
    assert r['changed'] is True and r['replaced'] == ['WebFarm$@EXAMPLE.COM']
    # The SPN keeps its name in the keytab, with the new generation's keys (the SPN moves to it next).
    entries = K.read_keytab(str(tmp_path / 'web.keytab'))
    assert sorted(set(e[:2] for e in entries)) == [('HTTP/web.example.com@EXAMPLE.COM', 1),
                                                   ('WebFarm-2$@EXAMPLE.COM', 1)]
    new_keys = set(e[3] for e in entries if e[0].startswith('WebFarm-2$'))
    assert set(e[3] for e in entries if e[0].startswith('HTTP/')) == new_keys
    # Its SPNs moved: the keytab at the same path gets them, and no key of the earlier generation comes back.
    r = run(tmp_path, NewGeneration(blob(PW2)), name='WebFarm-2', replaces=['WebFarm'])
    entries = K.read_keytab(str(tmp_path / 'web.keytab'))
    assert sorted(set(e[:2] for e in entries)) == [('HTTP/web.example.com@EXAMPLE.COM', 1),
                                                   ('WebFarm-2$@EXAMPLE.COM', 1)]
    assert not set(e[3] for e in entries) & set(old.values())


class NewGeneration(FakeDirectory):
    def __init__(self, blob_value, spns=('HTTP/web.example.com',)):
        super(NewGeneration, self).__init__(blob_value, kvno=1, spns=spns)

    def search(self, base, ldap_filter, attributes, scope='subtree'):
        found = super(NewGeneration, self).search(base, ldap_filter, attributes, scope)
        for e in found:
            if 'sAMAccountName' in e['attributes']:
                e['attributes']['sAMAccountName'] = 'WebFarm-2$'
        return found


def test_the_machine_principal_comes_from_the_machine_keytab_not_the_host_name(tmp_path, monkeypatch):
    monkeypatch.setattr(K.socket, 'gethostname', lambda: 'a-very-long-web-host-name-05.example.com')
    machine = str(tmp_path / 'krb5.keytab')
    K.write_keytab_atomic(machine, [('host/a-very-long-web-host-name-05.example.com@EXAMPLE.COM', 3, 18, b'k' * 32),
                                    ('A-VERY-LONG-WEB$@EXAMPLE.COM', 3, 18, b'k' * 32)])
    p = K.member_params(dict(name='x', path='/k', domain_server=['dc1'], domain_keytab=machine))
    assert p['domain_username'] == 'A-VERY-LONG-WEB$@EXAMPLE.COM'
    # No readable machine keytab: the host name, cut to the 15 characters of a computer's account name.
    p = K.member_params(dict(name='x', path='/k', domain_server=['dc1'], domain_keytab=str(tmp_path / 'none')))
    assert p['domain_username'] == 'A-VERY-LONG-WEB$'


def test_dns_srv_discovery_adds_the_domains_dcs_after_the_listed_ones():
    records = [(10, 50, 'dc3.example.com', 389), (0, 10, 'dc2.example.com', 389), (0, 90, 'dc1.example.com', 389)]
    asked = []

    def lookup(name):
        asked.append(name)
        return records
    servers, error = K.domain_controllers(dict(domain_server=['dc2.example.com'], domain_discovery='Example.COM.'),
                                          lookup)
    assert asked == ['_ldap._tcp.dc._msdcs.example.com'] and error is None
    assert servers == ['dc2.example.com', 'dc1.example.com', 'dc3.example.com']

    def nxdomain(name):
        raise K.KeytabError('domain_discovery: no DNS SRV records %s (NXDOMAIN)' % name)
    assert K.domain_controllers(dict(domain_server=['dc9'], domain_discovery='example.com'), nxdomain) == (
        ['dc9'], 'domain_discovery: no DNS SRV records _ldap._tcp.dc._msdcs.example.com (NXDOMAIN)')
    with pytest.raises(K.KeytabError, match='no DNS SRV records'):
        K.domain_controllers(dict(domain_discovery='example.com'), nxdomain)
    with pytest.raises(K.KeytabError, match='no domain controller to ask'):
        K.domain_controllers(dict())


def test_a_directory_this_process_cannot_write_is_refused_before_the_directory_is_asked(tmp_path, monkeypatch):
    d = FakeDirectory(blob(PW1))
    monkeypatch.setattr(K.os, 'access', lambda path, mode: False)     # what a non-root refresher meets
    with pytest.raises(K.KeytabError, match=r'cannot write to its directory %s, where the new keytab' % tmp_path):
        run(tmp_path, d)
    assert d.searches == [] and os.listdir(tmp_path) == []


def test_the_refreshers_defaults_are_the_modules():
    """The refresher fills in defaults without Ansible; they are the module's argument spec's, not a copy that drifts."""
    from ansible_collections.gmsa.farm.plugins.modules import gmsa_keytab
    spec = gmsa_keytab.argument_spec()
    for option, value in K.DEFAULTS.items():
        assert spec[option].get('default') == value, option
