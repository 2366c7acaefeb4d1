"""The KDS root key kind's pure plan: which requests a task makes, its diff, warnings and refusals, and the DACL a
restriction writes - without a domain controller."""
from __future__ import annotations

import datetime

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils._object import kds_root_key as kind
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure

NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=datetime.timezone.utc)
CONTAINER = 'CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,CN=Configuration,DC=kdslab,DC=test'
ROOT_SID = 'S-1-5-21-3129488635-366744110-4183235297'
# Read from the Samba 4.22 lab DC: the DACL of a key added without a descriptor (explicit entries from the
# class's default descriptor, inherited ones from the container; not protected).
INHERITED_SDDL = ('D:AI(A;;0xf01ff;;;%(s)s-519)(A;;0xf01ff;;;S-1-5-18)(A;;0xf01ff;;;%(s)s-512)'
                  '(A;CIID;0xf01ff;;;%(s)s-519)(A;CIID;0xf01bd;;;%(s)s-512)' % dict(s=ROOT_SID))
A = '11111111-1111-4111-8111-111111111111'
B = '22222222-2222-4222-8222-222222222222'


def sd(sddl):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()


def sddl_of(value):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    return SECURITY_DESCRIPTOR.from_bytes(value).to_sddl()


def params(**kw):
    p = dict(state='present', effective_time_hours=0, match_by='any', key_id=None, wait=False, wait_timeout=600,
             restrict_descriptors=False)
    p.update(kw)
    return p


def key(key_id, hours_ago=24, dacl=None, readable=True):
    dn = 'CN=%s,%s' % (key_id, CONTAINER)
    if not readable:
        return kds.describe_key(dict(dn=dn, attributes={}), NOW)
    start = NOW - datetime.timedelta(hours=hours_ago)
    out = kds.describe_key(dict(dn=dn, attributes={'cn': [key_id], 'msKds-UseStartTime': [kds.to_filetime(start)],
                                                   'msKds-CreateTime': [kds.to_filetime(start)]}), NOW)
    if dacl is not None:
        out['_dacl'] = dacl
    return out


def current(keys, may_create=True, users=None):
    return dict(container=CONTAINER, keys=keys, bound_as='admin@KDSLAB.TEST', root_sid=ROOT_SID, config={},
                dc_dn='CN=DC1,OU=Domain Controllers,DC=kdslab,DC=test', users=users, may_create=may_create)


# ----------------------------------------------------------------------------- input
@pytest.mark.parametrize('bad, message', [
    (dict(effective_time_hours=-1), 'effective_time_hours must be from 0 (usable at once) to 87600'),
    (dict(wait_timeout=86401), 'wait_timeout must be from 0 to 86400 seconds, got 86401'),
    (dict(key_id='not-a-guid'), "key_id 'not-a-guid' is not a GUID"),
    (dict(state='absent'), 'state=absent needs key_id'),
    (dict(match_by='key_id'), 'match_by=key_id needs key_id'),
])
def test_bad_input_names_the_option_before_any_read(bad, message):
    with pytest.raises(ModuleFailure) as e:
        kind.check_params(params(**bad))
    assert e.value.msg.startswith(message) and e.value.msg.endswith('Nothing was changed.')


def test_key_id_is_normalised():
    assert kind.check_params(params(key_id='{%s}' % A.upper())) == A


# ----------------------------------------------------------------------------- present
def test_an_existing_usable_key_needs_no_request():
    out = kind.plan(params(), current([key(A)]), None, NOW)
    assert out.requests == [] and out.module_result()['changed'] is False
    assert out.before == out.after and out.result['key_id'] == A and out.result['usable'] is True


def test_a_new_key_is_one_add_with_windows_attributes_and_descriptor():
    out = kind.plan(params(match_by='never'), current([key(A)]), None, NOW, new_id=B)
    [add] = out.requests
    assert (add.op, add.dn, add.object_class, add.parent_checked) == (
        'add', 'CN=%s,%s' % (B, CONTAINER), ['top', 'msKds-ProvRootKey'], True)
    assert add.attributes['cn'] == B and len(add.attributes['msKds-RootKeyData']) == 64
    assert sddl_of(add.attributes['nTSecurityDescriptor']).startswith('D:P')
    assert out.before == {} and out.after['key_id'] == B and out.after['usable'] is True
    assert [k['key_id'] for k in out.result['kds_root_keys']] == [A, B]
    assert out.result['configured_parameters'] == []
    described = out.module_result()['requests']
    assert described == [dict(op='add', dn=add.dn, what='create KDS root key %s' % B,
                              attributes=sorted(add.attributes))]


def test_check_mode_plans_a_key_without_an_id():
    out = kind.plan(params(), current([]), None, NOW, new_id=None)
    assert out.result['key_id'] is None and out.after['key_id'] is None
    assert out.requests[0].dn == 'CN=<new random id>,%s' % CONTAINER


def test_no_create_right_is_refused_naming_the_key():
    with pytest.raises(ModuleFailure) as e:
        kind.plan(params(key_id=A, match_by='key_id'), current([], may_create=False), A, NOW)
    assert e.value.msg.startswith('Insufficient rights: admin@KDSLAB.TEST cannot create CN=%s,%s: ' % (A, CONTAINER))
    assert e.value.msg.endswith('Nothing was changed.')


def test_no_second_key_beside_keys_it_cannot_read():
    with pytest.raises(ModuleFailure) as e:
        kind.plan(params(), current([key(A, readable=False)]), None, NOW, new_id=B)
    assert 'Not creating another key' in e.value.msg and e.value.details == dict(unreadable_keys=[A])
    assert not kind.creates(params(), [key(A, readable=False)], None)    # nor reads what a new key needs


def test_an_id_in_use_is_refused():
    with pytest.raises(ModuleFailure, match='a KDS root key with id %s already exists' % A):
        kind.plan(params(match_by='never', key_id=A), current([key(A)]), A, NOW)


def test_a_wait_that_cannot_succeed_is_refused_before_any_write():
    with pytest.raises(ModuleFailure, match='the wait cannot succeed'):
        kind.plan(params(effective_time_hours=10, wait=True, wait_timeout=60), current([]), None, NOW, new_id=B)
    pending = key(A, hours_ago=0)       # usable in 10 h 5 min
    with pytest.raises(ModuleFailure) as e:
        kind.plan(params(wait=True, wait_timeout=5), current([pending]), None, NOW)
    assert e.value.msg.startswith('KDS root key %s becomes usable at %s' % (A, pending['usable_at']))
    assert e.value.msg.endswith('Nothing was changed.')


def test_wait_sleeps_until_usable_then_reports_it():
    out = kind.plan(params(wait=True, wait_timeout=36400), current([key(A, hours_ago=0)]), None, NOW)
    slept = []
    kind.wait_until_usable(out, sleep=slept.append)
    assert len(slept) == 1 and out.result['usable'] is True and out.result['kds_root_keys'][0]['usable'] is True


# ----------------------------------------------------------------------------- absent
def test_delete_names_the_accounts_still_using_the_key():
    users = ['CN=web,CN=Managed Service Accounts,DC=kdslab,DC=test']
    dacl = kds.key_security_descriptor(ROOT_SID)
    out = kind.plan(params(state='absent', key_id=A), current([key(A, dacl=dacl)], users=users), A, NOW)
    [delete] = out.requests
    assert (delete.op, delete.dn) == ('delete', 'CN=%s,%s' % (A, CONTAINER))
    # what the rights check needs to tell whether the account may delete it, without reading the key again
    assert (delete.object_class, delete.sd) == ('msKds-ProvRootKey', dacl)
    assert out.before['key_id'] == A and out.after == {} and out.result['kds_root_keys'] == []
    assert out.result['accounts_using_key'] == users
    assert any('that DCs use now and no other key is usable' in w for w in out.warnings)
    assert any('1 gMSA of this domain still derives' in w and users[0] in w for w in out.warnings)


def test_deleting_a_missing_key_changes_nothing():
    out = kind.plan(params(state='absent', key_id=B), current([key(A)]), B, NOW)
    assert out.requests == [] and out.before == {} and out.after == {}
    assert [k['key_id'] for k in out.result['keys']] == [A]


# ----------------------------------------------------------------------------- restrict_descriptors
def test_each_wider_key_gets_one_dacl_write_in_key_order():
    keys = [key(B, dacl=sd(INHERITED_SDDL)), key(A, dacl=sd(INHERITED_SDDL)),
            key('33333333-3333-4333-8333-333333333333', dacl=kds.key_security_descriptor(ROOT_SID))]
    out = kind.plan(params(restrict_descriptors=True), current(keys), None, NOW)
    assert [(r.op, r.dn, r.descriptor) for r in out.requests] == [
        ('modify', 'CN=%s,%s' % (k, CONTAINER), True) for k in (A, B)]
    assert out.result['restricted'] == [A, B]
    assert out.before['descriptors'] == dict((k, 'wider than Windows: not protected from inheritance') for k in (A, B))
    assert out.after['descriptors'] == dict((k, kds.KEY_SDDL) for k in (A, B))


def test_the_dacl_write_is_computed_from_a_read_made_when_it_is_sent():
    out = kind.plan(params(restrict_descriptors=True), current([key(A, dacl=sd(INHERITED_SDDL))]), None, NOW)
    deny = '(D;;RP;;;S-1-5-32-546)'
    later = sd(INHERITED_SDDL.replace('D:AI', 'D:AI' + deny))

    class Directory(object):
        def search(self, base, flt, attrs, scope='subtree', controls=None):
            assert (base, scope, attrs) == ('CN=%s,%s' % (A, CONTAINER), 'base', ['nTSecurityDescriptor'])
            return [dict(dn=base, attributes={}, raw={'nTSecurityDescriptor': [later]})]
    [(op, [value])] = out.requests[0].deferred(Directory())['nTSecurityDescriptor']
    written = sddl_of(value)
    assert written.startswith('D:P' + deny) and 'ID' not in written and written.count('(A;;') == 3


def test_a_restricted_dacl_keeps_explicit_denials_only():
    mixed = sd('D:AI(D;;RP;;;S-1-5-32-546)(A;;RP;;;S-1-5-11)(D;CIID;WP;;;S-1-5-32-545)(A;;0xf01ff;;;S-1-5-18)')
    written = sddl_of(kds.restricted_dacl(mixed, ROOT_SID))
    assert written.startswith('D:P(D;;RP;;;S-1-5-32-546)(A;;')
    assert 'S-1-5-11' not in written and 'S-1-5-32-545' not in written
    assert kds.restricted_sddl(mixed) == 'D:P(D;;RP;;;S-1-5-32-546)(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY)'
    assert kds.restricted_dacl(None, ROOT_SID) == kds.key_security_descriptor(ROOT_SID)
    assert not kds.key_dacl_report(kds.restricted_dacl(mixed, ROOT_SID), ROOT_SID)['wider']
