"""The OU delegation kind's pure plan: one DACL write or none, its diff, and the value computed again from the
DACL as it is when the write is sent - without a domain controller."""
from __future__ import annotations

import pytest
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

from ansible_collections.gmsa.farm.plugins.module_utils import _delegation as dl
from ansible_collections.gmsa.farm.plugins.module_utils._object import ou_delegation as kind
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure

SID = 'S-1-5-21-1-2-3-1105'
OU = 'OU=Farm,DC=example,DC=com'
OU_DACL = 'D:(A;;0xf01ff;;;S-1-5-21-1-2-3-512)(A;CIID;0xf01ff;;;S-1-5-21-1-2-3-519)'
TRUSTEE = dict(name='farmops', sid=SID, dn='CN=farmops,CN=Users,DC=example,DC=com')


def sd(sddl):
    return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()


def aces(data):
    return [a.to_sddl() for a in SECURITY_DESCRIPTOR.from_bytes(data).Dacl.aces]


def params(**kw):
    p = dict(path=OU, trustee='farmops', rights=['gmsa'], state='present')
    p.update(kw)
    return p


class Directory(object):
    """Answers the fresh read of the OU's DACL just before the write."""

    def __init__(self, dacl):
        self.dacl = dacl

    def search(self, base, flt, attrs, scope='subtree', controls=None):
        assert (base, scope) == (OU, 'base')
        return [dict(dn=base, attributes={}, raw={'nTSecurityDescriptor': [self.dacl]})]


def written(plan, directory):
    [(dummy, [value])] = plan.requests[0].deferred(directory)['nTSecurityDescriptor']
    return aces(value)


@pytest.mark.parametrize('bad, message', [
    (dict(rights=[]), 'rights: give at least one of gmsa, host_groups, group_members, computers. '),
    (dict(path='not a dn'), "path: 'not a dn' is not a distinguished name"),
])
def test_bad_input_names_the_option(bad, message):
    with pytest.raises(ModuleFailure) as e:
        kind.check_params(params(**bad))
    assert e.value.msg.startswith(message) and e.value.msg.endswith('Nothing was changed.')


def test_grant_is_one_dacl_write_with_the_entries_in_the_diff():
    out = kind.plan(params(), dict(trustee=TRUSTEE, dacl=sd(OU_DACL)))
    [req] = out.requests
    assert (req.op, req.dn, req.descriptor, req.what) == ('modify', OU, True, 'add 2 entries for farmops on %s' % OU)
    wanted = [dl.sddl(k) for k in dl.wanted(['gmsa'], SID)]
    assert out.result['added'] == wanted and out.result['removed'] == []
    assert out.before == dict(path=OU, trustee='farmops', aces=[])
    assert out.after == dict(path=OU, trustee='farmops', aces=sorted(wanted))
    assert out.module_result()['requests'] == [dict(op='modify', dn=OU, what=req.what,
                                                    attributes=['nTSecurityDescriptor'])]


def test_a_granted_delegation_needs_no_request_and_revoking_it_one():
    dummy, granted = dl.plan(sd(OU_DACL), dl.wanted(['gmsa'], SID))
    again = kind.plan(params(), dict(trustee=TRUSTEE, dacl=granted))
    assert again.requests == [] and again.before == again.after
    gone = kind.plan(params(state='absent'), dict(trustee=TRUSTEE, dacl=granted))
    assert gone.requests[0].what == 'remove 2 entries for farmops on %s' % OU
    assert gone.after['aces'] == [] and sorted(gone.result['removed']) == gone.before['aces']
    assert written(gone, Directory(granted)) == aces(sd(OU_DACL))


def test_the_write_keeps_an_entry_another_writer_added_after_the_plan():
    out = kind.plan(params(), dict(trustee=TRUSTEE, dacl=sd(OU_DACL)))
    other = '(A;;RP;;;S-1-5-32-546)'
    got = written(out, Directory(sd(OU_DACL.replace('D:', 'D:' + other))))
    ours = [dl.sddl(k, hex_mask=True) for k in dl.wanted(['gmsa'], SID)]
    assert got[0] == other and len(got) == 5
    assert [aces(sd('D:' + a))[0] for a in ours] == got[2:4], 'ours after the explicit entries, before inherited'


def test_the_same_change_made_meanwhile_is_written_back_as_found():
    out = kind.plan(params(), dict(trustee=TRUSTEE, dacl=sd(OU_DACL)))
    dummy, meanwhile = dl.plan(sd('D:(A;;RP;;;S-1-5-32-546)' + OU_DACL[2:]), dl.wanted(['gmsa'], SID))
    assert written(out, Directory(meanwhile)) == aces(meanwhile)
