"""Lab helper: computer accounts standing in for farm member hosts, and proof that they can retrieve a gMSA
password (bound as the computer over LDAPS). Lab tooling only: the collection's modules never ask for
msDS-ManagedPassword, and this prints only whether a password came back, never the password.

    lab_hosts.py ensure HOST...            create missing computer accounts (passwords kept in .lab/hosts.json)
    lab_hosts.py verify GMSA HOST...       JSON {host: true|false}: can the host retrieve GMSA's password?
    lab_hosts.py kinit HOST CCACHE         a Kerberos TGT for the host's computer account, in CCACHE (MIT kinit)
    lab_hosts.py verify-ccache GMSA CCACHE JSON {"retrieves": true|false}: binding with the tickets of CCACHE
    lab_hosts.py delete HOST...            delete the computer accounts
    lab_hosts.py keytab HOST PATH          the host's machine keytab (samba-tool exportkeytab from the DC's database,
                                           what joining the domain leaves in /etc/krb5.keytab)
    lab_hosts.py web-check NAME IP PORT    JSON {"status", "remote_user"}: a lab domain user (created once) gets
                                           http://NAME:PORT/index.cgi from IP with curl --negotiate (MIT kinit)
Connection from the GMSA_DOMAIN_* / GMSA_LAB_* environment (the lab's env file).
"""
from __future__ import annotations

import json
import os
import secrets
import ssl
import subprocess
import sys

import ldap3

ENV = os.environ
STORE = os.path.join(ENV['GMSA_LAB_DIR'], 'hosts.json')
# GMSA_LAB_HOSTS_OU: another OU for the computers (a test's delegated OU); created when missing.
OU = ENV.get('GMSA_LAB_HOSTS_OU') or 'OU=LabHosts,%s' % ENV['GMSA_LAB_BASE_DN']


def connect(user, password, required=True):
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ENV['GMSA_DOMAIN_CA_CERT'])
    server = ldap3.Server(ENV['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user, password, raise_exceptions=False)
    if not conn.bind():
        if not required:
            return None     # a disabled account, or a reset password: it cannot bind, so it cannot retrieve
        raise SystemExit('bind as %s failed: %s' % (user, conn.result.get('description')))
    return conn


def retrieves(conn, gmsa_dn):
    conn.search(gmsa_dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['msDS-ManagedPassword'])
    values = [e['raw_attributes'].get('msDS-ManagedPassword') for e in conn.response
              if e.get('type') == 'searchResEntry']
    blob = values[0][0] if values and values[0] else None
    # A real blob: version 1, and at least the current password (256 bytes + NUL) after the header.
    return bool(blob and int.from_bytes(blob[:2], 'little') == 1 and len(blob) >= 290)


def gmsa_dn(gmsa):
    admin = connect(ENV['GMSA_DOMAIN_USERNAME'], ENV['GMSA_DOMAIN_PASSWORD'])
    admin.search(ENV['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s$)' % gmsa, attributes=['1.1'])
    found = [e['dn'] for e in admin.response if e.get('type') == 'searchResEntry']
    if not found:
        raise SystemExit('no gMSA %s' % gmsa)
    return found[0]


def kinit(host, ccache):
    """A TGT for the host's computer account from the lab KDC, with MIT kinit (an independent client)."""
    entry = load()[computer_name(host)]
    principal = '%s$@%s' % (computer_name(host), ENV['GMSA_LAB_REALM'])
    p = subprocess.run(['kinit', '-c', ccache, principal], input=entry['password'] + '\n', text=True,
                       capture_output=True, check=False)
    if p.returncode != 0:
        raise SystemExit('kinit %s failed: %s' % (principal, p.stderr))
    print(json.dumps({'ccache': ccache}))


def verify_ccache(gmsa, ccache):
    """Bind with the Kerberos tickets already in ``ccache`` (no password) and try to read the password."""
    import gssapi
    creds = gssapi.Credentials(usage='initiate', store={'ccache': ccache})
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ENV['GMSA_DOMAIN_CA_CERT'])
    server = ldap3.Server(ENV['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS,
                            sasl_credentials=(ENV['GMSA_DOMAIN_SERVER'], None, creds), raise_exceptions=False)
    dn = gmsa_dn(gmsa)
    ok = conn.bind()
    print(json.dumps({'bound': bool(ok), 'retrieves': bool(ok) and retrieves(conn, dn)}))


def keytab(host, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if os.path.exists(path):
        os.unlink(path)
    p = subprocess.run(['samba-tool', 'domain', 'exportkeytab', path, '--principal=%s$' % computer_name(host),
                        '-s', ENV['GMSA_LAB_SMB_CONF']], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit('exportkeytab for %s failed: %s' % (host, p.stderr))
    print(json.dumps(dict(changed=True, keytab=path)))


def web_check(name, ip, port):
    """A domain user's Kerberos request to a member's web endpoint, with independent clients (kinit, curl)."""
    import tempfile
    data = load()
    user = data.get('_web_user')
    admin = connect(ENV['GMSA_DOMAIN_USERNAME'], ENV['GMSA_DOMAIN_PASSWORD'])
    dn = 'CN=labwebuser,%s' % OU
    admin.search(dn, '(objectClass=user)', search_scope=ldap3.BASE, attributes=['1.1'])
    exists = bool([e for e in admin.response if e.get('type') == 'searchResEntry'])
    if not user or not exists:
        user = dict(name='labwebuser', password='Lab-%s-9a!' % secrets.token_hex(16))
        pw = ('"%s"' % user['password']).encode('utf-16-le')
        if exists:
            admin.modify(dn, {'unicodePwd': [(ldap3.MODIFY_REPLACE, [pw])]})
        elif not admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
                'sAMAccountName': 'labwebuser', 'userAccountControl': 0x200, 'unicodePwd': pw}):
            raise SystemExit('could not create %s: %s' % (dn, admin.result.get('message')))
        data['_web_user'] = user
        save(data)
    with tempfile.TemporaryDirectory() as tmp:
        ccache = os.path.join(tmp, 'ccache')
        principal = '%s@%s' % (user['name'], ENV['GMSA_LAB_REALM'])
        k = subprocess.run(['kinit', '-c', ccache, principal], input=user['password'] + '\n', text=True,
                           capture_output=True, check=False)
        if k.returncode != 0:
            raise SystemExit('kinit %s failed: %s' % (principal, k.stderr))
        c = subprocess.run(['curl', '-s', '--negotiate', '-u', ':', '--resolve', '%s:%s:%s' % (name, port, ip),
                            '-w', '\n%{http_code}', 'http://%s:%s/index.cgi' % (name, port)], capture_output=True,
                           text=True, env=dict(os.environ, KRB5CCNAME=ccache), check=False)
    body, _sep, code = c.stdout.rpartition('\n')
    remote = body.strip().split('=', 1)[1] if body.strip().startswith('REMOTE_USER=') else None
    print(json.dumps(dict(status=int(code or 0), remote_user=remote, user=principal)))


def load():
    if os.path.exists(STORE):
        with open(STORE) as f:
            return json.load(f)
    return {}


def save(data):
    fd = os.open(STORE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(data, f)


def computer_name(host):
    return host.split('.')[0].upper()


def ensure(hosts):
    admin = connect(ENV['GMSA_DOMAIN_USERNAME'], ENV['GMSA_DOMAIN_PASSWORD'])
    admin.add(OU, 'organizationalUnit')
    data = load()
    changed = []
    for h in hosts:
        name = computer_name(h)
        dn = 'CN=%s,%s' % (name, OU)
        admin.search(dn, '(objectClass=computer)', search_scope=ldap3.BASE, attributes=['1.1'])
        exists = bool([e for e in admin.response if e.get('type') == 'searchResEntry'])
        if exists and name in data:
            continue
        password = 'Lab-%s-9a!' % secrets.token_hex(16)
        if exists:
            ok = admin.modify(dn, {'unicodePwd': [(ldap3.MODIFY_REPLACE, [('"%s"' % password).encode('utf-16-le')])]})
        else:
            ok = admin.add(dn, ['top', 'person', 'organizationalPerson', 'user', 'computer'], {
                'sAMAccountName': name + '$', 'userAccountControl': 0x1000,
                'dNSHostName': '%s.%s' % (name.lower(), ENV['GMSA_LAB_REALM'].lower()),
                'unicodePwd': ('"%s"' % password).encode('utf-16-le')})
        if not ok:
            raise SystemExit('could not create %s: %s' % (dn, admin.result.get('message')))
        data[name] = dict(dn=dn, password=password)
        changed.append(name)
    save(data)
    print(json.dumps(dict(changed=bool(changed), created=changed)))


def verify(gmsa, hosts):
    data = load()
    dn = gmsa_dn(gmsa)
    out = {}
    for h in hosts:
        entry = data.get(computer_name(h))
        conn = connect(entry['dn'], entry['password'], required=False) if entry else None
        out[h] = bool(conn) and retrieves(conn, dn)
        if conn:
            conn.unbind()
    print(json.dumps(out))


def delete(hosts):
    admin = connect(ENV['GMSA_DOMAIN_USERNAME'], ENV['GMSA_DOMAIN_PASSWORD'])
    data = load()
    for h in hosts:
        name = computer_name(h)
        admin.delete('CN=%s,%s' % (name, OU))
        data.pop(name, None)
    save(data)
    print(json.dumps(dict(changed=True)))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'ensure':
        ensure(sys.argv[2:])
    elif cmd == 'verify':
        verify(sys.argv[2], sys.argv[3:])
    elif cmd == 'delete':
        delete(sys.argv[2:])
    elif cmd == 'kinit':
        kinit(sys.argv[2], sys.argv[3])
    elif cmd == 'keytab':
        keytab(sys.argv[2], sys.argv[3])
    elif cmd == 'web-check':
        web_check(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == 'verify-ccache':
        verify_ccache(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(__doc__)
