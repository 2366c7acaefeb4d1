"""Benchmark of the Linux member's refresher (gmsa_farm_keytab) against the lab DC: what a due refresh costs on the
wire (binds and LDAP requests per DC tried) and what an idle tick (not due) costs: connections opened and wall time
of the whole process, as the systemd timer runs it every minute.

    python benchmarks/keytab_refresh.py [--reps N] [--out benchmarks/results/keytab_refresh.md]

Measured, never asserted in a timed test. Uses the lab DC of tests/lab/dc.sh (GMSA_LAB_* from its env file).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import ldap3

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.collections'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'lab'))

from ansible_collections.gmsa.farm.plugins.module_utils import _keytab_refresh as R  # noqa: E402
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import Directory  # noqa: E402
from member_refresher import install_refresher  # noqa: E402
from rotation_lab import membership_sd, read_env  # noqa: E402

COUNT_CONNECTIONS = (
    "import runpy, socket, sys; opened = []; real = socket.socket.connect\n"
    "def connect(self, *a):\n    opened.append(a); return real(self, *a)\n"
    "socket.socket.connect = connect; sys.argv = ['gmsa-farm-keytab'] + sys.argv[1:]\n"
    "try:\n    runpy.run_module('gmsa_farm_keytab', run_name='__main__')\n"
    "finally:\n    print('connections=%d' % len(opened))\n")


def admin(env):
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=env['GMSA_DOMAIN_CA_CERT'])
    conn = ldap3.Connection(ldap3.Server(env['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls),
                            user=env['GMSA_DOMAIN_USERNAME'], password=env['GMSA_DOMAIN_PASSWORD'])
    assert conn.bind(), conn.result
    return conn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--reps', type=int, default=10)
    parser.add_argument('--out', default=os.path.join(REPO, 'benchmarks', 'results', 'keytab_refresh.md'))
    args = parser.parse_args()
    env = read_env(os.path.join(REPO, '.lab', 'lab.env'))
    conn = admin(env)
    tag = uuid.uuid4().hex[:6]
    ou = 'OU=bench-kt-%s,%s' % (tag, env['GMSA_LAB_BASE_DN'])
    work = tempfile.mkdtemp(prefix='gmsa-bench-keytab-')
    try:
        assert conn.add(ou, 'organizationalUnit'), conn.result
        password = 'Host-%s-9a!' % uuid.uuid4().hex
        host = 'CN=BH%s,%s' % (tag.upper(), ou)
        assert conn.add(host, ['top', 'person', 'organizationalPerson', 'user', 'computer'], {
            'sAMAccountName': 'BH%s$' % tag.upper(), 'userAccountControl': 0x1000,
            'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), conn.result
        conn.search(host, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['objectSid'])
        sid = conn.response[0]['raw_attributes']['objectSid'][0]
        name = 'bk%s' % tag
        assert conn.add('CN=%s,%s' % (name, ou), ['top', 'person', 'organizationalPerson', 'user', 'computer',
                                                  'msDS-GroupManagedServiceAccount'], {
            'sAMAccountName': name + '$', 'userAccountControl': 0x1000, 'msDS-ManagedPasswordInterval': 30,
            'dNSHostName': '%s.%s' % (name, env['GMSA_LAB_REALM'].lower()), 'msDS-SupportedEncryptionTypes': 0x18,
            'msDS-GroupMSAMembership': membership_sd([sid]),
            'servicePrincipalName': ['HTTP/%s.%s' % (name, env['GMSA_LAB_REALM'].lower())]}), conn.result
        params = dict(name=name, path=os.path.join(work, 'svc.keytab'), domain_server=[env['GMSA_DOMAIN_SERVER']],
                      domain_ca_cert=env['GMSA_DOMAIN_CA_CERT'], domain_auth='simple', domain_username=host,
                      domain_password=password)
        config = os.path.join(work, 'svc.json')
        with open(config, 'w') as f:
            json.dump(params, f)

        # A due refresh (--force), in process, counting binds and requests per DC opened.
        opened = []

        def open_directory(p):
            d = Directory(p).connect()
            opened.append(d)
            return d
        due_times = []
        for _rep in range(args.reps):
            t0 = time.perf_counter()
            assert R.main(['--config', config, '--force'], open_directory=open_directory) == 0
            due_times.append(time.perf_counter() - t0)
        requests = sorted(set(d.requests for d in opened))

        # An idle tick, as the timer runs it: a new process, the package on PYTHONPATH.
        lib = install_refresher(os.path.join(work, 'lib'))
        idle_times, connections = [], set()
        for _rep in range(args.reps):
            t0 = time.perf_counter()
            p = subprocess.run([sys.executable, '-c', COUNT_CONNECTIONS, '--config', config], capture_output=True,
                               text=True, check=True, env=dict(os.environ, PYTHONPATH=lib))
            idle_times.append(time.perf_counter() - t0)
            assert ' is current; ' in p.stdout, p.stdout
            connections.add(p.stdout.strip().splitlines()[-1])
    finally:
        conn.search(ou, '(objectClass=*)', search_scope=ldap3.SUBTREE, attributes=['1.1'])
        for d in sorted((e['dn'] for e in conn.response if e.get('type') == 'searchResEntry'),
                        key=lambda x: -x.count(',')):
            conn.delete(d)
        shutil.rmtree(work, ignore_errors=True)
    text = """# Linux member refresher (gmsa_farm_keytab) against the lab DC

`python benchmarks/keytab_refresh.py --reps %d` (Samba lab DC on loopback; a 30-day gMSA; simple bind as the member
computer over LDAPS).

| what | result |
|---|---|
| due refresh: binds per DC tried | 1 |
| due refresh: LDAP requests per DC tried | %s (rootDSE, the account with its password and kvno, the kvno again) |
| due refresh, in process: median / max | %.0f ms / %.0f ms |
| idle tick (not due): connections opened | %s |
| idle tick, a whole `python3 -m gmsa_farm_keytab` process: median / max | %.0f ms / %.0f ms |
""" % (args.reps, ', '.join(str(r) for r in requests), 1000 * statistics.median(due_times), 1000 * max(due_times),
       ', '.join(sorted(c.split('=')[1] for c in connections)), 1000 * statistics.median(idle_times),
       1000 * max(idle_times))
    with open(args.out, 'w') as f:
        f.write(text)
    print(text)


if __name__ == '__main__':
    main()
