# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: audit_clusters.yml beside this file (and one .yml per other filter here), so that ansible-doc
# shows each filter's own page.

from ansible.errors import AnsibleFilterError
from ansible_collections.gmsa.farm.plugins.plugin_utils._windows_names import classify_identity


def _unique(items):
    seen, out = set(), []
    for i in items:
        if i not in seen:
            seen.add(i)
            out.append(i)
    return out


def audit_clusters(accounts):
    clusters = {}
    for a in accounts or []:
        if not isinstance(a, dict) or 'sam_account_name' not in a:
            raise AnsibleFilterError('audit_clusters takes gmsa_info accounts; got %r' % (a,))
        unbounded = bool(a.get('retrievers_unbounded'))
        key = (tuple(sorted(a.get('effective_retrievers') or [], key=str.lower)), unbounded)
        c = clusters.setdefault(key, dict(retrievers=list(key[0]), unbounded=unbounded, reasons=[], allowed=[],
                                          accounts=[], privileged=[], changers=[]))
        # who is one write away: those who can change the grant or the members of an allowed group
        c['changers'] += list(a.get('grant_changers_effective') or [])
        for m in a.get('membership_changers') or []:
            c['changers'] += list(m.get('effective') or [])
        c['accounts'].append(a['sam_account_name'])
        c['reasons'] += a.get('unbounded_reasons') or []
        c['allowed'] += [p.get('name') or p.get('sid') for p in a.get('allowed_principals') or []]
        if a.get('privileged'):
            c['privileged'].append(a['sam_account_name'])
    out = []
    for c in clusters.values():
        c['accounts'].sort(key=str.lower)
        c['reasons'], c['allowed'] = _unique(c['reasons']), _unique(c['allowed'])
        c['changers'] = sorted(_unique(c['changers']), key=str.lower)
        out.append(c)
    out.sort(key=lambda c: (not c['privileged'], not c['unbounded'], -len(c['accounts']) * max(1, len(c['retrievers'])),
                            c['accounts'][0].lower()))
    return out


# Scheduled-task logon types that run without the user logged on, the way a service does (W22): with a stored
# password, or by S4U (no password stored). Interactive-token tasks run in a person's session; service-account
# ones as SYSTEM / LOCAL SERVICE / NETWORK SERVICE.
UNATTENDED_LOGONS = ('TASK_LOGON_PASSWORD', 'TASK_LOGON_S4U', 'TASK_LOGON_INTERACTIVE_TOKEN_OR_PASSWORD')


def _task_name(item):
    """A loop result's item over subelements(folder results, 'folder_task_names'): folder path + task name."""
    if isinstance(item, (list, tuple)) and len(item) == 2:
        folder = item[0].get('item') if isinstance(item[0], dict) else item[0]
        return '%s%s%s' % (folder or '', '' if str(folder or '').endswith('\\') else '\\', item[1])
    return None


def host_migration_candidates(host_facts, host, computer_name=None):
    """Services, IIS application pools and scheduled tasks of one Windows host that run as domain user accounts
    (accounts with a password someone keeps): what the "Move to a gMSA" steps of Microsoft's "Secure group managed service accounts" replace. What the read-only
    modules return is W21.

    host_facts: dict(services=<win_service_info.services>, app_pools=<web_app_pool_info.app_pools>,
    tasks=[win_scheduled_task_stat results, each with a name or a loop item (folder result, task name)]).
    Local accounts (.\\x, COMPUTER\\x), built-in, virtual, application-pool identities and gMSAs are not
    candidates.
    """
    local = set(['.', (computer_name or '').rstrip('$').lower()])
    found = []

    def consider(kind, name, account):
        try:
            ident = classify_identity(account, wanted=False)
        except ValueError:
            return
        if ident is None or ident.kind != 'user':
            return
        if ident.domain is None or ident.domain.lower() in local:
            return
        found.append(dict(host=host, kind=kind, name=name, account=account))

    for s in (host_facts or {}).get('services') or []:
        consider('service', s.get('name'), s.get('username'))
    for p in (host_facts or {}).get('app_pools') or []:
        pm = (p.get('attributes') or {}).get('processModel') or {}
        if pm.get('identityType') == 'SpecificUser':
            consider('iis_app_pool', p.get('name'), pm.get('userName'))
    for t in (host_facts or {}).get('tasks') or []:
        principal = t.get('principal') or {}
        if principal.get('logon_type') in UNATTENDED_LOGONS:
            consider('scheduled_task', t.get('name') or _task_name(t.get('item')), principal.get('user_id'))
    return found


class FilterModule(object):
    def filters(self):
        return dict(audit_clusters=audit_clusters, host_migration_candidates=host_migration_candidates)
