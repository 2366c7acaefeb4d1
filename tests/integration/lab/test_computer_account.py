"""computer_account against the lab DC: an operator who may disable the account but not reset its password is
refused before any write; through the fault proxy (tests/lab/ldap_fault_proxy.py), a password reset the DC still
refuses after the disable is reported with the disable as written and changed, and another writer's change of
userAccountControl between the read and the write is re-read and kept, not overwritten."""
from __future__ import annotations

import uuid

import ldap3
import pytest

from conftest import delete_tree, make_user, samba_tool
from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest

DONT_EXPIRE_PASSWORD = 0x10000
ATTR_USER_ACCOUNT_CONTROL = 'bf967a68-0de6-11d0-a285-00aa003049e2'
CLASS_COMPUTER = 'bf967a86-0de6-11d0-a285-00aa003049e2'


def uid(prefix='c'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def account(run_module, proxy):
    def _run(args, check=False):
        # through the proxy (one more TLS hop, on a busy CI machine): a longer receive timeout
        full = dict(domain_server=['127.0.0.1'], domain_port=proxy.port, domain_ca_cert=proxy.ca, domain_timeout=60)
        full.update(args)
        return run_module('computer_account', full, check=check)
    return _run


def read(admin, dn, *names):
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=list(names))
    return admin.response[0]['raw_attributes']


def test_a_refused_reset_after_the_disable_says_the_account_was_disabled(account, computers, admin, proxy):
    host = computers.create(uid())
    set_at = read(admin, host['dn'], 'pwdLastSet')['pwdLastSet']
    proxy.rules.append(Rule('modifyRequest', 50, dn=host['dn'], changes='unicodePwd', message='no reset right'))
    r = account(dict(name=host['sam'], enabled=False, reset_password=True))
    assert r.failed, r
    assert r['changed'] is True and r['written'] == ['disable %s' % host['dn']]
    assert r['msg'].startswith('reset the password of %s failed: ' % host['dn']), r['msg']
    assert 'Already written before the failure: disable %s.' % host['dn'] in r['msg']
    assert 'Nothing was changed' not in r['msg']
    raw = read(admin, host['dn'], 'userAccountControl', 'pwdLastSet')
    assert int(raw['userAccountControl'][0]) & 0x2, 'the disable was written'
    assert raw['pwdLastSet'] == set_at, 'the password was not reset'


def test_another_writers_user_account_control_change_is_re_read_and_kept(account, computers, admin, proxy):
    host = computers.create(uid())

    def other_writer():
        assert admin.modify(host['dn'], {'userAccountControl': [
            (ldap3.MODIFY_REPLACE, [str(0x1000 | DONT_EXPIRE_PASSWORD)])]}), admin.result
    # The other writer changes userAccountControl after the module read it: the module's delete of the value it
    # read finds nothing (noSuchAttribute, what the DC answers then), so it reads again and plans from there.
    proxy.rules.append(Rule('modifyRequest', 16, dn=host['dn'], changes='userAccountControl',
                            before_answer=other_writer))
    r = account(dict(name=host['sam'], enabled=False))
    assert not r.failed, r
    assert r['changed'] is True and r['enabled'] is False
    assert [s for _op, _dn, s in proxy.seen] == ['answered 16', 'forwarded']
    assert int(read(admin, host['dn'], 'userAccountControl')['userAccountControl'][0]) == \
        0x1000 | DONT_EXPIRE_PASSWORD | 0x2


def test_an_operator_without_the_reset_password_right_is_refused_before_the_disable(run_module, lab, admin):
    """The operator may write userAccountControl of the OU's computers (an inherited object ACE, set with
    samba-tool) but holds no Reset Password: the task asking for both is refused naming that right, before any
    write; the disable alone is allowed."""
    top = 'OU=ca-%s,%s' % (uuid.uuid4().hex[:10], lab['GMSA_LAB_BASE_DN'])
    assert admin.add(top, 'organizationalUnit'), admin.result
    operator = make_user(lab, admin, 'gop')
    try:
        samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % top, '--sddl=(OA;CIIO;WP;%s;%s;%s)' % (
            ATTR_USER_ACCOUNT_CONTROL, CLASS_COMPUTER, operator['sid']))
        name = uid()
        dn = 'CN=%s,%s' % (name, top)
        assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user', 'computer'], {
            'sAMAccountName': name + '$', 'userAccountControl': 0x1000,
            'unicodePwd': ('"Host-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result
        before = read(admin, dn, 'userAccountControl', 'pwdLastSet', 'uSNChanged')
        conn = dict(lab['conn'], domain_username=operator['upn'], domain_password=operator['password'])
        for check in (True, False):
            r = run_module('computer_account', dict(conn, name=dn, enabled=False, reset_password=True), check=check,
                           conn=False)
            assert r.failed, r
            assert ('may not use the Reset Password (User-Force-Change-Password) right on %s' % dn) in r['msg']
            assert r['msg'].endswith('Nothing was changed.') and 'userAccountControl' not in r['msg'], r['msg']
        assert read(admin, dn, 'userAccountControl', 'pwdLastSet', 'uSNChanged') == before
        r = run_module('computer_account', dict(conn, name=dn, enabled=False), conn=False)
        assert not r.failed and r['changed'] is True, r
        assert int(read(admin, dn, 'userAccountControl')['userAccountControl'][0]) == 0x1002
    finally:
        delete_tree(admin, top)
        admin.delete(operator['dn'])
