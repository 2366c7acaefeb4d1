"""The floor: a minimal ldap3 script doing the same LDAP operations as one gmsa.farm task, nothing more.

Usage: raw_ldap3.py OP NAME [PRINCIPAL ...]   (OP: create | noop | add | delete | info)
       raw_ldap3.py estate COUNT PREFIX PRINCIPAL PRINCIPAL   (the list form's work: COUNT accounts, 2 SPNs and
                                                                2 allowed principals each; creates what is missing)
       raw_ldap3.py fill COUNT PREFIX WORKERS PRINCIPAL PRINCIPAL   (the same accounts, created as fast as the DC
                                                                takes them: WORKERS connections in parallel)
Connection from GMSA_DOMAIN_* environment variables (the lab's env file). Prints the number of LDAP requests
sent after the bind. No validation, no diff, no error messages: that is what the module adds.
"""
from __future__ import annotations

import os
import ssl
import struct
import sys

import ldap3

OWNER_BA = bytes.fromhex('01020000000000052000000020020000')


def sid_bytes(text):
    parts = [int(p) for p in text.split('-')[1:]]
    return bytes([parts[0], len(parts) - 2]) + parts[1].to_bytes(6, 'big') + b''.join(
        s.to_bytes(4, 'little') for s in parts[2:])


def sid_text(b):
    subs = [int.from_bytes(b[8 + 4 * i:12 + 4 * i], 'little') for i in range(b[1])]
    return 'S-%d-%d-%s' % (b[0], int.from_bytes(b[2:8], 'big'), '-'.join(str(x) for x in subs))


def membership_sd(sids):
    aces = b''
    for s in sids:
        sb = sid_bytes(s)
        aces += struct.pack('<BBHI', 0, 0, 8 + len(sb), 0x000F01FF) + sb
    acl = struct.pack('<BBHHH', 2, 0, 8 + len(aces), len(sids), 0) + aces
    return struct.pack('<BBHIIII', 1, 0, 0x8004, 20, 0, 0, 20 + len(OWNER_BA)) + OWNER_BA + acl


def sids_in_sd(sd):
    dacl = struct.unpack('<I', sd[16:20])[0]
    count = struct.unpack('<H', sd[dacl + 4:dacl + 6])[0]
    off, out = dacl + 8, []
    for dummy in range(count):
        size = struct.unpack('<H', sd[off + 2:off + 4])[0]
        out.append(sid_text(sd[off + 8:off + size]))
        off += size
    return out


def estate(conn, base, path, count, prefix, principals):
    """One search for the principals, one paged search for the accounts, one add per missing account."""
    requests = 1
    conn.search(base, '(|%s)' % ''.join('(sAMAccountName=%s)' % p for p in principals), attributes=['objectSid'])
    sids = [sid_text(e['raw_attributes']['objectSid'][0]) for e in conn.response if e.get('type') == 'searchResEntry']
    have = set()
    cookie = None
    while True:
        conn.search(path, '(objectClass=msDS-GroupManagedServiceAccount)', attributes=[
            'sAMAccountName', 'servicePrincipalName', 'msDS-GroupMSAMembership', 'dNSHostName'],
            paged_size=500, paged_cookie=cookie)
        requests += 1
        have.update(e['raw_attributes']['sAMAccountName'][0].decode().lower() for e in conn.response
                    if e.get('type') == 'searchResEntry')
        cookie = conn.result.get('controls', {}).get('1.2.840.113556.1.4.319', {}).get('value', {}).get('cookie')
        if not cookie:
            break
    sd = membership_sd(sids)
    for i in range(count):
        name, attrs = estate_entry(prefix, i, sd)
        if name.lower() + '$' in have:
            continue
        conn.add('CN=%s,%s' % (name, path), ['top', 'msDS-GroupManagedServiceAccount'], attrs)
        requests += 1
        assert conn.result['result'] == 0, conn.result
    return requests


def connect():
    env = os.environ
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=env['GMSA_DOMAIN_CA_CERT'])
    server = ldap3.Server(env['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    return ldap3.Connection(server, env['GMSA_DOMAIN_USERNAME'], env['GMSA_DOMAIN_PASSWORD'], auto_bind=True)


def estate_entry(prefix, i, sd):
    name = '%s%05d' % (prefix, i)
    dns = '%s.bench.test' % name
    return name, {'sAMAccountName': name + '$', 'dNSHostName': dns, 'userAccountControl': 0x1000,
                  'msDS-ManagedPasswordInterval': 30, 'msDS-SupportedEncryptionTypes': 0x18,
                  'servicePrincipalName': ['http/' + dns, 'http/' + name], 'msDS-GroupMSAMembership': sd}


def fill_slice(job):
    """One worker of ``fill``: its own connection, every WORKERS-th account; existing ones are skipped."""
    path, prefix, indexes, sd = job
    conn = connect()
    added = 0
    for i in indexes:
        name, attrs = estate_entry(prefix, i, sd)
        conn.add('CN=%s,%s' % (name, path), ['top', 'msDS-GroupManagedServiceAccount'], attrs)
        if conn.result['result'] == 68:     # entryAlreadyExists: a fill run before was interrupted
            continue
        assert conn.result['result'] == 0, conn.result
        added += 1
    conn.unbind()
    return added


def fill(base, path, count, prefix, workers, principals):
    """Create the estate's COUNT accounts in parallel connections (the benchmark's set-up, not a measured floor)."""
    import multiprocessing
    conn = connect()
    conn.search(base, '(|%s)' % ''.join('(sAMAccountName=%s)' % p for p in principals), attributes=['objectSid'])
    sd = membership_sd([sid_text(e['raw_attributes']['objectSid'][0]) for e in conn.response
                        if e.get('type') == 'searchResEntry'])
    conn.unbind()
    jobs = [(path, prefix, range(w, count, workers), sd) for w in range(workers)]
    with multiprocessing.Pool(workers) as pool:
        return sum(pool.map(fill_slice, jobs))


def main():
    op, name, principals = sys.argv[1], sys.argv[2], sys.argv[3:]
    env = os.environ
    conn = connect()
    base = env['GMSA_LAB_BASE_DN']
    path = env['BENCH_PATH']
    requests = 0
    if op == 'info':
        attrs = sys.argv[3].split(',')
        n = 0
        pages = conn.extend.standard.paged_search(path, '(objectClass=msDS-GroupManagedServiceAccount)',
                                                  attributes=attrs, paged_size=500, generator=True)
        for dummy in pages:
            n += 1
        print(n)
        return
    if op == 'estate':
        print(estate(conn, base, path, int(name), principals[0], principals[1:]))
        return
    if op == 'fill':
        conn.unbind()
        print(fill(base, path, int(name), principals[0], int(principals[1]), principals[2:]))
        return
    flt = '(|(sAMAccountName=%s$)%s)' % (name, ''.join('(sAMAccountName=%s)' % p for p in principals))
    conn.search(base, flt, attributes=['objectSid', 'sAMAccountName', 'msDS-GroupMSAMembership'])
    requests += 1
    entries = [e for e in conn.response if e.get('type') == 'searchResEntry']
    account = [e for e in entries if e['raw_attributes']['sAMAccountName'][0].decode().lower() == name.lower() + '$']
    sids = [sid_text(e['raw_attributes']['objectSid'][0]) for e in entries if e not in account]
    dn = 'CN=%s,%s' % (name, path)
    if op == 'create':
        conn.add(dn, ['top', 'msDS-GroupManagedServiceAccount'], {
            'sAMAccountName': name + '$', 'dNSHostName': '%s.bench.test' % name, 'userAccountControl': 0x1000,
            'msDS-ManagedPasswordInterval': 30, 'msDS-SupportedEncryptionTypes': 0x18})
        requests += 1
    elif op == 'add':
        old = (account[0]['raw_attributes'].get('msDS-GroupMSAMembership') or [None])[0]
        have = sids_in_sd(old) if old else []
        new = membership_sd(have + [s for s in sids if s not in have])
        changes = [(ldap3.MODIFY_DELETE, [old])] if old else []
        conn.modify(dn, {'msDS-GroupMSAMembership': changes + [(ldap3.MODIFY_ADD, [new])]})
        requests += 1
    elif op == 'delete':
        conn.delete(dn)
        requests += 1
    assert conn.result['result'] == 0, conn.result
    print(requests)


if __name__ == '__main__':
    main()
