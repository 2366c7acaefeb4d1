"""A Linux member across real password rotations: a lab DC of its own (realm ROTLAB.TEST on 127.0.0.12) runs under
libfaketime, and the test moves its clock (and the clients' - kinit, kvno, the acceptor - by the same offset) so that
a new gMSA with a one-day interval goes into its first rotation window, past its first rotation, into its second
window and past the second rotation, in seconds.

Proven with independent clients: MIT kinit -k with the keytab, tickets the KDC issues to a domain user, a GSSAPI
acceptor bound to the SPN by name (it matches kvno strictly, unlike kvno -k), Apache with mod_auth_gssapi serving
the SPN from the keytab (curl --negotiate), klist -k, and the DC's msDS-KeyVersionNumber read as Administrator with
raw ldap3. Apache listens on 127.0.0.31:8083."""
from __future__ import annotations

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
from conftest import REPO, start_lab
from member_refresher import install_refresher
from rotation_lab import RotationLab

GSS_ACCEPT = os.path.join(REPO, 'tests', 'lab', 'gss_accept.py')


@pytest.fixture(scope='module')
def rot():
    env = start_lab(GMSA_LAB_DIR=os.path.join(REPO, '.lab-rot'), GMSA_LAB_IP='127.0.0.12',
                    GMSA_LAB_REALM='ROTLAB.TEST', GMSA_LAB_DOMAIN='ROTLAB', GMSA_LAB_FAKETIME='1')
    lab = RotationLab(env)
    lab.set_offset(0)
    yield lab
    lab.set_offset(0)


@pytest.fixture
def rot_farm(rot):
    work = tempfile.mkdtemp(prefix='gmsa-rotation-')
    os.chmod(work, 0o755)   # Apache's workers (www-data) read the keytab in it
    ou = rot.make_ou()
    tag = uuid.uuid4().hex[:6]
    host = rot.create_computer(ou, 'RM%s' % tag.upper())
    name = 'rg%s' % tag
    spn = 'HTTP/%s.%s' % (name, rot.domain)
    dn = rot.create_gmsa(ou, name, [host], [spn])
    user, password = 'ru%s' % tag, 'User-%s-9a!' % uuid.uuid4().hex[:12]
    assert rot.admin.add('CN=%s,%s' % (user, ou), ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), rot.admin.result
    yield dict(ou=ou, host=host, name=name, sam=name + '$', dn=dn, spn='%s@%s' % (spn, rot.realm),
               account='%s$@%s' % (name, rot.realm), user='%s@%s' % (user, rot.realm), password=password,
               dir=work, keytab=os.path.join(work, 'svc.keytab'))
    rot.set_offset(0)
    rot.delete_tree(ou)
    shutil.rmtree(work, ignore_errors=True)


def keytab_args(rot, farm):
    return dict(name=farm['name'], path=farm['keytab'], domain_server=[rot.env['GMSA_DOMAIN_SERVER']],
                domain_ca_cert=rot.env['GMSA_DOMAIN_CA_CERT'], domain_auth='simple',
                domain_username=farm['host']['dn'], domain_password=farm['host']['password'])


def at_dc_time(rot, args, env=None, **kw):
    return subprocess.run(args, capture_output=True, text=True, check=False, env=rot.client_env(**(env or {})),
                          **kw)


def kinit_keytab(rot, farm, keytab=None):
    return at_dc_time(rot, ['kinit', '-k', '-t', keytab or farm['keytab'], '-c', 'MEMORY:rot', farm['account']])


def user_ticket(rot, farm, label):
    """A fresh TGT for the domain user, then a service ticket for the SPN; returns (ccache, ticket kvno)."""
    ccache = os.path.join(farm['dir'], '%s.ccache' % label)
    r = at_dc_time(rot, ['kinit', '-c', ccache, farm['user']], input=farm['password'] + '\n')
    assert r.returncode == 0, r.stderr
    return ccache, service_ticket_kvno(rot, ccache, farm['spn'])


def service_ticket_kvno(rot, ccache, spn):
    r = at_dc_time(rot, ['kvno', '-c', ccache, spn])
    assert r.returncode == 0, r.stderr
    return int(re.search(r'kvno = (\d+)', r.stdout).group(1))


def accepted(rot, ccache, keytab, spn):
    r = at_dc_time(rot, [sys.executable, GSS_ACCEPT, ccache, keytab, spn])
    assert r.returncode == 0 and r.stdout, r.stderr
    return json.loads(r.stdout)


def keytab_kvnos(path):
    out = subprocess.run(['klist', '-k', path], capture_output=True, text=True, check=True).stdout
    kvnos = {}
    for m in re.finditer(r'^\s*(\d+) (\S+)$', out, re.M):
        kvnos.setdefault(m.group(2), set()).add(int(m.group(1)))
    return kvnos


APACHE_IP, APACHE_PORT = '127.0.0.31', 8083


@pytest.fixture
def apache(rot, rot_farm):
    """Apache + mod_auth_gssapi on the member serving the SPN from the keytab, its clock at the DC's."""
    directory = os.path.join(rot_farm['dir'], 'apache')
    faked = rot.mirror_offset(os.path.join(rot_farm['dir'], 'faketime'))
    started = []

    def start():
        apache_gssapi.start(directory, APACHE_IP, APACHE_PORT, rot_farm['keytab'], env=faked,
                            krb5_config=rot.env['KRB5_CONFIG'])
        started.append(directory)
    yield start
    for d in started:
        apache_gssapi.stop(d)
    rot.mirrors.remove(faked['FAKETIME_TIMESTAMP_FILE'])


def curl(rot, farm, ccache):
    host = farm['spn'].split('/', 1)[1].split('@')[0]
    resolve = '%s:%d:%s' % (host, APACHE_PORT, APACHE_IP)
    r = at_dc_time(rot, ['curl', '-s', '--negotiate', '-u', ':', '--resolve', resolve,
                         '-w', '\n%{http_code}', 'http://%s:%d/index.cgi' % (host, APACHE_PORT)],
                   env=dict(KRB5CCNAME=ccache))
    body, _sep, code = r.stdout.rpartition('\n')
    return int(code or 0), body.strip()


def into_window(rot, result, seconds_before=150):
    """Move the DC's clock to ``seconds_before`` the rotation the module's last result announced."""
    rot.set_offset(rot.offset() + result['query_password_seconds'] - seconds_before)


def past_rotation(rot, seconds_after=60):
    rot.set_offset(rot.offset() + 150 + seconds_after)


def test_first_and_second_rotation_without_refreshing_in_between(rot, rot_farm, run_module, apache):
    farm = rot_farm
    spn, account = farm['spn'], farm['account']
    r = run_module('gmsa_keytab', keytab_args(rot, farm), conn=False)
    assert not r.failed, r
    assert r['kvno'] == 1 and r['previous_password'] is False and r['next_password_readable'] is False
    assert keytab_kvnos(farm['keytab']) == {spn: {1}, account: {1}}
    before_window = os.path.join(farm['dir'], 'before-window.keytab')
    shutil.copy(farm['keytab'], before_window)
    os.chmod(farm['keytab'], 0o644)     # Apache's workers (www-data) read it; a replaced keytab keeps its mode
    apache()
    served = (200, 'REMOTE_USER=%s' % farm['user'])

    # ---- the first rotation window: the blob's current password is the next one.
    into_window(rot, r)
    r = run_module('gmsa_keytab', keytab_args(rot, farm), conn=False)
    assert not r.failed, r
    assert r['next_password_readable'] is True and r['kvno'] == 1 == rot.kvno(farm['dn'])
    assert r['query_password_seconds'] <= 300 < r['unchanged_password_seconds']
    assert keytab_kvnos(farm['keytab']) == {spn: {1, 2}, account: {1}}
    assert r['changed'] is True and 'kvno 2 aes256-cts-hmac-sha1-96 %s\n' % spn in r['diff']['after']
    # kinit -k as the account works with the keytab just written (the KDC still has kvno 1).
    k = kinit_keytab(rot, farm)
    assert k.returncode == 0, k.stderr
    # A ticket issued inside the window (kvno 1) is accepted by a strict acceptor.
    in_window_cc, kvno = user_ticket(rot, farm, 'in-window')
    assert kvno == 1
    assert accepted(rot, in_window_cc, farm['keytab'], spn)['accepted'] is True
    assert curl(rot, farm, in_window_cc) == served

    # ---- past the first rotation, no refresh in between: the KDC rotates when it next looks the account up.
    past_rotation(rot)
    after_cc, kvno = user_ticket(rot, farm, 'after-first')
    assert kvno == 2 and rot.kvno(farm['dn']) == 2
    assert accepted(rot, after_cc, farm['keytab'], spn)['accepted'] is True
    assert accepted(rot, in_window_cc, farm['keytab'], spn)['accepted'] is True      # the older ticket, too
    assert curl(rot, farm, after_cc) == served
    # The acceptor is strict: the keytab from before the window lacks kvno 2 and refuses the new ticket.
    refused = accepted(rot, after_cc, before_window, spn)
    assert refused['accepted'] is False and 'kvno 2' in refused['error'], refused

    # The refresh after the first rotation: the blob has no previous password (a new account's first rotation),
    # yet the key tickets from before the rotation are encrypted with stays.
    r = run_module('gmsa_keytab', keytab_args(rot, farm), conn=False)
    assert not r.failed, r
    assert r['kvno'] == 2 and r['previous_password'] is False and r['next_password_readable'] is False
    assert keytab_kvnos(farm['keytab']) == {spn: {1, 2}, account: {1, 2}}
    assert max(keytab_kvnos(farm['keytab'])[spn]) == rot.kvno(farm['dn'])
    k = kinit_keytab(rot, farm)
    assert k.returncode == 0, k.stderr
    assert accepted(rot, in_window_cc, farm['keytab'], spn)['accepted'] is True

    # ---- the second window and rotation: now the blob carries a previous password.
    into_window(rot, r)
    r = run_module('gmsa_keytab', keytab_args(rot, farm), conn=False)
    assert not r.failed, r
    assert r['next_password_readable'] is True and r['kvno'] == 2
    assert {2, 3} <= keytab_kvnos(farm['keytab'])[spn] and 3 not in keytab_kvnos(farm['keytab'])[account]
    k = kinit_keytab(rot, farm)
    assert k.returncode == 0, k.stderr
    second_cc, kvno = user_ticket(rot, farm, 'second-window')
    assert kvno == 2
    past_rotation(rot)
    after2_cc, kvno = user_ticket(rot, farm, 'after-second')
    assert kvno == 3 and rot.kvno(farm['dn']) == 3
    assert accepted(rot, after2_cc, farm['keytab'], spn)['accepted'] is True
    assert accepted(rot, second_cc, farm['keytab'], spn)['accepted'] is True
    assert curl(rot, farm, after2_cc) == served
    r = run_module('gmsa_keytab', keytab_args(rot, farm), conn=False)
    assert not r.failed, r
    assert r['kvno'] == 3 and r['previous_password'] is True
    kvnos = keytab_kvnos(farm['keytab'])
    assert {2, 3} <= kvnos[spn] and {2, 3} <= kvnos[account] and max(kvnos[spn]) == rot.kvno(farm['dn'])
    k = kinit_keytab(rot, farm)
    assert k.returncode == 0, k.stderr


def test_the_refresher_schedule_lands_in_the_window_and_after_the_rotation(rot, rot_farm):
    """The member's refresher (python3 -m gmsa_farm_keytab) runs at the DC's clock: its first run schedules the next
    refresh inside the window, that one (the clock moved to exactly when it said) finds the next password and
    schedules the one after the rotation, which finds the new kvno. Ticks in between ask the directory nothing."""
    farm = rot_farm
    lib = install_refresher(os.path.join(farm['dir'], 'lib'))
    config = os.path.join(farm['dir'], 'svc.json')
    with open(config, 'w') as f:
        json.dump(keytab_args(rot, farm), f)
    state_file = farm['keytab'] + '.refresh.json'

    def tick():
        r = at_dc_time(rot, [sys.executable, '-m', 'gmsa_farm_keytab', '--config', config], env=dict(PYTHONPATH=lib))
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout, json.load(open(state_file))

    def move_to(epoch):
        now = int(subprocess.run(['date', '+%s'], capture_output=True, text=True, env=rot.client_env(),
                                 check=True).stdout)
        rot.set_offset(rot.offset() + epoch - now)

    out, state = tick()
    assert ' updated (kvno 1,' in out and state['kvno'] == 1
    assert state['rotation_epoch'] - 300 < state['next_due_epoch'] < state['rotation_epoch']
    move_to(state['next_due_epoch'] - 120)
    out, _idle = tick()
    assert ' is current; next refresh at ' in out
    move_to(state['next_due_epoch'])
    out, state = tick()
    assert ' updated (kvno 1, next password readable,' in out, out
    assert keytab_kvnos(farm['keytab']) == {farm['spn']: {1, 2}, farm['account']: {1}}
    assert state['rotation_epoch'] < state['next_due_epoch'] <= state['rotation_epoch'] + 60
    move_to(state['next_due_epoch'])
    out, state = tick()
    assert ' updated (kvno 2,' in out and state['kvno'] == 2 == rot.kvno(farm['dn']), out
    assert keytab_kvnos(farm['keytab']) == {farm['spn']: {1, 2}, farm['account']: {1, 2}}
    k = kinit_keytab(rot, farm)
    assert k.returncode == 0, k.stderr
