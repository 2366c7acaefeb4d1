"""The host-side action plugins as Ansible runs them: argument validation, check mode, diff and failure results,
with _execute_module answered by the simulated Windows host; and the member role's identity list."""
from __future__ import annotations

import os
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:     # ansible-core before 2.19 templates every string
    def trust_as_template(value):
        return value
from ansible.parsing.dataloader import DataLoader

from ansible_collections.gmsa.farm.plugins.action.gmsa_host import ActionModule as GmsaHostAction
from ansible_collections.gmsa.farm.plugins.action.windows_service_identity import ActionModule as IdentityAction

from windows_sim import SimHost

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))


def action(cls, sim, args, check=False, diff=True):
    task = MagicMock()
    task.args = args
    task.check_mode = check
    task.diff = diff
    task.async_val = 0
    plugin = cls(task, MagicMock(), MagicMock(check_mode=check), DataLoader(), Templar(loader=DataLoader()), None)
    plugin._execute_module = lambda module_name, module_args, task_vars=None: sim.call(module_name, module_args)
    return plugin.run(task_vars={})


@pytest.fixture
def sim():
    s = SimHost()
    s.groups = s.ticket_groups = {'FarmHosts'}
    s.add_gmsa('ITFarm1', allowed=['FarmHosts'])
    s.add_service('AppSvc', username='LocalSystem')
    return s


def test_gmsa_host_action_installs_reports_diff_and_is_idempotent(sim):
    res = action(GmsaHostAction, sim, dict(name='ITFarm1'))
    assert res['changed'] and res['installed'] and res['diff']['after']['in_netlogon_store']
    assert not action(GmsaHostAction, sim, dict(name='ITFarm1'), diff=False).get('diff')
    assert not action(GmsaHostAction, sim, dict(name='ITFarm1'))['changed']


def test_gmsa_host_action_bad_argument_fails_without_host_calls(sim):
    with pytest.raises(AnsibleActionFail, match='state must be one of'):
        action(GmsaHostAction, sim, dict(name='ITFarm1', state='gone'))
    assert sim.calls == []
    res = action(GmsaHostAction, sim, dict(name='x' * 16))
    assert res['failed'] and not res['changed'] and 'name:' in res['msg'] and sim.calls == []


def test_identity_action_check_mode_writes_nothing_and_failure_result_says_changed(sim):
    res = action(IdentityAction, sim, dict(name='AppSvc', account='ITFarm1$'), check=True)
    assert res['changed'] and res['plan'][:2] == ['grant_logon_right', 'set_identity'] and sim.writes() == []
    res = action(IdentityAction, sim, dict(name='AppSvc', account='ITFarm1$', grant_logon_right=False))
    assert res['failed'] and res['changed'] and res['rolled_back'] and '1069' in res['msg']


def test_identity_action_never_returns_the_rollback_password(sim):
    sim.add_user('svc_legacy')
    sim.add_service('Legacy', username='CONTOSO\\svc_legacy')
    res = action(IdentityAction, sim, dict(name='Legacy', account='ITFarm1$', grant_logon_right=False,
                                           rollback_password='Sup3rS3cret'))
    assert res['failed'] and res['rolled_back'] and 'Sup3rS3cret' not in repr(res)
    assert [a['password'] for m, a in sim.calls if 'password' in a] == ['Sup3rS3cret']    # it was used


def render_identities(farm, components=(), profile='biztalk2020', override=None):
    loader = DataLoader()
    prof = yaml.safe_load(open(os.path.join(REPO, 'roles', 'member', 'vars', 'profiles', profile + '.yml')))
    templar = Templar(loader=loader, variables=dict(gmsa_farm=farm, member_components=list(components),
                                                    member_account_override=override or {}, **prof))
    src = open(os.path.join(REPO, 'roles', 'member', 'templates', 'identities.j2')).read()
    return yaml.safe_load(templar.template(trust_as_template(src)))


def test_leaving_falls_back_to_least_privilege_not_localsystem():
    farm = dict(identities=[dict(name='AppSvc', account='ITFarm1'), dict(type='iis_app_pool', name='Pool', account='ITFarm1'),
                            dict(type='scheduled_task', name='Job', path='\\Contoso\\', account='ITFarm1')])
    out = render_identities(farm, profile='none')
    assert [(i['account'], i['fallback']) for i in out] == [
        ('ITFarm1$', 'NT SERVICE\\AppSvc'), ('ITFarm1$', 'ApplicationPoolIdentity'), ('ITFarm1$', 'LOCAL SERVICE')]
    assert out[2]['path'] == '\\Contoso\\'
    farm['fallback_account'] = 'NT AUTHORITY\\NetworkService'
    assert {i['fallback'] for i in render_identities(farm, profile='none')} == {'NT AUTHORITY\\NetworkService'}


def test_profiles_need_the_biztalk_host_name_and_run_sql_server_through_its_provider():
    out = render_identities({}, [dict(component='host_instance', account='BizTalkSvc')])
    assert 'BizTalk host name' in out[0]['problem']
    out = render_identities({}, [dict(component='host_instance', name='BizTalkServerApplication', account='BizTalkSvc')])
    assert out[0]['type'] == 'biztalk_host_instance' and out[0]['account'] == 'BizTalkSvc$'
    for profile in ('sqlserver', 'sqlserver_iis'):
        out = render_identities({}, [dict(component='sql_engine', account='SqlSvc'),
                                     dict(component='sql_agent', name='SQLAgent$PROD', account='SqlSvc')], profile=profile)
        assert [(i['type'], i['name'], i['fallback']) for i in out] == [
            ('sql_server_service', 'MSSQLSERVER', 'NT SERVICE\\MSSQLSERVER'),
            ('sql_server_service', 'SQLAgent$PROD', 'NT SERVICE\\SQLAgent$PROD')]
    out = render_identities({}, [dict(component='sql_browser', account='SqlSvc')], profile='sqlserver')
    assert 'LOCAL SERVICE' in out[0]['problem']


def test_the_identity_list_carries_no_rollback_password_only_where_it_is():
    farm = dict(identities=[dict(name='A', account='F'), dict(name='B', account='F', rollback_password='x-secret')])
    out = render_identities(farm, [dict(component='host_instance', name='H', account='F', rollback_password='y-secret')])
    assert 'secret' not in repr(out)
    assert [i.get('rollback_from') for i in out] == [None, dict(list='identities', index=1),
                                                     dict(list='components', index=0)]
