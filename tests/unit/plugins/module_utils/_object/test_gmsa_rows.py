"""Pure tests of the gMSA planner: desired state + current state → changes + diff (no server)."""
from __future__ import annotations

import ast
import glob
import os

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils._object import rows
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE
from ansible_collections.gmsa.farm.plugins.module_utils._security import build_membership_sd

D = 'S-1-5-21-1-2-3'
HOST = dict(name='WEB01$', sid=D + '-1101', dn='CN=WEB01,CN=Computers,DC=x', type='computer')
HOST2 = dict(name='WEB02$', sid=D + '-1102', dn='CN=WEB02,CN=Computers,DC=x', type='computer')


def entry(**attrs):
    base = {'cn': ['farm'], 'sAMAccountName': ['farm$'], 'objectClass': ['top', 'msDS-GroupManagedServiceAccount'],
            'userAccountControl': ['4096'], 'msDS-ManagedPasswordInterval': ['30'],
            'msDS-SupportedEncryptionTypes': ['24'], 'dNSHostName': ['farm.x'], 'servicePrincipalName': []}
    raw = {}
    for k, v in attrs.items():
        if isinstance(v, bytes):
            raw[k] = [v]
        else:
            base[k] = v
    return dict(dn='CN=farm,CN=Managed Service Accounts,DC=x', attributes=base, raw=raw)


def params(**kw):
    p = dict(name='farm', sam_account_name=None, account_type='group', outbound_auth_only=False)
    p.update(kw)
    return p


def test_create_defaults():
    plan = g.plan_rows(params(dns_hostname='farm.x'), None, {}, {})
    assert plan['create'] == {'sAMAccountName': 'farm$', 'userAccountControl': 0x1000, 'dNSHostName': 'farm.x',
                              'msDS-ManagedPasswordInterval': 30, 'msDS-SupportedEncryptionTypes': 0x18}
    assert plan['before'] == {} and plan['after']['kerberos_encryption_types'] == ['aes128', 'aes256']


def test_no_op_plans_nothing():
    cur = g.read_state(entry(**{'msDS-GroupMSAMembership': build_membership_sd([HOST['sid']])}))
    plan = g.plan_rows(params(dns_hostname='FARM.x', allowed_to_retrieve_password=dict(set=['WEB01'])), cur,
                       {'WEB01': HOST}, {HOST['sid']: 'WEB01$'})
    assert plan['modify'] is None and plan['before'] == plan['after']


def test_membership_change_is_delete_old_add_new():
    old = build_membership_sd([HOST['sid']])
    cur = g.read_state(entry(**{'msDS-GroupMSAMembership': old}))
    plan = g.plan_rows(params(allowed_to_retrieve_password=dict(add=['WEB02'])), cur, {'WEB02': HOST2},
                       {HOST['sid']: 'WEB01$', HOST2['sid']: 'WEB02$'})
    ops = plan['modify']['msDS-GroupMSAMembership']
    assert ops[0] == (MODIFY_DELETE, [old])
    assert ops[1][0] == MODIFY_ADD and ops[1][1][0] == build_membership_sd([HOST['sid'], HOST2['sid']])
    assert plan['after']['allowed_to_retrieve_password'] == ['WEB01$', 'WEB02$']


def test_uac_bits_or_and_not_on_current_value():
    cur = g.read_state(entry(userAccountControl=[str(0x1000 | 0x100000)]))  # keeps NOT_DELEGATED
    plan = g.plan_rows(params(enabled=False, trusted_to_auth_for_delegation=True), cur, {}, {})
    expected = [(MODIFY_DELETE, [0x101000]), (MODIFY_ADD, [0x101000 | 0x2 | 0x1000000])]
    assert plan['modify']['userAccountControl'] == expected


def test_both_delegation_bits_refused_even_through_current_state():
    cur = g.read_state(entry(userAccountControl=[str(0x1000 | 0x80000)]))
    with pytest.raises(g.PlanError, match='both unconstrained delegation and protocol transition'):
        g.plan_rows(params(trusted_to_auth_for_delegation=True), cur, {}, {})


def test_spn_case_insensitive_and_per_value():
    cur = g.read_state(entry(servicePrincipalName=['HTTP/farm.x', 'http/old']))
    plan = g.plan_rows(params(spn=dict(set=['http/FARM.x', 'http/new'])), cur, {}, {})
    assert plan['modify']['servicePrincipalName'] == [(MODIFY_DELETE, ['http/old']), (MODIFY_ADD, ['http/new'])]
    assert plan['after']['spn'] == ['HTTP/farm.x', 'http/new']


def test_enctypes_keep_unknown_bits():
    cur = g.read_state(entry(**{'msDS-SupportedEncryptionTypes': [str(0x18 | 0x20)]}))
    plan = g.plan_rows(params(kerberos_encryption_types=dict(add=['rc4'])), cur, {}, {})
    assert plan['modify']['msDS-SupportedEncryptionTypes'] == [(MODIFY_DELETE, [0x38]), (MODIFY_ADD, [0x3C])]


@pytest.mark.parametrize('name, message', [
    ('a' * 16, 'is 16 characters long'), ('a"b', 'characters Windows does not allow'), ('..', 'dots and spaces'),
    (' ab', 'starts or ends with a space'), ('$', 'empty'),
])
def test_sam_rules(name, message):
    with pytest.raises(g.PlanError, match=message):
        g.normalise_sam(name)
    assert g.normalise_sam('a' * 15) == 'a' * 15 + '$'


def test_interval_is_create_only():
    cur = g.read_state(entry())
    with pytest.raises(g.PlanError, match='can only be set when the account is created'):
        g.plan_rows(params(password_interval_days=60), cur, {}, {})
    assert g.plan_rows(params(password_interval_days=30), cur, {}, {})['modify'] is None


def test_outbound_only_clears_dns_and_spns():
    cur = g.read_state(entry(servicePrincipalName=['http/farm.x']))
    plan = g.plan_rows(params(outbound_auth_only=True), cur, {}, {})
    assert plan['modify']['dNSHostName'] == [(MODIFY_DELETE, ['farm.x'])]
    assert plan['modify']['servicePrincipalName'] == [(MODIFY_DELETE, ['http/farm.x'])]
    with pytest.raises(g.PlanError, match='no SPNs'):
        g.plan_rows(params(outbound_auth_only=True, spn=dict(add=['http/a'])), cur, {}, {})


def test_apply_list_action():
    assert rows.apply_list_action(['A', 'b'], dict(add=['a', 'c'], remove=['B'])) == ['A', 'c']
    assert rows.apply_list_action(['A', 'b'], dict(set=['B', 'd', 'D'])) == ['b', 'd']
    assert rows.apply_list_action(['A'], None) == ['A']


def test_no_directory_module_ever_asks_for_the_managed_password():
    """msDS-ManagedPassword is never requested by the collection's code (tests may, as allowed hosts), except by the
    Linux member's keytab code (_keytab.py), which binds as the member computer to do exactly that; the one other
    place that names it is gmsa's refusal of it in ``attributes``."""
    root = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', '..', 'plugins')
    askers = set()
    for path in glob.glob(os.path.join(root, '**', '*.py'), recursive=True):
        tree = ast.parse(open(path).read())
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)] + [tree]:
            for node in ast.walk(func):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    if node.value.lower() == 'msds-managedpassword':
                        askers.add((os.path.basename(path), getattr(func, 'name', None)))
    assert set(f for f, _n in askers) == {'_keytab.py', 'gmsa.py'}
    assert set(n for f, n in askers if f == 'gmsa.py') == {'attribute_actions', None}
    assert 'msDS-ManagedPassword' not in g.ACCOUNT_ATTRIBUTES
    with pytest.raises(g.PlanError):
        g.attribute_actions(dict(attributes=dict(remove={'msDS-ManagedPassword': ['x']})))


def test_the_property_table_drives_the_planner(monkeypatch):
    """Adding an option is one row: create, update, diff and the option spec all follow it."""
    row = dict(option='office', attr='physicalDeliveryOfficeName', kind='string')
    monkeypatch.setattr(g, 'PROPERTIES', g.PROPERTIES + [row])
    assert g.property_options()['office'] == dict(type='str')
    created = g.plan_rows(params(dns_hostname='farm.x', office='B12'), None, {}, {})
    assert created['create']['physicalDeliveryOfficeName'] == 'B12' and created['after']['office'] == 'B12'
    cur = g.read_state(entry(physicalDeliveryOfficeName=['B12']))
    updated = g.plan_rows(params(office='C7'), cur, {}, {})
    assert updated['modify'] == {'physicalDeliveryOfficeName': [(MODIFY_DELETE, ['B12']), (MODIFY_ADD, ['C7'])]}
    assert (updated['before']['office'], updated['after']['office']) == ('B12', 'C7')


def test_every_row_is_a_documented_module_option():
    import yaml
    from ansible_collections.gmsa.farm.plugins.modules import gmsa as module
    documented = yaml.safe_load(module.DOCUMENTATION)['options']
    for row in g.PROPERTIES:
        assert row['option'] in documented and row['option'] in module.ARGUMENT_SPEC, row['option']
        assert row['kind'] in g.KINDS


def test_check_mode_diff_shows_a_grant_to_a_principal_an_earlier_task_creates():
    from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa_plan import show_pending
    params = dict(allowed_to_retrieve_password=dict(set=['WebFarmHosts', 'WEB01$']),
                  delegates=dict(add=['Gone$'], lookup_failure_action='ignore'))
    after = dict(allowed_to_retrieve_password=['WEB01$'], delegates=[])
    shown = show_pending(params, ['WebFarmHosts', 'Gone$'], after)
    assert shown['allowed_to_retrieve_password'] == ['WEB01$', 'WebFarmHosts (not in the directory yet)']
    assert shown['delegates'] == []          # ignored principals are not granted by a real run either
    assert after['delegates'] == []
