"""ou_delegation against the lab DC: Administrator grants a plain user exactly the farm's rights on an OU (check
mode, diff, idempotence, read back with samba-tool), the user can then run the directory modules there and
nothing more, and removing the delegation takes that away again."""
from __future__ import annotations

import json
import uuid

import ldap3
import pytest

from conftest import delete_tree, delegation_sddl, ldap3_connect, make_user, samba_tool


def uid(prefix='g'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def bare_ou(lab, admin):
    """An OU outside the delegated one: nobody but the admins has rights there."""
    dn = 'OU=d-%s,%s' % (uuid.uuid4().hex[:10], lab['GMSA_LAB_BASE_DN'])
    assert admin.add(dn, 'organizationalUnit'), admin.result
    yield dn
    delete_tree(admin, dn)


@pytest.fixture
def operator(lab, admin):
    user = make_user(lab, admin, 'gop')
    user['conn'] = dict(lab['conn'], domain_username=user['upn'], domain_password=user['password'])
    yield user
    admin.delete(user['dn'])


def dacl(admin, dn):
    from ldap3.protocol.microsoft import security_descriptor_control
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['nTSecurityDescriptor'],
                 controls=security_descriptor_control(sdflags=0x04))
    return admin.response[0]['raw_attributes']['nTSecurityDescriptor'][0]


def sddl_aces(text):
    return ['(%s)' % a for a in text.split('(')[1:] for a in [a.rstrip(')').rstrip()]]


def test_grant_check_apply_idempotent_read_back_then_revoke(run_module, admin, lab, bare_ou, operator):
    args = dict(path=bare_ou, trustee=operator['name'], rights=['gmsa', 'host_groups'])
    before = dacl(admin, bare_ou)
    c = run_module('ou_delegation', args, check=True, as_admin=True)
    assert not c.failed, c
    assert c['changed'] is True
    assert dacl(admin, bare_ou) == before, 'check mode wrote to the directory'
    r = run_module('ou_delegation', args, as_admin=True)
    assert not r.failed, r
    assert r['changed'] is True and r['diff'] == c['diff'] and r['added'] == c['added']
    assert r['diff']['before']['aces'] == [] and r['diff']['after']['aces'] == sorted(r['aces'])
    assert r['trustee']['sid'] == operator['sid'] and len(r['aces']) == 4
    # The module writes exactly what the test fixtures write by hand for these right sets.
    assert set(r['aces']) <= set(sddl_aces(delegation_sddl(operator['sid'])))
    # Independent client: samba-tool shows each entry on the OU.
    shown = samba_tool(lab, 'dsacl', 'get', '--objectdn=%s' % bare_ou)
    for ace in r['aces']:
        assert ace in shown, (ace, shown)
    again = run_module('ou_delegation', args, as_admin=True)
    assert not again.failed and again['changed'] is False and again['requests'] == []
    assert again['diff']['before'] == again['diff']['after']

    # The operator can now run the farm's directory tasks there: a host group and a gMSA it may retrieve.
    group, name = uid('hg'), uid()
    hg = run_module('host_group', dict(operator['conn'], name=group, path=bare_ou), conn=False)
    assert not hg.failed, hg
    g = run_module('gmsa', dict(operator['conn'], name=name, path=bare_ou, dns_hostname='%s.%s' % (
        name, lab['GMSA_LAB_REALM'].lower()), allowed_to_retrieve_password=dict(set=[group])), conn=False)
    assert not g.failed, g
    assert g['changed'] is True
    assert json.loads(samba_tool(lab, 'service-account', 'view', '--name=%s' % name))['dn'] == 'CN=%s,%s' % (
        name, bare_ou)
    assert run_module('gmsa', dict(operator['conn'], name=name, state='absent'), conn=False)['changed'] is True

    # Revoke: exactly those entries go, the DACL is as it was, and the operator is refused again.
    c = run_module('ou_delegation', dict(args, state='absent'), check=True, as_admin=True)
    assert c['changed'] is True and sorted(c['removed']) == sorted(r['aces'])
    gone = run_module('ou_delegation', dict(args, state='absent'), as_admin=True)
    assert not gone.failed and gone['changed'] is True and gone['diff']['after']['aces'] == []
    assert dacl(admin, bare_ou) == before
    refused = run_module('gmsa', dict(operator['conn'], name=uid(), path=bare_ou, dns_hostname='x.test'),
                         conn=False)
    assert refused.failed and refused['msg'].startswith('Insufficient rights: %s' % operator['upn']), refused


def test_computers_right_lets_the_operator_disable_and_reset_a_member(run_module, admin, lab, bare_ou, operator):
    name = uid('c')
    dn = 'CN=%s,%s' % (name, bare_ou)
    password = 'Host-%s-9a!' % uuid.uuid4().hex
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user', 'computer'], {
        'sAMAccountName': name + '$', 'userAccountControl': 0x1000,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), admin.result
    ldap3_connect(lab, dn, password).unbind()
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['pwdLastSet'])
    set_at = int(admin.response[0]['raw_attributes']['pwdLastSet'][0])
    as_operator = dict(operator['conn'], name=name, enabled=False, reset_password=True)
    refused = run_module('computer_account', as_operator, conn=False)
    assert refused.failed, refused
    r = run_module('ou_delegation', dict(path=bare_ou, trustee=operator['sid'], rights=['computers']),
                   as_admin=True)
    assert not r.failed and r['changed'] is True and len(r['aces']) == 2
    done = run_module('computer_account', as_operator, conn=False)
    assert not done.failed, done
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['userAccountControl', 'pwdLastSet'])
    raw = admin.response[0]['raw_attributes']
    assert int(raw['userAccountControl'][0]) & 0x2
    assert int(raw['pwdLastSet'][0]) > set_at       # the password was really set anew


def test_without_write_dac_nothing_is_changed(run_module, admin, bare_ou, operator):
    before = dacl(admin, bare_ou)
    r = run_module('ou_delegation', dict(operator['conn'], path=bare_ou, trustee=operator['name'], rights=['gmsa']),
                   conn=False)
    assert r.failed
    assert r['msg'] == ('%s may not change the permissions (WRITE_DAC) of %s. Grant it those rights, or run as an '
                        'account that has them. Nothing was changed.' % (operator['upn'], bare_ou))
    assert operator['password'] not in json.dumps(r)
    assert dacl(admin, bare_ou) == before


@pytest.mark.parametrize('args, message', [
    (dict(path='not a dn', trustee='Administrator', rights=['gmsa']), "path: 'not a dn' is not a distinguished name"),
    (dict(trustee='nosuchuser-x1', rights=['gmsa']), 'trustee: no user, group or computer nosuchuser-x1 in the '
                                                     'domain. Nothing was changed.'),
    (dict(trustee='Administrator', rights=[]), 'rights: give at least one of gmsa'),
])
def test_bad_input_names_the_option_and_changes_nothing(run_module, admin, bare_ou, args, message):
    before = dacl(admin, bare_ou)
    r = run_module('ou_delegation', dict(dict(path=bare_ou), **args), as_admin=True)
    assert r.failed and message in r['msg'], r
    assert dacl(admin, bare_ou) == before


def test_an_entry_another_writer_adds_after_the_plan_is_kept(run_module, admin, lab, bare_ou, operator, monkeypatch):
    """The OU's new DACL is computed from a read made just before the write: an entry samba-tool adds between the
    plan and the write stays, beside the delegation's entries."""
    from ansible_collections.gmsa.farm.plugins.module_utils._object import ou_delegation as kind
    other = '(A;;RP;;;%s)' % operator['sid']
    planned = kind.plan

    def plan_then_another_writer(*args, **kwargs):
        out = planned(*args, **kwargs)
        if out.requests:
            samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % bare_ou, '--sddl=%s' % other)
        return out
    monkeypatch.setattr(kind, 'plan', plan_then_another_writer)
    r = run_module('ou_delegation', dict(path=bare_ou, trustee=operator['name'], rights=['group_members']),
                   as_admin=True)
    assert not r.failed and r['changed'] is True, r
    assert [(q['op'], q['dn']) for q in r['requests']] == [('modify', bare_ou)]
    shown = samba_tool(lab, 'dsacl', 'get', '--objectdn=%s' % bare_ou)
    assert other in shown and r['aces'][0] in shown, shown
