"""host_group against the lab DC: check → apply → idempotent → read back; bad input changes nothing; a member
another writer added or removed first is re-planned from a re-read, never silently retried (answers injected by
the fault proxy, tests/lab/ldap_fault_proxy.py)."""
from __future__ import annotations

import uuid

import ldap3
import pytest

from conftest import delete_tree, dump_tree, make_user, samba_tool
from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest


def uid(prefix='grp'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def group(run_module, ou):
    def _run(args, check=False, via=None):
        full = dict(path=ou)
        if via is not None:
            # through the fault proxy (one more TLS hop, on a busy CI machine): a longer receive timeout
            full.update(domain_server=['127.0.0.1'], domain_port=via.port, domain_ca_cert=via.ca, domain_timeout=60)
        full.update(args)
        return run_module('host_group', full, check=check)
    return _run


def listed_members(lab, name):
    """The group's members as samba-tool lists them (sAMAccountNames, lower case)."""
    return sorted(x.strip().lower() for x in samba_tool(lab, 'group', 'listmembers', name).splitlines() if x.strip())


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


def test_scope_between_global_and_domain_local_goes_through_universal(group, admin, ou):
    name = uid()
    dn = 'CN=%s,%s' % (name, ou)
    assert not group(dict(name=name)).failed
    for scope, value in (('domainlocal', -2147483644), ('global', -2147483646)):
        r = cycle(group, dict(name=name, scope=scope), admin, ou)
        assert [x['what'].split(' to a ')[-1] for x in r['requests']] == ['universal group', '%s group' % scope]
        assert r['diff']['after']['scope'] == scope
        assert members_of(admin, dn)['groupType'] == [str(value)]


# ----------------------------------------------------------------------------- a concurrent member change
# A domain controller answers a member add of a value that is there with entryAlreadyExists (68) and a member
# remove of a value that is not with unwillingToPerform (53) (IADsGroup::Add / IADsGroup::Remove; Samba 4.22
# answers the same). The proxy answers the module's modify with that code while the other writer really made the
# change, so the race is the same on every run.
@pytest.mark.parametrize('change, code', [('add', 68), ('remove', 53)], ids=['entryAlreadyExists', 'unwillingToPerform'])
def test_a_member_change_another_writer_made_first_is_replanned(group, computers, lab, admin, ou, proxy, change, code):
    a, b = computers.create(uid('a')), computers.create(uid('b'))
    name = uid()
    dn = 'CN=%s,%s' % (name, ou)
    assert not group(dict(name=name, members=dict(set=[a['sam']] + ([b['sam']] if change == 'remove' else [])))).failed

    def other_writer():
        op = ldap3.MODIFY_ADD if change == 'add' else ldap3.MODIFY_DELETE
        assert admin.modify(dn, {'member': [(op, [b['dn']])]}), admin.result
    proxy.rules.append(Rule('modifyRequest', code, dn=dn, before_answer=other_writer, message='injected'))
    r = group(dict(name=name, description='farm hosts', members={change: [b['sam']]}), via=proxy)
    assert not r.failed, r
    # Re-read and planned again: only the description is left to write; the member change is the other writer's.
    assert r['changed'] is True and [x['attributes'] for x in r['requests']] == [['description']]
    after = sorted([a['sam'], b['sam']] if change == 'add' else [a['sam']], key=str.lower)
    assert r['diff']['before']['members'] == r['diff']['after']['members'] == after
    assert r['diff']['before']['description'] is None and r['diff']['after']['description'] == 'farm hosts'
    assert [s for _op, _dn, s in proxy.seen] == ['answered %d' % code, 'forwarded']
    assert listed_members(lab, name) == sorted(x.lower() for x in after)
    assert members_of(admin, dn)['description'] == ['farm hosts']


@pytest.mark.parametrize('change, code', [('add', 68), ('remove', 53)], ids=['entryAlreadyExists', 'unwillingToPerform'])
def test_a_member_refusal_a_reread_does_not_confirm_fails_the_task(group, computers, lab, admin, ou, proxy, change,
                                                                   code):
    """Nobody else changed the member: the answer is a refusal, not a conflict; no retry, nothing written."""
    a, b = computers.create(uid('a')), computers.create(uid('b'))
    name = uid()
    dn = 'CN=%s,%s' % (name, ou)
    assert not group(dict(name=name, members=dict(set=[a['sam']] + ([b['sam']] if change == 'remove' else [])))).failed
    before = listed_members(lab, name)
    proxy.rules.append(Rule('modifyRequest', code, dn=dn, times=None, message='refused by policy'))
    r = group(dict(name=name, members={change: [b['sam']]}), via=proxy)
    assert r.failed, r
    assert r['msg'].startswith('update %s (member) failed: ' % dn), r['msg']
    assert r['msg'].endswith(': refused by policy. Nothing was changed.') and 'kept changing' not in r['msg']
    assert r['ldap_result'] == '%s (%d)' % ({68: 'entryAlreadyExists', 53: 'unwillingToPerform'}[code], code)
    assert not r.get('changed') and r['written'] == []
    assert [s for _op, _dn, s in proxy.seen] == ['answered %d' % code]
    assert listed_members(lab, name) == before


def test_a_refused_second_scope_step_reports_the_first_as_written(group, computers, lab, admin, ou, proxy):
    """global -> domain local is two requests; the directory refusing the second (a condition of that step, say)
    leaves the group universal: the task says so, with changed, and a rerun finishes the change."""
    a = computers.create(uid('a'))
    name = uid()
    dn = 'CN=%s,%s' % (name, ou)
    assert not group(dict(name=name)).failed
    proxy.rules.append(Rule('modifyRequest', 53, dn=dn, changes='groupType', skip=1, message='refused'))
    r = group(dict(name=name, scope='domainlocal', members=dict(add=[a['sam']])), via=proxy)
    assert r.failed, r
    first = 'update %s (groupType, member) to a universal group' % dn
    assert r['changed'] is True and r['written'] == [first]
    assert r['msg'].startswith('update %s (groupType) to a domainlocal group failed: ' % dn), r['msg']
    assert 'Already written before the failure: %s.' % first in r['msg']
    assert members_of(admin, dn)['groupType'] == [str(-2147483640)]      # universal
    assert listed_members(lab, name) == [a['sam'].lower()]
    r = group(dict(name=name, scope='domainlocal', members=dict(add=[a['sam']])))
    assert not r.failed and [x['what'] for x in r['requests']] == ['update %s (groupType)' % dn]
    assert members_of(admin, dn)['groupType'] == [str(-2147483644)]


def test_request_counts(group, computers, ou, monkeypatch):
    """LDAP requests after the bind (the rootDSE read included): a create with members, a no-op, a change, a delete."""
    monkeypatch.setenv('GMSA_FARM_COUNT_REQUESTS', '1')
    a, b, c = (computers.create(uid(p)) for p in 'abc')
    name = uid()
    args = dict(name=name, description='d', members=dict(set=[a['sam'], b['sam']]))
    # rootDSE, the group and its members in one search, the container (and the create right), the add, objectSid
    assert group(args)['ldap_requests'] <= 5
    assert group(args)['ldap_requests'] <= 2                          # rootDSE, one search
    assert group(dict(name=name))['ldap_requests'] <= 3              # + the names of members the task did not name
    # rootDSE, search, names of the members not named, the rights, the modify
    assert group(dict(name=name, members=dict(add=[c['sam']], remove=[a['sam']])))['ldap_requests'] <= 5
    # rootDSE, the search (with the group's DACL: the rights check reads the delete right from it), the delete
    assert group(dict(name=name, state='absent'))['ldap_requests'] <= 3


ATTR_MEMBER = 'bf9679c0-0de6-11d0-a285-00aa003049e2'
CLASS_GROUP = 'bf967a9c-0de6-11d0-a285-00aa003049e2'


def test_an_operator_who_may_change_members_but_not_delete_is_refused_before_the_delete(run_module, lab, admin):
    """Write member on the OU's groups (an inherited object ACE set with samba-tool), no delete: the member change
    is allowed, the delete refused before it is sent, in check mode too, and the group stays."""
    top = 'OU=hg-%s,%s' % (uuid.uuid4().hex[:10], lab['GMSA_LAB_BASE_DN'])
    assert admin.add(top, 'organizationalUnit'), admin.result
    operator = make_user(lab, admin, 'gop')
    try:
        samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % top, '--sddl=(OA;CIIO;WP;%s;%s;%s)' % (
            ATTR_MEMBER, CLASS_GROUP, operator['sid']))
        name = uid()
        assert not run_module('host_group', dict(name=name, path=top), as_admin=True).failed
        dn = 'CN=%s,%s' % (name, top)
        conn = dict(lab['conn'], domain_username=operator['upn'], domain_password=operator['password'])
        r = run_module('host_group', dict(conn, name=name, members=dict(add=[operator['name']])), conn=False)
        assert not r.failed and r['changed'] is True, r
        for check in (True, False):
            r = run_module('host_group', dict(conn, name=name, state='absent'), check=check, conn=False)
            assert r.failed, r
            assert 'may not delete %s' % dn in r['msg'] and r['msg'].endswith('Nothing was changed.'), r['msg']
        assert listed_members(lab, name) == [operator['name'].lower()]
    finally:
        delete_tree(admin, top)
        admin.delete(operator['dn'])
