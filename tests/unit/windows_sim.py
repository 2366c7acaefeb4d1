"""A simulated Windows member host, built from documented behaviour (docs/windows-facts.md).

It answers the module calls the host-side action plugins make (gmsa.farm.host_native and the ansible.windows,
community.windows and microsoft.iis modules they drive) the way the documentation says Windows does. Each rule
names its fact (W<n>); test_gmsa_host_and_service_identity.py checks the references against the table. It records
every call, so tests can assert what was written (and that check mode wrote nothing).
"""
from __future__ import annotations

import copy
import zlib

import module_shapes

WRITES = {
    ('gmsa.farm.host_native', 'add'), ('gmsa.farm.host_native', 'remove'),
    ('gmsa.farm.host_native', 'purge_tickets'), ('gmsa.farm.host_native', 'kdssvc_add_network_trigger'),
    ('gmsa.farm.host_native', 'iis_worker_probe'), ('gmsa.farm.host_native', 'biztalk_install'),
    ('gmsa.farm.host_native', 'biztalk_start'), ('gmsa.farm.host_native', 'biztalk_stop'),
    ('gmsa.farm.host_native', 'iis_set_pool_user'), ('gmsa.farm.host_native', 'sql_set_service_account'),
    ('ansible.windows.win_service', None), ('ansible.windows.win_user_right', None),
    ('microsoft.iis.web_app_pool', None), ('community.windows.win_scheduled_task', None),
}
STATUS_SUCCESS, STATUS_UNSUCCESSFUL, STATUS_NO_SUCH_DOMAIN = 0, 0xC0000001, 0xC00000DF
BUILTIN_SCM = {'localsystem', 'nt authority\\system', 'nt authority\\localservice', 'nt authority\\networkservice'}
# What LSA's SID-to-name translation gives for the built-in accounts: the SCM stores it as the start name when
# win_service sets an account (SCManager sets the account by SID), except LocalSystem, and win_service_info and
# win_scheduled_task_stat read names back through it (W21).
TRANSLATED = {'S-1-5-18': 'NT AUTHORITY\\SYSTEM', 'S-1-5-19': 'NT AUTHORITY\\LOCAL SERVICE',
              'S-1-5-20': 'NT AUTHORITY\\NETWORK SERVICE'}
BUILTIN_SIDS = {'localsystem': 'S-1-5-18', 'system': 'S-1-5-18', 'nt authority\\system': 'S-1-5-18', 's-1-5-18': 'S-1-5-18',
                'local service': 'S-1-5-19', 'localservice': 'S-1-5-19', 'nt authority\\local service': 'S-1-5-19',
                'nt authority\\localservice': 'S-1-5-19', 's-1-5-19': 'S-1-5-19',
                'network service': 'S-1-5-20', 'networkservice': 'S-1-5-20', 'nt authority\\network service': 'S-1-5-20',
                'nt authority\\networkservice': 'S-1-5-20', 's-1-5-20': 'S-1-5-20'}
WRAPPER = 'Unhandled exception while executing module: '      # the module wrapper's text (W23)
NOT_TRANSLATED = 'Exception calling "Translate" with "1" argument(s): "Some or all identity references could not be translated."'
BUILTIN_LSA = {'system', 'local service', 'network service', 'nt authority\\system', 'nt authority\\local service',
               'nt authority\\network service', 's-1-5-18', 's-1-5-19', 's-1-5-20'}


class Account:
    def __init__(self, name, kind='gmsa', allowed=(), enctypes_match=True, linked_host=None, visible_at=0.0):
        self.name, self.kind = name, kind
        self.allowed = set(allowed)
        self.enctypes_match = enctypes_match
        self.linked_host = linked_host
        self.visible_at = visible_at        # when replication brings it to the member's DC (W7)
        self.sid = 'S-1-5-21-1-2-3-%d' % (1100 + zlib.crc32(name.lower().encode()) % 1000)


class SimHost:
    def __init__(self, computer='WEB01', domain='CONTOSO', dns='contoso.com', user_domain=None, strict=True):
        self.computer, self.domain, self.dns = computer, domain, dns
        self.strict = strict               # check every call and answer against the real modules (module_shapes)
        self.user_domain = user_domain or computer   # $env:USERDOMAIN of a local-admin WinRM user (W6)
        self.joined = True
        self.dc_reachable = True
        self.now = 0.0
        self.accounts = {}
        self.groups = set()                # the computer's groups on its DC now
        self.groups_visible_at = 0.0       # when a group change replicated to the member's DC (W7)
        self.ticket_groups = set()         # the groups in the computer's current TGT (W5)
        self.store = set()                 # the Netlogon store (W2)
        self.rights = {}                   # SID -> set of rights assigned locally (W8, W11)
        self.gpo_rights = {}               # right -> {'accounts': [...], 'gpo': name} (W11)
        self.services = {}
        self.kdssvc_triggers = [dict(type='rpc_interface_event', sub_type='rpc_interface_event',
                                     action='start_service')]
        self.pools = {}
        self.tasks = {}
        self.biztalk = {}
        self.biztalk_gmsa = True            # MSBTS_HostInstance.Install has IsGmsaAccount (W18)
        self.os_version = '10.0.20348'        # Windows Server 2022; 2012 R2 is 6.3.9600 (W17)
        self.query_status = 0               # NTSTATUS of NetQueryServiceAccount / NetIsServiceAccount (W1, W2)
        self.is_service_status = 0
        self.sql_services = set()           # services SQL Server's WMI provider knows (W15)
        self.sql_version = 16               # its ComputerManagement<n> namespace: SQL Server 2022; 0 = none
        self.calls = []
        self.fail_next = {}                # (module, key) -> message: inject a module failure once

    # ------------------------------------------------------------------ helpers for tests
    def add_gmsa(self, name, **kw):
        self.accounts[name.lower()] = Account(name, **kw)
        return self.accounts[name.lower()]

    def add_user(self, name, **kw):
        """An ordinary domain user (a previous identity that needs its password to be put back)."""
        return self.add_gmsa(name, kind='user', **kw)

    def add_service(self, name, username='LocalSystem', state='started', service_type='win32_own_process',
                    required_privileges=(), start_fails=None):
        """username: the start name as the service's installer wrote it (read back as written, W21)."""
        self.services[name.lower()] = dict(name=name, username=username, state=state, service_type=service_type,
                                           required_privileges=list(required_privileges), win32_exit_code=0,
                                           start_fails=start_fails)

    def add_sql_service(self, name, username=None, state='started'):
        """A SQL Server service: setup writes its virtual account (NT Service\\MSSQLSERVER) as the start name."""
        self.add_service(name, username=username or 'NT Service\\' + name, state=state)
        self.sql_services.add(name.lower())

    def add_pool(self, name, identity='ApplicationPoolIdentity', user='', state='Started'):
        self.pools[name.lower()] = dict(name=name, identityType=identity, userName=user, state=state,
                                        startMode='OnDemand')

    def add_task(self, name, path='\\', user='NT AUTHORITY\\SYSTEM', logon_type='TASK_LOGON_SERVICE_ACCOUNT',
                 run_level='TASK_RUNLEVEL_HIGHEST', logon_type_code=None):
        self.tasks[(_folder(path), name.lower())] = dict(user_id=user, logon_type=logon_type, run_level=run_level,
                                                         actions=['C:\\job.cmd'])

    def sleep(self, seconds):
        self.now += seconds

    def clock(self):
        return self.now

    def writes(self):
        return [c for c in self.calls if (c[0], c[1].get('operation')) in WRITES or (c[0], None) in WRITES]

    def gpo_refresh(self):
        """Security policy refresh: rights a GPO defines replace the local assignment (W11)."""
        for right, spec in self.gpo_rights.items():
            listed = {a.lower() for a in spec['accounts']}
            for sid, held in self.rights.items():
                acct = self._account_by_sid(sid)
                names = {sid.lower()} | ({('%s\\%s$' % (self.domain, acct.name)).lower()} if acct else set())
                if right in held and not names & listed:
                    held.discard(right)

    # ------------------------------------------------------------------ directory as the member's DC sees it
    def _visible(self, name):
        a = self.accounts.get(name.lower())
        return a if a and a.visible_at <= self.now else None       # W7

    def _account_by_sid(self, sid):
        return next((a for a in self.accounts.values() if a.sid == sid), None)

    def _can_retrieve(self, acct):
        """Retrieval is granted through the computer itself or a group in its current ticket (W5), and needs a
        common Kerberos encryption type (W1)."""
        principals = {self.computer.lower() + '$'} | {g.lower() for g in self.ticket_groups}
        return bool(principals & {p.lower() for p in acct.allowed}) and acct.enctypes_match

    def _query_state(self, name):
        acct = self._visible(name)
        if acct is None:
            return 1                                                # NotExist (W1)
        if acct.kind == 'user':
            return 2                                                # NotService (W1)
        if acct.kind == 'smsa':
            if (acct.linked_host or '').lower() != self.computer.lower():
                return 3
            return 5 if acct.name.lower() in self.store else 4       # CanInstall only for an sMSA (W1)
        return 5 if self._can_retrieve(acct) else 3                 # a gMSA: never 4 (W1)

    def _resolve(self, account):
        """LSA name translation: DOMAIN\\name$ or name$@dns for a visible account (W6, W13)."""
        a = account.strip()
        if '\\' in a:
            dom, n = a.split('\\', 1)
            if dom.lower() not in (self.domain.lower(), self.dns.lower()):
                return None
        elif '@' in a:
            n, dom = a.split('@', 1)
            if dom.lower() != self.dns.lower():
                return None
        else:
            return None
        return self._visible(n.rstrip('$'))

    def _sid(self, name):
        """LSA name-to-SID translation, as NTAccount.Translate does it (None: not translated)."""
        low = name.strip().lower()
        if low in BUILTIN_SIDS:
            return BUILTIN_SIDS[low]
        if low.startswith('nt service\\'):
            return 'S-1-5-80-%d' % zlib.crc32(low[11:].encode())
        if low in ('applicationpoolidentity',):
            return None
        acct = self._resolve(name if ('\\' in name or '@' in name) else '%s\\%s' % (self.domain, name))
        return acct.sid if acct else None

    def _translated(self, name):
        """The SID's translation back to a name: DOMAIN\\name with the NetBIOS domain (W21)."""
        sid = self._sid(name)
        if sid is None:
            return None
        if sid in TRANSLATED:
            return TRANSLATED[sid]
        if sid.startswith('S-1-5-80-'):
            return 'NT SERVICE\\' + name.split('\\', 1)[1]
        acct = self._account_by_sid(sid)
        return '%s\\%s%s' % (self.domain, acct.name, '$' if acct.kind != 'user' else '')

    def _logon_ok(self, username, right):
        """Can this account log on with this right now? (W3, W8, W12, W13)"""
        u = username.lower()
        if u in BUILTIN_SCM or u in BUILTIN_LSA or u.startswith('nt service\\') or u == 'applicationpoolidentity':
            return True, 0
        acct = self._resolve(username)
        if acct is None or acct.kind != 'user' and not self._can_retrieve(acct):
            return False, 1069                                      # a user logs on with its stored password
        if right and right not in self.rights.get(acct.sid, set()):
            return False, 1069                                      # W8
        return True, 0

    # ------------------------------------------------------------------ module dispatch
    def call(self, module, args):
        args = copy.deepcopy(args)
        self.calls.append((module, args))
        if self.strict:
            module_shapes.check_args(module, args)          # the real module would refuse anything else
        key = (module, args.get('operation') or args.get('state') or args.get('action'))
        if key in self.fail_next:
            res = dict(failed=True, msg=self.fail_next.pop(key))
        else:
            res = getattr(self, '_m_' + module.replace('.', '_'))(args)
        if not self.strict:
            return res
        module_shapes.check_result(module, res)             # only keys the real module returns
        module_shapes.check_spelling(module, res)           # account names as the real module spells them
        if res.get('failed'):
            module_shapes.check_failure(module, res['msg'])  # only texts the real module produces
        return module_shapes.tracked(module, res)           # and the plugin reads only keys it returns

    def _m_gmsa_farm_host_native(self, a):
        op = a['operation']
        if op == 'probe':
            return dict(joined=self.joined, domain_netbios=self.domain if self.joined else None,
                        domain_dns=self.dns if self.joined else None, query_status=self.query_status,
                        query_state=self._query_state(a['name']) if not self.query_status else 0,
                        is_service_account_status=self.is_service_status,
                        is_service_account=a['name'].lower() in self.store and not self.is_service_status,  # W2
                        os_version=self.os_version)
        if op == 'add':
            acct = self._visible(a['name'])
            state = self._query_state(a['name'])
            if acct is None or state not in (4, 5):
                return dict(status=STATUS_UNSUCCESSFUL, changed=False)           # W3
            self.store.add(a['name'].lower())
            return dict(status=STATUS_SUCCESS, changed=True)
        if op == 'remove':
            if a.get('remove_flags', 1) == 1 and not self.dc_reachable:
                return dict(status=STATUS_NO_SUCH_DOMAIN, changed=False)         # W4
            self.store.discard(a['name'].lower())
            return dict(status=STATUS_SUCCESS, changed=True)
        if op == 'purge_tickets':
            if self.groups_visible_at <= self.now:                   # W5, W7: the next TGT has the DC's groups
                self.ticket_groups = set(self.groups)
            return dict(rc=0, output='Ticket(s) purged!')
        if op == 'kdssvc_add_network_trigger':
            self.kdssvc_triggers.append(dict(type='ip_address_availability', sub_type='network_first_ip_arrival',
                                             action='start_service'))            # appended, not replaced (W17)
            return dict(changed=True, trigger_count=len(self.kdssvc_triggers))
        if op == 'facts':
            out = dict(joined=self.joined, domain_netbios=self.domain, domain_dns=self.dns, policy_rights={})
            acc = a.get('account')
            if acc:
                if '\\' not in acc and '@' not in acc and acc.endswith('$'):
                    acc = '%s\\%s' % (self.domain, acc)                         # W6: the computer's domain
                low = acc.lower()
                if low in BUILTIN_LSA or low in BUILTIN_SCM or low.startswith('nt service\\') or \
                        low == 'applicationpoolidentity':
                    out.update(account_sid=self._sid(acc) or 'S-1-5-82-1', account_rights=[], account_rights_status=0)
                else:
                    acct = self._resolve(acc)
                    if acct is None:
                        out.update(account_sid=None, account_error='No mapping between account names and '
                                                                   'security IDs was done.')
                    else:
                        out.update(account_sid=acct.sid, account_rights=sorted(self.rights.get(acct.sid, ())),
                                   account_rights_status=0)
            for right in a.get('rights') or []:
                if right in self.gpo_rights:
                    out['policy_rights'][right] = copy.deepcopy(self.gpo_rights[right])   # W11
            return out
        if op == 'iis_worker_probe':
            pool = self.pools[a['name'].lower()]
            user = pool['userName'] if pool['identityType'] == 'SpecificUser' else pool['identityType']
            ok, _code = self._logon_ok(user, None)                   # IIS grants the batch right (W12)
            if ok:
                pool['state'] = 'Started'
                return dict(worker_started=True, worker_user=user, pool_state='Started')
            pool['state'] = 'Stopped'                                # WAS stops the pool (W12)
            return dict(worker_started=False, worker_user=None, pool_state='Stopped')
        if op == 'biztalk_read':
            hi = self.biztalk.get(a['name'].lower())
            if hi is None:
                return dict(exists=False, supports_gmsa=self.biztalk_gmsa)
            return dict(exists=True, logon=hi['logon'], service_state=hi['state'], supports_gmsa=self.biztalk_gmsa)
        if op == 'biztalk_install':
            hi = self.biztalk[a['name'].lower()]
            if hi['state'] == 4:                                     # Uninstall of a running instance (W18)
                return dict(uninstall_return=-1, error='The host instance must be stopped before it is uninstalled')
            assert self.biztalk_gmsa or not a.get('is_gmsa'), 'no IsGmsaAccount on this BizTalk version (W18)'
            ok, _code = self._logon_ok(a['account'], None) if a.get('is_gmsa') else (bool(a.get('password')), 0)
            hi['logon'] = None                                       # Uninstall ran (W18)
            if not ok:
                return dict(uninstall_return=0, install_return=0xC0C025B2,
                            error='Install failed: the logon could not be validated')
            hi['logon'], hi['password_ok'] = a['account'], not a.get('is_gmsa')
            return dict(uninstall_return=0, install_return=0)
        if op == 'biztalk_start':
            hi = self.biztalk[a['name'].lower()]
            ok = hi['logon'] is not None and (hi.pop('password_ok', False) or self._logon_ok(hi['logon'], None)[0])
            hi['state'] = 4 if ok else 1
            return dict(return_value=0 if ok else 1069)
        if op == 'biztalk_stop':
            self.biztalk[a['name'].lower()]['state'] = 1
            return dict(return_value=0)
        if op == 'iis_set_pool_user':
            pool = self.pools[a['name'].lower()]
            pool.update(identityType='SpecificUser', userName=a['account'], password_ok=bool(a.get('password')))
            return dict(changed=True)
        if op == 'sql_read':
            # the provider's SqlService instance of the service: SqlServiceType 1 Engine, 2 Agent (W15)
            if not self.sql_version:
                return dict(exists=False)
            known = a['name'].lower() in self.sql_services
            out = dict(exists=known, namespace='root\\Microsoft\\SqlServer\\ComputerManagement%d' % self.sql_version,
                       provider_version=self.sql_version)
            if known:
                out['sql_service_type'] = 2 if a['name'].lower().startswith(('sqlagent', 'sqlserveragent')) else 1
            return out
        if op == 'sql_set_service_account':
            # SqlService.SetServiceAccount: 0 on success, and the provider gives the account what the service
            # needs, the logon right included (W15)
            s = self.services.get(a['name'].lower())
            if s is None or a['name'].lower() not in self.sql_services:
                return dict(failed=True, msg="SQL Server service '%s' is not known to "
                                             'root\\Microsoft\\SqlServer\\ComputerManagement16' % a['name'])
            sid = self._sid(a['account'])
            if sid is None:
                return dict(return_value=-1, error=NOT_TRANSLATED, namespace='root\\Microsoft\\SqlServer\\ComputerManagement16')
            s['username'] = self._translated(a['account'])
            self.rights.setdefault(sid, set()).add('SeServiceLogonRight')
            return dict(changed=True, return_value=0, namespace='root\\Microsoft\\SqlServer\\ComputerManagement16')
        raise AssertionError('unknown operation %s' % op)

    def _m_ansible_windows_win_ping(self, a):
        # the farm playbooks' preflight: win_ping.ps1 sets only ping (the data option, default pong)
        return dict(changed=False, ping=a.get('data', 'pong'))

    def _m_ansible_windows_win_service_info(self, a):
        s = self.services.get(a['name'].lower())
        if a['name'].lower() == 'kdssvc':
            return dict(exists=True, services=[dict(name='KdsSvc', state='stopped',
                                                    triggers=copy.deepcopy(self.kdssvc_triggers))])
        if s is None:
            return dict(exists=False, services=[])
        info = {k: v for k, v in s.items() if k != 'start_fails'}
        # SCManager's Account getter: the stored start name, LocalSystem read back as its translation (W21)
        if info['username'].lower() == 'localsystem':
            info['username'] = TRANSLATED['S-1-5-18']
        return dict(exists=True, services=[info])

    def _m_ansible_windows_win_service(self, a):
        s = self.services[a['name'].lower()]
        if 'username' in a:
            sid = self._sid(a['username'])
            if sid is None:                                          # ConvertTo-SecurityIdentifier throws
                return dict(failed=True, msg=WRAPPER + NOT_TRANSLATED)
            # SCManager sets the account by SID: the start name is the SID's translation, LocalSystem for SYSTEM,
            # and the password is "" for built-in and '$' accounts whatever was given (W16, W21)
            if 'password' in a:
                assert self._account_by_sid(sid) is not None and self._account_by_sid(sid).kind == 'user', \
                    'managed, virtual and built-in accounts are set without a password (W16)'
            s['username'] = 'LocalSystem' if sid == 'S-1-5-18' else self._translated(a['username'])
        state = a.get('state')
        if state == 'stopped':
            s['state'] = 'stopped'
        elif state in ('started', 'restarted'):
            if s['start_fails']:
                ok, code = False, s['start_fails']
            else:
                ok, code = self._logon_ok(s['username'], 'SeServiceLogonRight')        # W8
                if ok and s['service_type'] == 'win32_share_process' and self._sid(s['username']) not in TRANSLATED:
                    ok, code = False, 1079                                             # W9
                if ok and s['required_privileges'] and self._sid(s['username']) not in TRANSLATED:
                    ok, code = False, 1314                                             # W10
            s['state'], s['win32_exit_code'] = ('started', 0) if ok else ('stopped', code)
            if not ok:
                # Start-Service under the module wrapper's ErrorActionPreference Stop: the Win32 code is only in
                # the inner exception, and win32_exit_code of win_service_info (W8)
                return dict(failed=True, msg=WRAPPER + "Service '%s (%s)' cannot be started due to the following "
                            "error: Cannot start service %s on computer '.'." % (s['name'], s['name'], s['name']))
        return dict(changed=True, exists=True, name=s['name'], username=s['username'],
                    state='running' if s['state'] == 'started' else s['state'])

    def _m_ansible_windows_win_user_right(self, a):
        sids = []
        for user in a['users']:
            sid = self._sid(user)
            if sid is None:
                return dict(failed=True, msg="Failed to translate the account '%s' to a SID" % user)     # W23
            sids.append(sid)
        added, removed = [], []
        for sid in sids:
            held = self.rights.setdefault(sid, set())
            if a['action'] == 'add' and a['name'] not in held:
                held.add(a['name'])
                added.append(self._name_of(sid))
            elif a['action'] == 'remove' and a['name'] in held:
                held.discard(a['name'])
                removed.append(self._name_of(sid))
        return dict(changed=bool(added or removed), added=added, removed=removed)

    def _name_of(self, sid):
        if sid in TRANSLATED:
            return TRANSLATED[sid]
        acct = self._account_by_sid(sid)
        return '%s\\%s$' % (self.domain, acct.name) if acct else sid

    def _m_microsoft_iis_web_app_pool_info(self, a):
        p = self.pools.get(a['name'].lower())
        if p is None:
            return dict(failed=True, msg='Failed to fetch the info of the required application pool Exception: '
                                         'Cannot find path \'IIS:\\AppPools\\%s\' because it does not exist.' % a['name'])
        return dict(exists=True, app_pools=[dict(name=p['name'], attributes=dict(
            name=p['name'], state=p['state'], startMode=p['startMode'],
            processModel=dict(identityType=p['identityType'], userName=p['userName'])))])

    def _m_microsoft_iis_web_app_pool(self, a):
        p = self.pools[a['name'].lower()]
        attrs = a.get('attributes') or {}
        assert 'processModel.password' not in attrs or not attrs['processModel.password'], \
            'web_app_pool does not hide attributes: a password must not go through it'
        if 'processModel.identityType' in attrs:
            p['identityType'] = attrs['processModel.identityType']
            p['userName'] = attrs.get('processModel.userName', '') if p['identityType'] == 'SpecificUser' else ''
        if a.get('state') in ('started', 'restarted'):
            p['state'] = 'Started'                                  # at once, before any logon (W12)
        elif a.get('state') == 'stopped':
            p['state'] = 'Stopped'
        return dict(changed=True)

    def _m_community_windows_win_scheduled_task_stat(self, a):
        path = _folder(a.get('path', '\\'))
        t = self.tasks.get((path, a['name'].lower()))
        if not any(p == path for p, _n in self.tasks) and path != '\\':
            return dict(folder_exists=False, task_exists=False)
        if t is None:
            return dict(task_exists=False, folder_exists=True)
        # the principal's user_id goes through a SID translation (ConvertTo-NormalizedUser, W21)
        return dict(task_exists=True, folder_exists=True, principal=dict(
            user_id=self._translated(t['user_id']) or t['user_id'], logon_type=t['logon_type'],
            run_level=t['run_level']))

    def _m_community_windows_win_scheduled_task(self, a):
        path = _folder(a.get('path', '\\'))                         # the module strips a trailing '\' (W14)
        t = self.tasks.get((path, a['name'].lower()))
        if t is None:
            assert a.get('actions'), 'creating a task needs actions'
        user = a['username']
        sid = self._sid(user) if user.lower() != 'localsystem' else None
        if sid is None:
            return dict(failed=True, msg='account_name %s is not a valid account, cannot get SID: %s' % (
                user, NOT_TRANSLATED))                               # Convert-ToSID (W13)
        if a['logon_type'] == 'service_account' and sid not in TRANSLATED:
            return dict(failed=True, msg='username must be SYSTEM, LOCAL SERVICE or NETWORK SERVICE when '
                                         'logon_type=service_account')
        t['user_id'] = user                                         # only what is given changes (W14)
        t['logon_type'] = {'password': 'TASK_LOGON_PASSWORD', 's4u': 'TASK_LOGON_S4U',
                           'interactive_token': 'TASK_LOGON_INTERACTIVE_TOKEN',
                           'service_account': 'TASK_LOGON_SERVICE_ACCOUNT'}[a['logon_type']]
        return dict(changed=True)


def _folder(path):
    """A task folder path as the Task Scheduler names it: leading '\\', no trailing '\\' except the root."""
    p = path if path.startswith('\\') else '\\' + path
    return (p.rstrip('\\') or '\\').lower()
