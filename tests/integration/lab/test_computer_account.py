"""computer_account against the lab DC, through the fault proxy (tests/lab/ldap_fault_proxy.py): a password reset
refused after the disable is reported with the disable as written and changed; another writer's change of
userAccountControl between the read and the write is re-read and kept, not overwritten."""
from __future__ import annotations

import uuid

import ldap3
import pytest

from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest

DONT_EXPIRE_PASSWORD = 0x10000


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
