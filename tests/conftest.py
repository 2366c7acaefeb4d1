"""Shared pytest fixtures for gmsa.farm.

* the collection is imported as ``ansible_collections.gmsa.farm`` (``.collections/`` made by scripts/bootstrap.sh);
* ``lab``: the session's lab domain controller (tests/lab/dc.sh up), its settings as a dict;
* ``admin``: a raw ldap3 connection bound as the lab administrator, independent of the collection's code;
* ``delegated``: the least-privilege identity the directory modules run as by default: a plain user that
  Administrator delegates, with samba-tool, the rights a farm needs on one OU (``DELEGATION_SDDL``); the
  fresh OUs of ``ou`` live under that OU and inherit the delegation;
* ``ou``: a fresh OU per test, deleted with everything in it afterwards;
* ``computers``: makes computer accounts with known passwords (stand-ins for member hosts) and binds as them;
* ``run_module``: runs a module in-process exactly as Ansible would hand it its arguments, bound as the
  delegated identity unless the test passes ``as_admin=True`` (and says why it needs more rights);
* ``proxy``: a fault-injecting LDAPS proxy in front of the lab DC (tests/lab/ldap_fault_proxy.py), for the
  refusals only a Windows DC gives.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shlex
import ssl
import subprocess
import sys
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(REPO, '.collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
LAB_HELPERS = os.path.join(REPO, 'tests', 'lab')     # ldap_fault_proxy, lab_hosts
UNIT_HELPERS = os.path.join(REPO, 'tests', 'unit')   # windows_sim, module_shapes, sim_playbook (tests in the
for helpers in (LAB_HELPERS, UNIT_HELPERS):          # tree below that mirrors plugins/ import them)
    if helpers not in sys.path:
        sys.path.insert(0, helpers)

from rotation_lab import read_env  # noqa: E402  (the lab helpers' folder is on the path only from here)


def start_lab(**overrides):
    """Start (or reuse) a lab DC with tests/lab/dc.sh; return its settings, with 'conn' module options."""
    script = os.path.join(REPO, 'tests', 'lab', 'dc.sh')
    out = subprocess.run(['bash', script, 'up'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, **overrides), check=False)
    if out.returncode != 0:
        pytest.fail('lab DC did not start: %s' % out.stderr[-2000:])
    env = read_env(out.stdout.strip().splitlines()[-1])
    env['conn'] = dict(domain_server=[env['GMSA_DOMAIN_SERVER']], domain_username=env['GMSA_DOMAIN_USERNAME'],
                       domain_password=env['GMSA_DOMAIN_PASSWORD'], domain_ca_cert=env['GMSA_DOMAIN_CA_CERT'])
    return env


@pytest.fixture(scope='session')
def lab():
    """Start (or reuse) the lab DC and return its settings."""
    env = start_lab()
    os.environ['KRB5_CONFIG'] = env['KRB5_CONFIG']
    # Tests pass connection options explicitly; keep the environment fallbacks from leaking in.
    for k in list(os.environ):
        if k.startswith('GMSA_DOMAIN_'):
            del os.environ[k]
    return env


def sid_text(b):
    """Binary SID → S-1-… (written here independently of the collection's own code)."""
    subs = [int.from_bytes(b[8 + 4 * i:12 + 4 * i], 'little') for i in range(b[1])]
    return 'S-%d-%d-%s' % (b[0], int.from_bytes(b[2:8], 'big'), '-'.join(str(x) for x in subs))


def ldap3_connect(lab, user, password):
    import ldap3
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=lab['GMSA_DOMAIN_CA_CERT'])
    server = ldap3.Server(lab['GMSA_DOMAIN_SERVER'], port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=user, password=password, raise_exceptions=False)
    if not conn.bind():
        raise AssertionError('bind as %s failed: %s' % (user, conn.result))
    return conn


@pytest.fixture(scope='session')
def admin(lab):
    conn = ldap3_connect(lab, lab['GMSA_DOMAIN_USERNAME'], lab['GMSA_DOMAIN_PASSWORD'])
    yield conn
    conn.unbind()


# What a farm's directory tasks need on the OU that holds the farm's accounts, groups and (for compromised_host)
# computers, written here as SDDL independently of the collection's own delegation code (the schemaIDGUIDs of
# MS-ADSC and the rightsGuid of MS-ADTS 5.1.3.2.1, checked against the lab's schema):
#   create/delete msDS-GroupManagedServiceAccount children, full control on those objects;
#   create/delete group children, full control on those objects (host groups);
#   on computer objects: write userAccountControl and the Reset Password extended right.
GMSA_CLASS = '7b8b558a-93a5-4af7-adca-c017e67f1057'
GROUP_CLASS = 'bf967a9c-0de6-11d0-a285-00aa003049e2'
COMPUTER_CLASS = 'bf967a86-0de6-11d0-a285-00aa003049e2'
UAC_ATTRIBUTE = 'bf967a68-0de6-11d0-a285-00aa003049e2'
RESET_PASSWORD = '00299570-246d-11d0-a768-00aa006e0529'
DELEGATION_SDDL = ('(OA;CI;CCDC;{gmsa};;{sid})(OA;CIIO;CCDCLCSWRPWPDTLOCRSDRCWDWO;;{gmsa};{sid})'
                   '(OA;CI;CCDC;{group};;{sid})(OA;CIIO;CCDCLCSWRPWPDTLOCRSDRCWDWO;;{group};{sid})'
                   '(OA;CIIO;WP;{uac};{computer};{sid})(OA;CIIO;CR;{reset};{computer};{sid})')


def delegation_sddl(sid):
    return DELEGATION_SDDL.format(gmsa=GMSA_CLASS, group=GROUP_CLASS, computer=COMPUTER_CLASS, uac=UAC_ATTRIBUTE,
                                  reset=RESET_PASSWORD, sid=sid)


def make_user(lab, admin, prefix):
    """A plain enabled user in CN=Users with a known password: dict(name, dn, upn, password, sid)."""
    name = '%s%s' % (prefix, uuid.uuid4().hex[:8])
    password = 'User-%s-9a!' % uuid.uuid4().hex
    dn = 'CN=%s,CN=Users,%s' % (name, lab['GMSA_LAB_BASE_DN'])
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': name, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), admin.result
    admin.search(dn, '(objectClass=*)', search_scope='BASE', attributes=['objectSid'])
    sid = sid_text(admin.response[0]['raw_attributes']['objectSid'][0])
    return dict(name=name, dn=dn, upn='%s@%s' % (name, lab['GMSA_LAB_REALM']), password=password, sid=sid)


@pytest.fixture(scope='session')
def delegated(lab, admin):
    """The least-privilege identity: a plain user (member of no group but Domain Users) delegated on one OU
    exactly the rights of DELEGATION_SDDL, by Administrator through samba-tool. Returns dict(name, dn, upn,
    password, sid, ou, conn) where ``conn`` are the module connection options that bind as it."""
    user = make_user(lab, admin, 'gdel')
    top = 'OU=gdel-%s,%s' % (uuid.uuid4().hex[:10], lab['GMSA_LAB_BASE_DN'])
    assert admin.add(top, 'organizationalUnit'), admin.result
    samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % top, '--sddl=%s' % delegation_sddl(user['sid']))
    user['ou'] = top
    user['conn'] = dict(lab['conn'], domain_username=user['upn'], domain_password=user['password'])
    yield user
    delete_tree(admin, top)
    admin.delete(user['dn'])


def delete_tree(conn, dn):
    import ldap3
    conn.search(dn, '(objectClass=*)', search_scope=ldap3.SUBTREE, attributes=['1.1'])
    dns = [e['dn'] for e in conn.response if e.get('type') == 'searchResEntry']
    for d in sorted(dns, key=lambda x: -x.count(',')):
        conn.delete(d)


@pytest.fixture
def ou(lab, admin, delegated):
    """A fresh OU inside the delegated OU (so the delegated identity holds its rights here by inheritance)."""
    dn = 'OU=t-%s,%s' % (uuid.uuid4().hex[:10], delegated['ou'])
    assert admin.add(dn, 'organizationalUnit'), admin.result
    yield dn
    delete_tree(admin, dn)


class Computers(object):
    """Computer accounts with known passwords, standing in for farm member hosts."""

    def __init__(self, lab, admin, ou):
        self.lab, self.admin, self.ou = lab, admin, ou

    def create(self, name, groups=()):
        password = 'Host-%s-9a!' % uuid.uuid4().hex
        dn = 'CN=%s,%s' % (name, self.ou)
        ok = self.admin.add(dn, ['top', 'person', 'organizationalPerson', 'user', 'computer'], {
            'sAMAccountName': name + '$',
            'userAccountControl': 0x1000,
            'dNSHostName': '%s.%s' % (name.lower(), self.lab['GMSA_LAB_REALM'].lower()),
            'unicodePwd': ('"%s"' % password).encode('utf-16-le'),
        })
        assert ok, self.admin.result
        for g in groups:
            assert self.admin.modify(g, {'member': [('MODIFY_ADD', [dn])]}), self.admin.result
        self.admin.search(dn, '(objectClass=*)', search_scope='BASE', attributes=['objectSid', 'objectGUID'])
        raw = self.admin.response[0]['raw_attributes']
        return dict(name=name, dn=dn, sam=name + '$', password=password, sid=sid_text(raw['objectSid'][0]),
                    guid=str(uuid.UUID(bytes_le=raw['objectGUID'][0])))

    def bind(self, computer):
        return ldap3_connect(self.lab, computer['dn'], computer['password'])

    def managed_password(self, computer, gmsa_dn):
        """The msDS-ManagedPassword blob as that computer sees it (None when not allowed)."""
        conn = self.bind(computer)
        try:
            conn.search(gmsa_dn, '(objectClass=*)', search_scope='BASE', attributes=['msDS-ManagedPassword'])
            entries = [e for e in conn.response if e.get('type') == 'searchResEntry']
            if not entries:
                return None
            v = entries[0]['raw_attributes'].get('msDS-ManagedPassword')
            return v[0] if v else None
        finally:
            conn.unbind()


@pytest.fixture
def computers(lab, admin, ou):
    return Computers(lab, admin, ou)


def dump_tree(conn, dn):
    """Every attribute of every object under ``dn`` (with uSNChanged), as sorted text: before/after compare."""
    import ldap3
    conn.search(dn, '(objectClass=*)', search_scope=ldap3.SUBTREE,
                attributes=['*', 'uSNChanged', 'msDS-GroupMSAMembership', 'nTSecurityDescriptor'])
    lines = []
    for e in conn.response:
        if e.get('type') != 'searchResEntry':
            continue
        for k in sorted(e['raw_attributes']):
            for v in sorted(e['raw_attributes'][k]):
                lines.append('%s|%s|%s' % (e['dn'].lower(), k.lower(), v.hex() if isinstance(v, bytes) else v))
    return '\n'.join(sorted(lines))


class ModuleResult(dict):
    @property
    def failed(self):
        return bool(self.get('failed'))

    @property
    def warning_texts(self):
        """Warnings as text (ansible-core 2.19 modules return them as structured events)."""
        out = []
        for w in self.get('warnings') or []:
            if isinstance(w, dict):
                w = (w.get('event') or {}).get('msg') or w.get('msg')
            out.append(w)
        return out


@pytest.fixture
def run_module(lab, delegated):
    """run_module('gmsa', {...}, check=False, diff=True, conn=True, as_admin=False) → the module's result dict.

    The module binds as the delegated identity; ``as_admin=True`` binds as Administrator (for what no OU
    delegation grants: KDS root keys, SeEnableDelegationPrivilege, objects outside the delegated OU)."""
    from ansible.module_utils.testing import patch_module_args

    def _run(name, args, check=False, diff=True, conn=True, as_admin=False):
        mod = importlib.import_module('ansible_collections.gmsa.farm.plugins.modules.%s' % name)
        full = dict(lab['conn'] if as_admin else delegated['conn']) if conn else {}
        full.update(args)
        full['_ansible_check_mode'] = check
        full['_ansible_diff'] = diff
        out = io.StringIO()
        # A real module runs in its own process; in-process runs must not see each other's warnings.
        from ansible.module_utils.common import warnings as ansible_warnings
        from ansible.module_utils import _internal as module_internal
        ansible_warnings._global_warnings.clear()
        ansible_warnings._global_deprecations.clear()
        # A module process is never the controller; a test that imported controller code (action plugins, the
        # templar) flipped this process-wide flag, which would send module warnings to the display instead.
        was_controller, module_internal.is_controller = module_internal.is_controller, False
        try:
            with patch_module_args(full), contextlib.redirect_stdout(out):
                with pytest.raises(SystemExit):
                    mod.main()
        finally:
            module_internal.is_controller = was_controller
        text = out.getvalue()
        try:
            return ModuleResult(json.loads(text))
        except ValueError:
            raise AssertionError('module %s printed no JSON: %r' % (name, text))
    return _run


@pytest.fixture(scope='session')
def kds_lab():
    """A second, separate lab DC (own realm and address) whose KDS root keys tests may delete at will."""
    return start_lab(GMSA_LAB_DIR=os.path.join(REPO, '.lab-kds'), GMSA_LAB_IP='127.0.0.11',
                     GMSA_LAB_REALM='KDSLAB.TEST', GMSA_LAB_DOMAIN='KDSLAB')


@pytest.fixture
def kds_exclusive(kds_lab):
    """Tests that delete or create KDS root keys on the KDS lab hold this lock: test files run in parallel
    workers, and one test's new key would otherwise appear in another's "no key" case."""
    import fcntl
    with open(os.path.join(REPO, '.lab-kds.tests.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield kds_lab
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope='session')
def kds_admin(kds_lab):
    conn = ldap3_connect(kds_lab, kds_lab['GMSA_DOMAIN_USERNAME'], kds_lab['GMSA_DOMAIN_PASSWORD'])
    yield conn
    conn.unbind()


def samba_tool(lab, *args):
    """Run samba-tool against a lab DC over LDAPS (an independent client); returns stdout, fails on error."""
    cmd = ['samba-tool'] + list(args) + shlex.split(lab['GMSA_LAB_SAMBA_TOOL_ARGS'])
    p = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise AssertionError('%s failed: %s' % (' '.join(args), p.stderr[-2000:]))
    return p.stdout


@pytest.fixture
def proxy(lab, tmp_path):
    from ldap_fault_proxy import FaultProxy
    px = FaultProxy(lab['GMSA_DOMAIN_SERVER'], 636, lab['GMSA_DOMAIN_CA_CERT'], str(tmp_path))
    yield px
    px.close()
