# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: farm_credential_specs.yml beside this file.

import posixpath

from ansible.errors import AnsibleFilterError

from ansible_collections.gmsa.farm.plugins.filter.computer_accounts import computer_account, rollover_name

_SPEC_KEYS = ('account', 'name', 'inbound', 'additional_accounts', 'kubernetes', 'host_account_config')


def spec_name(spec):
    """The name a farm credential spec keeps across generations: its file's base name and its Kubernetes name."""
    return str(spec.get('name') or spec['account']).lower()


def farm_credential_specs(farm, hostvars=None, groups=None, generation='current', exclude=(), state='present'):
    """gmsa_farm (with containers) -> the specs of gmsa.farm.credential_spec's list form.

    generation='rollover' points every spec at its account's next generation (compromised_host); ``exclude``
    drops hosts from the container hosts checked (the compromised one). The file and resource names stay.
    """
    if not isinstance(farm, dict):
        raise AnsibleFilterError('farm_credential_specs takes the gmsa_farm description')
    containers = farm.get('containers')
    if not containers:
        return []
    if not isinstance(containers, dict) or not isinstance(containers.get('specs'), list):
        raise AnsibleFilterError('gmsa_farm.containers needs a specs list')
    folder = containers.get('controller_dir')
    if not folder:
        raise AnsibleFilterError('gmsa_farm.containers.controller_dir is missing: the folder on the controller '
                                 'where the farm\'s credential specs (and Kubernetes manifests) are kept')
    if generation not in ('current', 'rollover'):
        raise AnsibleFilterError('generation must be current or rollover, not %r' % generation)
    accounts = dict((a.get('name'), a) for a in farm.get('accounts') or [] if isinstance(a, dict))
    group = containers.get('hosts_group') or farm.get('members_group') or 'farm_members'
    hosts = [h for h in (groups or {}).get(group, []) if h not in set(exclude or [])]
    container_hosts = [computer_account(h, hostvars) for h in hosts]
    out = []
    seen = set()
    for i, spec in enumerate(containers['specs']):
        if not isinstance(spec, dict) or not spec.get('account'):
            raise AnsibleFilterError('gmsa_farm.containers.specs[%d] has no account' % i)
        unknown = sorted(set(spec) - set(_SPEC_KEYS))
        if unknown:
            raise AnsibleFilterError('gmsa_farm.containers.specs[%d]: unknown keys %s (known: %s)'
                                     % (i, ', '.join(unknown), ', '.join(_SPEC_KEYS)))
        account = accounts.get(spec['account'])
        if account is None:
            raise AnsibleFilterError('gmsa_farm.containers.specs[%d].account %r is not one of the farm\'s accounts '
                                     '(%s); after a rollover renamed an account in accounts, rename it here too'
                                     % (i, spec['account'], ', '.join(sorted(accounts)) or 'none'))
        name = spec_name(spec)
        if name in seen:
            raise AnsibleFilterError('gmsa_farm.containers.specs: two specs are named %r (give each its own name)'
                                     % name)
        seen.add(name)
        e = dict(name=rollover_name(account) if generation == 'rollover' else account['name'],
                 path=posixpath.join(folder, name + '.json'), state=state)
        if state == 'present':
            e.update(container_hosts=container_hosts,
                     inbound=spec.get('inbound', not account.get('outbound_auth_only', False)),
                     additional_accounts=list(spec.get('additional_accounts') or []))
            if spec.get('host_account_config'):
                e['host_account_config'] = dict(spec['host_account_config'])
        if spec.get('kubernetes') is not None:
            k8s = dict(name=name, path=posixpath.join(folder, name + '.gmsacredentialspec.yml'))
            if state == 'present':
                given = spec['kubernetes'] or {}
                k8s.update((k, v) for k, v in given.items() if k in ('service_accounts', 'role_name', 'name'))
            e['kubernetes'] = k8s
        out.append(e)
    return out


def _parse(content):
    import json
    try:
        doc = json.loads(content)
        accounts = doc['ActiveDirectoryConfig']['GroupManagedServiceAccounts']
        return doc['DomainJoinConfig']['MachineAccountName'], [a['Name'] for a in accounts], \
            doc['DomainJoinConfig'].get('DnsName')
    except (ValueError, KeyError, TypeError):
        return None


def credential_spec_report(files, accounts=None):
    """The audit's view of the farm's credential specs: which account each file really points at (read from the
    file, not from the description) and whether that account is one the audit found, enabled.

    ``files``: dicts with name, path and content (None when the file is missing); ``accounts``: gmsa_info's."""
    by_name = {}
    for a in accounts or []:
        by_name[a['sam_account_name'].lower().rstrip('$')] = a
    out = []
    for f in files or []:
        e = dict(name=f.get('name'), path=f.get('path'), account=None, accounts=[], domain=None)
        parsed = _parse(f['content']) if f.get('content') else None
        if not f.get('content'):
            e['status'] = 'missing'
        elif parsed is None:
            e['status'] = 'not a credential spec'
        else:
            e['account'], e['accounts'], e['domain'] = parsed
            acct = by_name.get(str(e['account']).lower())
            if acct is None:
                e['status'] = 'points at an account outside the audit'
            elif not acct.get('enabled', True):
                e['status'] = 'points at a disabled account'
            else:
                e['status'] = 'ok'
        out.append(e)
    return out


class FilterModule(object):
    def filters(self):
        return dict(farm_credential_specs=farm_credential_specs, credential_spec_report=credential_spec_report)
