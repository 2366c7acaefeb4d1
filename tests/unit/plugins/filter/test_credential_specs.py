"""The farm's credential specs as filters: the description to the module's specs (names kept across a rollover,
the compromised host left out), and the audit's reading of which account each spec file points at."""
from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gmsa.farm.plugins.filter.credential_specs import (
    credential_spec_report, farm_credential_specs,
)

FARM = dict(name='Web', members_group='farm_members', host_group=dict(name='WebHosts'),
            accounts=[dict(name='WebFarm1'), dict(name='Batch1', outbound_auth_only=True, rollover_name='Batch1b')],
            containers=dict(controller_dir='/srv/specs', hosts_group='ctr', specs=[
                dict(account='WebFarm1', kubernetes=dict(service_accounts=[dict(name='default', namespace='web')])),
                dict(account='Batch1', name='batch', additional_accounts=[dict(name='WebFarm1')]),
            ]))
GROUPS = dict(ctr=['ctr01.example.com', 'ctr02'], farm_members=['ctr01.example.com', 'ctr02', 'web03'])
HOSTVARS = {'ctr02': dict(gmsa_farm_computer_name='CTRHOST02')}


def test_description_to_module_specs():
    web, batch = farm_credential_specs(FARM, HOSTVARS, GROUPS)
    assert web == dict(name='WebFarm1', path='/srv/specs/webfarm1.json', state='present',
                       container_hosts=['CTR01$', 'CTRHOST02$'], inbound=True, additional_accounts=[],
                       kubernetes=dict(name='webfarm1', path='/srv/specs/webfarm1.gmsacredentialspec.yml',
                                       service_accounts=[dict(name='default', namespace='web')]))
    # an outbound-only farm account is not for inbound use unless the spec says so
    assert batch['inbound'] is False and batch['path'] == '/srv/specs/batch.json' and 'kubernetes' not in batch


def test_rollover_keeps_the_names_and_drops_the_compromised_host():
    web, batch = farm_credential_specs(FARM, HOSTVARS, GROUPS, generation='rollover', exclude=['ctr02'])
    assert (web['name'], web['path'], web['kubernetes']['name']) == \
        ('WebFarm1-2', '/srv/specs/webfarm1.json', 'webfarm1')
    assert batch['name'] == 'Batch1b' and web['container_hosts'] == ['CTR01$']


def test_absent_lists_only_the_files():
    web, batch = farm_credential_specs(FARM, HOSTVARS, GROUPS, state='absent')
    assert web == dict(name='WebFarm1', path='/srv/specs/webfarm1.json', state='absent',
                       kubernetes=dict(name='webfarm1', path='/srv/specs/webfarm1.gmsacredentialspec.yml'))
    assert batch == dict(name='Batch1', path='/srv/specs/batch.json', state='absent')


def test_no_containers_no_specs():
    assert farm_credential_specs(dict(FARM, containers=None), HOSTVARS, GROUPS) == []


@pytest.mark.parametrize('change, word', [
    (dict(specs=[dict(account='Nope')]), "'Nope' is not one of the farm's accounts"),
    (dict(specs=[dict(account='WebFarm1', nmae='x')]), 'unknown keys nmae'),
    (dict(specs=[dict(account='WebFarm1'), dict(account='Batch1', name='WebFarm1')]), 'two specs are named'),
    (dict(controller_dir=None), 'controller_dir is missing'),
])
def test_bad_descriptions_are_refused(change, word):
    containers = dict(FARM['containers'], **change)
    with pytest.raises(AnsibleFilterError, match=word):
        farm_credential_specs(dict(FARM, containers=containers), HOSTVARS, GROUPS)


def spec_text(account):
    return json.dumps({'CmsPlugins': ['ActiveDirectory'],
                       'DomainJoinConfig': {'MachineAccountName': account, 'DnsName': 'example.com'},
                       'ActiveDirectoryConfig': {'GroupManagedServiceAccounts': [{'Name': account,
                                                                                  'Scope': 'example.com'}]}})


def test_audit_reads_the_account_out_of_each_file():
    accounts = [dict(sam_account_name='WebFarm1-2$', enabled=True),
                dict(sam_account_name='WebFarm1$', enabled=False)]
    files = [dict(name='web', path='/s/web.json', content=spec_text('WebFarm1-2')),
             dict(name='old', path='/s/old.json', content=spec_text('WebFarm1')),
             dict(name='other', path='/s/other.json', content=spec_text('Elsewhere')),
             dict(name='gone', path='/s/gone.json', content=None),
             dict(name='junk', path='/s/junk.json', content='{')]
    report = credential_spec_report(files, accounts)
    assert [(r['name'], r['account'], r['status']) for r in report] == [
        ('web', 'WebFarm1-2', 'ok'), ('old', 'WebFarm1', 'points at a disabled account'),
        ('other', 'Elsewhere', 'points at an account outside the audit'), ('gone', None, 'missing'),
        ('junk', None, 'not a credential spec')]
    assert report[0]['accounts'] == ['WebFarm1-2'] and report[0]['domain'] == 'example.com'
