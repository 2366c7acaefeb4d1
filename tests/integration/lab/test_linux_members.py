"""Linux farm members through the farm playbooks against the lab DC: deploy_farm gives each Linux member a keytab
of the farm's gMSA (bound as itself with its machine keytab) and the refresh timer's files; the keytab gets a TGT
(MIT kinit); remove_member takes the keytab and the refresh settings away and the host can no longer refresh;
compromised_host gives the remaining Linux member the new generation's keys in the same keytab, which its Apache
(mod_auth_gssapi, on 127.0.0.32) keeps serving the SPN from."""
from __future__ import annotations

import grp
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile

import pytest

import apache_gssapi
from test_farm_playbooks import Farm


class LinuxFarm(Farm):
    """Two Linux members (local connection, everything under a temporary folder) and one directory-only host."""

    def __init__(self, lab, admin, tmp_path, delegated):
        super(LinuxFarm, self).__init__(lab, admin, tmp_path, delegated)
        self.host_vars = {}
        # Each member's files under a folder Apache's workers (www-data) can reach.
        self.public = tempfile.mkdtemp(prefix='gmsa-linux-farm-')
        os.chmod(self.public, 0o755)
        for h in self.hosts[:2]:
            root = pathlib.Path(self.public) / h
            root.mkdir()
            os.chmod(root, 0o755)
            machine = str(root / 'krb5.keytab')
            subprocess.run(['samba-tool', 'domain', 'exportkeytab', machine, '--principal=%s$' % h.upper(),
                            '-s', lab['GMSA_LAB_SMB_CONF']], capture_output=True, check=True)
            self.host_vars[h] = dict(
                gmsa_farm_manage_host=True, gmsa_farm_member_os='linux', ansible_connection='local',
                ansible_python_interpreter=self.python,
                member_linux_install_packages=False, member_linux_python=self.python,
                member_keytab_dir=str(root / 'etc'), member_systemd_dir=str(root / 'systemd'),
                member_keytab_group='www-data', member_keytab_mode='0640',
                member_linux_lib_dir=str(root / 'lib'), member_replication_timeout=0,
                member_linux_connection=dict(domain_server=[lab['GMSA_DOMAIN_SERVER']],
                                             domain_ca_cert=lab['GMSA_DOMAIN_CA_CERT'],
                                             domain_username='%s$@%s' % (h.upper(), lab['GMSA_LAB_REALM']),
                                             domain_keytab=machine))
            (root / 'systemd').mkdir()

    python = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), '.venv', 'bin', 'python')

    def keytab(self, host):
        """The keytab is named by the farm's account, whatever the generation."""
        return os.path.join(self.host_vars[host]['member_keytab_dir'], '%s.keytab' % self.account)

    def kinit(self, host, account=None):
        account = account or self.account
        return subprocess.run(['kinit', '-k', '-t', self.keytab(host), '-c', 'MEMORY:t',
                               '%s$@%s' % (account, self.lab['GMSA_LAB_REALM'])], capture_output=True, text=True,
                              check=False)

    def play(self, playbook, members, extra=None, **kw):
        return self.run(playbook, members, extra, host_vars=self.host_vars, **kw)


@pytest.fixture
def linux_farm(lab, admin, tmp_path, delegated):
    f = LinuxFarm(lab, admin, tmp_path, delegated)
    yield f
    f.cleanup()
    shutil.rmtree(f.public, ignore_errors=True)


def test_linux_members_deploy_remove_and_rollover(linux_farm, lab):
    farm = linux_farm
    h1, h2, h3 = farm.hosts
    # Check mode of the whole new farm: passes, says why no keytab could be planned, writes nothing.
    out = farm.play('deploy_farm', [h1, h2, h3], check=True)
    dc = lab['GMSA_DOMAIN_SERVER']
    assert 'Check mode: %s: %s: there is no gMSA named %s$' % (farm.account, dc, farm.account) in out
    assert farm.account_state(farm.account) is None and not os.path.exists(farm.keytab(h1))
    out = farm.play('deploy_farm', [h1, h2, h3])
    assert farm.group_members() == [h1, h2, h3]
    for h in (h1, h2):
        assert farm.kinit(h).returncode == 0, farm.kinit(h).stderr
        st = os.stat(farm.keytab(h))
        assert oct(st.st_mode & 0o777) == '0o640' and st.st_gid == grp.getgrnam('www-data').gr_gid
        config = json.load(open(os.path.join(farm.host_vars[h]['member_keytab_dir'], farm.account + '.json')))
        assert config['path'] == farm.keytab(h) and 'domain_password' not in config
    assert 'systemd is not running on' in out     # this lab has no systemd: units written, no timer started
    assert lab['GMSA_DOMAIN_PASSWORD'] not in out
    # The unit files are valid systemd units (systemd's own checker) and run the installed refresh command.
    units = farm.host_vars[h1]['member_systemd_dir']
    service = open(os.path.join(units, 'gmsa-farm-keytab@.service')).read()
    verify = subprocess.run(['systemd-analyze', 'verify', '--man=no', os.path.join(units, 'gmsa-farm-keytab@.timer'),
                             os.path.join(units, 'gmsa-farm-keytab@.service')], capture_output=True, text=True,
                            check=False)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    command = re.search(r'^ExecStart=(.*)$', service, re.M).group(1).replace('%i', farm.account)
    unit_env = dict(os.environ, **dict(v.split('=', 1) for v in re.findall(r'^Environment=(.*)$', service, re.M)))
    assert ' -m gmsa_farm_keytab --config ' in command
    refresh = subprocess.run(shlex.split(command) + ['--force'], capture_output=True, text=True, check=False,
                             env=unit_env)
    assert refresh.returncode == 0 and ' unchanged (kvno 1' in refresh.stdout, refresh.stdout + refresh.stderr
    idle = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False, env=unit_env)
    assert idle.returncode == 0 and ' is current; next refresh at ' in idle.stdout, idle.stdout + idle.stderr
    state = json.load(open(farm.keytab(h1) + '.refresh.json'))
    assert state['kvno'] == 1 and state['last_error'] is None and state['next_due_epoch'] > state['last_success_epoch']

    # Idempotent, including the Linux members.
    recap = farm.play('deploy_farm', [h1, h2, h3]).split('PLAY RECAP')[-1]
    assert all(' changed=0 ' in line for line in recap.strip().splitlines() if 'ok=' in line), recap

    # h2 leaves: its keytab and refresh settings go, and it can no longer get the password.
    farm.play('remove_member', [h1, h2, h3], dict(gmsa_farm_leaving_members=[h2]))
    assert not os.path.exists(farm.keytab(h2))
    assert not os.path.exists(os.path.join(farm.host_vars[h2]['member_keytab_dir'], farm.account + '.json'))
    assert farm.can_retrieve() == {h1: True, h2: False, h3: True}
    # Its refresh, as the timer would run it with its machine keytab, is refused by the DC.
    config = farm.tmp / 'h2-refresh.json'
    config.write_text(json.dumps(dict(farm.host_vars[h2]['member_linux_connection'], name=farm.account,
                                      path=farm.keytab(h2))))
    leftover = subprocess.run(shlex.split(command.split(' --config ')[0]) + ['--config', str(config), '--force'],
                              capture_output=True, text=True, check=False, env=unit_env)
    assert leftover.returncode == 1 and 'is not allowed to retrieve the managed password' in leftover.stdout, \
        leftover.stdout + leftover.stderr
    assert not os.path.exists(farm.keytab(h2))
    assert farm.kinit(h1).returncode == 0

    # h3 is compromised and the gMSA rolls over: the remaining Linux member gets the new generation's keys in the
    # keytab its service reads (same path), and its Apache keeps serving the SPN from it.
    web, ip, port = 'http/%s.gmsalab.test' % farm.account, '127.0.0.32', 8084
    apache_dir = os.path.join(farm.public, 'apache')
    user, password = farm.account + 'u', 'User-%s-9a!' % os.urandom(6).hex()
    subprocess.run(['samba-tool', 'user', 'create', user, password, '-s', lab['GMSA_LAB_SMB_CONF']],
                   capture_output=True, check=True)
    try:
        apache_gssapi.start(apache_dir, ip, port, farm.keytab(h1))
        assert curl(lab, web.split('/')[1], ip, port, user, password, farm.tmp) == 200
        farm.play('compromised_host', [h1, h3], dict(gmsa_farm_compromised_host=h3, gmsa_farm_rollover=True))
        new = farm.account[:13] + '-2'
        assert farm.kinit(h1, new).returncode == 0, farm.kinit(h1, new).stderr
        assert farm.kinit(h1).returncode != 0      # none of the compromised generation's keys stays
        listed = subprocess.run(['klist', '-k', farm.keytab(h1)], capture_output=True, text=True, check=True).stdout
        assert re.search(r'^\s*1 %s@' % re.escape(web), listed, re.M | re.I), listed   # the SPN, new keys, kvno 1
        assert farm.account + '$@' not in listed
        assert not os.path.exists(os.path.join(farm.host_vars[h1]['member_keytab_dir'], new + '.keytab'))
        assert curl(lab, web.split('/')[1], ip, port, user, password, farm.tmp) == 200
        config = json.load(open(os.path.join(farm.host_vars[h1]['member_keytab_dir'], farm.account + '.json')))
        assert config['name'] == new and config['path'] == farm.keytab(h1) and config['replaces'] == [farm.account]
    finally:
        apache_gssapi.stop(apache_dir)
        subprocess.run(['samba-tool', 'user', 'delete', user, '-s', lab['GMSA_LAB_SMB_CONF']], capture_output=True,
                       check=False)


def curl(lab, host, ip, port, user, password, tmp):
    """A fresh ticket for the user (so the SPN's current account encrypts it), then curl --negotiate: the status."""
    ccache = os.path.join(str(tmp), 'user.ccache')
    subprocess.run(['kinit', '-c', ccache, '%s@%s' % (user, lab['GMSA_LAB_REALM'])], input=password + '\n',
                   text=True, capture_output=True, check=True)
    p = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--negotiate', '-u', ':',
                        '--resolve', '%s:%d:%s' % (host, port, ip), 'http://%s:%d/index.cgi' % (host, port)],
                       capture_output=True, text=True, env=dict(os.environ, KRB5CCNAME=ccache), check=False)
    return int(p.stdout or 0)
