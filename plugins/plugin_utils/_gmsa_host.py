# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: what gmsa.farm.gmsa_host does, decided on the controller.

The action plugin hands ``run()`` a ``call(module, args)`` function that runs a module on the host and returns its
result. The only module it calls for the account is ``gmsa.farm.host_native``, which makes one raw netapi32 call
per request and reports what Windows answered; every decision is made here, where tests execute it against a
simulated host (tests/unit/windows_sim.py). The rules follow docs/windows-facts.md (W<n>).
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.plugin_utils._windows_names import (
    CAN_INSTALL, CANNOT_INSTALL, INSTALLED, MSA_STATES, NOT_EXIST, NOT_SERVICE, STATUS_NO_SUCH_DOMAIN,
    STATUS_SUCCESS, HostTaskError, msa_name, status_name)

NATIVE = 'gmsa.farm.host_native'
# win_service_info names the "first IP address arrival" network trigger (W17).
NETWORK_TRIGGER = 'network_first_ip_arrival'

ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    refresh_tickets=dict(type='str', choices=['auto', 'always', 'never'], default='auto'),
    replication_timeout=dict(type='int', default=60),
    retry_interval=dict(type='int', default=5),
    force_offline=dict(type='bool', default=False),
    kdssvc_network_trigger=dict(type='bool', default=False),
)


def validate(params):
    """Everything that can be known before touching the host. Returns the account's domain as given (or None)
    and its bare name."""
    try:
        domain, name = msa_name(params['name'])
    except ValueError as e:
        raise HostTaskError('name: %s' % e) from None
    timeout, interval = params['replication_timeout'], params['retry_interval']
    if timeout < 0 or timeout > 3600:
        raise HostTaskError('replication_timeout: %r is outside 0..3600 seconds' % timeout)
    if interval < 1 or interval > 600:
        raise HostTaskError('retry_interval: %r is outside 1..600 seconds' % interval)
    if timeout and interval > timeout:
        raise HostTaskError('retry_interval: %d s is longer than replication_timeout (%d s), so no retry could happen '
                            'before the wait ends; make it shorter or set replication_timeout: 0' % (interval, timeout))
    if params['force_offline'] and params['state'] != 'absent':
        raise HostTaskError('force_offline: only applies with state=absent (state is %r)' % params['state'])
    return domain, name


def _state_name(state):
    return MSA_STATES.get(state, 'Unknown(%s)' % state)


def _cannot_hint(purged, waited):
    """Why the test fails with CannotInstall (W1: password not retrievable *or* no matching encryption type)."""
    parts = ['this computer cannot use the account (NetQueryServiceAccount: CannotInstall). Windows gives this '
             'answer when the computer may not retrieve the password, or when the account and the computer share no '
             'Kerberos encryption type (compare msDS-SupportedEncryptionTypes of both; AES is the norm).']
    if purged:
        parts.append('Its Kerberos tickets were purged and the test still fails after %d s, so the computer is not (yet) '
                     'among the principals allowed to retrieve the password on its domain controller: add it, or a '
                     'group it is in, with gmsa.farm.gmsa / gmsa.farm.host_group, and allow for replication '
                     '(replication_timeout).' % waited)
    else:
        parts.append('Either the computer is not allowed to retrieve the password, or its Kerberos tickets predate a '
                     'group change: use refresh_tickets=auto or reboot it.')
    return ' '.join(parts)


class _Host:
    """The account as the host reports it, refreshed by probe()."""

    def __init__(self, call, account, check_mode):
        self.call = call
        self.account = account
        self.check_mode = check_mode
        self.facts = {}

    def native(self, operation, **args):
        args.update(operation=operation, name=self.account)
        res = self.call(NATIVE, args)
        if res.get('failed'):
            raise HostTaskError('gmsa.farm.host_native %s failed on the host: %s' % (operation, res.get('msg')))
        return res

    def probe(self):
        self.facts = self.native('probe')
        if not self.facts.get('joined'):
            raise HostTaskError('this host is not joined to a domain, so it cannot use a managed service account')
        # A failed call answers no state: NetQueryServiceAccount's state is then 0 and NetIsServiceAccount's flag
        # false, which must not read as "not installed" (W1, W2).
        for call, key in (('NetQueryServiceAccount', 'query_status'), ('NetIsServiceAccount', 'is_service_account_status')):
            status = int(self.facts.get(key) or 0)
            if status != STATUS_SUCCESS:
                raise HostTaskError('%s: %s failed: %s, so this host cannot tell the account\'s state' % (
                    self.account, call, status_name(status)))
        return self.facts

    @property
    def state(self):
        return int(self.facts['query_state'])

    @property
    def in_store(self):
        return bool(self.facts['is_service_account'])

    def snapshot(self):
        return dict(state=_state_name(self.state), in_netlogon_store=self.in_store)


def run(params, call, check_mode=False, sleep=None, clock=None):
    """gmsa_host's whole task. Returns the result dict; raises HostTaskError on failure."""
    domain, account = validate(params)
    host = _Host(call, account, check_mode)
    result = dict(changed=False, name=account, tickets_purged=False, waited=0, warnings=[])
    host.probe()
    result['domain'] = host.facts.get('domain_netbios')
    mine = {str(host.facts.get(k) or '').lower() for k in ('domain_netbios', 'domain_dns')} - {''}
    if domain and domain.lower() not in mine:
        # The Net*ServiceAccount calls take a bare name and look it up in the computer's domain (W1, W6).
        raise HostTaskError("name: '%s' is in domain %s, but this host is in %s (%s); a managed service account is "
                            "used by computers of its own domain. Nothing was changed." % (
                                params['name'], domain, host.facts.get('domain_netbios'), host.facts.get('domain_dns')))
    before = host.snapshot()
    try:
        if params['state'] == 'absent':
            _absent(params, host, result)
        else:
            _present(params, host, result, sleep, clock)
        if params['kdssvc_network_trigger']:
            if str(host.facts.get('os_version') or '').startswith('6.3.'):
                _kdssvc_trigger(host, result)
            else:
                result['kdssvc_trigger_set'] = False
                result['warnings'].append(
                    'kdssvc_network_trigger: not applied - the KdsSvc boot workaround is for Windows Server 2012 R2 '
                    '(6.3), and this host runs %s (W17).' % (host.facts.get('os_version') or 'an unknown version'))
    except HostTaskError as e:
        e.changed = e.changed or result['changed']
        e.result.setdefault('name', account)
        e.result.setdefault('state', _state_name(host.state))
        e.result.setdefault('tickets_purged', result['tickets_purged'])
        raise
    result['state'] = _state_name(host.state)
    result['installed'] = host.in_store and host.state == INSTALLED
    result['diff'] = dict(before=before, after=host.snapshot())
    return result


def _purge(host, result):
    """Purge the computer's (0x3e7) Kerberos tickets so the next TGT carries its current groups (W5)."""
    res = host.native('purge_tickets')
    if int(res.get('rc', 1)) != 0:
        raise HostTaskError('klist -li 0x3e7 purge failed (exit code %s): %s' % (res.get('rc'), res.get('output', '')),
                            changed=result['changed'])
    result['tickets_purged'] = True
    host.probe()


def _present(params, host, result, sleep, clock):
    refresh = params['refresh_tickets']
    if refresh == 'always':
        if host.check_mode:
            result['tickets_purged'] = True     # would be purged; nothing to re-test in check mode
        else:
            _purge(host, result)
    # Wait for the account to become usable: NotExist (the account has not replicated to this host's DC yet, W7)
    # or CannotInstall (tickets predate the group change W5, or the grant has not replicated W7).
    deadline = clock() + params['replication_timeout'] if clock else None
    started = clock() if clock else 0
    while host.state in (NOT_EXIST, CANNOT_INSTALL):
        if host.check_mode:
            result['warnings'].append(
                'Check mode: this host cannot use %s yet (%s); a real run %swaits up to %d s for replication and '
                'installs it when it becomes usable. Predicting that it does.' % (
                    host.account, _state_name(host.state),
                    'purges the computer\'s Kerberos tickets, ' if refresh != 'never' else '',
                    params['replication_timeout']))
            result['changed'] = not host.in_store
            return
        if host.state == CANNOT_INSTALL and refresh != 'never' and not result['tickets_purged']:
            _purge(host, result)            # first: right away, the common case after a group change
            continue
        if clock is None or clock() >= deadline:
            result['waited'] = int(clock() - started) if clock else 0
            if host.state == NOT_EXIST:
                raise HostTaskError(
                    "%s: the account does not exist in the domain as this host's domain controller sees it (NotExist)%s. "
                    'Create it with gmsa.farm.gmsa first; if it was just created, allow for replication '
                    '(replication_timeout).' % (host.account, ' after waiting %d s' % result['waited']
                                                if result['waited'] else ''))
            raise HostTaskError('%s: %s' % (host.account, _cannot_hint(result['tickets_purged'], result['waited'])))
        sleep(params['retry_interval'])
        result['waited'] = int(clock() - started)
        if refresh != 'never' and host.state == CANNOT_INSTALL:
            _purge(host, result)            # each retry: the group change may have replicated meanwhile
        else:
            host.probe()
    if host.state == NOT_SERVICE:
        raise HostTaskError('%s exists in the domain but is not a managed service account (NotService)' % host.account)
    if host.state not in (INSTALLED, CAN_INSTALL):
        raise HostTaskError('%s: NetQueryServiceAccount returned an unexpected state %s' % (
            host.account, _state_name(host.state)))
    # Usable (Installed for a gMSA, CanInstall for an sMSA linked to this host, W1). Record it in the local
    # Netlogon store as Install-ADServiceAccount does, unless it is there already (W2, W3).
    if host.in_store and host.state == INSTALLED:
        return
    if not host.check_mode:
        res = host.native('add')
        if int(res['status']) != STATUS_SUCCESS:
            raise HostTaskError('%s: NetAddServiceAccount failed: %s' % (host.account, status_name(res['status'])))
    result['changed'] = True
    if host.check_mode:
        return
    host.probe()
    if not (host.in_store and host.state == INSTALLED):
        raise HostTaskError('%s: NetAddServiceAccount succeeded but the host then reports %s, in the Netlogon store: %s' % (
            host.account, _state_name(host.state), host.in_store), changed=True)


def _absent(params, host, result):
    """Remove the account from the local Netlogon store (W2, W4). The query state is not consulted: for a gMSA it
    stays Installed after the removal as long as the computer may retrieve the password (W1)."""
    if not host.in_store:
        return
    if host.check_mode:
        result['changed'] = True
        return
    status = int(host.native('remove', remove_flags=1)['status'])
    if status == STATUS_NO_SUCH_DOMAIN and params['force_offline']:
        result['removed_offline'] = True
        status = int(host.native('remove', remove_flags=2)['status'])
    if status != STATUS_SUCCESS:
        hint = ''
        if status == STATUS_NO_SUCH_DOMAIN and not params['force_offline']:
            hint = ' No domain controller answered: use force_offline=true to remove the local record anyway.'
        raise HostTaskError('%s: NetRemoveServiceAccount failed: %s. Nothing was changed.%s' % (
            host.account, status_name(status), hint))
    result['changed'] = True
    host.probe()
    if host.in_store:
        raise HostTaskError('%s: NetRemoveServiceAccount succeeded but NetIsServiceAccount still reports the account '
                            'in the Netlogon store' % host.account, changed=True)


def _kdssvc_trigger(host, result):
    """Windows Server 2012 R2 boot-hang workaround: start KdsSvc when the network comes up (W17). The native call
    appends the trigger to the ones KdsSvc has (``sc triggerinfo`` would replace them all)."""
    info = host.call('ansible.windows.win_service_info', dict(name='KdsSvc'))
    services = info.get('services') or []
    if info.get('failed') or not services:
        raise HostTaskError('KdsSvc: could not read the service (%s)' % (info.get('msg') or 'not found'),
                            changed=result['changed'])
    triggers = services[0].get('triggers') or []
    if any(t.get('sub_type') == NETWORK_TRIGGER and t.get('action') == 'start_service' for t in triggers):
        result['kdssvc_trigger_set'] = False
        return
    if not host.check_mode:
        res = host.call(NATIVE, dict(operation='kdssvc_add_network_trigger', name=host.account))
        if res.get('failed'):
            raise HostTaskError('KdsSvc: adding the network trigger failed: %s' % res.get('msg'))
    result['kdssvc_trigger_set'] = True
    result['changed'] = True
