"""A simulated Windows member host, built from documented behaviour (docs/windows-facts.md).

It answers the module calls the host-side action plugins make (gmsa.farm.host_native and the ansible.windows,
community.windows and microsoft.iis modules they drive) the way the documentation says Windows does. Each rule
names its fact (W<n>); test_host_side.py checks the references against the table. It records every call, so
tests can assert what was written (and that check mode wrote nothing).
"""
from __future__ import annotations

import copy

WRITES = {
    ('gmsa.farm.host_native', 'add'), ('gmsa.farm.host_native', 'remove'),
    ('gmsa.farm.host_native', 'purge_tickets'), ('gmsa.farm.host_native', 'kdssvc_add_network_trigger'),
    ('gmsa.farm.host_native', 'iis_worker_probe'), ('gmsa.farm.host_native', 'biztalk_install'),
    ('gmsa.farm.host_native', 'biztalk_start'), ('gmsa.farm.host_native', 'biztalk_stop'),
    ('ansible.windows.win_service', None), ('ansible.windows.win_user_right', None),
    ('microsoft.iis.web_app_pool', None), ('community.windows.win_scheduled_task', None),
}
STATUS_SUCCESS, STATUS_UNSUCCESSFUL, STATUS_NO_SUCH_DOMAIN = 0, 0xC0000001, 0xC00000DF
BUILTIN_SCM = {'localsystem', 'nt authority\\system', 'nt authority\\localservice', 'nt authority\\networkservice'}
BUILTIN_LSA = {'system', 'local service', 'network service', 'nt authority\\system', 'nt authority\\local service',
               'nt authority\\network service', 's-1-5-18', 's-1-5-19', 's-1-5-20'}


class Account:
    def __init__(self, name, kind='gmsa', allowed=(), enctypes_match=True, linked_host=None, visible_at=0.0):
        self.name, self.kind = name, kind
        self.allowed = set(allowed)
        self.enctypes_match = enctypes_match
        self.linked_host = linked_host
        self.visible_at = visible_at        # when replication brings it to the member's DC (W7)
        self.sid = 'S-1-5-21-1-2-3-%d' % (1100 + abs(hash(name)) % 1000)


class SimHost:
    def __init__(self, computer='WEB01', domain='CONTOSO', dns='contoso.com', user_domain=None):
        self.computer, self.domain, self.dns = computer, domain, dns
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
        self.calls = []
        self.fail_next = {}                # (module, key) -> message: inject a module failure once

    # ------------------------------------------------------------------ helpers for tests
    def add_gmsa(self, name, **kw):
        self.accounts[name.lower()] = Account(name, **kw)
        return self.accounts[name.lower()]

    def add_service(self, name, username='LocalSystem', state='started', service_type='win32_own_process',
                    required_privileges=(), start_fails=None):
        self.services[name.lower()] = dict(name=name, username=username, state=state, service_type=service_type,
                                           required_privileges=list(required_privileges), win32_exitcode=0,
                                           start_fails=start_fails)

    def add_pool(self, name, identity='ApplicationPoolIdentity', user='', state='Started'):
        self.pools[name.lower()] = dict(name=name, identityType=identity, userName=user, state=state,
                                        startMode='OnDemand')

    def add_task(self, name, path='\\', user='SYSTEM', logon_type='TASK_LOGON_SERVICE_ACCOUNT', run_level='highest'):
        self.tasks[(path.lower(), name.lower())] = dict(user_id=user, logon_type=logon_type, run_level=run_level,
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

    def _logon_ok(self, username, right):
        """Can this account log on with this right now? (W3, W8, W12, W13)"""
        u = username.lower()
        if u in BUILTIN_SCM or u in BUILTIN_LSA or u.startswith('nt service\\') or u == 'applicationpoolidentity':
            return True, 0
        acct = self._resolve(username)
        if acct is None or not self._can_retrieve(acct):
            return False, 1069
        if right and right not in self.rights.get(acct.sid, set()):
            return False, 1069                                      # W8
        return True, 0

    # ------------------------------------------------------------------ module dispatch
    def call(self, module, args):
        args = copy.deepcopy(args)
        self.calls.append((module, args))
        key = (module, args.get('operation') or args.get('state') or args.get('action'))
        if key in self.fail_next:
            return dict(failed=True, msg=self.fail_next.pop(key))
        handler = getattr(self, '_m_' + module.replace('.', '_'))
        return handler(args)

    def _m_gmsa_farm_host_native(self, a):
        op = a['operation']
        if op == 'probe':
            return dict(joined=self.joined, domain_netbios=self.domain if self.joined else None,
                        domain_dns=self.dns if self.joined else None, query_status=0,
                        query_state=self._query_state(a['name']), is_service_account_status=0,
                        is_service_account=a['name'].lower() in self.store)      # W2
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
                    out.update(account_sid='S-1-5-18', account_rights=[])
                else:
                    acct = self._resolve(acc)
                    if acct is None:
                        out.update(account_sid=None, account_error='No mapping between account names and '
                                                                   'security IDs was done.')
                    else:
                        out.update(account_sid=acct.sid, account_rights=sorted(self.rights.get(acct.sid, ())))
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
                return dict(exists=False)
            return dict(exists=True, logon=hi['logon'], service_state=hi['state'])
        if op == 'biztalk_install':
            hi = self.biztalk[a['name'].lower()]
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
        raise AssertionError('unknown operation %s' % op)

    def _m_ansible_windows_win_service_info(self, a):
        s = self.services.get(a['name'].lower())
        if a['name'].lower() == 'kdssvc':
            return dict(exists=True, services=[dict(name='KdsSvc', state='stopped',
                                                    triggers=copy.deepcopy(self.kdssvc_triggers))])
        if s is None:
            return dict(exists=False, services=[])
        return dict(exists=True, services=[{k: v for k, v in s.items() if k != 'start_fails'}])

    def _m_ansible_windows_win_service(self, a):
        s = self.services[a['name'].lower()]
        if 'password' in a:
            assert not a['username'].endswith('$') and a['username'].lower() not in BUILTIN_SCM, \
                'managed, virtual and built-in accounts are set without a password (W16)'
        if 'username' in a:
            s['username'] = a['username']
        state = a.get('state')
        if state == 'stopped':
            s['state'] = 'stopped'
        elif state in ('started', 'restarted'):
            if s['start_fails']:
                s['state'], s['win32_exitcode'] = 'stopped', s['start_fails']
                return dict(failed=True, msg='Failed to start service %s: Windows error %d' % (s['name'],
                                                                                               s['start_fails']))
            ok, code = self._logon_ok(s['username'], 'SeServiceLogonRight')            # W8
            if ok and s['service_type'] == 'win32_share_process' and s['username'].lower() not in BUILTIN_SCM:
                ok, code = False, 1079                                                 # W9
            if ok and s['required_privileges'] and s['username'].lower() not in BUILTIN_SCM:
                ok, code = False, 1314                                                 # W10
            s['state'], s['win32_exitcode'] = ('started', 0) if ok else ('stopped', code)
            if not ok:
                return dict(failed=True, msg='Service %s failed to start: Windows error %d' % (s['name'], code))
        return dict(changed=True)

    def _m_ansible_windows_win_user_right(self, a):
        acct = self._resolve(a['users'][0])
        assert acct is not None, 'win_user_right cannot translate %s' % a['users'][0]
        held = self.rights.setdefault(acct.sid, set())
        if a['action'] == 'add':
            held.add(a['name'])
        else:
            held.discard(a['name'])
        return dict(changed=True)

    def _m_microsoft_iis_web_app_pool_info(self, a):
        p = self.pools.get(a['name'].lower())
        if p is None:
            return dict(exists=False, app_pools=[])
        return dict(exists=True, app_pools=[dict(name=p['name'], attributes=dict(
            state=p['state'], startMode=p['startMode'],
            processModel=dict(identityType=p['identityType'], userName=p['userName'])))])

    def _m_microsoft_iis_web_app_pool(self, a):
        p = self.pools[a['name'].lower()]
        attrs = a.get('attributes') or {}
        if 'processModel.identityType' in attrs:
            p['identityType'] = attrs['processModel.identityType']
            p['userName'] = attrs.get('processModel.userName', '') if p['identityType'] == 'SpecificUser' else ''
        if a.get('state') in ('started', 'restarted'):
            p['state'] = 'Started'                                  # at once, before any logon (W12)
        elif a.get('state') == 'stopped':
            p['state'] = 'Stopped'
        return dict(changed=True)

    def _m_community_windows_win_scheduled_task_stat(self, a):
        path = a.get('path', '\\')
        t = self.tasks.get((path.lower(), a['name'].lower()))
        folder = any(p == path.lower() for p, _n in self.tasks)
        if t is None:
            return dict(task_exists=False, folder_exists=folder)
        return dict(task_exists=True, folder_exists=True, principal=dict(
            user_id=t['user_id'], logon_type=t['logon_type'], run_level=t['run_level']))

    def _m_community_windows_win_scheduled_task(self, a):
        path = a.get('path', '\\')                                  # default root folder (W14)
        t = self.tasks.get((path.lower(), a['name'].lower()))
        if t is None:
            assert a.get('actions'), 'creating a task needs actions'
        user = a['username']
        if user.lower() == 'localsystem':
            return dict(failed=True, msg='failed to convert LocalSystem to a SID')   # W13
        if user.endswith('$') and self._resolve(user) is None:
            return dict(failed=True, msg='failed to convert %s to a SID' % user)
        t['user_id'] = user                                         # only what is given changes (W14)
        t['logon_type'] = {'password': 'TASK_LOGON_PASSWORD',
                           'service_account': 'TASK_LOGON_SERVICE_ACCOUNT'}[a['logon_type']]
        return dict(changed=True)
