"""The host-side decisions (gmsa_host, windows_service_identity), executed against a simulated Windows host that
follows documented behaviour (tests/unit/windows_sim.py, docs/windows-facts.md). Each wrong model of Windows the
host side once had (the gMSA query states, logon rights, start names, validation) has a test here that fails on it."""
from __future__ import annotations

import os
import re

import pytest

from ansible_collections.gmsa.farm.plugins.plugin_utils import _gmsa_host, _service_identity
from ansible_collections.gmsa.farm.plugins.plugin_utils._windows_names import HostTaskError, classify_identity

from windows_sim import WRAPPER, SimHost

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))


def gmsa_params(**kw):
    p = {k: v.get('default') for k, v in _gmsa_host.ARGUMENT_SPEC.items()}
    p.update(kw)
    return p


def ident_params(**kw):
    p = {k: v.get('default') for k, v in _service_identity.ARGUMENT_SPEC.items()}
    p.update(kw)
    return p


def run_host(sim, check=False, **kw):
    return _gmsa_host.run(gmsa_params(**kw), sim.call, check_mode=check, sleep=sim.sleep, clock=sim.clock)


def run_ident(sim, check=False, **kw):
    return _service_identity.run(ident_params(**kw), sim.call, check_mode=check, sleep=sim.sleep, clock=sim.clock)


def native_ops(sim):
    return [a.get('operation') for m, a in sim.calls if m == 'gmsa.farm.host_native']


@pytest.fixture
def sim():
    s = SimHost()
    s.groups = {'FarmHosts'}
    s.ticket_groups = {'FarmHosts'}
    s.add_gmsa('ITFarm1', allowed=['FarmHosts'])
    return s


# ----------------------------------------------------------------------------------------------- facts table
def test_every_fact_the_simulator_and_code_use_is_documented_and_every_fact_is_used():
    table = open(os.path.join(REPO, 'docs', 'windows-facts.md')).read()
    documented = set(re.findall(r'^\| (W\d+) \|', table, re.M))
    sim_src = open(os.path.join(REPO, 'tests', 'unit', 'windows_sim.py')).read()
    code = ''.join(open(os.path.join(REPO, 'plugins', d, f)).read() for d in ('plugin_utils', 'filter')
                   for f in os.listdir(os.path.join(REPO, 'plugins', d)) if f.endswith('.py'))
    used_sim = set(re.findall(r'\bW\d+\b', sim_src))
    used_code = set(re.findall(r'\bW\d+\b', code))
    assert used_sim <= documented and used_code <= documented, (used_sim | used_code) - documented
    assert documented <= used_sim | used_code, documented - used_sim - used_code


# ----------------------------------------------------------------------------------------------- gmsa_host
def test_gmsa_is_added_to_the_netlogon_store_although_the_query_never_says_caninstall(sim):
    """Defect 1: a gMSA answers Installed (5) or CannotInstall (3), never CanInstall (4). The old model only
    installed on 4, so NetAddServiceAccount was never called."""
    check = run_host(sim, check=True, name='ITFarm1')
    assert check['changed'] and sim.writes() == []
    res = run_host(sim, name='CONTOSO\\ITFarm1$')
    assert res['changed'] and res['installed'] and res['state'] == 'Installed'
    assert 'add' in native_ops(sim)
    assert res['diff'] == dict(before=dict(state='Installed', in_netlogon_store=False),
                               after=dict(state='Installed', in_netlogon_store=True))
    assert res['domain'] == 'CONTOSO'
    sim.calls.clear()
    again = run_host(sim, name='ITFarm1')
    assert not again['changed'] and sim.writes() == []


def test_absent_converges_on_the_netlogon_store_not_on_the_query_state(sim):
    """Defect 1: after NetRemoveServiceAccount a gMSA still queries Installed; the old model re-queried, saw 5,
    and reported changed forever."""
    sim.store.add('itfarm1')
    check = run_host(sim, check=True, name='ITFarm1', state='absent')
    assert check['changed'] and sim.writes() == []
    res = run_host(sim, name='ITFarm1', state='absent')
    assert res['changed'] and res['state'] == 'Installed' and not res['installed']
    assert [a.get('remove_flags') for m, a in sim.calls if a.get('operation') == 'remove'] == [1]
    again = run_host(sim, name='ITFarm1', state='absent')
    assert not again['changed']


def test_tickets_are_purged_after_a_group_change(sim):
    sim.ticket_groups = set()                       # TGT from before the host joined FarmHosts (W5)
    res = run_host(sim, name='ITFarm1')
    assert res['tickets_purged'] and res['installed'] and res['waited'] == 0
    assert native_ops(sim).index('purge_tickets') < native_ops(sim).index('add')


def test_waits_for_replication_purging_each_time(sim):
    """Defect 8: the controller wrote to another DC; the member's DC sees the group change only after 12 s."""
    sim.ticket_groups = set()
    sim.groups_visible_at = 12
    res = run_host(sim, name='ITFarm1', replication_timeout=60, retry_interval=5)
    assert res['installed'] and res['waited'] == 15
    assert native_ops(sim).count('purge_tickets') == 4     # at 0, 5, 10, 15 s


def test_a_new_account_not_yet_replicated_is_waited_for(sim):
    sim.add_gmsa('NewFarm', allowed=['FarmHosts'], visible_at=8)
    res = run_host(sim, name='NewFarm', replication_timeout=30, retry_interval=4)
    assert res['installed'] and res['waited'] == 8


def test_not_allowed_fails_after_the_wait_and_names_both_causes(sim):
    sim.add_gmsa('Other', allowed=['SomeoneElse$'])
    with pytest.raises(HostTaskError) as e:
        run_host(sim, name='Other', replication_timeout=10, retry_interval=5)
    assert 'encryption type' in e.value.msg and 'purged' in e.value.msg and 'after 10 s' in e.value.msg
    assert not e.value.changed and e.value.result['state'] == 'CannotInstall'
    assert 'add' not in native_ops(sim)


def test_encryption_type_mismatch_is_cannotinstall_too(sim):
    sim.add_gmsa('DesOnly', allowed=['FarmHosts'], enctypes_match=False)
    with pytest.raises(HostTaskError) as e:
        run_host(sim, name='DesOnly', replication_timeout=0)
    assert 'Kerberos encryption type' in e.value.msg


def test_refresh_never_does_not_purge(sim):
    sim.ticket_groups = set()
    with pytest.raises(HostTaskError) as e:
        run_host(sim, name='ITFarm1', refresh_tickets='never', replication_timeout=0)
    assert 'purge_tickets' not in native_ops(sim) and 'refresh_tickets=auto' in e.value.msg


def test_check_mode_on_a_host_not_yet_allowed_predicts_and_warns_without_purging(sim):
    sim.ticket_groups = set()
    res = run_host(sim, check=True, name='ITFarm1')
    assert res['changed'] and sim.writes() == [] and 'purges' in res['warnings'][0]


def test_standalone_msa_caninstall_is_installed(sim):
    sim.add_gmsa('WebSmsa', kind='smsa', linked_host='WEB01')
    res = run_host(sim, name='WebSmsa')
    assert res['changed'] and res['installed']


def test_missing_account_and_not_a_service_account(sim):
    with pytest.raises(HostTaskError, match='NotExist'):
        run_host(sim, name='Nobody', replication_timeout=0)
    sim.add_gmsa('jdoe', kind='user')
    with pytest.raises(HostTaskError, match='NotService'):
        run_host(sim, name='jdoe')


def test_force_offline_tries_online_first_and_falls_back_only_on_no_such_domain(sim):
    sim.store.add('itfarm1')
    sim.dc_reachable = False
    with pytest.raises(HostTaskError) as e:
        run_host(sim, name='ITFarm1', state='absent')
    assert 'force_offline=true' in e.value.msg and not e.value.changed and 'itfarm1' in sim.store
    res = run_host(sim, name='ITFarm1', state='absent', force_offline=True)
    assert res['changed'] and res['removed_offline'] and 'itfarm1' not in sim.store
    assert [a['remove_flags'] for m, a in sim.calls if a.get('operation') == 'remove'] == [1, 1, 2]


def test_kdssvc_trigger_is_appended_and_existing_triggers_kept(sim):
    sim.store.add('itfarm1')
    sim.os_version = '6.3.9600'                     # Windows Server 2012 R2 (W17)
    res = run_host(sim, name='ITFarm1', kdssvc_network_trigger=True)
    assert res['changed'] and res['kdssvc_trigger_set']
    assert [t['type'] for t in sim.kdssvc_triggers] == ['rpc_interface_event', 'ip_address_availability']
    again = run_host(sim, name='ITFarm1', kdssvc_network_trigger=True)
    assert not again['changed'] and len(sim.kdssvc_triggers) == 2


@pytest.mark.parametrize('kw, message', [
    (dict(name='ThisNameIsTooLong1'), 'at most 15 characters'),
    (dict(name='bad*name'), "contains '*'"),
    (dict(name='ITFarm1', replication_timeout=-1), 'replication_timeout'),
    (dict(name='ITFarm1', replication_timeout=10, retry_interval=30), 'no retry could happen'),
    (dict(name='ITFarm1', force_offline=True), 'only applies with state=absent'),
])
def test_bad_input_fails_before_any_host_call(sim, kw, message):
    with pytest.raises(HostTaskError, match=re.escape(message)):
        run_host(sim, **kw)
    assert sim.calls == []


def test_a_host_outside_any_domain_is_refused(sim):
    sim.joined = False
    with pytest.raises(HostTaskError, match='not joined'):
        run_host(sim, name='ITFarm1')


# ----------------------------------------------------------------------------------------------- services
@pytest.fixture
def farm(sim):
    sim.store.add('itfarm1')
    sim.add_service('GmsaTestSvc', username='NT AUTHORITY\\LocalService', state='started')
    return sim


def test_service_rebind_grants_right_restarts_validates_and_is_idempotent(farm):
    check = run_ident(farm, check=True, name='GmsaTestSvc', account='ITFarm1$')
    assert check['plan'] == ['grant_logon_right', 'set_identity', 'restart', 'validate'] and farm.writes() == []
    res = run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    assert res['changed'] and res['validated'] and res['running'] and res['logon_right_granted']
    assert res['account'] == 'CONTOSO\\ITFarm1$' and res['previous_account'] == 'NT AUTHORITY\\LocalService'
    assert res['diff']['after'] == dict(account='CONTOSO\\ITFarm1$', running=True)
    # managed accounts go without a password (W16) - the simulator asserts it on the win_service call
    farm.calls.clear()
    again = run_ident(farm, name='GmsaTestSvc', account='contoso\\itfarm1$')
    assert not again['changed'] and again['plan'] == [] and farm.writes() == []


def test_the_computers_domain_is_used_not_the_connecting_users(farm):
    """Defect 4: $env:USERDOMAIN of a local-admin WinRM user is the host name."""
    assert farm.user_domain == 'WEB01'
    res = run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    sets = [a['username'] for m, a in farm.calls if m == 'ansible.windows.win_service' and 'username' in a]
    assert sets == ['CONTOSO\\ITFarm1$'] and res['account'] == 'CONTOSO\\ITFarm1$'


def test_shared_process_service_is_refused_before_any_write(farm):
    """Defect 3: W32Time runs shared in svchost (and requires SeSystemtimePrivilege)."""
    farm.add_service('W32Time', username='NT AUTHORITY\\LocalService', service_type='win32_share_process',
                     required_privileges=['SeSystemtimePrivilege'])
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='W32Time', account='ITFarm1$')
    assert '1079' in e.value.msg and 'Nothing was changed' in e.value.msg and farm.writes() == []


def test_required_privileges_warn_and_a_failed_start_rolls_back_with_the_windows_error(farm):
    farm.add_service('TimeLike', username='NT AUTHORITY\\LocalService', required_privileges=['SeSystemtimePrivilege'])
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='TimeLike', account='ITFarm1$')
    assert '1314' in e.value.msg and 'put back' in e.value.msg and e.value.changed
    assert farm.services['timelike']['username'] == 'NT AUTHORITY\\LOCAL SERVICE'      # as SCManager sets it (W21)
    assert farm.services['timelike']['state'] == 'started'


def test_sql_server_engine_and_agent_are_refused(farm):
    """Defect 10."""
    farm.add_service('MSSQL$PROD', username='NT SERVICE\\MSSQL$PROD')
    for name in ('MSSQLSERVER', 'MSSQL$PROD', 'SQLAgent$PROD'):
        with pytest.raises(HostTaskError, match='SQL Server Configuration Manager'):
            run_ident(farm, name=name, account='ITFarm1$')
    assert farm.writes() == []


def test_logon_failure_rolls_back_and_reports_1069(farm):
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='GmsaTestSvc', account='ITFarm1$', grant_logon_right=False)
    msg = e.value.msg
    assert '1069' in msg and "previous identity 'NT AUTHORITY\\LocalService' was put back" in msg
    assert 'started again' in msg and e.value.changed and e.value.result['rolled_back']
    assert farm.services['gmsatestsvc']['username'] == 'NT AUTHORITY\\LOCAL SERVICE'


def test_rollback_reports_a_restored_identity_even_when_the_restart_after_it_fails(farm):
    """Defect 2: set-identity and restart shared one try, so a good restore with a failed restart was reported as
    'was not put back'."""
    def fail_restart_after_rollback(module, args, _orig=farm.call):
        if module == 'ansible.windows.win_service' and args.get('state') == 'restarted' and \
                farm.services['gmsatestsvc']['username'] == 'NT AUTHORITY\\LOCAL SERVICE':
            return dict(failed=True, msg=WRAPPER + "Service 'GmsaTestSvc (GmsaTestSvc)' cannot be started due to the "
                                                   "following error: Cannot start service GmsaTestSvc on computer '.'.")
        return _orig(module, args)
    with pytest.raises(HostTaskError) as e:
        _service_identity.run(ident_params(name='GmsaTestSvc', account='ITFarm1$', grant_logon_right=False),
                              fail_restart_after_rollback, sleep=farm.sleep, clock=farm.clock)
    assert "was put back" in e.value.msg and 'restoring its run state failed' in e.value.msg
    assert 'was not put back' not in e.value.msg


def test_a_previous_user_account_is_put_back_only_with_its_password(farm):
    farm.add_user('svc_legacy')
    farm.add_service('Legacy', username='CONTOSO\\svc_legacy')
    with pytest.raises(HostTaskError, match='rollback_password'):
        run_ident(farm, name='Legacy', account='ITFarm1$', grant_logon_right=False)
    assert farm.services['legacy']['username'] == 'CONTOSO\\ITFarm1$'      # said, not hidden: left as it is
    farm.services['legacy'].update(username='CONTOSO\\svc_legacy', state='started')
    with pytest.raises(HostTaskError, match='put back'):
        run_ident(farm, name='Legacy', account='ITFarm1$', grant_logon_right=False, rollback_password='S3cret!')
    assert farm.services['legacy']['username'] == 'CONTOSO\\svc_legacy'


def test_a_stopped_service_is_left_stopped_unless_restart_always(farm):
    farm.add_service('Batch', username='LocalSystem', state='stopped')
    res = run_ident(farm, name='Batch', account='ITFarm1$')
    assert res['plan'] == ['grant_logon_right', 'set_identity'] and farm.services['batch']['state'] == 'stopped'
    assert 'left stopped' in res['warnings'][0]
    res = run_ident(farm, name='Batch', account='NT SERVICE\\Batch', restart='always')
    assert res['plan'] == ['set_identity', 'start', 'validate'] and res['running']


def test_a_failed_first_write_says_nothing_was_changed(farm):
    farm.fail_next[('ansible.windows.win_user_right', 'add')] = (
        'Failed to add account CONTOSO\\ITFarm1$ to right SeServiceLogonRight: Access is denied')
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    assert 'Nothing was changed' in e.value.msg and not e.value.changed


def test_a_failed_second_write_says_what_was_done(farm):
    farm.fail_next[('ansible.windows.win_service', None)] = WRAPPER + (
        'Exception setting "Account": "Failed to change service config (Access is denied, Win32ErrorCode 5 - '
        '0x00000005)"')
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    assert 'Already done: granted SeServiceLogonRight' in e.value.msg and e.value.changed


def test_unresolvable_gmsa_is_refused_before_any_write(farm):
    with pytest.raises(HostTaskError, match='does not resolve on this host'):
        run_ident(farm, name='GmsaTestSvc', account='Missing$')
    assert farm.writes() == []


@pytest.mark.parametrize('account, message', [
    ('CONTOSO\\jdoe', 'Accounts with passwords are not set'),
    ('', 'is empty'),
    ('WayTooLongAccountName$', 'at most 15 characters'),
])
def test_bad_accounts_fail_before_any_host_call(farm, account, message):
    with pytest.raises(HostTaskError, match=re.escape(message)):
        run_ident(farm, name='GmsaTestSvc', account=account)
    assert farm.calls == []


# ----------------------------------------------------------------------------------------------- GPO rights
def test_a_gpo_defined_logon_right_fails_before_any_write(farm):
    """Defect 7: a right granted locally is replaced at the next policy refresh when a GPO defines it."""
    farm.gpo_rights['SeServiceLogonRight'] = dict(accounts=['CONTOSO\\svc_sql'], gpo='Server baseline')
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    assert "Server baseline" in e.value.msg and 'Nothing was changed' in e.value.msg and farm.writes() == []


def test_why_the_gpo_check_matters_and_warn_mode(farm):
    farm.gpo_rights['SeServiceLogonRight'] = dict(accounts=['CONTOSO\\svc_sql'], gpo='Server baseline')
    res = run_ident(farm, name='GmsaTestSvc', account='ITFarm1$', logon_right_gpo='warn')
    assert res['validated'] and 'Server baseline' in res['warnings'][0]
    farm.gpo_refresh()                                   # the local grant is gone at the next refresh
    assert farm.call('ansible.windows.win_service', dict(name='GmsaTestSvc', state='restarted')).get('failed')


def test_a_gpo_that_lists_the_gmsa_is_fine(farm):
    farm.gpo_rights['SeServiceLogonRight'] = dict(accounts=['CONTOSO\\ITFarm1$'], gpo='Farm rights')
    res = run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    assert res['validated'] and not res['warnings']


# ----------------------------------------------------------------------------------------------- IIS
def test_app_pool_is_validated_by_a_worker_process_not_by_started(farm):
    """Defect 5: a pool reports Started at once; a bad identity shows only when a worker starts."""
    farm.add_pool('BAMAppPool')
    farm.add_gmsa('Denied', allowed=['SomeoneElse$'])
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, type='iis_app_pool', name='BAMAppPool', account='Denied$')
    assert 'no worker process started' in e.value.msg and 'put back' in e.value.msg
    assert farm.pools['bamapppool']['identityType'] == 'ApplicationPoolIdentity'
    assert farm.pools['bamapppool']['state'] == 'Started'
    res = run_ident(farm, type='iis_app_pool', name='BAMAppPool', account='ITFarm1$')
    assert res['validated'] and res['plan'] == ['set_identity', 'restart', 'validate']
    assert farm.pools['bamapppool']['userName'] == 'CONTOSO\\ITFarm1$'


# ----------------------------------------------------------------------------------------------- tasks
def test_task_in_a_folder_keeps_its_run_level_and_uses_lsa_spellings(farm):
    """Defect 6: -TaskPath, the whole principal replaced, LocalSystem not translatable by LSA. The folder is given
    as the Task Scheduler names it (no backslash after the last folder name) or with one."""
    farm.add_task('Nightly export', path='\\Contoso', run_level='TASK_RUNLEVEL_HIGHEST')
    with pytest.raises(HostTaskError, match="in folder '\\\\' does not exist"):
        run_ident(farm, type='scheduled_task', name='Nightly export', account='ITFarm1$')
    with pytest.raises(HostTaskError, match='no such folder'):
        run_ident(farm, type='scheduled_task', path='\\Fabrikam', name='Nightly export', account='ITFarm1$')
    farm.calls.clear()
    res = run_ident(farm, type='scheduled_task', path='\\Contoso\\', name='Nightly export', account='ITFarm1$')
    assert res['plan'] == ['grant_logon_right', 'set_identity', 'validate'] and res['validated']
    assert res['logon_right'] == 'SeBatchLogonRight' and res['account'] == 'CONTOSO\\ITFarm1$'
    assert {a['path'] for m, a in farm.calls if m.startswith('community.windows.')} == {'\\Contoso'}
    task = farm.tasks[('\\contoso', 'nightly export')]
    assert task['run_level'] == 'TASK_RUNLEVEL_HIGHEST' and task['logon_type'] == 'TASK_LOGON_PASSWORD'
    back = run_ident(farm, type='scheduled_task', path='\\Contoso', name='Nightly export', account='LocalSystem')
    assert task['user_id'] == 'SYSTEM' and task['run_level'] == 'TASK_RUNLEVEL_HIGHEST'
    assert back['account'] == 'NT AUTHORITY\\SYSTEM'          # read back through a SID translation (W21)
    again = run_ident(farm, type='scheduled_task', path='\\Contoso', name='Nightly export', account='SYSTEM')
    assert not again['changed']


# ----------------------------------------------------------------------------------------------- BizTalk
def test_biztalk_host_instance_failed_install_restores_the_previous_logon(farm):
    """Defect 9: uninstall then install with no check left the host instance gone and the task green."""
    farm.biztalk['btsapp'] = dict(logon='CONTOSO\\svc_biztalk', state=4)
    farm.add_gmsa('Denied', allowed=['SomeoneElse$'])
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, type='biztalk_host_instance', name='BTSApp', account='Denied$',
                  rollback_password='old-password')
    assert 'Install under CONTOSO\\Denied$ returned' in e.value.msg and 'put back' in e.value.msg
    assert farm.biztalk['btsapp'] == dict(logon='CONTOSO\\svc_biztalk', state=4)
    res = run_ident(farm, type='biztalk_host_instance', name='BTSApp', account='ITFarm1$')
    assert res['validated'] and farm.biztalk['btsapp'] == dict(logon='CONTOSO\\ITFarm1$', state=4)


# ----------------------------------------------------------------------------------------------- names
@pytest.mark.parametrize('text, target, spelled', [
    ('LocalSystem', 'service', 'LocalSystem'),
    ('LocalSystem', 'scheduled_task', 'SYSTEM'),
    ('NT AUTHORITY\\NetworkService', 'scheduled_task', 'NETWORK SERVICE'),
    ('network service', 'service', 'NT AUTHORITY\\NetworkService'),
    ('S-1-5-19', 'iis_app_pool', 'LocalService'),
    ('web$@contoso.com', 'service', 'CONTOSO.COM\\web$'),
])
def test_identity_spellings(text, target, spelled):
    assert classify_identity(text, 'CONTOSO').spelled_for(target) == spelled


# ----------------------------------------------------------------------------------------------- review findings
def test_a_failing_probe_call_is_reported_not_read_as_not_installed(sim):
    """NetIsServiceAccount failing answers false: state absent must not report ok on it (W2)."""
    sim.store.add('itfarm1')
    sim.is_service_status = 0xC0000022
    with pytest.raises(HostTaskError, match=r'NetIsServiceAccount failed: STATUS_ACCESS_DENIED \(0xC0000022\)'):
        run_host(sim, name='ITFarm1', state='absent')
    assert sim.writes() == []


def test_a_gmsa_of_another_domain_is_refused_not_silently_looked_up_here(sim):
    with pytest.raises(HostTaskError, match="is in domain FABRIKAM, but this host is in CONTOSO"):
        run_host(sim, name='FABRIKAM\\ITFarm1$')
    assert sim.writes() == []
    assert run_host(sim, name='ITFarm1$@contoso.com')['installed']


def test_the_kdssvc_workaround_is_applied_on_2012_r2_only(sim):
    sim.store.add('itfarm1')
    res = run_host(sim, name='ITFarm1', kdssvc_network_trigger=True)
    assert not res['changed'] and not res['kdssvc_trigger_set'] and '2012 R2' in res['warnings'][0]
    assert len(sim.kdssvc_triggers) == 1
    sim.os_version = '6.3.9600'
    assert run_host(sim, name='ITFarm1', kdssvc_network_trigger=True)['kdssvc_trigger_set']


def test_netbios_name_other_than_the_first_dns_label_compares_by_domain_not_spelling():
    """corp.contoso.com / CONTOSO: the SCM reads the gMSA back as CONTOSO\\ITFarm1$; the old comparison saw a
    different account on every run and restarted the service each time."""
    s = SimHost(domain='CONTOSO', dns='corp.contoso.com')
    s.groups = s.ticket_groups = {'FarmHosts'}
    s.add_gmsa('ITFarm1', allowed=['FarmHosts'])
    s.store.add('itfarm1')
    s.add_service('AppSvc', username='LocalSystem')
    first = run_ident(s, name='AppSvc', account='ITFarm1$@corp.contoso.com')
    assert first['changed'] and s.services['appsvc']['username'] == 'CONTOSO\\ITFarm1$'
    s.calls.clear()
    for spelling in ('ITFarm1$@corp.contoso.com', 'CORP.CONTOSO.COM\\ITFarm1$', 'contoso\\itfarm1$', 'ITFarm1$'):
        again = run_ident(s, name='AppSvc', account=spelling)
        assert not again['changed'] and again['plan'] == [], spelling
    assert s.writes() == []


def test_one_name_in_an_unknown_domain_spelling_is_compared_by_sid():
    """A start name whose domain part the computer's names do not explain (a trusted domain's gMSA of the same
    name, here FABRIKAM) is compared by SID, read with one more host call."""
    s = SimHost()
    s.groups = s.ticket_groups = {'FarmHosts'}
    s.add_gmsa('ITFarm1', allowed=['FarmHosts'])
    s.add_service('AppSvc', username='FABRIKAM\\ITFarm1$')
    res = run_ident(s, name='AppSvc', account='ITFarm1$', restart='never')
    assert res['plan'][-1] == 'set_identity'
    assert [a.get('account') for m, a in s.calls if a.get('operation') == 'facts'] == ['ITFarm1$', 'FABRIKAM\\ITFarm1$']


def test_the_gpo_check_reads_rsop_sid_entries_and_other_domain_spellings():
    s = SimHost(domain='CONTOSO', dns='corp.contoso.com')
    s.groups = s.ticket_groups = {'FarmHosts'}
    acct = s.add_gmsa('ITFarm1', allowed=['FarmHosts'])
    s.add_service('AppSvc', username='LocalSystem')
    s.gpo_rights['SeServiceLogonRight'] = dict(accounts=['*S-1-5-20', '*' + acct.sid], gpo='Farm rights')
    assert run_ident(s, name='AppSvc', account='ITFarm1$', restart='never')['changed']
    s.gpo_rights['SeServiceLogonRight'] = dict(accounts=['ITFarm1$@corp.contoso.com'], gpo='Farm rights')
    assert not run_ident(s, name='AppSvc', account='ITFarm1$', restart='never').get('warnings')


def test_pools_and_biztalk_get_the_gpo_check_too(farm):
    farm.add_pool('Pool')
    farm.gpo_rights['SeBatchLogonRight'] = dict(accounts=['CONTOSO\\svc_batch'], gpo='Server baseline')
    with pytest.raises(HostTaskError, match='SeBatchLogonRight is defined by Group Policy .Server baseline.'):
        run_ident(farm, type='iis_app_pool', name='Pool', account='ITFarm1$')
    farm.gpo_rights['SeBatchLogonRight']['accounts'].append('*S-1-5-32-568')      # IIS_IUSRS (W12)
    assert run_ident(farm, type='iis_app_pool', name='Pool', account='ITFarm1$')['validated']
    farm.biztalk['btsapp'] = dict(logon='CONTOSO\\svc_biztalk', state=4)
    farm.gpo_rights['SeServiceLogonRight'] = dict(accounts=['CONTOSO\\svc_biztalk'], gpo='Server baseline')
    with pytest.raises(HostTaskError, match='SeServiceLogonRight is defined by Group Policy'):
        run_ident(farm, type='biztalk_host_instance', name='BTSApp', account='ITFarm1$')
    assert farm.biztalk['btsapp']['logon'] == 'CONTOSO\\svc_biztalk'


def test_a_warning_that_explains_a_failure_goes_with_it(farm):
    farm.gpo_rights['SeServiceLogonRight'] = dict(accounts=['CONTOSO\\svc_sql'], gpo='Server baseline')
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, name='GmsaTestSvc', account='ITFarm1$', logon_right_gpo='warn', grant_logon_right=False)
    assert '1069' in e.value.msg and 'Server baseline' in e.value.result['warnings'][0]


def test_biztalk_without_gmsa_support_is_refused_and_a_running_instance_is_stopped_before_uninstall(farm):
    farm.biztalk['btsapp'] = dict(logon='CONTOSO\\svc_biztalk', state=4)
    farm.biztalk_gmsa = False
    with pytest.raises(HostTaskError, match='IsGmsaAccount'):
        run_ident(farm, type='biztalk_host_instance', name='BTSApp', account='ITFarm1$')
    assert farm.writes() == []
    farm.biztalk_gmsa = True
    res = run_ident(farm, type='biztalk_host_instance', name='BTSApp', account='ITFarm1$')
    ops = [a['operation'] for m, a in farm.calls if a.get('operation', '').startswith('biztalk_') and
           a['operation'] != 'biztalk_read']
    assert ops == ['biztalk_stop', 'biztalk_install', 'biztalk_start'] and res['validated']


def test_task_rollback_keeps_the_previous_logon_type(farm):
    farm.add_user('svc_report')
    farm.add_task('Report', user='CONTOSO\\svc_report', logon_type='TASK_LOGON_S4U')

    def fail_readback(module, args, _orig=farm.call):
        res = _orig(module, args)
        if module == 'community.windows.win_scheduled_task_stat' and res.get('principal', {}).get('user_id', '').endswith('$'):
            res['principal']['logon_type'] = 'TASK_LOGON_S4U'        # a task that reads back wrong
        return res
    with pytest.raises(HostTaskError, match='put back'):
        _service_identity.run(ident_params(type='scheduled_task', name='Report', account='ITFarm1$',
                                           rollback_password='S3cret!'), fail_readback, sleep=farm.sleep,
                              clock=farm.clock)
    back = [a for m, a in farm.calls if m == 'community.windows.win_scheduled_task'][-1]
    assert back['logon_type'] == 's4u' and farm.tasks[('\\', 'report')]['logon_type'] == 'TASK_LOGON_S4U'


def test_an_app_pool_is_put_back_to_a_user_without_its_password_in_web_app_pool_attributes(farm):
    farm.add_user('svc_web')
    farm.add_pool('Legacy', identity='SpecificUser', user='CONTOSO\\svc_web')
    farm.add_gmsa('Denied', allowed=['SomeoneElse$'])
    with pytest.raises(HostTaskError, match='put back'):
        run_ident(farm, type='iis_app_pool', name='Legacy', account='Denied$', rollback_password='P00l-S3cret')
    pool_calls = [a for m, a in farm.calls if m == 'microsoft.iis.web_app_pool']
    assert 'P00l-S3cret' not in repr(pool_calls)
    assert [a['operation'] for m, a in farm.calls if a.get('operation') == 'iis_set_pool_user'] == ['iis_set_pool_user']
    assert farm.pools['legacy']['userName'] == 'CONTOSO\\svc_web' and farm.pools['legacy']['password_ok']


# ----------------------------------------------------------------------------------------------- SQL Server
def test_sql_server_engine_and_agent_go_through_the_wmi_provider_and_are_idempotent(farm):
    farm.add_sql_service('MSSQL$PROD')
    farm.add_sql_service('SQLAgent$PROD')
    check = run_ident(farm, check=True, type='sql_server_service', name='MSSQL$PROD', account='ITFarm1$')
    assert check['plan'] == ['set_identity', 'restart', 'validate'] and farm.writes() == []
    for name in ('MSSQL$PROD', 'SQLAgent$PROD'):
        res = run_ident(farm, type='sql_server_service', name=name, account='ITFarm1$')
        assert res['changed'] and res['validated'] and res['account'] == 'CONTOSO\\ITFarm1$'
    sets = [a for m, a in farm.calls if a.get('operation') == 'sql_set_service_account']
    assert [(a['name'], a['account'], a['password']) for a in sets] == [
        ('MSSQL$PROD', 'CONTOSO\\ITFarm1$', ''), ('SQLAgent$PROD', 'CONTOSO\\ITFarm1$', '')]
    assert not [a for m, a in farm.calls if m == 'ansible.windows.win_service' and 'username' in a]
    restart = [a for m, a in farm.calls if m == 'ansible.windows.win_service' and a.get('state') == 'restarted'][0]
    assert restart['force_dependent_services'] is True
    farm.calls.clear()
    assert not run_ident(farm, type='sql_server_service', name='MSSQL$PROD', account='ITFarm1$')['changed']
    assert farm.writes() == []


def test_sql_server_service_rolls_back_through_the_provider(farm):
    farm.add_sql_service('MSSQLSERVER')
    farm.services['mssqlserver']['start_fails'] = 1069
    with pytest.raises(HostTaskError) as e:
        run_ident(farm, type='sql_server_service', name='MSSQLSERVER', account='ITFarm1$')
    assert '1069' in e.value.msg and "previous identity 'NT Service\\MSSQLSERVER' was put back" in e.value.msg
    sets = [a['account'] for m, a in farm.calls if a.get('operation') == 'sql_set_service_account']
    assert sets == ['CONTOSO\\ITFarm1$', 'NT SERVICE\\MSSQLSERVER']


def test_sql_server_service_type_refuses_other_services_before_any_write(farm):
    with pytest.raises(HostTaskError, match='not a SQL Server Database Engine or Agent service'):
        run_ident(farm, type='sql_server_service', name='GmsaTestSvc', account='ITFarm1$')
    assert farm.writes() == []


def test_sql_server_without_the_provider_or_before_2014_is_refused_before_any_write(farm):
    farm.add_service('MSSQLSERVER', username='NT Service\\MSSQLSERVER')          # not known to the provider
    with pytest.raises(HostTaskError, match="WMI provider on this host does not know the service 'MSSQLSERVER'"):
        run_ident(farm, type='sql_server_service', name='MSSQLSERVER', account='ITFarm1$')
    farm.sql_services.add('mssqlserver')
    farm.sql_version = 11                                                        # SQL Server 2012
    with pytest.raises(HostTaskError, match='from SQL Server 2014'):
        run_ident(farm, type='sql_server_service', name='MSSQLSERVER', account='ITFarm1$')
    farm.sql_version = 0
    with pytest.raises(HostTaskError, match='no SQL Server WMI provider is installed'):
        run_ident(farm, type='sql_server_service', name='MSSQLSERVER', account='ITFarm1$')
    assert farm.writes() == []


def test_a_failed_biztalk_uninstall_after_the_stop_starts_the_instance_again_and_says_so(farm):
    farm.add_user('svc_biztalk')
    farm.biztalk['btsapp'] = dict(logon='CONTOSO\\svc_biztalk', state=4)
    orig = farm.call

    def uninstall_fails(module, args):
        if args.get('operation') == 'biztalk_install':
            farm.calls.append((module, args))
            return dict(uninstall_return=-1, error='Access denied')
        return orig(module, args)
    with pytest.raises(HostTaskError) as e:
        _service_identity.run(ident_params(type='biztalk_host_instance', name='BTSApp', account='ITFarm1$'),
                              uninstall_fails, sleep=farm.sleep, clock=farm.clock)
    assert 'Uninstall returned -1 (Access denied)' in e.value.msg and 'started again' in e.value.msg
    assert farm.biztalk['btsapp'] == dict(logon='CONTOSO\\svc_biztalk', state=4)


def test_check_mode_of_a_new_farm_predicts_the_rebind_and_still_checks_group_policy(farm):
    """The directory side has only planned the gMSA: check mode warns and predicts instead of failing, and says
    when a GPO-defined right would stop the real run."""
    res = run_ident(farm, check=True, name='GmsaTestSvc', account='NotYet$')
    assert res['changed'] and res['plan'] == ['grant_logon_right', 'set_identity', 'restart', 'validate']
    assert 'does not resolve on this host yet' in res['warnings'][0] and farm.writes() == []
    farm.gpo_rights['SeServiceLogonRight'] = dict(accounts=['CONTOSO\\svc_sql'], gpo='Server baseline')
    res = run_ident(farm, check=True, name='GmsaTestSvc', account='NotYet$')
    assert any('a real run fails here' in w and 'Server baseline' in w for w in res['warnings'])
    with pytest.raises(HostTaskError, match='does not resolve'):
        run_ident(farm, name='GmsaTestSvc', account='NotYet$')


def test_a_service_rebind_reads_the_service_after_validation_only_once(farm):
    """Fewest round trips: the validation's read is the state the result reports."""
    run_ident(farm, name='GmsaTestSvc', account='ITFarm1$')
    assert [m.split('.')[-1] + ('/' + a['operation'] if 'operation' in a else '') for m, a in farm.calls] == [
        'host_native/facts', 'win_service_info', 'win_user_right', 'win_service', 'win_service', 'win_service_info']
