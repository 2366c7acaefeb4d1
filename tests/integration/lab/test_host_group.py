"""host_group against the lab DC: check → apply → idempotent → read back; bad input changes nothing."""
from __future__ import annotations

import uuid

import ldap3
import pytest

from conftest import dump_tree


def uid(prefix='grp'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def group(run_module, ou):
    def _run(args, check=False):
        full = dict(path=ou)
        full.update(args)
        return run_module('host_group', full, check=check)
    return _run


def members_of(admin, dn):
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['member', 'groupType', 'description'])
    return admin.response[0]['attributes']


def cycle(group, args, admin, ou):
    before = dump_tree(admin, ou)
    c = group(args, check=True)
    assert not c.failed, c
    assert c['changed'] is True
    assert dump_tree(admin, ou) == before
    r = group(args)
    assert not r.failed, r
    assert r['changed'] is True and r['diff'] == c['diff']
    again = group(args)
    assert again['changed'] is False and again['diff']['before'] == again['diff']['after']
    return r


def test_create_members_scope_description(group, computers, admin, ou):
    hosts = [computers.create(uid('h')) for dummy in range(3)]
    name = uid()
    r = cycle(group, dict(name=name, description='farm hosts',
                          members=dict(set=[hosts[0]['name'], hosts[1]['sam']])), admin, ou)
    dn = 'CN=%s,%s' % (name, ou)
    assert r['distinguished_name'] == dn and r['sid'].startswith('S-1-5-21-')
    assert r['members'] == sorted([hosts[0]['sam'], hosts[1]['sam']], key=str.lower)
    a = members_of(admin, dn)
    assert sorted(a['member']) == sorted([hosts[0]['dn'], hosts[1]['dn']])
    assert a['groupType'] == [str(-2147483646)] and a['description'] == ['farm hosts']

    r = cycle(group, dict(name=name, members=dict(add=[hosts[2]['dn']], remove=[hosts[0]['sid']])), admin, ou)
    assert r['diff']['before']['members'] == sorted([hosts[0]['sam'], hosts[1]['sam']], key=str.lower)
    assert r['diff']['after']['members'] == sorted([hosts[1]['sam'], hosts[2]['sam']], key=str.lower)
    assert sorted(members_of(admin, dn)['member']) == sorted([hosts[1]['dn'], hosts[2]['dn']])

    r = cycle(group, dict(name=name, scope='universal', description=''), admin, ou)
    a = members_of(admin, dn)
    assert a['groupType'] == [str(-2147483640)] and not a.get('description')


def test_members_added_by_others_are_kept(group, computers, admin, ou):
    a, b = computers.create(uid('a')), computers.create(uid('b'))
    name = uid()
    assert not group(dict(name=name, members=dict(set=[a['sam']]))).failed
    dn = 'CN=%s,%s' % (name, ou)
    assert admin.modify(dn, {'member': [(ldap3.MODIFY_ADD, [b['dn']])]})
    r = group(dict(name=name, members=dict(add=[a['sam']])))
    assert r['changed'] is False
    assert r['diff']['before']['members'] == sorted([a['sam'], b['sam']], key=str.lower)  # names, not DNs


def test_delete(group, admin, ou):
    name = uid()
    assert not group(dict(name=name)).failed
    r = group(dict(name=name, state='absent'), check=True)
    assert r['changed'] is True
    r = group(dict(name=name, state='absent'))
    assert r['changed'] is True
    admin.search(ou, '(cn=%s)' % name, attributes=['cn'])
    assert not [e for e in admin.response if e.get('type') == 'searchResEntry']
    assert group(dict(name=name, state='absent'))['changed'] is False


@pytest.mark.parametrize('args, message', [
    (dict(members=dict(add=['nosuchhost42'])), 'members: no such principal in the domain: nosuchhost42. Nothing was '
                                               'changed.'),
    (dict(path='OU=nowhere,DC=gmsalab,DC=test'), 'path OU=nowhere,DC=gmsalab,DC=test does not exist'),
    (dict(name='bad*name'), "name 'bad*name' contains characters Windows does not allow: *"),
])
def test_bad_input(group, admin, ou, lab, args, message):
    full = dict(name=uid())
    full.update(args)
    before = dump_tree(admin, ou)
    for check in (True, False):
        r = group(full, check=check)
        assert r.failed
        assert message in r['msg'], r['msg']
    assert dump_tree(admin, ou) == before
    admin.search(lab['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s)' % full['name'].replace('*', '\\2a'),
                 attributes=['1.1'])
    assert not [e for e in admin.response if e.get('type') == 'searchResEntry']


def test_warn_skips_unknown_member(group, computers, ou):
    a = computers.create(uid('a'))
    r = group(dict(name=uid(), members=dict(set=[a['sam'], 'ghost99'], lookup_failure_action='warn')))
    assert not r.failed and r['members'] == [a['sam']]
    assert r.warning_texts == ['members: no such principal in the domain: ghost99 (skipped)']
