"""Check mode of the farm playbooks with Windows members: the directory side against the lab DC, each Windows
member answered by a simulated host (tests/unit/sim_playbook.py, windows_sim.SimHost) since no Windows exists
here. A check run of a new farm (deploy_farm) and of a migration (migrate_service_account) must pass on every
member, predict the rebind a real run makes, and change nothing on either side."""
from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import uuid

import pytest
import yaml

from farm_runner import REPO, Farm

sys.path.insert(0, os.path.join(REPO, 'tests', 'unit'))
from windows_sim import SimHost  # noqa: E402  pylint: disable=wrong-import-position

DRIVER = os.path.join(REPO, 'tests', 'unit', 'sim_playbook.py')


class WindowsSimFarm(Farm):
    """Two Windows members on simulated hosts (in the lab's domain), a service on each to move to the gMSA."""

    def __init__(self, lab, admin, tmp_path):
        super(WindowsSimFarm, self).__init__(lab, admin, tmp_path)
        self.simdir = tmp_path / 'sim'
        self.simdir.mkdir()
        netbios = lab['GMSA_LAB_REALM'].split('.')[0]
        for h in self.hosts[:2]:
            sim = SimHost(computer=h.upper(), domain=netbios, dns=lab['GMSA_LAB_REALM'].lower())
            sim.add_service('FarmWebSvc', username='LocalSystem')
            sim.add_user('svc' + self.account[2:])
            sim.add_service('LegacySvc', username='%s\\svc%s' % (netbios, self.account[2:]))
            with open(self.simdir / ('%s.pickle' % h), 'wb') as f:
                pickle.dump(sim, f)
        self.desc['identities'] = [dict(name='FarmWebSvc', account=self.account)]

    def sim(self, host):
        with open(self.simdir / ('%s.pickle' % host), 'rb') as f:
            return pickle.load(f)

    def run(self, playbook, members, extra=None, expect_ok=True, check=False, member_vars=None, host_vars=None):
        hosts = dict((h, dict(ansible_connection='local', ansible_python_interpreter=sys.executable,
                              gmsa_farm_manage_host=True)) for h in members)
        inv = dict(all=dict(hosts=dict(localhost=dict(ansible_connection='local',
                                                      ansible_python_interpreter=sys.executable)),
                            children=dict(farm_members=dict(hosts=hosts, vars=member_vars or {})),
                            vars=dict(gmsa_farm=self.desc, directory_kds_effective_time_hours=0)))
        (self.tmp / 'inventory.yml').write_text(yaml.safe_dump(inv))
        (self.tmp / 'extra.json').write_text(json.dumps(extra or {}))
        env = dict(self.env, GMSA_SIM_DIR=str(self.simdir))
        p = subprocess.run([sys.executable, DRIVER, '-v', '-i', str(self.tmp / 'inventory.yml'),
                            '-e', '@%s' % (self.tmp / 'extra.json'), 'gmsa.farm.%s' % playbook]
                           + (['--check', '--diff'] if check else []),
                           capture_output=True, text=True, env=env, check=False, cwd=REPO)
        out = p.stdout + p.stderr
        assert (p.returncode == 0) == expect_ok, out[-4000:]
        assert self.lab['GMSA_DOMAIN_PASSWORD'] not in out
        return out


@pytest.fixture
def winfarm(lab, admin, tmp_path):
    f = WindowsSimFarm(lab, admin, tmp_path)
    yield f
    f.cleanup()


def _plans(out):
    """The plan of each windows_service_identity result in the -v output."""
    return [json.loads(m) for m in re.findall(r'"plan": (\[[^\]]*\])', out)]


def test_check_mode_of_a_new_farm_with_windows_members_predicts_the_rebind(winfarm):
    h1, h2, _h3 = winfarm.hosts
    out = winfarm.run('deploy_farm', [h1, h2], check=True)
    recap = out.split('PLAY RECAP')[-1]
    assert re.search(r'%s\s+: ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0' % h1, recap), recap
    assert re.search(r'%s\s+: ok=\d+\s+changed=[1-9]\d*\s+unreachable=0\s+failed=0' % h2, recap), recap
    assert "does not resolve on this host yet" in out and 'Predicting that it does' in out
    assert _plans(out) == [['grant_logon_right', 'set_identity', 'restart', 'validate']] * 2
    # nothing written: neither the directory nor either member
    assert winfarm.read(winfarm.group, ['1.1']) is None and winfarm.account_state(winfarm.account) is None
    for h in (h1, h2):
        sim = winfarm.sim(h)
        assert sim.writes() == [] and sim.services['farmwebsvc']['username'] == 'LocalSystem'


def test_check_mode_of_a_migration_with_windows_members_predicts_the_rebind(winfarm, admin, lab):
    h1 = winfarm.hosts[0]
    user = 'svc' + winfarm.account[2:]
    dn = 'CN=%s,CN=Users,%s' % (user, lab['GMSA_LAB_BASE_DN'])
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200, 'servicePrincipalName': ['http/%s' % user],
        'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result
    new = 'mg' + winfarm.account[2:]
    migration = dict(gmsa_migration=dict(user=user, account=dict(name=new, dns_hostname='%s.gmsalab.test' % new),
                                         allowed=['%s$' % h1], members_group='farm_members',
                                         identities=[dict(name='LegacySvc')], rollback_password='Old-Pa55word'))
    try:
        out = winfarm.run('migrate_service_account', [h1], migration, check=True)
        assert 'Would move the SPNs' in out and "does not resolve on this host yet" in out
        assert _plans(out) == [['grant_logon_right', 'set_identity', 'restart', 'validate']]
        assert 'Old-Pa55word' not in out
        assert winfarm.account_state(new) is None and winfarm.sim(h1).writes() == []
        e = winfarm.read(user, ['servicePrincipalName'])
        assert e['attributes']['servicePrincipalName'] == ['http/%s' % user]
    finally:
        admin.delete(dn)
