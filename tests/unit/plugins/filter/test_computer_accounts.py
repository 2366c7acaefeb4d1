"""Farm filters: the farm description to the gmsa list form, host names as users type them, computer accounts."""
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gmsa.farm.plugins.filter.computer_accounts import computer_accounts, farm_gmsa_accounts, host_list


def test_farm_accounts_become_list_entries_with_the_role_defaults():
    farm = dict(name='IT', host_group=dict(name='ITHosts'), accounts=[
        dict(name='ITFarm1', spn=['http/a'], extra_principals=['Ops'], path='OU=x,DC=c', allowed_to_delegate_to=['cifs/f']),
        dict(name='ITFarm2', enabled=False, kerberos_encryption_types=['aes256'], password_interval_days=75)])
    first, second = farm_gmsa_accounts(farm)
    assert first == dict(name='ITFarm1', outbound_auth_only=False, kerberos_encryption_types=dict(set=['aes128', 'aes256']),
                         spn=dict(set=['http/a']), allowed_to_retrieve_password=dict(set=['ITHosts', 'Ops']),
                         enabled=True, description='gMSA of the IT farm', path='OU=x,DC=c',
                         allowed_to_delegate_to=dict(set=['cifs/f']))
    assert second['enabled'] is False and second['password_interval_days'] == 75 and 'path' not in second
    assert second['kerberos_encryption_types'] == dict(set=['aes256'])


def test_farm_without_host_group_or_names_is_refused():
    with pytest.raises(AnsibleFilterError, match='host_group.name'):
        farm_gmsa_accounts(dict(name='x', accounts=[]))
    with pytest.raises(AnsibleFilterError, match=r'accounts\[0\] has no name'):
        farm_gmsa_accounts(dict(name='x', host_group=dict(name='g'), accounts=[{}]))


@pytest.mark.parametrize('typed, hosts', [
    ('[web03]', ['web03']),                     # -e gmsa_farm_new_members=[web03]
    ('[web03, web04]', ['web03', 'web04']),
    ('web03,web04', ['web03', 'web04']),
    ('web03', ['web03']),
    ('["web04"]', ['web04']),                   # -e gmsa_farm_new_members='["web04"]'
    (['web03', 'web03.contoso.com'], ['web03', 'web03.contoso.com']),
    ([], []),
    (None, []),
])
def test_host_list_takes_every_form_users_type(typed, hosts):
    assert host_list(typed, 'gmsa_farm_new_members') == hosts


@pytest.mark.parametrize('typed', ['{web03}', '[web03', ['web 03'], [['web03']], 42, {'web03': 1}])
def test_host_list_refuses_other_values_naming_the_option_and_the_forms(typed):
    with pytest.raises(AnsibleFilterError) as e:
        host_list(typed, 'gmsa_farm_new_members')
    assert 'gmsa_farm_new_members' in str(e.value) and '-e gmsa_farm_new_members=[web03,web04]' in str(e.value)


def test_computer_accounts_refuses_a_string_instead_of_reading_it_letter_by_letter():
    with pytest.raises(AnsibleFilterError, match='not the string'):
        computer_accounts('[web03]')
    assert computer_accounts(['web03.contoso.com']) == ['WEB03$']
