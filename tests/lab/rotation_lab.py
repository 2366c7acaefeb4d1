"""Lab helper: a Samba AD DC whose clock libfaketime moves (tests/lab/dc.sh with GMSA_LAB_FAKETIME=1), so that a
gMSA with a one-day interval can be taken into its rotation window and past its rotation in seconds.

The DC reads its offset from GMSA_LAB_FAKETIME_FILE on every clock call. Clients that must agree with the DC's clock
(kinit, kvno, a GSSAPI acceptor, Apache) run with ``client_env()``: the same offset file, the monotonic clock left
real (Python 3.11 and threading waits hang on a faked one; time.sleep fails with EINVAL under libfaketime 0.9.10).
Lab tooling only.
"""
from __future__ import annotations

import os
import shlex
import ssl
import struct
import uuid

import ldap3

DAY = 86400


def read_env(path):
    """A lab's env file (tests/lab/dc.sh writes ``export NAME=value`` lines, values shell-quoted) as a dict."""
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith('export '):
                line = line[len('export '):]
            if '=' in line:
                k, v = line.split('=', 1)
                env[k] = shlex.split(v)[0] if v else ''
    return env


class RotationLab(object):
    def __init__(self, env):
        self.env = env
        self.realm = env['GMSA_LAB_REALM']
        self.domain = self.realm.lower()
        self.base = env['GMSA_LAB_BASE_DN']
        self.offset_file = env['GMSA_LAB_FAKETIME_FILE']
        # Copies of the offset for clients that cannot read the lab directory (Apache's workers run as www-data).
        self.mirrors = []
        self.admin = self.connect('Administrator@%s' % self.realm, env['GMSA_LAB_ADMIN_PASSWORD'])

    # ------------------------------------------------------------------------------------------- the clock
    def set_offset(self, seconds):
        """Move the DC's (and the clients') clock to real time + seconds."""
        for path in [self.offset_file] + self.mirrors:
            tmp = path + '.tmp'
            with open(tmp, 'w') as f:
                f.write('%+ds\n' % int(seconds))
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)

    def mirror_offset(self, path):
        """Keep a world-readable copy of the offset at ``path``; returns the faketime environment that reads it."""
        self.mirrors.append(path)
        self.set_offset(self.offset())
        return dict(LD_PRELOAD=self.env['GMSA_LAB_LIBFAKETIME'], FAKETIME_TIMESTAMP_FILE=path, FAKETIME_NO_CACHE='1',
                    FAKETIME_DONT_FAKE_MONOTONIC='1')

    def offset(self):
        with open(self.offset_file) as f:
            text = f.read().strip().rstrip('s')
        return int(text or 0)

    def client_env(self, **extra):
        env = dict(os.environ, LD_PRELOAD=self.env['GMSA_LAB_LIBFAKETIME'],
                   FAKETIME_TIMESTAMP_FILE=self.offset_file, FAKETIME_NO_CACHE='1',
                   FAKETIME_DONT_FAKE_MONOTONIC='1', KRB5_CONFIG=self.env['KRB5_CONFIG'])
        env.update(extra)
        return env

    # --------------------------------------------------------------------------------------- the directory
    def connect(self, user, password):
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=self.env['GMSA_DOMAIN_CA_CERT'])
        server = ldap3.Server(self.env['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
        conn = ldap3.Connection(server, user=user, password=password, raise_exceptions=False)
        if not conn.bind():
            raise AssertionError('bind as %s failed: %s' % (user, conn.result))
        return conn

    def make_ou(self):
        dn = 'OU=rot-%s,%s' % (uuid.uuid4().hex[:10], self.base)
        assert self.admin.add(dn, 'organizationalUnit'), self.admin.result
        return dn

    def delete_tree(self, dn):
        # A new connection: Samba ends sessions when its clock jumps back.
        self.admin = self.connect('Administrator@%s' % self.realm, self.env['GMSA_LAB_ADMIN_PASSWORD'])
        self.admin.search(dn, '(objectClass=*)', search_scope=ldap3.SUBTREE, attributes=['1.1'])
        dns = [e['dn'] for e in self.admin.response if e.get('type') == 'searchResEntry']
        for d in sorted(dns, key=lambda x: -x.count(',')):
            self.admin.delete(d)

    def sid(self, dn):
        self.admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['objectSid'])
        return self.admin.response[0]['raw_attributes']['objectSid'][0]

    def create_computer(self, ou, name):
        password = 'Host-%s-9a!' % uuid.uuid4().hex
        dn = 'CN=%s,%s' % (name, ou)
        ok = self.admin.add(dn, ['top', 'person', 'organizationalPerson', 'user', 'computer'], {
            'sAMAccountName': name + '$', 'userAccountControl': 0x1000,
            'dNSHostName': '%s.%s' % (name.lower(), self.domain),
            'unicodePwd': ('"%s"' % password).encode('utf-16-le')})
        assert ok, self.admin.result
        return dict(name=name, sam=name + '$', dn=dn, password=password)

    def create_gmsa(self, ou, name, readers, spns, interval_days=1, enctypes=0x18):
        """A gMSA created over LDAP (whenCreated is the DC's clock), readable by ``readers`` (computer dicts)."""
        sd = membership_sd([self.sid(r['dn']) for r in readers])
        dn = 'CN=%s,%s' % (name, ou)
        ok = self.admin.add(dn, ['top', 'person', 'organizationalPerson', 'user', 'computer',
                                 'msDS-GroupManagedServiceAccount'], {
            'sAMAccountName': name + '$', 'userAccountControl': 0x1000,
            'dNSHostName': '%s.%s' % (name.lower(), self.domain),
            'msDS-ManagedPasswordInterval': interval_days, 'msDS-GroupMSAMembership': sd,
            'msDS-SupportedEncryptionTypes': enctypes, 'servicePrincipalName': list(spns)})
        assert ok, self.admin.result
        return dn

    def managed_password(self, computer, dn):
        """(blob, msDS-KeyVersionNumber read after it) as ``computer`` sees them."""
        conn = self.connect(computer['dn'], computer['password'])
        try:
            conn.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['msDS-ManagedPassword'])
            blob = conn.response[0]['raw_attributes'].get('msDS-ManagedPassword', [None])[0]
            conn.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['msDS-KeyVersionNumber'])
            return blob, int(conn.response[0]['raw_attributes']['msDS-KeyVersionNumber'][0])
        finally:
            conn.unbind()

    def kvno(self, dn):
        """msDS-KeyVersionNumber as Administrator reads it (a new connection: Samba ends LDAP sessions when its
        clock jumps)."""
        conn = self.connect('Administrator@%s' % self.realm, self.env['GMSA_LAB_ADMIN_PASSWORD'])
        try:
            conn.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['msDS-KeyVersionNumber'])
            return int(conn.response[0]['raw_attributes']['msDS-KeyVersionNumber'][0])
        finally:
            conn.unbind()


def membership_sd(sids):
    """O:BAD:(A;;0xf01ff;;;SID)... as a self-relative binary security descriptor (what Windows writes)."""
    owner = bytes([1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0])  # S-1-5-32-544
    aces = b''
    for sid in sids:
        aces += struct.pack('<BBHI', 0, 0, 8 + len(sid), 0x000F01FF) + sid
    acl = struct.pack('<BBHHH', 2, 0, 8 + len(aces), len(sids), 0) + aces
    header = struct.pack('<BBHIIII', 1, 0, 0x8004, 20, 0, 0, 20 + len(owner))
    return header + owner + acl


def intervals(blob):
    """(query seconds, unchanged seconds, has previous) of a blob, parsed here independently of the collection."""
    _v, _r, _l, _cur, prev, q, u = struct.unpack_from('<HHIHHHH', blob)
    return (struct.unpack_from('<q', blob, q)[0] / 1e7, struct.unpack_from('<q', blob, u)[0] / 1e7, bool(prev))
