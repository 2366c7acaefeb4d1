"""The audit picture stays readable at hundreds of accounts, and host-side migration candidates."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from ansible_collections.gmsa.farm.plugins.filter.audit_clusters import audit_clusters, host_migration_candidates

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))
BIN = os.path.dirname(sys.executable)     # the ansible-core the tests run with


def account(name, retrievers, privileged=False, unbounded=False, allowed='Hosts'):
    return dict(name=name, sam_account_name=name + '$', effective_retrievers=retrievers, privileged=privileged,
                privileged_groups=['Domain Admins'] if privileged else [], retrievers_unbounded=unbounded,
                unbounded_reasons=['Authenticated Users: every authenticated principal.'] if unbounded else [],
                allowed_principals=[dict(name=allowed, sid='S-1-5-21-1-2-3-1000')], enabled=True,
                delegation=dict(trusted_for_delegation=False, trusted_to_auth_for_delegation=False,
                                allowed_to_delegate_to=[], delegates=[]), next_rotation=None, stale=False,
                orphaned=False, unresolved_sids=[], distinguished_name='CN=%s,CN=Managed Service Accounts' % name,
                dns_hostname=None, spn=[], kerberos_encryption_types=[], password_interval_days=30,
                password_last_set=None, member_of=[])


def test_clusters_group_accounts_by_retriever_set_riskiest_first():
    accts = [account('A1', ['W1$', 'W2$']), account('A2', ['W2$', 'W1$']), account('B1', ['X1$']),
             account('C1', ['X1$'], unbounded=True), account('D1', ['Y1$'], privileged=True)]
    out = audit_clusters(accts)
    assert [c['accounts'] for c in out] == [['D1$'], ['C1$'], ['A1$', 'A2$'], ['B1$']]
    assert out[0]['privileged'] == ['D1$'] and out[1]['unbounded'] and out[1]['reasons']
    assert out[2]['retrievers'] == ['W1$', 'W2$'] and out[2]['allowed'] == ['Hosts']


def test_clusters_name_who_can_change_who_retrieves():
    a1, a2 = account('A1', ['W1$']), account('A2', ['W1$'])
    a1.update(grant_changers_effective=['opsuser'],
              membership_changers=[dict(group='Hosts', changers=[], effective=['helpdesk1', 'opsuser'])])
    a2.update(grant_changers_effective=['admin2'], membership_changers=[])
    [c] = audit_clusters([a1, a2])
    assert c['changers'] == ['admin2', 'helpdesk1', 'opsuser']
    assert audit_clusters([account('B1', ['X1$'])])[0]['changers'] == []


SHOP_POOL = dict(identityType='SpecificUser', userName='CONTOSO\\svc_pool')


def task(folder, name, logon_type, user):
    """A win_scheduled_task_stat loop result over (folder result, task name)."""
    return dict(item=[dict(item=folder), name], principal=dict(logon_type=logon_type, user_id=user))


def test_host_candidates_are_domain_user_accounts_only():
    facts = dict(
        services=[dict(name='a', username='LocalSystem'), dict(name='b', username='NT AUTHORITY\\LocalService'),
                  dict(name='c', username='NT SERVICE\\c'), dict(name='sql', username='CONTOSO\\svc_sql'),
                  dict(name='gm', username='CONTOSO\\WebFarm$'), dict(name='loc', username='.\\localadmin'),
                  dict(name='loc2', username='WEB01\\local'), dict(name='upn', username='svc_web@contoso.com'),
                  dict(name='none', username=None)],
        app_pools=[dict(name='Default', attributes=dict(processModel=dict(identityType='ApplicationPoolIdentity'))),
                   dict(name='Shop', attributes=dict(processModel=SHOP_POOL))],
        tasks=[task('\\', 'Nightly', 'TASK_LOGON_PASSWORD', 'CONTOSO\\svc_batch'),
               task('\\Contoso\\', 'Sys', 'TASK_LOGON_SERVICE_ACCOUNT', 'SYSTEM'),
               task('\\', 'Me', 'TASK_LOGON_INTERACTIVE_TOKEN', 'CONTOSO\\admin')])
    out = host_migration_candidates(facts, 'web01.contoso.com', 'WEB01$')
    assert [(c['kind'], c['name'], c['account']) for c in out] == [
        ('service', 'sql', 'CONTOSO\\svc_sql'), ('service', 'upn', 'svc_web@contoso.com'),
        ('iis_app_pool', 'Shop', 'CONTOSO\\svc_pool'), ('scheduled_task', '\\Nightly', 'CONTOSO\\svc_batch')]
    assert all(c['host'] == 'web01.contoso.com' for c in out)


def render(tmp_path, template, variables):
    vfile = tmp_path / 'vars.json'
    vfile.write_text(json.dumps(variables))
    dest = tmp_path / os.path.basename(template)[:-3]
    p = subprocess.run([os.path.join(BIN, 'ansible'), 'localhost', '-m', 'ansible.builtin.template',
                        '-a', 'src=%s dest=%s' % (os.path.join(REPO, 'playbooks', 'templates', template), dest),
                        '-e', '@%s' % vfile], capture_output=True, text=True, cwd=REPO, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    return dest.read_text()


def test_html_picture_has_one_row_per_farm_at_200_accounts(tmp_path):
    accts = []
    for farm in range(40):
        hosts = ['F%02dH%d$' % (farm, h) for h in range(1 + farm % 7)]
        accts += [account('F%02dA%d' % (farm, a), hosts, privileged=(farm == 17 and a == 0)) for a in range(5)]
    host_c = [dict(host='web01', kind='service', name='sql', account='CONTOSO\\svc_sql')]
    html = render(tmp_path, 'audit_report.html.j2', dict(gmsa_farm_audit=dict(accounts=accts),
                                                         gmsa_farm_audit_scope='all',
                                                         gmsa_farm_audit_host_candidates=host_c))
    svg = html[html.index('<svg'):html.index('</svg>')]
    assert svg.count('<line ') == 40          # one row per farm, not one line per host and account (1,000 edges)
    assert re.search(r'height="(\d+)"', svg).group(1) == str(40 * 30 + 20)
    assert svg.index('F17A0$') < svg.index('F00A0$')   # the privileged farm comes first
    for a in accts:
        assert a['sam_account_name'] in html
    assert '<td>web01</td><td>service sql</td><td>CONTOSO\\svc_sql</td>' in html


def test_markdown_lists_host_candidates(tmp_path):
    md = render(tmp_path, 'audit_report.md.j2', dict(
        gmsa_farm_audit=dict(accounts=[account('A1', ['W1$'])]), gmsa_farm_audit_scope='all',
        gmsa_farm_audit_host_candidates=[dict(host='web01', kind='iis_app_pool', name='Shop',
                                              account='CONTOSO\\svc_pool')]))
    assert '| web01 | iis_app_pool | Shop | `CONTOSO\\svc_pool` |' in md


def test_markdown_lists_flagged_dmsa_creators_and_who_can_change(tmp_path):
    a = account('A1', ['W1$'])
    a.update(grant_changers=[dict(name='Domain Admins', sid='S-1-5-21-1-2-3-512', rights=['owner']),
                             dict(name='opsuser', sid='S-1-5-21-1-2-3-1200', rights=['write this attribute'])],
             grant_changers_effective=['opsuser'],
             membership_changers=[dict(group='Hosts', changers=[dict(name='helpdesk', sid='S-1-5-21-1-2-3-1201',
                                                                     rights=['write this attribute'])],
                                       effective=['helpdesk1'])])
    creators = [dict(container='OU=Apps,DC=x', name='appops', sid='S-1-5-21-1-2-3-1300', rights=['create dMSA objects'],
                     flagged=True),
                dict(container='OU=Apps,DC=x', name='Domain Admins', sid='S-1-5-21-1-2-3-512', rights=['owner'],
                     flagged=False)]
    md = render(tmp_path, 'audit_report.md.j2', dict(gmsa_farm_audit=dict(accounts=[a], dmsa_creators=creators),
                                                     gmsa_farm_audit_scope='all'))
    assert '| `A1$` | Domain Admins, opsuser (users and computers: opsuser) | Hosts: helpdesk (users and computers: ' \
        'helpdesk1) |' in md
    assert '| `OU=Apps,DC=x` | appops | create dMSA objects |' in md and '| Domain Admins | owner |' not in md


def test_every_filter_has_its_own_ansible_doc_page():
    names = sorted(f[:-4] for f in os.listdir(os.path.join(REPO, 'plugins', 'filter')) if f.endswith('.yml'))
    assert {'audit_clusters', 'computer_accounts', 'host_migration_candidates', 'rollover_name'} <= set(names)
    p = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'filter', '--json'] +
                       ['gmsa.farm.' + n for n in names], capture_output=True, text=True, cwd=REPO, check=False)
    assert p.returncode == 0, p.stderr
    docs = json.loads(p.stdout)
    for n in names:
        assert docs['gmsa.farm.' + n]['doc']['name'] == n, n   # not another filter's page from the same .py
