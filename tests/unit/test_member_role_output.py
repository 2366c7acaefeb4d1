"""The member role as ansible-playbook runs it, against a simulated Windows member (tests/unit/sim_playbook.py): no
rollback password in any line of the job output at -vvv, through a rebind that fails and is rolled back with it."""
from __future__ import annotations

import os
import pickle
import subprocess
import sys

import yaml

from windows_sim import SimHost

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(REPO, 'tests', 'unit', 'sim_playbook.py')
SECRET = 'Rollb4ck-S3cret!'
COMPONENT_SECRET = 'C0mp0nent-Pa55'


def run_member(tmp_path, sim, farm, extra_vars=None, check=False, verbosity='-vvv'):
    simdir = tmp_path / 'sim'
    simdir.mkdir()
    with open(simdir / 'web01.pickle', 'wb') as f:
        pickle.dump(sim, f)
    inv = dict(all=dict(hosts=dict(web01=dict(ansible_connection='local', ansible_python_interpreter=sys.executable)),
                        vars=dict(gmsa_farm=farm)))
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(inv))
    (tmp_path / 'play.yml').write_text(yaml.safe_dump([dict(name='Member', hosts='all', gather_facts=False,
                                                            roles=[dict(role='gmsa.farm.member')])]))
    (tmp_path / 'extra.yml').write_text(yaml.safe_dump(extra_vars or {}))
    env = dict(os.environ, GMSA_SIM_DIR=str(simdir), ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'))
    p = subprocess.run([sys.executable, DRIVER, verbosity, '-i', str(tmp_path / 'inventory.yml'),
                        '-e', '@%s' % (tmp_path / 'extra.yml'), str(tmp_path / 'play.yml')] + (['--check', '--diff'] if check else []),
                       capture_output=True, text=True, env=env, cwd=str(tmp_path), check=False)
    with open(simdir / 'web01.pickle', 'rb') as f:
        return p.returncode, p.stdout + p.stderr, pickle.load(f)


def test_no_rollback_password_in_the_output_of_a_failed_rebind_at_vvv(tmp_path):
    sim = SimHost()
    sim.groups = sim.ticket_groups = {'FarmHosts'}
    sim.add_gmsa('WebFarm', allowed=['FarmHosts'])
    sim.add_user('svc_web')
    sim.add_service('WebSvc', username='CONTOSO\\svc_web', start_fails=1069)
    farm = dict(name='Web', profile='none', accounts=[dict(name='WebFarm')],
                identities=[dict(name='WebSvc', account='WebFarm', rollback_password=SECRET)])
    rc, out, after = run_member(tmp_path, sim, farm)
    assert rc != 0, out[-3000:]
    # the rebind really failed and was rolled back with the password (else the test proves nothing)
    assert "previous identity 'CONTOSO\\\\svc_web' was put back" in out, out[-3000:]
    assert after.services['websvc']['username'] == 'CONTOSO\\svc_web'
    assert [a.get('password') for m, a in after.calls if m == 'ansible.windows.win_service' and 'password' in a] == \
        [SECRET]
    assert SECRET not in out
    assert 'rollback_from' in out            # the loop item is printed, with where to find the password only


def test_no_component_rollback_password_in_the_output_when_set_fact_prints_the_identities(tmp_path):
    sim = SimHost()
    sim.groups = sim.ticket_groups = {'FarmHosts'}
    sim.add_gmsa('BizTalkSvc', allowed=['FarmHosts'])
    sim.add_service('RuleEngineUpdateService', username='LocalSystem')
    farm = dict(name='BTS', profile='biztalk2020', accounts=[dict(name='BizTalkSvc')], identities=[])
    rc, out, after = run_member(tmp_path, sim, farm, extra_vars=dict(member_components=[
        dict(component='rule_engine_update_service', account='BizTalkSvc', rollback_password=COMPONENT_SECRET)]))
    assert rc == 0, out[-3000:]
    assert after.services['ruleengineupdateservice']['username'] == 'CONTOSO\\BizTalkSvc$'
    assert 'member_identities' in out and COMPONENT_SECRET not in out


def test_leaving_removes_the_override_account_joining_installed(tmp_path):
    """member_account_override (the compromised-host rollover) names the account joining installed; leaving must
    remove that one from the Netlogon store, not the farm's original."""
    sim = SimHost()
    sim.groups = sim.ticket_groups = {'FarmHosts'}
    sim.add_gmsa('WebFarm', allowed=['FarmHosts'])
    sim.add_gmsa('WebFarm-2', allowed=['FarmHosts'])
    sim.store.update({'webfarm', 'webfarm-2'})
    sim.add_service('WebSvc', username='CONTOSO\\WebFarm-2$')
    farm = dict(name='Web', profile='none', accounts=[dict(name='WebFarm')],
                identities=[dict(name='WebSvc', account='WebFarm')])
    rc, out, after = run_member(tmp_path, sim, farm, verbosity='-v', extra_vars=dict(
        member_action='leave', member_account_override={'WebFarm': 'WebFarm-2'}))
    assert rc == 0, out[-3000:]
    assert after.store == {'webfarm'}
    assert after.services['websvc']['username'] == 'NT SERVICE\\WebSvc'
