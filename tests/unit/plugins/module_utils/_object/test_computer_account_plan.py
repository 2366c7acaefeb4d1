"""Pure tests of the computer account kind: refusals of DCs, RODCs, trusts and non-member accounts (before any
request is planned), the disable/enable request, and the password reset described without a value."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import access
from ansible_collections.gmsa.farm.plugins.module_utils._object import computer_account as ca
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import missing_rights, rights_needed
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

DN = 'CN=WEB02,CN=Computers,DC=x'


def params(**kw):
    p = dict(name='WEB02', enabled=None, reset_password=False)
    p.update(kw)
    return p


def cur(uac=0x1000, group=515):
    return dict(dn=DN, uac=uac, primary_group_id=group)


def test_computer_account_refuses_dcs_rodcs_and_trusts():
    assert ca.refusal(0x1000, 515) == []
    assert ca.refusal(0x82000, 516) == ['a domain controller (SERVER_TRUST_ACCOUNT)',
                                        'its primary group is Domain Controllers (516)']
    assert ca.refusal(0x04001000, 521) == ['a read-only domain controller (PARTIAL_SECRETS_ACCOUNT)',
                                           'its primary group is Read-only Domain Controllers (521)']
    assert ca.refusal(0x0800, 513) == ['a trust account (INTERDOMAIN_TRUST_ACCOUNT)']


@pytest.mark.parametrize('uac, group, text', [
    (0x82000, 516, 'is a domain controller (SERVER_TRUST_ACCOUNT) and its primary group is Domain Controllers (516): '
                   'disabling it or resetting its password would break replication and Kerberos with it. This module '
                   'acts on member computers only'),
    (0x200, 513, 'is not a member computer account (userAccountControl 0x200 has no WORKSTATION_TRUST_ACCOUNT)'),
])
def test_refusals_plan_nothing_even_for_a_read_only_task(uac, group, text):
    for p in (params(enabled=False, reset_password=True), params()):
        with pytest.raises(PlanError) as e:
            ca.plan(p, cur(uac, group))
        assert str(e.value) == 'name: %s %s' % (DN, text)


def test_disable_then_reset_in_that_order_and_the_reset_holds_no_password_until_sent():
    p = ca.plan(params(enabled=False, reset_password=True), cur())
    disable, reset = p.requests
    assert disable.what == 'disable %s' % DN
    assert disable.changes == {'userAccountControl': [(MODIFY_DELETE, [0x1000]), (MODIFY_ADD, [0x1002])]}
    assert reset.what == 'reset the password of %s' % DN and reset.changes == {'unicodePwd': []}
    result = p.module_result()
    assert result['requests'][1] == dict(op='modify', dn=DN, what='reset the password of %s' % DN,
                                         attributes=['unicodePwd'])
    assert result['diff'] == dict(before=dict(enabled=True, password='unchanged'),
                                  after=dict(enabled=False, password='reset'))
    assert result['enabled'] is False and result['password_reset'] is True and 'stay valid' in result['exposure']
    sent = reset.deferred(None)
    [(op, [value])] = sent['unicodePwd']
    assert op == MODIFY_REPLACE and value.decode('utf-16-le').startswith('"') and len(value) == 2 * 242
    assert reset.deferred(None) != sent, 'a new password at each send'


def test_the_rights_check_asks_for_the_uac_write_and_the_reset_password_right():
    p = ca.plan(params(enabled=False, reset_password=True), cur())
    need = rights_needed(p.requests)[DN.lower()]
    assert need['attrs'] == {'userAccountControl'} and need['control'] == {access.RESET_PASSWORD}


def test_enable_and_no_op():
    [r] = ca.plan(params(enabled=True), cur(0x1002)).requests
    assert r.what == 'enable %s' % DN
    assert r.changes == {'userAccountControl': [(MODIFY_DELETE, [0x1002]), (MODIFY_ADD, [0x1000])]}
    p = ca.plan(params(enabled=False), cur(0x1002))
    assert p.requests == [] and p.module_result()['changed'] is False and p.result['enabled'] is False
    assert ca.plan(params(), cur()).result['enabled'] is True


def test_argument_spec():
    spec = ca.argument_spec()
    assert spec['enabled'] == dict(type='bool') and spec['name']['aliases'] == ['identity']
    assert spec['reset_password'] == dict(type='bool', default=False, no_log=False)


USER = 'S-1-5-21-1-2-3-1105'
TOKEN = [USER, 'S-1-5-21-1-2-3-513', 'S-1-1-0', 'S-1-5-11']
UAC_ATTRIBUTE = 'bf967a68-0de6-11d0-a285-00aa003049e2'


def reset_problems(sddl, token=tuple(TOKEN)):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    p = ca.plan(params(enabled=False, reset_password=True), cur())
    entry = dict(dn=DN, attributes=dict(allowedAttributesEffective=['userAccountControl']),
                 raw=dict(nTSecurityDescriptor=[SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()]))
    return missing_rights(rights_needed(p.requests), [entry], token)


def test_the_reset_password_right_is_read_from_the_dacl():
    granted = 'O:S-1-5-32-544D:(OA;;CR;%s;;%s)(OA;;WP;%s;;%s)' % (access.RESET_PASSWORD, USER, UAC_ATTRIBUTE, USER)
    assert reset_problems(granted) == []
    assert reset_problems('O:S-1-5-32-544D:(A;;0xf01ff;;;%s)' % USER) == []     # full control
    only_uac = 'O:S-1-5-32-544D:(OA;;WP;%s;;%s)' % (UAC_ATTRIBUTE, USER)
    assert reset_problems(only_uac) == [
        "may not use the Reset Password (User-Force-Change-Password) right on %s (its DACL grants it to none of "
        "the account's SIDs)" % DN]
    denied = 'O:S-1-5-32-544D:(OD;;CR;%s;;WD)(A;;0xf01ff;;;%s)' % (access.RESET_PASSWORD, USER)
    assert len(reset_problems(denied)) == 1
    # no token (a DC that gives no tokenGroups) or an entry this reading cannot evaluate: the DC decides
    assert reset_problems(only_uac, token=None) == []
    assert reset_problems('O:S-1-5-32-544D:(A;;CR;;;S-1-3-4)') == []
