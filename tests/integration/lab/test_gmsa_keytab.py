"""gmsa_keytab against the lab DC, proven with independent clients: MIT kinit/klist, samba-tool's own export of the
same keys, and a real Kerberos service (Apache + mod_auth_gssapi) that a domain user reaches with curl --negotiate.

Each "Linux member" is a computer account: one binds with a machine keytab exported by samba-tool (as a joined
host has), one with its password (the lab way); both run the module in this process, as a member would."""
from __future__ import annotations

import grp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid

import pytest

import apache_gssapi
from conftest import samba_tool
from member_refresher import install_refresher


def klist_keys(path):
    """{(principal, kvno, enctype): key hex} from MIT klist -k -K -e (an independent reader of the keytab)."""
    p = subprocess.run(['klist', '-k', '-K', '-e', path], capture_output=True, text=True, check=True)
    out = {}
    for m in re.finditer(r'^\s*(\d+) (\S+) \((?:DEPRECATED:)?([\w-]+)\)\s+\(0x([0-9a-f]+)\)', p.stdout, re.M):
        out[(m.group(2), int(m.group(1)), m.group(3))] = m.group(4)
    return out


@pytest.fixture
def member_dir():
    d = tempfile.mkdtemp(prefix='gmsa-linux-member-')
    os.chmod(d, 0o755)  # Apache's workers (www-data) read the keytab in it
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def linux_farm(lab, computers, run_module, ou):
    tag = uuid.uuid4().hex[:6]
    hosts = [computers.create('LNX%s%d' % (tag, i)) for i in (1, 2, 3)]
    name = 'kt%s' % tag
    spn = 'HTTP/%s.gmsalab.test' % name
    r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.gmsalab.test' % name, spn=dict(set=[spn]),
                                allowed_to_retrieve_password=dict(set=[hosts[0]['sam'], hosts[1]['sam']]),
                                kerberos_encryption_types=dict(set=['aes256', 'aes128', 'rc4'])))
    assert not r.failed, r
    return dict(tag=tag, hosts=hosts, name=name, spn=spn)


def machine_keytab(lab, host, directory):
    """The host's machine keytab as joining the domain leaves it - exported by samba-tool from the DC's database."""
    path = os.path.join(directory, '%s-krb5.keytab' % host['name'])
    subprocess.run(['samba-tool', 'domain', 'exportkeytab', path, '--principal=%s' % host['sam'],
                    '-s', lab['GMSA_LAB_SMB_CONF']], capture_output=True, check=True)
    return path


def conn(lab, **kw):
    return dict(dict(domain_server=[lab['GMSA_DOMAIN_SERVER']], domain_ca_cert=lab['GMSA_DOMAIN_CA_CERT']), **kw)


def as_keytab_host(lab, host, machine):
    return conn(lab, domain_auth='kerberos', domain_username='%s@%s' % (host['sam'], lab['GMSA_LAB_REALM']),
                domain_keytab=machine)


def as_password_host(lab, host):
    return conn(lab, domain_auth='simple', domain_username=host['dn'], domain_password=host['password'])


def kinit_user(lab, directory):
    """A domain user (created with samba-tool) with a TGT in its own cache, for curl --negotiate."""
    user, password = 'ku%s' % uuid.uuid4().hex[:8], 'User-%s-9a!' % uuid.uuid4().hex[:12]
    samba_tool(lab, 'user', 'create', user, password)
    ccache = os.path.join(directory, '%s.ccache' % user)
    subprocess.run(['kinit', '-c', ccache, '%s@%s' % (user, lab['GMSA_LAB_REALM'])], input=password + '\n',
                   text=True, capture_output=True, check=True)
    return user, ccache


def curl(url_host, ip, port, ccache=None):
    args = ['curl', '-s', '--resolve', '%s:%d:%s' % (url_host, port, ip), '-w', '\n%{http_code}',
            'http://%s:%d/index.cgi' % (url_host, port)]
    if ccache:
        args[1:1] = ['--negotiate', '-u', ':']
    p = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, KRB5CCNAME=ccache or 'MEMORY:x'),
                       check=False)
    body, _sep, code = p.stdout.rpartition('\n')
    return int(code or 0), body.strip()


def test_member_keytab_kinit_samba_tool_and_apache(lab, linux_farm, run_module, member_dir):
    h1, h2, h3 = linux_farm['hosts']
    name, spn, realm = linux_farm['name'], linux_farm['spn'], lab['GMSA_LAB_REALM']
    machine = machine_keytab(lab, h1, member_dir)
    kt1, kt2 = os.path.join(member_dir, 'm1.keytab'), os.path.join(member_dir, 'm2.keytab')
    args1 = dict(as_keytab_host(lab, h1, machine), name=name, path=kt1, encryption_types=['aes256', 'aes128', 'rc4'],
                 owner='root', group='www-data', mode='0640')

    # Check mode: the same answer as a real run, nothing written.
    r = run_module('gmsa_keytab', args1, check=True, conn=False)
    assert not r.failed, r
    assert r['changed'] is True and not os.path.exists(kt1)
    assert 'kvno 1 aes256-cts-hmac-sha1-96 %s@%s' % (spn, realm) in r['diff']['after']

    r = run_module('gmsa_keytab', args1, conn=False)
    assert not r.failed, r
    assert r['changed'] is True
    assert r['account'] == name + '$' and r['kvno'] == 1 and r['previous_password'] is False
    assert r['principals'] == ['%s$@%s' % (name, realm), '%s@%s' % (spn, realm)]
    st = os.stat(kt1)
    assert oct(st.st_mode & 0o777) == '0o640' and st.st_gid == grp.getgrnam('www-data').gr_gid

    # klist (MIT) reads what was written: kvno 1, the three encryption types, for the account and its SPN.
    keys = klist_keys(kt1)
    assert sorted(keys) == sorted((p, 1, e) for p in r['principals']
                                  for e in ('aes256-cts-hmac-sha1-96', 'aes128-cts-hmac-sha1-96', 'arcfour-hmac'))
    # samba-tool derives the same keys from the DC's own copy of the password.
    exported = os.path.join(member_dir, 'samba-tool.keytab')
    subprocess.run(['samba-tool', 'domain', 'exportkeytab', exported, '--principal=%s$' % name,
                    '-s', lab['GMSA_LAB_SMB_CONF']], capture_output=True, check=True)
    theirs = klist_keys(exported)
    assert theirs and all(keys[k] == v for k, v in theirs.items()), 'keys differ from samba-tool exportkeytab'
    # The keys work: MIT kinit gets a TGT for the gMSA from the lab KDC.
    ccache = os.path.join(member_dir, 'gmsa.ccache')
    k = subprocess.run(['kinit', '-k', '-t', kt1, '-c', ccache, '%s$@%s' % (name, realm)], capture_output=True,
                       text=True, check=False)
    assert k.returncode == 0, k.stderr

    # Idempotent: nothing changes, no diff.
    again = run_module('gmsa_keytab', args1, conn=False)
    assert again['changed'] is False and 'diff' not in again

    # No key, password or blob in any result.
    everything = json.dumps([r, again])
    assert not any(v in everything.lower() for v in keys.values())

    # The second member (password bind) writes the same keys: the farm case.
    r2 = run_module('gmsa_keytab', dict(as_password_host(lab, h2), name=name, path=kt2, group='www-data',
                                        mode='0640', encryption_types=['aes256', 'aes128', 'rc4']), conn=False)
    assert not r2.failed and r2['changed'] is True, r2
    assert klist_keys(kt2) == keys

    # A real Kerberos service on each member serves the gMSA's SPN: a domain user gets 200 and is REMOTE_USER.
    user, user_cc = kinit_user(lab, member_dir)
    web = '%s.gmsalab.test' % name
    servers = [(os.path.join(member_dir, 'apache1'), '127.0.0.23', kt1), (os.path.join(member_dir, 'apache2'),
                                                                          '127.0.0.24', kt2)]
    try:
        for directory, ip, keytab in servers:
            apache_gssapi.start(directory, ip, 8082, keytab)
        for _directory, ip, _keytab in servers:
            assert curl(web, ip, 8082, user_cc) == (200, 'REMOTE_USER=%s@%s' % (user, realm))
            assert curl(web, ip, 8082)[0] == 401
    finally:
        for directory, _ip, _keytab in servers:
            apache_gssapi.stop(directory)

    # A host that is not allowed: a clear error and no keytab.
    kt3 = os.path.join(member_dir, 'm3.keytab')
    r3 = run_module('gmsa_keytab', dict(as_password_host(lab, h3), name=name, path=kt3), conn=False)
    assert r3.failed and r3['changed'] is False
    assert 'is not allowed to retrieve the managed password of %s$' % name in r3['msg']
    assert not os.path.exists(kt3)

    # Leaving the farm: once the grant is gone the member can no longer refresh, and its keytab stays as it was.
    r = run_module('gmsa', dict(name=name, allowed_to_retrieve_password=dict(set=[h1['sam']])))
    assert not r.failed and r['changed'], r
    before = open(kt2, 'rb').read()
    r2 = run_module('gmsa_keytab', dict(as_password_host(lab, h2), name=name, path=kt2), conn=False)
    assert r2.failed and 'not allowed to retrieve' in r2['msg']
    assert open(kt2, 'rb').read() == before
    # state=absent removes it (what the member role does when a host leaves); then nothing to do.
    gone = run_module('gmsa_keytab', dict(as_password_host(lab, h2), name=name, path=kt2, state='absent'),
                      check=True, conn=False)
    assert gone['changed'] is True and os.path.exists(kt2)
    gone = run_module('gmsa_keytab', dict(as_password_host(lab, h2), name=name, path=kt2, state='absent'), conn=False)
    assert gone['changed'] is True and not os.path.exists(kt2)
    assert run_module('gmsa_keytab', dict(as_password_host(lab, h2), name=name, path=kt2, state='absent'),
                      conn=False)['changed'] is False


def test_refuses_foreign_keytab_unusable_enctype_and_unreachable_dc(lab, linux_farm, run_module, member_dir, ou):
    h1 = linux_farm['hosts'][0]
    machine = machine_keytab(lab, h1, member_dir)
    before = open(machine, 'rb').read()
    # The machine keytab is never overwritten.
    r = run_module('gmsa_keytab', dict(as_keytab_host(lab, h1, machine), name=linux_farm['name'], path=machine),
                   conn=False)
    assert r.failed and 'holds keys of other principals' in r['msg'] and h1['sam'] in r['msg'], r
    assert open(machine, 'rb').read() == before
    # An account whose encryption types leave nothing usable.
    rc4_only = 'k4%s' % uuid.uuid4().hex[:6]
    assert not run_module('gmsa', dict(name=rc4_only, path=ou, dns_hostname='%s.gmsalab.test' % rc4_only,
                                       allowed_to_retrieve_password=dict(set=[h1['sam']]),
                                       kerberos_encryption_types=dict(set=['rc4']))).failed
    path = os.path.join(member_dir, 'rc4.keytab')
    r = run_module('gmsa_keytab', dict(as_password_host(lab, h1), name=rc4_only, path=path), conn=False)
    assert r.failed and 'has no usable encryption type' in r['msg'] and 'aes256, aes128' in r['msg'], r
    assert not os.path.exists(path)
    # No domain controller answers.
    r = run_module('gmsa_keytab', dict(as_password_host(lab, h1), domain_server=['127.0.0.99:6360'], domain_timeout=2,
                                       name=rc4_only, path=path), conn=False)
    assert r.failed and '127.0.0.99:6360: no answer from 127.0.0.99:6360 (ldaps): connection refused' in r['msg']
    assert not os.path.exists(path)
    # No such gMSA.
    r = run_module('gmsa_keytab', dict(as_password_host(lab, h1), name='nosuch%s' % linux_farm['tag'], path=path),
                   conn=False)
    assert r.failed and 'there is no gMSA named nosuch' in r['msg']


def test_refresher_runs_without_ansible_and_an_idle_tick_asks_nothing(lab, linux_farm, member_dir):
    """What the member's timer runs: python3 -m gmsa_farm_keytab with the package on PYTHONPATH (as the unit sets
    it), Ansible not importable, binding with the machine keytab. A tick that is not due opens no connection."""
    h1 = linux_farm['hosts'][0]
    machine = machine_keytab(lab, h1, member_dir)
    lib = install_refresher(os.path.join(member_dir, 'lib'))
    path = os.path.join(member_dir, 'timer.keytab')
    config = os.path.join(member_dir, 'config.json')
    with open(config, 'w') as f:
        json.dump(dict(as_keytab_host(lab, h1, machine), name=linux_farm['name'], path=path,
                       encryption_types=['aes256', 'aes128']), f)
    # No Ansible, and (to count connections) a socket.create_connection that records its callers.
    code = ("import runpy, socket, sys; sys.modules['ansible'] = None; opened = []; real = socket.socket.connect\n"
            "def connect(self, *a):\n    opened.append(a); return real(self, *a)\n"
            "socket.socket.connect = connect; sys.argv = ['gmsa-farm-keytab'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('gmsa_farm_keytab', run_name='__main__')\n"
            "finally:\n    print('connections=%d' % len(opened)); print('ldap3=%s' % ('ldap3' in sys.modules))\n")

    def refresh(*extra):
        return subprocess.run([sys.executable, '-c', code, '--config', config] + list(extra), capture_output=True,
                              text=True, check=False, cwd=member_dir, env=dict(os.environ, PYTHONPATH=lib))
    first = refresh()
    assert first.returncode == 0, first.stdout + first.stderr
    assert re.match(r'^%s: keytab %s updated \(kvno 1, aes256, aes128, 2 principals, from %s\); next refresh at '
                    r'\d{4}-\d\d-\d\dT' % (linux_farm['name'], re.escape(path), lab['GMSA_DOMAIN_SERVER']),
                    first.stdout), first.stdout
    assert 'connections=0' not in first.stdout and 'ldap3=True' in first.stdout
    assert klist_keys(path)
    state = json.load(open(path + '.refresh.json'))
    assert state['kvno'] == 1 and state['last_error'] is None and state['failures'] == 0
    # A 30-day password: the next refresh is the daily check, not the window weeks away.
    assert state['next_due_epoch'] == state['last_success_epoch'] + 86400
    idle = refresh()
    assert idle.returncode == 0 and ' is current; next refresh at ' in idle.stdout, idle.stdout
    assert 'connections=0' in idle.stdout and 'ldap3=False' in idle.stdout
    forced = refresh('--force')
    assert forced.returncode == 0 and ' unchanged (kvno 1' in forced.stdout, forced.stdout
    # A failure is one readable line, exit status 1 (what systemd records) and the error in the state file.
    with open(config, 'w') as f:
        json.dump(dict(as_keytab_host(lab, h1, machine), name='nosuch', path=path,
                       encryption_types=['aes256']), f)
    bad = refresh('--force')
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.startswith('nosuch: refresh FAILED (attempt 1): %s: there is no gMSA named nosuch$'
                                 % lab['GMSA_DOMAIN_SERVER']), bad.stdout
    assert 'the keytab is unchanged; next try at ' in bad.stdout
    state = json.load(open(path + '.refresh.json'))
    assert 'there is no gMSA named nosuch$' in state['last_error'] and state['failures'] == 1


def test_every_domain_controller_is_tried_a_dead_one_and_one_answering_with_an_error(lab, linux_farm, run_module,
                                                                                     member_dir, proxy):
    """domain_server lists a dead address (nothing listens there), a DC whose every read of the gMSA fails (the fault
    proxy answers busy), then the real DC: the keytab comes from the third. With only the first two, the message
    names each DC with its own error and the keytab is left as it was."""
    from ldap_fault_proxy import Rule
    h1, name = linux_farm['hosts'][0], linux_farm['name']
    proxy.rules.append(Rule('searchRequest', 51, dn_part='DC=', times=None, message='the DC is busy (injected)'))
    bundle = os.path.join(member_dir, 'cas.pem')
    with open(bundle, 'w') as f:
        f.write(open(lab['GMSA_DOMAIN_CA_CERT']).read() + open(proxy.ca).read())
    path = os.path.join(member_dir, 'failover.keytab')
    dead, failing = '127.0.0.39:636', 'localhost:%d' % proxy.port
    args = dict(as_password_host(lab, h1), name=name, path=path, domain_ca_cert=bundle, domain_timeout=3,
                domain_server=[dead, failing, lab['GMSA_DOMAIN_SERVER']])
    r = run_module('gmsa_keytab', args, conn=False)
    assert not r.failed, r
    assert r['changed'] is True and r['domain_controller'] == lab['GMSA_DOMAIN_SERVER'] and r['kvno'] == 1
    assert any(op == 'searchRequest' and 'answered 51' in how for op, _dn, how in proxy.seen), (proxy.seen, r)
    keys = klist_keys(path)
    assert keys
    before = open(path, 'rb').read()

    r = run_module('gmsa_keytab', dict(args, domain_server=[dead, failing]), conn=False)
    assert r.failed and r['changed'] is False
    assert 'tried 2, in order' in r['msg']
    assert re.search(r'127\.0\.0\.39:636: no answer from 127\.0\.0\.39:636 \(ldaps\): .*refused', r['msg']), r['msg']
    assert 'localhost:%d: ' % proxy.port in r['msg'] and 'the DC is busy (injected)' in r['msg'], r['msg']
    assert r['msg'].index('127.0.0.39') < r['msg'].index('localhost')
    assert open(path, 'rb').read() == before
