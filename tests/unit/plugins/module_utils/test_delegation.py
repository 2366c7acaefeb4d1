"""Pure tests of the OU delegation entries (no server)."""
from __future__ import annotations

import pytest
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

from ansible_collections.gmsa.farm.plugins.module_utils import _delegation as dl

SID = 'S-1-5-21-1-2-3-1105'
# A DACL shaped like the lab's OUs: an explicit deny, explicit allows, then inherited entries.
OU_DACL = ('D:(D;;0x10040;;;WD)(A;;0xf01ff;;;S-1-5-21-1-2-3-512)(A;;0x20094;;;S-1-5-11)'
           '(A;CIID;0xf01ff;;;S-1-5-21-1-2-3-519)(OA;CIIOID;0x10;4c164200-20c0-11d0-a768-00aa006e0529;'
           'bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-32-554)')


def sd(sddl):
    return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()


def aces(data):
    return [a.to_sddl() for a in SECURITY_DESCRIPTOR.from_bytes(data).Dacl.aces]


def test_each_right_set_is_the_documented_entries():
    assert [dl.sddl(k) for k in dl.wanted(['gmsa'], SID)] == [
        '(OA;CI;CCDC;7b8b558a-93a5-4af7-adca-c017e67f1057;;%s)' % SID,
        '(OA;CIIO;CCDCLCSWRPWPDTLOCRSDRCWDWO;;7b8b558a-93a5-4af7-adca-c017e67f1057;%s)' % SID]
    assert [dl.sddl(k) for k in dl.wanted(['computers'], SID)] == [
        '(OA;CIIO;WP;bf967a68-0de6-11d0-a285-00aa003049e2;bf967a86-0de6-11d0-a285-00aa003049e2;%s)' % SID,
        '(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967a86-0de6-11d0-a285-00aa003049e2;%s)' % SID]
    assert len(dl.wanted(['gmsa', 'host_groups', 'group_members', 'computers', 'gmsa'], SID)) == 7


def test_grant_adds_after_the_explicit_entries_and_keeps_everything_else():
    keys = dl.wanted(['gmsa', 'group_members'], SID)
    found, new = dl.plan(sd(OU_DACL), keys)
    assert found == []
    got = aces(new)
    before = aces(sd(OU_DACL))
    assert got[:3] == before[:3] and got[-2:] == before[-2:], 'explicit first, inherited last, all kept'
    assert [dl.ace_key(a) for a in SECURITY_DESCRIPTOR.from_bytes(new).Dacl.aces[3:6]] == keys
    # idempotent: a second plan on the result changes nothing
    assert dl.plan(new, keys) == (keys, None)


def test_revoke_removes_exactly_its_entries():
    keys = dl.wanted(['gmsa'], SID)
    dummy, granted = dl.plan(sd(OU_DACL), dl.wanted(['gmsa', 'computers'], SID))
    found, new = dl.plan(granted, keys, present=False)
    assert found == keys
    left = [dl.ace_key(a) for a in SECURITY_DESCRIPTOR.from_bytes(new).Dacl.aces]
    assert all(k not in left for k in keys) and all(k in left for k in dl.wanted(['computers'], SID))
    assert dl.plan(new, keys, present=False) == ([], None)


def test_a_similar_entry_of_someone_else_or_inherited_is_not_taken_for_ours():
    ours = dl.wanted(['group_members'], SID)[0]
    inherited = ('(OA;CIIOID;0x20;bf9679c0-0de6-11d0-a285-00aa003049e2;bf967a9c-0de6-11d0-a285-00aa003049e2;%s)' % SID)
    other = ('(OA;CIIO;0x20;bf9679c0-0de6-11d0-a285-00aa003049e2;bf967a9c-0de6-11d0-a285-00aa003049e2;'
             'S-1-5-21-1-2-3-9999)')
    found, new = dl.plan(sd('D:' + other + inherited), [ours])
    assert found == [] and new is not None
    assert dl.plan(sd('D:' + other + inherited), [ours], present=False) == ([], None)


def test_an_unreadable_or_broken_dacl_is_a_clear_error():
    with pytest.raises(dl.DelegationError, match='READ_CONTROL'):
        dl.plan(None, dl.wanted(['gmsa'], SID))
    with pytest.raises(dl.DelegationError, match='has no DACL'):
        dl.plan(b'\x01\x00', dl.wanted(['gmsa'], SID))
