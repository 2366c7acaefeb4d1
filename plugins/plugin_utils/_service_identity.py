# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: what gmsa.farm.windows_service_identity does, decided on the controller.

It orchestrates well-kept modules: ansible.windows.win_service / win_service_info (service logon, run state),
ansible.windows.win_user_right (logon rights), microsoft.iis.web_app_pool / web_app_pool_info (application
pools), community.windows.win_scheduled_task / win_scheduled_task_stat (tasks), plus two reads and one probe of
gmsa.farm.host_native that none of them offers (the computer's domain and the account's SID; logon rights that
domain Group Policy defines; an IIS worker-process start under the new identity; a pool's user password, which
web_app_pool would not hide; SQL Server's WMI provider for the Database Engine and Agent). It adds what none of them has:
checks before the first write, validation that the identity really logged on, and rollback to the previous
identity and run state. Rules follow docs/windows-facts.md (W<n>); tests run this against a simulated host.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.plugin_utils._windows_names import (
    BATCH_LOGON_RIGHT, IIS_IUSRS_SID, SERVICE_LOGON_RIGHT, HostTaskError, classify_identity, policy_lists,
    same_identity, sql_server_service, task_folder, win32_error_text)

NATIVE = 'gmsa.farm.host_native'

ARGUMENT_SPEC = dict(
    type=dict(type='str', choices=['service', 'iis_app_pool', 'scheduled_task', 'biztalk_host_instance',
                                   'sql_server_service'], default='service'),
    name=dict(type='str', required=True),
    path=dict(type='str', default='\\'),
    account=dict(type='str', required=True),
    grant_logon_right=dict(type='bool', default=True),
    logon_right_gpo=dict(type='str', choices=['fail', 'warn'], default='fail'),
    restart=dict(type='str', choices=['changed', 'always', 'never'], default='changed'),
    validate=dict(type='bool', default=True),
    validate_timeout=dict(type='int', default=60),
    rollback_password=dict(type='str', no_log=True),
)

# The logon right each target needs its identity to hold (W8, W13); IIS grants app pool identities the batch
# right through IIS_IUSRS at worker start (W12).
LOGON_RIGHT = {'service': SERVICE_LOGON_RIGHT, 'scheduled_task': BATCH_LOGON_RIGHT, 'iis_app_pool': None,
               'biztalk_host_instance': None,   # BizTalk's Install grants it (GrantLogOnAsService, W18)
               'sql_server_service': None}      # SQL Server's WMI provider grants what the service needs (W15)
# The right the identity must keep holding, which a GPO that defines it would take away (W11): an IIS pool's
# identity logs on as a batch job through IIS_IUSRS (W12), the others as services.
POLICY_RIGHT = {'service': SERVICE_LOGON_RIGHT, 'scheduled_task': BATCH_LOGON_RIGHT, 'iis_app_pool': BATCH_LOGON_RIGHT,
                'biztalk_host_instance': SERVICE_LOGON_RIGHT, 'sql_server_service': SERVICE_LOGON_RIGHT}
# Task logon types as win_scheduled_task_stat reads them and as win_scheduled_task takes them (W22).
TASK_LOGON_OPTION = {'TASK_LOGON_PASSWORD': 'password', 'TASK_LOGON_S4U': 's4u',
                     'TASK_LOGON_INTERACTIVE_TOKEN': 'interactive_token',
                     'TASK_LOGON_INTERACTIVE_TOKEN_OR_PASSWORD': 'interactive_token_or_password',
                     'TASK_LOGON_SERVICE_ACCOUNT': 'service_account'}
POLL_SECONDS = 1


def _ok(res, what, changed_before=False):
    if res.get('failed'):
        raise HostTaskError('%s: %s' % (what, res.get('msg') or 'failed'), changed=changed_before)
    return res


# ------------------------------------------------------------------------------------------ target adapters
class _Service:
    kind = 'service'

    def __init__(self, call, params):
        self.call, self.name = call, params['name']

    def read(self):
        res = _ok(self.call('ansible.windows.win_service_info', dict(name=self.name)), "service '%s'" % self.name)
        svcs = [s for s in res.get('services') or [] if s.get('name', '').lower() == self.name.lower()]
        if not svcs:
            raise HostTaskError("service '%s' does not exist on this host" % self.name)
        s = svcs[0]
        return dict(account=s.get('username'), running=s.get('state') == 'started', raw=s)

    def exit_code(self):
        """The Win32 code of the last start (win_service_info's win32_exit_code, W8), 0 when unknown."""
        try:
            return int(self.read()['raw'].get('win32_exit_code') or 0)
        except (HostTaskError, TypeError, ValueError):
            return 0

    def refuse(self, current, wanted):
        """What the SCM would refuse, known before the first write (W9, W15)."""
        if sql_server_service(self.name):
            return ("service '%s' is a SQL Server Database Engine or Agent service: Microsoft supports changing its "
                    'account only through SQL Server Configuration Manager or its WMI provider, which also grants the '
                    'permissions the service needs; the plain service API does not (W15). Use type: '
                    'sql_server_service, which changes it through that provider. Nothing was changed.' % self.name)
        if current['raw'].get('service_type') == 'win32_share_process' and wanted.kind != 'builtin':
            return ("service '%s' runs in a shared process (win32_share_process): every service of one process runs "
                    'under one account, so it would fail to start under %s (Windows error 1079, W9). Give it its own '
                    "process first ('sc.exe config %s type= own'). Nothing was changed." % (
                        self.name, wanted.spelled_for('service'), self.name))
        return None

    def set(self, identity, password=None, previous=None):
        # No password for managed, virtual and built-in accounts: SCManager itself passes an empty one for them
        # (W16). A password is given only to put a previous user account back (rollback_password).
        args = dict(name=self.name, username=identity.spelled_for('service'))
        if password is not None:
            args['password'] = password
        return _ok(self.call('ansible.windows.win_service', args),
                   "setting the logon account of service '%s'" % self.name)

    def start(self, restart):
        state = 'restarted' if restart else 'started'
        res = self.call('ansible.windows.win_service', dict(name=self.name, state=state))
        if res.get('failed'):
            # The module wrapper reports Start-Service's exception; the Win32 code is not in its text, only in
            # the service's status (W8), so it is read back for the message.
            code = self.exit_code()
            why = ' (%s)' % win32_error_text(code) if code else ''
            raise HostTaskError("starting service '%s': %s%s" % (self.name, res.get('msg') or 'failed', why))
        return res

    def stop(self):
        return _ok(self.call('ansible.windows.win_service', dict(name=self.name, state='stopped')),
                   "stopping service '%s'" % self.name)

    def validate(self, identity, timeout, sleep, clock):
        """Running within the timeout, or the SCM's reason (W8)."""
        deadline = clock() + timeout
        while True:
            self.after = self.read()            # the state after the task: not read again (fewer round trips)
            s = self.after['raw']
            if s.get('state') == 'started':
                return None
            if s.get('state') == 'stopped' or clock() >= deadline:
                code = s.get('win32_exit_code') or 0
                return 'the service is %s%s' % (
                    s.get('state'), (' (%s)' % win32_error_text(code)) if code else
                    (' after %d s' % timeout if s.get('state') != 'stopped' else ''))
            sleep(POLL_SECONDS)


class _AppPool:
    kind = 'iis_app_pool'

    def __init__(self, call, params):
        self.call, self.name = call, params['name']

    def read(self):
        res = _ok(self.call('microsoft.iis.web_app_pool_info', dict(name=self.name)),
                  "IIS application pool '%s'" % self.name)
        pools = [p for p in res.get('app_pools') or [] if p.get('name', '').lower() == self.name.lower()]
        if not pools:
            raise HostTaskError("IIS application pool '%s' does not exist on this host" % self.name)
        attrs = pools[0].get('attributes') or {}
        pm = attrs.get('processModel') or {}
        account = pm.get('userName') if pm.get('identityType') == 'SpecificUser' else pm.get('identityType')
        return dict(account=account, running=attrs.get('state') == 'Started', raw=attrs)

    def refuse(self, current, wanted):
        if wanted.kind == 'virtual':
            return 'NT SERVICE accounts are for services, not application pools (W19). Nothing was changed.'
        return None

    def set(self, identity, password=None, previous=None):
        if identity.kind == 'user':
            # web_app_pool does not mark its attributes no_log: a password given there would reach the host's
            # event log and its failure messages (W24). host_native takes it as a no_log option.
            return _ok(self.call(NATIVE, dict(operation='iis_set_pool_user', name=self.name,
                                              account=identity.spelled_for('service'), password=password or '')),
                       "setting the identity of application pool '%s'" % self.name)
        if identity.kind == 'gmsa':
            attrs = {'processModel.identityType': 'SpecificUser',
                     'processModel.userName': identity.spelled_for('service'), 'processModel.password': ''}
        else:
            attrs = {'processModel.identityType': identity.spelled_for('iis_app_pool')}
        return _ok(self.call('microsoft.iis.web_app_pool', dict(name=self.name, attributes=attrs)),
                   "setting the identity of application pool '%s'" % self.name)

    def start(self, restart):
        state = 'restarted' if restart else 'started'
        return _ok(self.call('microsoft.iis.web_app_pool', dict(name=self.name, state=state)),
                   "starting application pool '%s'" % self.name)

    def stop(self):
        return _ok(self.call('microsoft.iis.web_app_pool', dict(name=self.name, state='stopped')),
                   "stopping application pool '%s'" % self.name)

    def validate(self, identity, timeout, sleep, clock):
        """A pool reports Started at once; the identity logs on only when a worker process starts (W12). The probe
        makes one start (startMode AlwaysRunning for the probe, then put back) and reports what IIS did."""
        res = _ok(self.call(NATIVE, dict(operation='iis_worker_probe', name=self.name, timeout=timeout)),
                  "probing application pool '%s'" % self.name)
        if res.get('worker_started') and res.get('pool_state') == 'Started':
            want = identity.spelled_for('service').lower() if identity.kind == 'gmsa' else None
            got = (res.get('worker_user') or '').lower()
            if want and got and got.split('\\')[-1] != want.split('\\')[-1]:
                return 'a worker process started, but as %s' % res.get('worker_user')
            return None
        return 'no worker process started within %d s (pool %s%s)' % (
            timeout, res.get('pool_state'), ': ' + res['error'] if res.get('error') else '')


class _Task:
    kind = 'scheduled_task'

    def __init__(self, call, params):
        self.call, self.name, self.path = call, params['name'], task_folder(params['path'])

    def where(self):
        return "scheduled task '%s' in folder '%s'" % (self.name, self.path)

    def read(self):
        res = _ok(self.call('community.windows.win_scheduled_task_stat', dict(name=self.name, path=self.path)),
                  self.where())
        if not res.get('task_exists'):
            raise HostTaskError('%s does not exist on this host%s' % (
                self.where(), '' if res.get('folder_exists', True) else ' (no such folder: give path)'))
        principal = res.get('principal') or {}
        return dict(account=principal.get('user_id'), running=False, raw=principal)

    def refuse(self, current, wanted):
        if wanted.kind in ('virtual', 'app_pool_identity'):
            return 'scheduled tasks run as a gMSA or as SYSTEM, LOCAL SERVICE or NETWORK SERVICE (W13). Nothing was changed.'
        return None

    def set(self, identity, password=None, previous=None):
        # Only the user and logon type are given, so the module keeps the task's run level, actions and
        # triggers (W14); a gMSA logs on as "password" with no password, built-ins as "service_account" (W13).
        # A user put back keeps the logon type it had (S4U, interactive: W22).
        logon = 'service_account' if identity.kind == 'builtin' else 'password'
        if identity.kind == 'user' and previous is not None:
            logon = TASK_LOGON_OPTION.get(previous.get('logon_type'), 'password')
        args = dict(name=self.name, path=self.path, username=identity.spelled_for('scheduled_task'),
                    logon_type=logon)
        if password is not None and logon != 'interactive_token':
            args['password'] = password
        return _ok(self.call('community.windows.win_scheduled_task', args), 'setting the principal of %s' % self.where())

    def start(self, restart):
        return {}          # a task runs on its triggers: nothing to restart

    def stop(self):
        return {}

    def validate(self, identity, timeout, sleep, clock):
        """Read back: the principal and logon type the Task Scheduler stored (W13). The logon itself happens only
        when the task runs, which this module does not trigger (it would run the task's actions)."""
        self.after = self.read()
        p = self.after['raw']
        if not same_identity(identity, classify_identity(p.get('user_id'), None, wanted=False), self.facts):
            return 'the task reads back as %s' % p.get('user_id')
        if identity.kind == 'gmsa' and p.get('logon_type') not in ('TASK_LOGON_PASSWORD', 'password'):
            return 'the task reads back with logon type %s, not password' % p.get('logon_type')
        return None


class _HostInstance:
    """A BizTalk host instance on this server: its logon changes only through WMI MSBTS_HostInstance's Uninstall
    and Install (W18), which host_native runs with errors made terminating and reports with their return values."""
    kind = 'biztalk_host_instance'

    def __init__(self, call, params):
        self.call, self.name = call, params['name']

    def native(self, operation, **args):
        args.update(operation=operation, name=self.name)
        return _ok(self.call(NATIVE, args), "BizTalk host instance '%s' (%s)" % (self.name, operation))

    def read(self):
        res = self.native('biztalk_read')
        if not res.get('exists'):
            raise HostTaskError("BizTalk host '%s' has no host instance on this server" % self.name)
        return dict(account=res.get('logon'), running=res.get('service_state') == 4, raw=res)

    def refuse(self, current, wanted):
        if wanted.kind != 'gmsa':
            return 'BizTalk host instances run under domain accounts; give the gMSA. Nothing was changed.'
        if not current['raw'].get('supports_gmsa'):
            return ('this BizTalk Server has no IsGmsaAccount parameter on MSBTS_HostInstance.Install, so it cannot run '
                    'a host instance under a gMSA (W18): that needs a gMSA-capable BizTalk Server version. Nothing was '
                    'changed.')
        return None

    def set(self, identity, password=None, previous=None):
        # A running host instance is stopped before Uninstall (W18); start() brings it back afterwards.
        stopped = False
        if self.read()['running']:
            self.stop()
            stopped = True
        res = self.native('biztalk_install', account=identity.spelled_for('service'), is_gmsa=identity.kind == 'gmsa',
                          password=password)
        if res.get('uninstall_return') not in (0, None):
            what = 'MSBTS_HostInstance.Uninstall returned %s%s; the host instance keeps its logon' % (
                res.get('uninstall_return'), ' (%s)' % res['error'] if res.get('error') else '')
            if stopped:
                try:
                    self.start(False)
                except HostTaskError as e:
                    raise HostTaskError('%s, but it was stopped for the change and starting it again failed: %s' % (
                        what, e.msg), changed=True) from None
                what += ' (it was stopped for the change and started again)'
            raise HostTaskError(what)
        if res.get('install_return') != 0:
            raise HostTaskError('MSBTS_HostInstance.Install under %s returned %s (%s) after Uninstall succeeded' % (
                identity.spelled_for('service'), res.get('install_return'), res.get('error') or ''), changed=True)
        return res

    def start(self, restart):
        res = self.native('biztalk_start')
        if res.get('return_value') != 0:
            raise HostTaskError('MSBTS_HostInstance.Start returned %s' % res.get('return_value'))
        return res

    def stop(self):
        res = self.native('biztalk_stop')
        if res.get('return_value') != 0:
            raise HostTaskError('MSBTS_HostInstance.Stop returned %s' % res.get('return_value'))
        return res

    def validate(self, identity, timeout, sleep, clock):
        self.after = self.read()
        state = self.after['raw'].get('service_state')
        return None if state == 4 else 'the host instance is not running (ServiceState %s)' % state


class _SqlService(_Service):
    """A SQL Server Database Engine or Agent service. Its account is changed through SQL Server's WMI provider
    (SqlService.SetServiceAccount), which also gives the new account the permissions the service needs (W15);
    host_native makes that one call. Reading, starting and validating are those of a service."""
    kind = 'sql_server_service'

    def refuse(self, current, wanted):
        if not sql_server_service(self.name):
            return ("service '%s' is not a SQL Server Database Engine or Agent service (MSSQLSERVER, MSSQL$<instance>, "
                    "SQLSERVERAGENT, SQLAgent$<instance>); use type service. Nothing was changed." % self.name)
        if wanted.kind not in ('gmsa', 'virtual', 'builtin'):
            return 'SQL Server services run under a gMSA, a virtual or a built-in account (W15). Nothing was changed.'
        sql = _ok(self.call(NATIVE, dict(operation='sql_read', name=self.name)),
                  "SQL Server's WMI provider for '%s'" % self.name)
        if not sql.get('exists'):
            return ("SQL Server's WMI provider on this host does not know the service '%s'%s, so its account cannot be "
                    'changed the supported way (W15). Nothing was changed.' % (
                        self.name, '' if sql.get('namespace') else ' (no SQL Server WMI provider is installed)'))
        if sql.get('sql_service_type') not in (1, 2):
            return ("service '%s' is SqlServiceType %s for SQL Server's WMI provider, not the Database Engine (1) or "
                    'SQL Server Agent (2). Nothing was changed.' % (self.name, sql.get('sql_service_type')))
        if wanted.kind == 'gmsa' and int(sql.get('provider_version') or 0) < 12:
            return ('SQL Server supports gMSAs from SQL Server 2014 (provider version 12); this host has version %s '
                    '(W15). Nothing was changed.' % sql.get('provider_version'))
        return None

    def set(self, identity, password=None, previous=None):
        # An empty password for accounts without one, as SetServiceAccount documents (W15).
        res = _ok(self.call(NATIVE, dict(operation='sql_set_service_account', name=self.name,
                                         account=identity.spelled_for('service'),
                                         password=password if password is not None else '')),
                  "SqlService.SetServiceAccount of '%s'" % self.name)
        if res.get('return_value') != 0:
            raise HostTaskError("SqlService.SetServiceAccount of '%s' under %s returned %s%s; the account was left as it "
                                'was' % (self.name, identity.spelled_for('service'), res.get('return_value'),
                                         ' (%s)' % res['error'] if res.get('error') else ''))
        return res

    def start(self, restart):
        # The Database Engine has dependants (the Agent): they are stopped with it and started again (W15).
        state = 'restarted' if restart else 'started'
        args = dict(name=self.name, state=state)
        if restart:
            args['force_dependent_services'] = True
        res = self.call('ansible.windows.win_service', args)
        if res.get('failed'):
            code = self.exit_code()
            why = ' (%s)' % win32_error_text(code) if code else ''
            raise HostTaskError("starting service '%s': %s%s" % (self.name, res.get('msg') or 'failed', why))
        return res


TARGETS = {'service': _Service, 'iis_app_pool': _AppPool, 'scheduled_task': _Task,
           'biztalk_host_instance': _HostInstance, 'sql_server_service': _SqlService}


# ------------------------------------------------------------------------------------------ decisions
def validate_params(params):
    if not params['name'] or not params['name'].strip():
        raise HostTaskError('name: is empty')
    if not 1 <= params['validate_timeout'] <= 3600:
        raise HostTaskError('validate_timeout: %r is outside 1..3600 seconds' % params['validate_timeout'])
    path = params['path']
    if params['type'] == 'scheduled_task' and (not path or '\\\\' in path or any(c in path for c in '/:*?"<>|')):
        raise HostTaskError("path: %r is not a task folder path; write it as '\\' or '\\Folder\\Sub'" % path)
    try:
        classify_identity(params['account'], computer_domain='X', wanted=True)
    except ValueError as e:
        raise HostTaskError('account: %s' % e) from None


def policy_conflict(facts, names, right, identity, also=()):
    """A logon right that domain Group Policy defines replaces the local assignment at the next policy refresh
    (W11). Returns the GPO's name when neither the account (by SID or any spelling of its name) nor one of
    ``also`` (SIDs of groups that count, such as IIS_IUSRS for a pool) is listed in it, else None."""
    defined = (facts.get('policy_rights') or {}).get(right)
    if not defined:
        return None
    if policy_lists(defined.get('accounts') or [], identity, names, also):
        return None
    return defined.get('gpo') or 'a domain Group Policy object'


def plan(params, facts, names, current, wanted):
    """The ordered steps of the task, from what the host reported. Pure."""
    previous = classify_identity(current['account'], facts.get('domain_netbios'), wanted=False)
    steps = []
    right = LOGON_RIGHT[params['type']]
    if params['grant_logon_right'] and right and wanted.kind == 'gmsa' and \
            right not in (facts.get('account_rights') or []):
        steps.append('grant_logon_right')
    identity_changed = not same_identity(wanted, previous, names)
    if identity_changed:
        steps.append('set_identity')
    restart = params['restart'] == 'always' or (params['restart'] == 'changed' and identity_changed and current['running'])
    if params['type'] == 'scheduled_task':
        restart = False
    if restart:
        steps.append('restart' if current['running'] else 'start')
    if params['validate'] and identity_changed and (restart or params['type'] == 'scheduled_task'):
        steps.append('validate')
    return previous, steps


def run(params, call, check_mode=False, sleep=None, clock=None):
    """Read the host, plan the steps (``plan``), refuse or warn on what the host's settings make of them, and -
    unless in check mode - execute them (``_execute``). Returns the task's result."""
    validate_params(params)
    typ = params['type']
    if typ == 'service' and sql_server_service(params['name']):
        raise HostTaskError(_Service(call, params).refuse({'raw': {}}, None))
    target = TARGETS[typ](call, params)
    facts, names = _host_facts(params, call, target)
    warnings = []
    wanted, unresolved = _wanted_identity(params, facts, check_mode, warnings)
    current = target.read()
    refusal = target.refuse(current, wanted)
    if refusal:
        raise HostTaskError('%s: %s' % (typ, refusal))
    previous = classify_identity(current['account'], facts.get('domain_netbios'), wanted=False)
    if same_identity(wanted, previous, names) is None and not unresolved:
        # One name in two domain spellings: only the SIDs can tell (W6).
        other = _ok(call(NATIVE, dict(operation='facts', account=current['account'], rights=[])), 'reading the host')
        names['previous_sid'] = other.get('account_sid')
    previous, steps = plan(params, facts, names, current, wanted)
    _policy_warning(params, facts, names, wanted, unresolved, warnings)
    warnings.extend(_step_warnings(params, target, current, wanted, steps))
    result = _result(params, current, wanted, steps, warnings)
    if check_mode:
        return result
    _execute(params, call, target, facts, wanted, previous, current, steps, result, sleep, clock)
    if 'set_identity' in steps and result.get('stored_account'):
        result['account'] = result.pop('stored_account')    # as the target stores it (W21)
        result['diff']['after']['account'] = result['account']
    result.pop('stored_account', None)
    return result


def _host_facts(params, call, target):
    """The host's facts for the account (one native call), and the names comparing accounts needs: the
    computer's domain names and the SIDs (W6)."""
    right, policy_right = LOGON_RIGHT[params['type']], POLICY_RIGHT[params['type']]
    facts = _ok(call(NATIVE, dict(operation='facts', account=params['account'],
                                  rights=sorted({r for r in (right, policy_right) if r}))), 'reading the host')
    names = dict(domain_netbios=facts.get('domain_netbios'), domain_dns=facts.get('domain_dns'),
                 account_sid=facts.get('account_sid'))
    target.facts = names
    return facts, names


def _wanted_identity(params, facts, check_mode, warnings):
    """The identity the task asks for, spelled as the host reads it back, and whether it does not resolve on the
    host yet (refused in a real run; a warning in check mode, where the directory role has only planned it)."""
    try:
        wanted = classify_identity(params['account'], facts.get('domain_netbios'), wanted=True)
    except ValueError as e:
        raise HostTaskError('account: %s' % e) from None
    if wanted.domain and facts.get('domain_netbios') and wanted.domain.lower() == str(facts.get('domain_dns') or '').lower():
        wanted.domain = facts['domain_netbios']          # the SCM and LSA read it back as NETBIOS\name$ (W6, W21)
    unresolved = wanted.kind == 'gmsa' and not facts.get('account_sid')
    if unresolved and not check_mode:
        raise HostTaskError("account: '%s' does not resolve on this host (%s). Create it with gmsa.farm.gmsa and "
                            'install it with gmsa.farm.gmsa_host first. Nothing was changed.' % (
                                wanted.spelled_for('service'), facts.get('account_error') or 'unknown account'))
    if unresolved:
        # A check run of a new farm: the directory role has only planned the gMSA, so it cannot resolve yet.
        warnings.append("Check mode: '%s' does not resolve on this host yet (%s); a real run needs it created "
                        '(gmsa.farm.gmsa) and installed (gmsa.farm.gmsa_host) first, as the farm roles do before '
                        'this task. Predicting the rebind a real run makes.' % (
                            wanted.spelled_for('service'), facts.get('account_error') or 'unknown account'))
    return wanted, unresolved


def _policy_warning(params, facts, names, wanted, unresolved, warnings):
    """A logon right that Group Policy defines on the host would be replaced at the next refresh (W11): refused
    with logon_right_gpo=fail (a check run only says a real run fails), else a warning."""
    typ = params['type']
    policy_right = POLICY_RIGHT[typ]
    if not (policy_right and wanted.kind == 'gmsa'):
        return
    gpo = policy_conflict(facts, names, policy_right, wanted, also=[IIS_IUSRS_SID] if typ == 'iis_app_pool' else [])
    if not gpo:
        return
    msg = ('%s is defined by Group Policy (%s) on this host: a locally granted right is replaced at the next '
           'policy refresh, and the %s would then fail to log on (W11). Add %s, or a group it is in%s, to '
           "that policy's %s list; if it already gets the right through a group, set logon_right_gpo: warn." % (
               policy_right, gpo, typ.replace('_', ' '), wanted.spelled_for('service'),
               ' (IIS_IUSRS for an application pool, W12)' if typ == 'iis_app_pool' else '', policy_right))
    if params['logon_right_gpo'] == 'fail' and not unresolved:
        raise HostTaskError(msg + ' Nothing was changed.', warnings=warnings)
    if unresolved and params['logon_right_gpo'] == 'fail':
        # no SID yet to match '*S-1-...' entries: a real run decides, and fails unless the policy lists it
        msg = 'Check mode: a real run fails here unless the policy lists the account by SID. ' + msg
    warnings.append(msg)


def _step_warnings(params, target, current, wanted, steps):
    """What the planned rebind means for the service: privileges it requires (W10), a stopped service left
    stopped."""
    out = []
    typ = params['type']
    if typ == 'service' and current['raw'].get('required_privileges') and 'set_identity' in steps:
        out.append("service '%s' requires the privileges %s; the service fails to start unless %s holds them "
                   '(W10).' % (params['name'], ', '.join(current['raw']['required_privileges']),
                               wanted.spelled_for('service')))
    if 'set_identity' in steps and params['restart'] == 'changed' and not current['running'] and typ != 'scheduled_task':
        out.append('%s was not running, so it was left stopped; the new identity logs on at its next start '
                   '(restart: always starts and validates it now).' % target.name)
    return out


def _result(params, current, wanted, steps, warnings):
    typ = params['type']
    return dict(changed=bool(steps) and steps != ['validate'], type=typ, name=params['name'],
                account=wanted.spelled_for(typ),
                previous_account=current['account'], previous_running=current['running'],
                logon_right=LOGON_RIGHT[typ], logon_right_granted='grant_logon_right' in steps,
                restarted=any(s in steps for s in ('restart', 'start')), validated=False, rolled_back=False,
                plan=steps, warnings=warnings,
                diff=dict(before=dict(account=current['account'], running=current['running']),
                          after=dict(account=wanted.spelled_for(typ), running=current['running'] or 'start' in steps)))


def _execute(params, call, target, facts, wanted, previous, current, steps, result, sleep, clock):
    done = []
    account = result['account']

    def fail(msg):
        # The warnings go with the failure: one of them may explain it (a GPO-defined right, W11).
        raise HostTaskError(msg, changed=bool(done), **{k: v for k, v in result.items() if k not in ('changed', 'diff')})

    try:
        if 'grant_logon_right' in steps:
            grant = dict(name=result['logon_right'], users=[account], action='add')
            _ok(call('ansible.windows.win_user_right', grant),
                'granting %s to %s' % (result['logon_right'], account))
            done.append('granted %s to %s' % (result['logon_right'], account))
        if 'set_identity' in steps:
            target.set(wanted)
            done.append('set the identity to %s' % account)
        if 'restart' in steps or 'start' in steps:
            target.start(restart='restart' in steps)
            done.append('restarted' if 'restart' in steps else 'started')
    except HostTaskError as e:
        problem = e.msg
        if e.changed:          # the write itself got half way (a BizTalk host instance uninstalled, not reinstalled)
            done.append('set the identity half way')
        if not any(d.startswith('set ') for d in done):
            fail('%s. %s' % (problem, ('Already done: %s.' % '; '.join(done)) if done else 'Nothing was changed.'))
        _rollback_and_fail(params, call, target, previous, current, result, done, problem, fail)
    if 'validate' in steps:
        problem = target.validate(wanted, params['validate_timeout'], sleep, clock)
        if problem:
            _rollback_and_fail(params, call, target, previous, current, result, done, problem, fail)
        result['validated'] = True
    try:
        # A validation that read the target left its state after the task (target.after); else read it now.
        after = getattr(target, 'after', None) if 'validate' in steps else None
        after = after or target.read()
        result['running'], result['stored_account'] = after['running'], after['account']
    except HostTaskError:
        result['running'] = None


def _rollback_and_fail(params, call, target, previous, current, result, done, problem, fail):
    """Put the previous identity back, then the previous run state, and report each step on its own (W8)."""
    what = "%s '%s' under %s: %s." % (params['type'].replace('_', ' '), params['name'], result['account'], problem)
    password = params.get('rollback_password')
    if previous is None or (previous.needs_password and password is None):
        fail('%s The previous identity %r needs a password (rollback_password) or is unknown, so it was not put back '
             'automatically. Done before the failure: %s.' % (what, current['account'], '; '.join(done)))
    notes = []
    try:
        target.set(previous, password if previous.needs_password else None, previous=current['raw'])
        notes.append("the previous identity '%s' was put back" % current['account'])
        result['rolled_back'] = True
    except HostTaskError as e:
        fail("%s Putting the previous identity '%s' back failed too: %s. Done before the failure: %s." % (
            what, current['account'], e.msg, '; '.join(done)))
    if result['logon_right_granted']:
        revoke = dict(name=result['logon_right'], users=[result['account']], action='remove')
        res = call('ansible.windows.win_user_right', revoke)
        notes.append('the %s granted by this task was %s' % (
            result['logon_right'], 'removed again' if not res.get('failed') else 'left in place (removing it failed: %s)'
            % res.get('msg')))
    try:
        if current['running']:
            target.start(restart=True)
            notes.append('the %s was started again' % target.kind.replace('_', ' '))
        elif any(d in ('started', 'restarted') for d in done):
            target.stop()
            notes.append('the %s was stopped again, as it was before' % target.kind.replace('_', ' '))
    except HostTaskError as e:
        notes.append('but restoring its run state failed: %s' % e.msg)
    fail('%s Rolled back: %s.' % (what, '; '.join(notes)))
