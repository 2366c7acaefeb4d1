"""Pure tests of apply: what a failure after written requests puts back and reports, when Windows' answers to
a concurrent change of a linked attribute count as a conflict, and which rights a plan needs."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import execute, removals, rights_needed
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import Conflict, ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE

GROUP = 'CN=hosts,OU=Farm,DC=x'
HOST = 'CN=WEB01,OU=Farm,DC=x'


class Directory(object):
    """Answers each request from ``codes`` (None: success) and a base search from ``current``."""

    def __init__(self, codes, current=None):
        self.codes, self.current, self.sent = list(codes), current or {}, []

    def _send(self, op, dn):
        self.sent.append((op, dn))
        code = self.codes.pop(0) if self.codes else None
        if code is not None:
            raise DirectoryError('refused', code=code)

    def modify(self, dn, changes, controls=None):
        self._send('modify', dn)

    def move(self, dn, new_rdn, new_superior=None):
        self._send('move', dn)

    def delete(self, dn, controls=None):
        self._send('delete', dn)

    def search(self, base, flt, attrs, scope='subtree', controls=None):
        self.sent.append(('search', base))
        return [dict(dn=base, attributes=self.current, raw={})]


def dacl(dn, what, value):
    return Request('modify', dn, what, changes={'nTSecurityDescriptor': [(MODIFY_REPLACE, [value])]},
                   descriptor=True)


def lift_then(op):
    restore = dacl(GROUP, 'restore the protection', b'protected')
    lift = dacl(GROUP, 'lift the protection', b'open')
    lift.undo = restore
    return [lift, Request(op, GROUP, '%s it' % op, new_rdn='CN=hosts2')]


@pytest.mark.parametrize('op', ['move', 'delete'])
def test_a_refused_move_or_delete_puts_the_lifted_protection_back_and_changed_nothing(op):
    d = Directory([None, 50])
    with pytest.raises(ModuleFailure) as e:
        execute(d, lift_then(op), check_mode=False)
    assert d.sent == [('modify', GROUP), (op, GROUP), ('modify', GROUP)]
    assert not e.value.details.get('changed') and e.value.details['written'] == []
    assert 'put back (lift the protection)' in e.value.msg and e.value.msg.endswith('Nothing was changed.')


def test_when_putting_it_back_fails_too_the_report_says_what_stays_written():
    d = Directory([None, 50, 50])
    with pytest.raises(ModuleFailure) as e:
        execute(d, lift_then('delete'), check_mode=False)
    assert e.value.details['changed'] is True and e.value.details['written'] == ['lift the protection']
    assert 'Putting back failed: restore the protection failed' in e.value.msg


def member_change(op, value=HOST):
    return Request('modify', GROUP, 'update members', changes={'member': [(op, [value])]})


@pytest.mark.parametrize('code, op, now', [(68, MODIFY_ADD, [HOST]), (53, MODIFY_DELETE, [])],
                         ids=['entryAlreadyExists on add', 'unwillingToPerform on remove'])
def test_windows_answers_on_member_are_a_conflict_once_a_reread_confirms_them(code, op, now):
    with pytest.raises(Conflict):
        execute(Directory([code], current={'member': now}), [member_change(op)], check_mode=False)


@pytest.mark.parametrize('code, op, now', [(68, MODIFY_ADD, []), (53, MODIFY_DELETE, [HOST])],
                         ids=['entryAlreadyExists, member absent', 'unwillingToPerform, member still there'])
def test_the_same_answers_not_confirmed_by_the_reread_fail_the_task(code, op, now):
    with pytest.raises(ModuleFailure) as e:
        execute(Directory([code], current={'member': now}), [member_change(op)], check_mode=False)
    assert e.value.msg.endswith('Nothing was changed.')


def test_a_timeout_after_a_write_reports_that_the_outcome_is_unknown():
    class Silent(Directory):
        def modify(self, dn, changes, controls=None):
            if self.sent:
                err = DirectoryError('no answer within 10 s')
                err.outcome_unknown = True
                raise err
            self._send('modify', dn)
    with pytest.raises(ModuleFailure) as e:
        execute(Silent([]), [member_change(MODIFY_ADD), member_change(MODIFY_ADD, 'CN=WEB02,DC=x')], False)
    assert e.value.details['changed'] is True
    assert e.value.details['written'] == ['update members', 'perhaps: update members']
    assert 'may or may not have been applied' in e.value.msg


def test_rights_a_plan_needs_for_renames_moves_and_creates():
    reqs = [Request('add', 'CN=new,OU=Farm,DC=x', 'create', object_class=['top', 'group']),
            Request('modify', 'CN=new,OU=Farm,DC=x', 'set its DACL', descriptor=True),
            Request('move', GROUP, 'move', new_rdn='CN=hosts', new_superior='OU=Other,DC=x', object_class='group')]
    need = rights_needed(reqs)
    assert need['ou=farm,dc=x']['children'] == {'group'}              # the create
    assert 'cn=new,ou=farm,dc=x' not in need                           # made by the plan itself
    assert need[GROUP.lower()]['attrs'] == {'CN'}                       # the rename writes the naming attribute
    assert need['ou=other,dc=x']['children'] == {'group'}              # the move's new container
    assert [r.what for r, _sd in removals(reqs)] == ['move']


def test_the_dacl_a_delete_is_checked_against_is_the_one_the_plan_leaves():
    reqs = lift_then('delete')
    reqs[1].sd = b'protected'
    assert removals(reqs)[0][1] == b'open'


def test_a_refusal_read_from_the_token_is_judged_again_with_the_accounts_own_sid():
    """Where the rootDSE's tokenGroups leave out the account's own SID, an entry granted to the account itself
    must still count: the check asks for the SID (Who am I?) before it refuses."""
    from ansible_collections.gmsa.farm.plugins.module_utils._object import apply

    def sd(sddl):
        from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
        return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()

    me = 'S-1-5-21-1-2-3-1105'

    class Token(Directory):
        default_nc, bound_as, token_sids = 'DC=x', 'op', ['S-1-5-21-1-2-3-513', 'S-1-1-0']
        asked = 0

        def own_sid(self):
            self.asked += 1
            return me

        def search(self, base, flt, attrs, scope='subtree', controls=None):    # the container grants nothing
            return [dict(dn='OU=Farm,DC=x', attributes={},
                         raw={'nTSecurityDescriptor': [sd('O:S-1-5-32-544D:(A;;RP;;;S-1-1-0)')]})]

    d = Token([])
    delete = Request('delete', GROUP, 'delete it', object_class='group', sd=sd('O:S-1-5-32-544D:(A;;SD;;;%s)' % me))
    apply.check_rights(d, [delete])                      # granted to the account itself: no refusal
    assert d.asked == 1
    with pytest.raises(ModuleFailure):
        other = Request('delete', GROUP, 'delete it', object_class='group',
                        sd=sd('O:S-1-5-32-544D:(A;;SD;;;S-1-5-21-1-2-3-9999)'))
        apply.check_rights(Token([]), [other])
