"""Pure tests of the service user kind: SPNs value by value and the enabled bit in one modify, the diff, no-op
runs and SPN checks."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import service_user as su
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE

DN = 'CN=svc_web,OU=Svc,DC=x'


def params(**kw):
    p = dict(name='svc_web', spn=None, enabled=None)
    p.update(kw)
    return p


def cur(spn=('http/a.x.test', 'http/b'), uac=0x200):
    return dict(dn=DN, spn=list(spn), uac=uac)


def test_spns_and_disable_in_one_modify():
    p = su.plan(params(spn=dict(remove=['HTTP/B']), enabled=False), cur())
    [r] = p.requests
    assert r.what == 'update %s (servicePrincipalName, userAccountControl)' % DN
    assert r.changes == {'servicePrincipalName': [(MODIFY_DELETE, ['http/b'])],
                         'userAccountControl': [(MODIFY_DELETE, [0x200]), (MODIFY_ADD, [0x202])]}
    result = p.module_result()
    assert result['diff'] == dict(before=dict(spn=['http/a.x.test', 'http/b'], enabled=True),
                                  after=dict(spn=['http/a.x.test'], enabled=False))
    assert result['spn'] == ['http/a.x.test'] and result['distinguished_name'] == DN and result['changed'] is True


def test_set_and_no_op():
    [r] = su.plan(params(spn=dict(set=['http/c', 'http/a.x.test'])), cur()).requests
    assert r.changes == {'servicePrincipalName': [(MODIFY_DELETE, ['http/b']), (MODIFY_ADD, ['http/c'])]}
    p = su.plan(params(spn=dict(add=['HTTP/a.x.test']), enabled=True), cur())
    assert p.requests == [] and p.module_result()['changed'] is False
    assert p.before == p.after


def test_enable_keeps_the_other_bits():
    [r] = su.plan(params(enabled=True), cur(uac=0x10202)).requests
    assert r.changes == {'userAccountControl': [(MODIFY_DELETE, [0x10202]), (MODIFY_ADD, [0x10200])]}


def test_spns_added_or_set_are_checked_removed_ones_are_not():
    with pytest.raises(PlanError, match="'not an spn' is not a service principal name"):
        su.validate(params(spn=dict(add=['not an spn'])))
    with pytest.raises(PlanError):
        su.validate(params(spn=dict(set=['x'])))
    su.validate(params(spn=dict(remove=['anything at all'])))


def test_argument_spec_from_the_rows():
    spec = su.argument_spec()
    assert spec['enabled'] == dict(type='bool') and sorted(spec['spn']['options']) == ['add', 'remove', 'set']
