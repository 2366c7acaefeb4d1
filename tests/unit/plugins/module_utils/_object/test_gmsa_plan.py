"""Pure tests of the gmsa plan (gmsa_plan.plan): every request kind a task can send, in its order, the diff and
the result from the same function, the refusals that write nothing, and DACL writes recomputed from a fresh read
when they are sent."""
from __future__ import annotations

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import execute, removals
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure, PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import TYPE_BY_CLASS, read_state, validate
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa_plan import Found, plan
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    build_membership_sd, deny_delete_child, is_protected, parent_denies_delete_child, set_protected,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE
from ansible_collections.gmsa.farm.plugins.modules.gmsa import ACCOUNT_SPEC

D = 'S-1-5-21-1-2-3'
OU = 'OU=Farm,DC=x'
DN = 'CN=farm,%s' % OU
OTHER = 'OU=Other,DC=x'
HOST = dict(name='NEW$', sid=D + '-1101', dn='CN=NEW,CN=Computers,DC=x', type='computer')
DACL = SECURITY_DESCRIPTOR.from_sddl('D:(A;;GA;;;S-1-5-18)').to_bytes()
GMSA = 'msDS-GroupManagedServiceAccount'


def wanted(**kw):
    args = dict(name='farm', dns_hostname='farm.x')
    args.update(kw)
    return validate(ArgumentSpecValidator(ACCOUNT_SPEC).validate(args).validated_parameters)


def entry(protected=False, linked=(), classes=('top', GMSA), **attrs):
    base = {'cn': ['farm'], 'sAMAccountName': ['farm$'], 'objectClass': list(classes), 'userAccountControl': ['4096'],
            'msDS-ManagedPasswordInterval': ['30'], 'msDS-SupportedEncryptionTypes': ['24'],
            'dNSHostName': ['farm.x'], 'msDS-HostServiceAccountBL': list(linked)}
    base.update(attrs)
    sd = set_protected(DACL, True) if protected else DACL
    return dict(dn=DN, attributes=base, raw={'nTSecurityDescriptor': [sd], 'objectGUID': [b'\x01' * 16]})


def found(account=None, **kw):
    kw.setdefault('container', (None, OU))
    msa = account is not None and any(c.lower() in TYPE_BY_CLASS for c in account['attributes']['objectClass'])
    current = read_state(account) if msa else None
    return Found(account=account, current=current, **kw)


def steps(p):
    return [(r.op, r.what.split(' ')[0], r.dn) for r in p.requests]


class Fresh(object):
    """A directory whose DACL read answers the given descriptor (what another writer left there)."""

    def __init__(self, sd):
        self.sd, self.reads = sd, []

    def search(self, base, flt, attrs, scope='subtree', controls=None):
        self.reads.append(base)
        return [dict(dn=base, attributes={}, raw={'nTSecurityDescriptor': [self.sd]})]


def written_sd(request, sd):
    changes = request.deferred(Fresh(sd))
    [(op, [value])] = changes['nTSecurityDescriptor']
    assert op == MODIFY_REPLACE
    return value


# ----------------------------------------------------------------------------- create, update, no-op
def test_a_new_protected_account_is_added_protected_and_its_parent_denies_delete_child():
    p = plan(wanted(protect_from_deletion=True), found(parent_sd=DACL))
    assert steps(p) == [('add', 'create', DN), ('modify', 'protect', DN), ('modify', 'deny', OU)]
    add = p.requests[0]
    assert add.object_class == ['top', GMSA] and add.attributes['sAMAccountName'] == 'farm$'
    assert all(r.descriptor and r.deferred for r in p.requests[1:])
    assert p.created == DN and p.denied_parent == OU
    assert p.before == {} and p.after['protect_from_deletion'] is True and p.after['distinguished_name'] == DN


def test_a_no_op_plans_no_request_and_the_same_before_and_after():
    p = plan(wanted(), found(entry()))
    assert p.requests == [] and p.before == p.after
    result = p.module_result()
    assert result['changed'] is False and result['requests'] == []
    assert result['diff'] == dict(before=p.before, after=p.after)


def test_an_update_is_one_modify_and_carries_the_descriptor_read_for_the_windows_fallback():
    old = build_membership_sd([D + '-1101'])
    account = entry()
    account['raw']['msDS-GroupMSAMembership'] = [old]
    new_host = dict(HOST, name='WEB02$', sid=D + '-1102')
    p = plan(wanted(description='d', allowed_to_retrieve_password=dict(add=['WEB02$'])),
             found(account, resolved={'WEB02$': new_host}))
    assert steps(p) == [('modify', 'update', DN)]
    assert sorted(p.requests[0].changes) == ['description', 'msDS-GroupMSAMembership']
    assert p.requests[0].sd_values == {'msDS-GroupMSAMembership': old}
    assert p.module_result()['requests'][0]['attributes'] == ['description', 'msDS-GroupMSAMembership']


# ----------------------------------------------------------------------------- move, protection
def test_moving_a_protected_account_lifts_moves_and_restores_with_an_undo_for_the_lift():
    p = plan(wanted(path=OTHER, description='d'), found(entry(protected=True), parent_sd=DACL))
    new = 'CN=farm,%s' % OTHER
    assert steps(p) == [('modify', 'update', DN), ('modify', 'lift', DN), ('move', 'move/rename', DN),
                        ('modify', 'protect', new), ('modify', 'deny', OTHER)]
    lift, move = p.requests[1], p.requests[2]
    assert lift.undo is not None and lift.undo.dn == DN and lift.undo.what.startswith('restore')
    assert is_protected(written_sd(lift.undo, DACL)) and not is_protected(written_sd(lift, set_protected(DACL, True)))
    assert move.new_superior == OTHER and move.new_rdn == 'CN=farm' and move.object_class == GMSA
    assert (p.before['distinguished_name'], p.after['distinguished_name']) == (DN, new)


def test_a_rename_in_place_moves_without_a_new_container():
    p = plan(wanted(name='farm2', sam_account_name='farm'), found(entry()))
    assert steps(p) == [('move', 'move/rename', DN)]
    assert p.requests[0].new_superior is None and p.requests[0].new_rdn == 'CN=farm2'


def test_a_protected_account_renamed_in_place_keeps_its_protection_untouched():
    # a rename needs only the naming attribute written (MS-ADTS 3.1.1.5.4.1.1): no DELETE, so no lift and no
    # WRITE_DAC for the bound account to hold
    p = plan(wanted(name='farm2', sam_account_name='farm', protect_from_deletion=True),
             found(entry(protected=True), parent_sd=deny_delete_child(DACL)))
    assert steps(p) == [('move', 'move/rename', DN)]
    new = 'CN=farm2,%s' % DN.split(',', 1)[1]
    lifted = plan(wanted(name='farm2', sam_account_name='farm', protect_from_deletion=False),
                  found(entry(protected=True)))
    assert steps(lifted) == [('move', 'move/rename', DN), ('modify', 'lift', new)]


def test_moving_while_lifting_the_protection_lifts_once_and_does_not_restore_it():
    p = plan(wanted(path=OTHER, protect_from_deletion=False), found(entry(protected=True)))
    assert steps(p) == [('modify', 'lift', DN), ('move', 'move/rename', DN)]
    assert p.before['protect_from_deletion'] is True and p.after['protect_from_deletion'] is False


def test_lifting_the_protection_in_place_is_one_request_without_undo():
    p = plan(wanted(protect_from_deletion=False), found(entry(protected=True)))
    assert steps(p) == [('modify', 'lift', DN)] and p.requests[0].undo is None


def test_a_protected_account_whose_parent_already_denies_delete_child_plans_nothing():
    p = plan(wanted(protect_from_deletion=True), found(entry(protected=True), parent_sd=deny_delete_child(DACL)))
    assert p.requests == []


def test_the_parents_dacl_is_recomputed_from_a_fresh_read_keeping_another_writers_entry():
    p = plan(wanted(protect_from_deletion=True), found(entry(protected=True), parent_sd=DACL))
    [deny] = p.requests
    meanwhile = SECURITY_DESCRIPTOR.from_sddl('D:(A;;GA;;;S-1-5-18)(A;;RP;;;S-1-5-21-9-9-9-1234)').to_bytes()
    sent = SECURITY_DESCRIPTOR.from_bytes(written_sd(deny, meanwhile)).to_sddl()
    assert 'S-1-5-21-9-9-9-1234' in sent and parent_denies_delete_child(written_sd(deny, meanwhile))
    already = deny_delete_child(meanwhile)
    assert written_sd(deny, already) == already      # denied meanwhile: not denied twice


# ----------------------------------------------------------------------------- standalone host link
def test_a_standalone_account_moved_to_another_host_is_unlinked_first_then_linked():
    old = 'CN=OLD,CN=Computers,DC=x'
    acct = entry(linked=[old], classes=('top', 'msDS-ManagedServiceAccount'))
    p = plan(wanted(account_type='standalone', host='NEW$', dns_hostname=None), found(acct, resolved={'NEW$': HOST}))
    assert [(s[1], s[2]) for s in steps(p)] == [('unlink', old), ('link', HOST['dn'])]
    assert p.requests[0].changes == {'msDS-HostServiceAccount': [(MODIFY_DELETE, [DN])]}
    assert p.requests[1].changes == {'msDS-HostServiceAccount': [(MODIFY_ADD, [DN])]}
    assert (p.before['host'], p.after['host']) == ('OLD$', 'NEW$')
    same = entry(linked=[HOST['dn']], classes=('top', 'msDS-ManagedServiceAccount'))
    assert plan(wanted(account_type='standalone', host='NEW$', dns_hostname=None),
                found(same, resolved={'NEW$': HOST})).requests == []


# ----------------------------------------------------------------------------- absent
def test_absent_deletes_and_a_protected_account_only_with_the_protection_lifted_and_an_undo():
    assert steps(plan(wanted(state='absent'), found(entry()))) == [('delete', 'delete', DN)]
    with pytest.raises(PlanError, match='protect_from_deletion: false'):
        plan(wanted(state='absent'), found(entry(protected=True)))
    p = plan(wanted(state='absent', protect_from_deletion=False), found(entry(protected=True)))
    assert steps(p) == [('modify', 'lift', DN), ('delete', 'delete', DN)] and p.requests[0].undo is not None
    assert p.before == dict(name='farm', sam_account_name='farm$', distinguished_name=DN) and p.after == {}
    nothing = plan(wanted(state='absent'), found())
    assert nothing.requests == [] and nothing.module_result()['distinguished_name'] is None


# ----------------------------------------------------------------------------- refusals and check mode
def test_refusals_name_the_reason_and_plan_nothing():
    computer = entry(classes=('top', 'computer'))
    with pytest.raises(PlanError, match='is taken by %s, which is a computer' % DN):
        plan(wanted(), found(computer))
    with pytest.raises(PlanError, match='http/a is held by CN=other'):
        plan(wanted(spn=dict(add=['http/a'])), found(entry(), holders={'http/a': ['CN=other,DC=x']}))
    with pytest.raises(PlanError, match='is a group, not a computer'):
        plan(wanted(account_type='standalone', host='G', dns_hostname=None),
             found(resolved={'G': dict(HOST, type='group')}))
    with pytest.raises(PlanError, match='needs the msDS-DelegatedManagedServiceAccount class'):
        plan(wanted(account_type='delegated'), found(has_dmsa_class=False))
    with pytest.raises(PlanError, match='cannot create'):
        plan(wanted(), found(container=('Insufficient rights: x cannot create y.', OU)))


def test_a_missing_principal_fails_a_real_run_and_is_shown_pending_in_check_mode():
    w = wanted(allowed_to_retrieve_password=dict(set=['FarmHosts']))
    with pytest.raises(PlanError, match='no such principal in the domain: FarmHosts'):
        plan(w, found(missing=['FarmHosts']))
    p = plan(w, found(missing=['FarmHosts'], check_mode=True, kds_warnings=['no key yet']))
    assert steps(p) == [('add', 'create', DN)]
    assert p.after['allowed_to_retrieve_password'] == ['FarmHosts (not in the directory yet)']
    assert 'check mode' in p.warnings[0] and p.warnings[-1] == 'no key yet'


# ----------------------------------------------------------------------------- the plan applied (scripted DC)
class Scripted(Fresh):
    """A DC that refuses, once, each request whose (op, dn) is in ``refuse`` and records what it was sent."""

    def __init__(self, refuse=()):
        super(Scripted, self).__init__(set_protected(DACL, True))
        self.refuse, self.sent = list(refuse), []

    def _send(self, op, dn, changes=None):
        self.sent.append((op, dn))
        if (op, dn) in self.refuse:
            self.refuse.remove((op, dn))
            raise DirectoryError('refused', code=53)

    def modify(self, dn, changes, controls=None):
        self._send('modify', dn, changes)

    def move(self, dn, new_rdn, new_superior=None):
        self._send('move', dn)


def test_a_failed_move_puts_the_protection_back_and_changes_nothing():
    p = plan(wanted(path=OTHER), found(entry(protected=True)))
    d = Scripted(refuse=[('move', DN)])
    with pytest.raises(ModuleFailure) as e:
        execute(d, p.requests, False)
    assert d.sent == [('modify', DN), ('move', DN), ('modify', DN)]       # lift, move refused, restore
    assert e.value.msg.endswith('Nothing was changed.') and 'put back' in e.value.msg
    assert e.value.details['written'] == [] and not e.value.details.get('changed')


def test_a_failure_after_the_move_restores_the_protection_where_the_account_is_now():
    new = 'CN=farm,%s' % OTHER
    p = plan(wanted(path=OTHER), found(entry(protected=True)))
    d = Scripted(refuse=[('modify', new)])
    with pytest.raises(ModuleFailure) as e:
        execute(d, p.requests, False)
    assert d.sent == [('modify', DN), ('move', DN), ('modify', new), ('modify', new)]
    assert d.reads[-1] == new and e.value.details['changed'] is True
    assert e.value.details['written'] == ['move/rename %s to %s' % (DN, new)]


def test_the_rights_check_reasons_with_the_dacl_the_lift_plans_for_a_delete_or_a_move():
    p = plan(wanted(state='absent', protect_from_deletion=False), found(entry(protected=True)))
    [(delete, sd)] = removals(p.requests)
    assert delete.op == 'delete' and delete.object_class == GMSA and not is_protected(sd)
    moved = plan(wanted(path=OTHER), found(entry(protected=True)))
    [(move, sd)] = removals(moved.requests)
    assert move.op == 'move' and not is_protected(sd)


def test_an_unreadable_password_descriptor_refuses_an_update_but_not_a_delete(monkeypatch):
    from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa
    from ansible_collections.gmsa.farm.plugins.module_utils._security import SecurityError

    def unreadable(data):
        if data:
            raise SecurityError('cannot parse the security descriptor')
        return dict(owner=None, aces=[], warnings=[], acl_revision=2)
    monkeypatch.setattr(gmsa, 'parse_membership_sd', unreadable)
    gmsa._parsed.cache_clear()
    broken = entry()
    broken['raw']['msDS-GroupMSAMembership'] = [b'\x01\x00\x04']
    with pytest.raises(PlanError, match='cannot read a security descriptor of %s' % DN):
        plan(wanted(description='d'), found(broken))
    assert steps(plan(wanted(state='absent'), found(broken))) == [('delete', 'delete', DN)]
