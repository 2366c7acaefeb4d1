"""Pure tests of the host group kind: the plan of a create, a modify and a delete (requests, diff, result),
scope changes through universal, members by DN, and the input checks."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import host_group as hg
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._principals import PrincipalError
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE

OU = 'OU=Farm,DC=x'
DN = 'CN=WebHosts,%s' % OU
WEB1, WEB2, WEB3 = ('CN=WEB%d,CN=Computers,DC=x' % n for n in (1, 2, 3))
RESOLVED = dict(('WEB%d' % n, dict(dn=dn, name='WEB%d$' % n)) for n, dn in enumerate((WEB1, WEB2, WEB3), 1))


def params(**kw):
    p = dict(name='WebHosts', path=OU, scope='global', description=None, members=None, state='present')
    p.update(kw)
    return p


def cur(**kw):
    c = dict(dn=DN, sid='S-1-5-21-1-2-3-1100', group_type=hg.group_type('global'), scope='global',
             description=None, members=[WEB1])
    c.update(kw)
    return c


def test_create_with_members_is_one_add():
    p = hg.plan(params(description='farm', members=dict(set=['WEB1', 'WEB2'])), None, RESOLVED, container=OU)
    [r] = p.requests
    assert (r.op, r.dn, r.object_class, r.parent_checked) == ('add', DN, ['top', 'group'], True)
    assert r.attributes == dict(sAMAccountName='WebHosts', groupType=-2147483646, description='farm',
                                member=[WEB1, WEB2])
    result = p.module_result()
    assert result['changed'] is True and result['requests'] == [dict(op='add', dn=DN, what='create %s' % DN, attributes=[
        'description', 'groupType', 'member', 'sAMAccountName'])]
    assert result['diff'] == dict(before={}, after=dict(name='WebHosts', scope='global', description='farm',
                                                        members=['WEB1$', 'WEB2$'], distinguished_name=DN))
    assert result['distinguished_name'] == DN and result['sid'] is None and result['members'] == ['WEB1$', 'WEB2$']


def test_create_without_description_leaves_it_out():
    [r] = hg.plan(params(description=''), None, {}, container=OU).requests
    assert 'description' not in r.attributes and 'member' not in r.attributes


def test_members_change_value_by_value_in_one_modify_with_the_description():
    p = hg.plan(params(description='farm', members=dict(add=['WEB2'], remove=['WEB1'])), cur(), RESOLVED)
    [r] = p.requests
    assert r.op == 'modify' and r.what == 'update %s (description, member)' % DN
    assert r.changes == {'member': [(MODIFY_DELETE, [WEB1]), (MODIFY_ADD, [WEB2])],
                         'description': [(MODIFY_ADD, ['farm'])]}
    assert p.before['members'] == ['WEB1$'] and p.after['members'] == ['WEB2$']


def test_members_added_by_others_are_kept_and_named_from_labels():
    other = 'CN=SQL1,CN=Computers,DC=x'
    p = hg.plan(params(members=dict(add=['WEB1'])), cur(members=[WEB1, other]), RESOLVED,
                labels={other.lower(): 'SQL1$'})
    assert p.requests == [] and p.module_result()['changed'] is False
    assert p.before['members'] == p.after['members'] == ['SQL1$', 'WEB1$']


def test_set_removes_the_others_and_unknown_dns_show_as_dns():
    other = 'CN=Gone,DC=x'
    p = hg.plan(params(members=dict(set=['WEB2'])), cur(members=[WEB1, other]), RESOLVED)
    [r] = p.requests
    assert r.changes['member'] == [(MODIFY_DELETE, [WEB1, other]), (MODIFY_ADD, [WEB2])]
    assert p.before['members'] == [other, 'WEB1$']


def test_description_changed_as_delete_old_add_new_and_cleared_by_empty_string():
    [r] = hg.plan(params(description='new'), cur(description='old'), RESOLVED).requests
    assert r.changes == {'description': [(MODIFY_DELETE, ['old']), (MODIFY_ADD, ['new'])]}
    [r] = hg.plan(params(description=''), cur(description='old'), RESOLVED).requests
    assert r.changes == {'description': [(MODIFY_DELETE, ['old'])]}
    p = hg.plan(params(), cur(description='old'), RESOLVED)
    assert p.requests == [] and p.after['description'] == 'old'


@pytest.mark.parametrize('have, want, steps', [
    ('global', 'universal', ['universal']), ('universal', 'domainlocal', ['domainlocal']),
    ('global', 'domainlocal', ['universal', 'domainlocal']), ('domainlocal', 'global', ['universal', 'global']),
    ('global', 'global', []),
])
def test_scope_steps(have, want, steps):
    assert hg.scope_steps(have, want) == steps


def test_global_to_domain_local_is_two_requests_through_universal_the_first_carrying_the_rest():
    p = hg.plan(params(scope='domainlocal', members=dict(add=['WEB2'])), cur(), RESOLVED)
    first, second = p.requests
    assert first.changes == {'groupType': [(MODIFY_DELETE, [-2147483646]), (MODIFY_ADD, [-2147483640])],
                             'member': [(MODIFY_ADD, [WEB2])]}
    assert second.changes == {'groupType': [(MODIFY_DELETE, [-2147483640]), (MODIFY_ADD, [-2147483644])]}
    assert first.what.endswith('to a universal group') and second.what.endswith('to a domainlocal group')
    assert p.before['scope'] == 'global' and p.after['scope'] == 'domainlocal'


def test_delete_and_absent_when_missing():
    p = hg.plan(params(state='absent'), cur(sd=b'read with the group'), RESOLVED)
    assert [(r.op, r.dn, r.object_class, r.sd) for r in p.requests] == [('delete', DN, 'group', b'read with the group')]
    assert p.module_result()['diff'] == dict(before=dict(name='WebHosts', distinguished_name=DN), after={})
    assert p.result == dict(distinguished_name=DN, sid='S-1-5-21-1-2-3-1100', members=[])
    p = hg.plan(params(state='absent'), None, {})
    assert p.requests == [] and p.module_result() == dict(distinguished_name=None, sid=None, members=[],
                                                          changed=False, requests=[],
                                                          diff=dict(before={}, after={}))


def test_missing_members_fail_warn_or_are_ignored():
    with pytest.raises(PlanError, match='^members: no such principal in the domain: ghost$'):
        hg.plan(params(members=dict(add=['ghost'])), cur(), {}, missing=['ghost'])
    p = hg.plan(params(members=dict(add=['ghost', 'WEB2'], lookup_failure_action='warn')), cur(), RESOLVED,
                missing=['ghost'])
    assert p.warnings == ['members: no such principal in the domain: ghost (skipped)']
    assert p.requests[0].changes == {'member': [(MODIFY_ADD, [WEB2])]}
    p = hg.plan(params(members=dict(add=['ghost'], lookup_failure_action='ignore')), cur(), {}, missing=['ghost'])
    assert p.warnings == [] and p.requests == []


@pytest.mark.parametrize('kw, error', [
    (dict(name='bad*name'), "name 'bad*name' contains characters Windows does not allow: *"),
    (dict(name=' x'), "name ' x' is empty or starts or ends with a space"),
    (dict(name='x' * 65), 'is longer than 64 characters'),
    (dict(path='not a dn'), 'path'),
])
def test_bad_input_is_refused_before_any_read(kw, error):
    with pytest.raises(ValueError) as e:
        hg.validate(params(**kw))
    assert error in str(e.value)


def test_validate_returns_each_member_value_once():
    assert hg.validate(params(members=dict(add=['WEB1', 'WEB2'], remove=['WEB1'], set=None))) == ['WEB1', 'WEB2']
    with pytest.raises(PrincipalError):
        hg.validate(params(members=dict(add=[' '])))


def test_current_reads_scope_sid_and_members():
    entry = dict(dn=DN, attributes=dict(groupType=[-2147483640], description=['d'], member=[WEB1]),
                 raw=dict(objectSid=[b'\x01\x01\x00\x00\x00\x00\x00\x05\x12\x00\x00\x00']))
    assert hg.current(entry) == dict(dn=DN, sid='S-1-5-18', group_type=-2147483640, scope='universal',
                                     description='d', members=[WEB1], sd=None)
    assert hg.current(None) is None


def test_argument_spec_has_the_row_options():
    spec = hg.argument_spec()
    assert spec['description'] == dict(type='str')
    assert sorted(spec['members']['options']) == ['add', 'lookup_failure_action', 'remove', 'set']
