"""microsoft.ad's names in the gmsa planner: sAMAccountName with or without the appended $, upn checks, and the
userPrincipalName row of the property table."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE


@pytest.mark.parametrize('params, sam', [
    (dict(name='Web'), 'Web$'),
    (dict(name='Web', sam_account_name='WebSvc'), 'WebSvc$'),
    (dict(name='Web', sam_account_name='WebSvc$'), 'WebSvc$'),
    (dict(name='Web', sam_account_name='WebSvc', do_not_append_dollar_to_sam=True), 'WebSvc'),
    (dict(name='Web', sam_account_name='WebSvc$', do_not_append_dollar_to_sam=True), 'WebSvc$'),
    # only applies to an explicit sam_account_name, as in microsoft.ad
    (dict(name='Web', do_not_append_dollar_to_sam=True), 'Web$'),
])
def test_wanted_sam(params, sam):
    assert g.wanted_sam(params) == sam


def test_do_not_append_keeps_the_length_and_character_checks():
    with pytest.raises(g.PlanError, match='16 characters long'):
        g.wanted_sam(dict(name='x', sam_account_name='a' * 16, do_not_append_dollar_to_sam=True))
    with pytest.raises(g.PlanError, match='characters Windows does not allow'):
        g.wanted_sam(dict(name='x', sam_account_name='a/b', do_not_append_dollar_to_sam=True))


@pytest.mark.parametrize('upn', ['web@contoso.com', 'web@svc.contoso.com', '', None])
def test_valid_upns(upn):
    assert g.validate_upn(upn) == upn


@pytest.mark.parametrize('upn', ['web', '@contoso.com', 'web@', 'a@b@c', 'web farm@contoso.com'])
def test_bad_upns(upn):
    with pytest.raises(g.PlanError, match='not a user principal name'):
        g.validate_upn(upn)


def test_upn_is_one_row_of_the_property_table():
    rows = [r for r in g.PROPERTIES if r['option'] == 'upn']
    assert rows == [dict(option='upn', attr='userPrincipalName', kind='string')]
    assert 'userPrincipalName' in g.ACCOUNT_ATTRIBUTES and 'upn' in g.property_options()


def test_attribute_actions_refuse_managed_and_system_attributes():
    for attrs, message in ((dict(set=dict(servicePrincipalName='x')), "managed by this module's own option spn"),
                           (dict(add=dict(DNSHostName='x')), 'own option dns_hostname'),
                           (dict(set=dict(objectClass='x')), 'kept by the directory'),
                           # a task that plans no write must not read the managed password into its diff either
                           (dict(remove={'msDS-ManagedPassword': ['nomatch']}), 'kept by the directory'),
                           (dict(add={'msds-managedpassword': []}), 'kept by the directory'),
                           (dict(set=dict(msDS_x='x')), 'not an LDAP attribute name'),
                           (dict(set=dict(info={'a': 1})), 'strings or numbers')):
        with pytest.raises(g.PlanError, match=message):
            g.attribute_actions(dict(attributes=attrs))


def test_plan_attributes_set_add_remove():
    actions = g.attribute_actions(dict(attributes=dict(set=dict(info='x', telephoneNumber=None),
                                                       add=dict(otherTelephone=['2', 3]),
                                                       remove=dict(otherTelephone='1'))))
    assert actions == {'info': {'set': ['x']}, 'telephoneNumber': {'set': []},
                       'otherTelephone': {'add': ['2', '3'], 'remove': ['1']}}
    cur = {'info': ['x'], 'telephoneNumber': ['555'], 'otherTelephone': ['1', '2']}
    changes, before, after = g.plan_attributes(actions, cur, creating=False)
    assert changes == {'telephoneNumber': [(MODIFY_DELETE, ['555'])], 'otherTelephone': [
        (MODIFY_DELETE, ['1']), (MODIFY_ADD, ['3'])]}
    assert after == {'info': ['x'], 'telephoneNumber': [], 'otherTelephone': ['2', '3']} and before == cur
    created, _b, _a = g.plan_attributes(actions, {}, creating=True)
    assert created == {'info': ['x'], 'otherTelephone': ['2', '3']}


def test_forest_principal_domain_takes_the_domain_or_a_dc_name_longest_suffix_first():
    from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
    domains = [dict(dn='DC=contoso,DC=com', dns='contoso.com'), dict(dn='DC=eu,DC=contoso,DC=com', dns='eu.contoso.com')]
    assert pr.forest_principal_domain('contoso.com', domains)['dn'] == 'DC=contoso,DC=com'
    assert pr.forest_principal_domain('dc3.eu.contoso.com', domains)['dn'] == 'DC=eu,DC=contoso,DC=com'
    assert pr.forest_principal_domain('EU.CONTOSO.COM.', domains)['dn'] == 'DC=eu,DC=contoso,DC=com'
    with pytest.raises(pr.PrincipalError, match="'fabrikam.com' is neither a domain of this forest"):
        pr.forest_principal_domain('fabrikam.com', domains)
    with pytest.raises(pr.PrincipalError, match='single form of gmsa only'):
        pr.classify(dict(name='web', server='eu.contoso.com'))
