"""The shape test: what the host-side plugins send to and read from ansible.windows, community.windows,
microsoft.iis and gmsa.farm.host_native, and what the simulated host answers for them, checked against the
installed modules' own sources and docs (tests/unit/module_shapes.py). windows_sim.SimHost applies these checks to
every call, so every test that drives the plugins through it is also a shape test; the tests here prove the checks
read the real modules right and catch each kind of mismatch."""
from __future__ import annotations

import re

import pytest

import module_shapes
from ansible_collections.gmsa.farm.plugins.plugin_utils import _gmsa_host, _service_identity
from windows_sim import WRAPPER, SimHost


def params(spec, **kw):
    p = {k: v.get('default') for k, v in spec.items()}
    p.update(kw)
    return p


# ----------------------------------------------------------------------------------------------- the reader
@pytest.mark.parametrize('module', module_shapes.MODULES)
def test_options_read_from_the_source_are_the_documented_ones(module):
    """The PowerShell reader gets every option of each module: its docs sidecar documents the same names."""
    shape = module_shapes.shape(module)
    assert shape['options'], module
    assert sorted(shape['options']) == sorted(shape['docs_options']), module


def test_the_reader_gets_types_choices_and_required_from_the_source():
    svc = module_shapes.shape('ansible.windows.win_service')['options']
    assert svc['state']['choices'] == ['started', 'stopped', 'restarted', 'absent', 'paused']
    assert svc['password'].get('no_log') is True and svc['name'].get('required') is True
    assert svc['force_dependent_services'] == dict(type='bool', default=False)
    pool = module_shapes.shape('microsoft.iis.web_app_pool')['options']
    assert pool['state']['choices'] == ['absent', 'present', 'restarted', 'started', 'stopped']
    assert pool['attributes']['type'] == 'dict' and 'no_log' not in pool['attributes']
    task = module_shapes.shape('community.windows.win_scheduled_task')['options']     # a legacy Parse-Args module
    assert task['logon_type']['choices'] == ['none', 'password', 's4u', 'interactive_token', 'group',
                                             'service_account', 'interactive_token_or_password']
    assert task['username'] == dict(type='str', aliases=['user']) and task['name'].get('required')


def test_win_service_info_returns_win32_exit_code_whatever_its_docs_say():
    """Its RETURN documents win32_exitcode; its source returns win32_exit_code. The correction is proved from the
    source, and this test says when upstream fixes the docs."""
    services = module_shapes.shape('ansible.windows.win_service_info')['returns']['services']
    assert 'win32_exit_code' in services and 'win32_exitcode' not in services
    _doc, ret = module_shapes._docs('ansible.windows.win_service_info')
    assert 'win32_exitcode' in ret['services']['contains'], 'upstream fixed the docs: drop the correction'
    assert 'win32_exit_code = $service.Win32ExitCode' in module_shapes.read_source('ansible.windows.win_service_info')


def test_module_wrapper_reports_an_unhandled_exception_with_this_text():
    assert 'msg = "Unhandled exception while executing module: $ErrorRecord"' in module_shapes.module_wrapper_source()
    assert '$ps.Runspace.SessionStateProxy.SetVariable("ErrorActionPreference", "Stop")' in \
        module_shapes.module_wrapper_source()


# ----------------------------------------------------------------------------------------------- the checks fail
@pytest.mark.parametrize('module, args, problem', [
    ('ansible.windows.win_service', dict(name='x', user='y'), "option 'user' is not accepted"),
    ('ansible.windows.win_service', dict(name='x', state='running'), "is not one of"),
    ('ansible.windows.win_service', dict(state='started'), "required option 'name' is missing"),
    ('ansible.windows.win_user_right', dict(name='SeServiceLogonRight', users='CONTOSO\\a$', action='add'),
     'is not of type list'),
    ('microsoft.iis.web_app_pool', dict(name='p', attributes='identityType=SpecificUser'), 'is not of type dict'),
    ('community.windows.win_scheduled_task', dict(name='t', logon_type='TASK_LOGON_PASSWORD'), 'is not one of'),
    ('gmsa.farm.host_native', dict(operation='sql_set_account'), 'is not one of'),
])
def test_an_option_the_real_module_refuses_fails(module, args, problem):
    with pytest.raises(AssertionError, match=re.escape(problem)):
        module_shapes.check_args(module, args)


def test_reading_a_key_the_real_module_never_returns_fails():
    """The bug this test was written for: win32_exitcode was read from win_service_info."""
    res = module_shapes.tracked('ansible.windows.win_service_info',
                                dict(exists=True, services=[dict(name='x', state='stopped', win32_exit_code=1069)]))
    assert res['services'][0].get('win32_exit_code') == 1069
    with pytest.raises(AssertionError, match="reads 'win32_exitcode'"):
        res['services'][0].get('win32_exitcode')
    principal = module_shapes.tracked('community.windows.win_scheduled_task_stat',
                                      dict(task_exists=True, principal=dict(user_id='NT AUTHORITY\\SYSTEM')))
    with pytest.raises(AssertionError, match="reads 'UserId'"):
        principal['principal'].get('UserId')


def test_an_answer_with_a_key_the_real_module_never_returns_fails():
    with pytest.raises(AssertionError, match="no key 'win32_exitcode' in services"):
        module_shapes.check_result('ansible.windows.win_service_info',
                                   dict(services=[dict(name='x', win32_exitcode=0)]))
    with pytest.raises(AssertionError, match="no key 'error'"):
        module_shapes.check_result('community.windows.win_scheduled_task', dict(changed=True, error='x'))


@pytest.mark.parametrize('module, result', [
    ('ansible.windows.win_service_info', dict(services=[dict(name='x', username='LocalSystem')])),
    ('community.windows.win_scheduled_task_stat', dict(principal=dict(user_id='SYSTEM'))),
    ('community.windows.win_scheduled_task_stat', dict(principal=dict(user_id='NT AUTHORITY\\LocalService'))),
])
def test_an_account_spelling_the_real_module_never_returns_fails(module, result):
    """The simulator's old answers: names as given, not as a SID translation reads them back."""
    with pytest.raises(AssertionError, match='never returns'):
        module_shapes.check_spelling(module, result)
    module_shapes.check_spelling('ansible.windows.win_service_info',
                                 dict(services=[dict(username='NT AUTHORITY\\LocalService')]))   # as an installer wrote it


@pytest.mark.parametrize('module, msg', [
    ('ansible.windows.win_service', 'Service AppSvc failed to start: Windows error 1069'),
    ('ansible.windows.win_service', 'Failed to start service AppSvc: Windows error 1069'),
    ('community.windows.win_scheduled_task', 'failed to convert LocalSystem to a SID'),
    ('ansible.windows.win_user_right', 'access denied'),
])
def test_a_failure_text_the_real_module_never_produces_fails(module, msg):
    """The simulator's old texts: the real win_service never names the Windows error (module_wrapper reports
    Start-Service's exception), and Convert-ToSID words its failure otherwise."""
    with pytest.raises(AssertionError, match='would not fail with'):
        module_shapes.check_failure(module, msg)


def test_the_real_failure_texts_pass():
    module_shapes.check_failure('ansible.windows.win_service', WRAPPER + (
        "Service 'App Service (AppSvc)' cannot be started due to the following error: Cannot start service AppSvc "
        "on computer '.'."))
    module_shapes.check_failure('community.windows.win_scheduled_task', (
        'account_name LocalSystem is not a valid account, cannot get SID: Exception calling "Translate" with "1" '
        'argument(s): "Some or all identity references could not be translated."'))


# ----------------------------------------------------------------------------------------------- every module used
def test_the_plugins_drive_every_module_and_every_answer_passes_the_checks():
    """One run of each target type and of gmsa_host through the strict simulator: every module the plugins use is
    called, with arguments the real module accepts, answered with keys and texts it produces."""
    sim = SimHost(domain='CONTOSO', dns='corp.contoso.com')
    sim.groups = sim.ticket_groups = {'FarmHosts'}
    sim.add_gmsa('ITFarm1', allowed=['FarmHosts'])
    sim.add_service('AppSvc', username='LocalSystem')
    sim.add_pool('AppPool')
    sim.add_task('Job', path='\\Contoso')
    sim.add_sql_service('MSSQLSERVER')
    sim.biztalk['btsapp'] = dict(logon='CONTOSO\\svc_bts', state=1)
    sim.os_version = '6.3.9600'

    def ident(**kw):
        return _service_identity.run(params(_service_identity.ARGUMENT_SPEC, **kw), sim.call, sleep=sim.sleep,
                                     clock=sim.clock)
    _gmsa_host.run(params(_gmsa_host.ARGUMENT_SPEC, name='ITFarm1$@corp.contoso.com', kdssvc_network_trigger=True),
                   sim.call, sleep=sim.sleep, clock=sim.clock)
    ident(name='AppSvc', account='ITFarm1$')
    ident(type='iis_app_pool', name='AppPool', account='ITFarm1$')
    ident(type='scheduled_task', path='\\Contoso', name='Job', account='ITFarm1$')
    ident(type='sql_server_service', name='MSSQLSERVER', account='ITFarm1$')
    ident(type='biztalk_host_instance', name='BTSApp', account='ITFarm1$')
    assert sim.call('ansible.windows.win_ping', {}) == dict(changed=False, ping='pong')   # the playbooks' preflight
    used = {m for m, _a in sim.calls}
    assert used == set(module_shapes.MODULES)
