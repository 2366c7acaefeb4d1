"""Pure tests of the directory plan's pieces: the executor's failure reports and retries against a scripted
directory, the rights check, input checks, principals of other domains, dMSA planning, and the KDS key descriptor
report. (The order of a gmsa plan's requests: _object/test_gmsa_plan.py.)"""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._security import build_membership_sd
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, check_dn, check_filter, check_range,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import (
    Conflict, execute, missing_rights, rights_needed,
)

D = 'S-1-5-21-1-2-3'
OU = 'OU=Farm,DC=x'
DN = 'CN=farm,%s' % OU


class Scripted(object):
    """A directory that answers each write from a script: None = success, an int = that LDAP result code."""

    def __init__(self, answers, reread=None):
        self.answers = list(answers)
        self.sent = []
        self.reread = reread or {}

    def _answer(self, what):
        self.sent.append(what)
        code = self.answers.pop(0) if self.answers else None
        if code is not None:
            raise DirectoryError('refused (%d)' % code, code=code)

    def add(self, dn, object_class, attributes):
        self._answer(('add', dn))

    def modify(self, dn, changes, controls=None):
        self._answer(('modify', dn, tuple(sorted((a, tuple(op for op, _v in ops)) for a, ops in changes.items()))))

    def move(self, dn, new_rdn, new_superior=None):
        self._answer(('move', dn))

    def delete(self, dn, controls=None):
        self._answer(('delete', dn))

    def search(self, base, flt, attrs, scope='subtree', controls=None):
        self.sent.append(('search', base))
        return [dict(dn=base, attributes=self.reread.get('attributes', {}), raw=self.reread.get('raw', {}))]


def writes(n):
    return [Request('modify', 'CN=o%d,DC=x' % i, 'write %d' % i, changes={'description': [(MODIFY_ADD, ['d'])]})
            for i in range(n)]


# ----------------------------------------------------------------------------- executor
def test_check_mode_sends_nothing_and_reports_every_write():
    d = Scripted([])
    assert execute(d, writes(3), check_mode=True) == ['write 0', 'write 1', 'write 2'] and d.sent == []


def test_failure_of_the_first_write_says_nothing_was_changed():
    with pytest.raises(ModuleFailure) as e:
        execute(Scripted([50]), writes(3), check_mode=False)
    assert e.value.msg.endswith('Nothing was changed.') and not e.value.details.get('changed')
    assert e.value.details['written'] == [] and e.value.details['ldap_result'] == 'insufficientAccessRights (50)'


def test_failure_after_writes_lists_them_and_reports_changed():
    with pytest.raises(ModuleFailure) as e:
        execute(Scripted([None, None, 53]), writes(3), check_mode=False)
    assert e.value.details == dict(changed=True, written=['write 0', 'write 1'],
                                   ldap_result='unwillingToPerform (53)')
    assert 'Already written before the failure: write 0; write 1.' in e.value.msg
    assert 'Nothing was changed' not in e.value.msg


def test_a_conflict_is_retried_only_while_nothing_was_written():
    with pytest.raises(Conflict):
        execute(Scripted([16]), writes(2), check_mode=False)
    with pytest.raises(ModuleFailure) as e:
        execute(Scripted([None, 16]), writes(2), check_mode=False)
    assert e.value.details['changed'] is True


def test_constraint_violation_is_a_conflict_only_when_the_empty_attribute_got_filled():
    filled = Scripted([19], reread=dict(attributes={'description': ['someone else']}))
    with pytest.raises(Conflict):
        execute(filled, writes(1), check_mode=False)
    still_empty = Scripted([19], reread=dict(attributes={'description': []}))
    with pytest.raises(ModuleFailure):
        execute(still_empty, writes(1), check_mode=False)


def sd_write():
    old, new = build_membership_sd([D + '-1101']), build_membership_sd([D + '-1101', D + '-1102'])
    changes = {'msDS-GroupMSAMembership': [(MODIFY_DELETE, [old]), (MODIFY_ADD, [new])]}
    return old, Request('modify', DN, 'update', changes=changes, sd_values={'msDS-GroupMSAMembership': old})


@pytest.mark.parametrize('code', [16, 18, 53])
def test_refused_descriptor_value_delete_becomes_a_replace_when_the_value_is_unchanged(code):
    old, w = sd_write()
    d = Scripted([code, None], reread=dict(raw={'msDS-GroupMSAMembership': [old]}))
    assert execute(d, [w], check_mode=False) == ['update']
    assert d.sent[0][2] == (('msDS-GroupMSAMembership', (MODIFY_DELETE, MODIFY_ADD)),)
    assert d.sent[1] == ('search', DN)
    assert d.sent[2][2] == (('msDS-GroupMSAMembership', (MODIFY_REPLACE,)),)


def test_refused_descriptor_value_delete_with_a_changed_value_is_a_conflict_not_a_replace():
    _old, w = sd_write()
    d = Scripted([16], reread=dict(raw={'msDS-GroupMSAMembership': [build_membership_sd([D + '-9'])]}))
    with pytest.raises(Conflict):
        execute(d, [w], check_mode=False)
    assert [s[0] for s in d.sent] == ['modify', 'search']


# ----------------------------------------------------------------------------- rights
def test_rights_check_names_each_missing_right():
    plan = [Request('modify', DN, 'u', changes={'description': [], 'displayName': []}),
            Request('modify', OU, 'p', changes={'nTSecurityDescriptor': []}, descriptor=True)]
    need = rights_needed(plan)
    entries = [dict(dn=DN, attributes={'allowedAttributesEffective': ['description'], 'sDRightsEffective': [15]}),
               dict(dn=OU, attributes={'allowedAttributesEffective': [], 'sDRightsEffective': [3]})]
    problems = missing_rights(need, entries)
    assert problems[0].startswith('may not write displayName on %s' % DN)
    assert problems[1] == 'may not change the permissions (WRITE_DAC) of %s' % OU
    entries[0]['attributes']['allowedAttributesEffective'].append('displayName')
    entries[1]['attributes']['sDRightsEffective'] = [4]
    assert missing_rights(need, entries) == []


# ----------------------------------------------------------------------------- dMSA, principals, inputs, KDS
def test_delegated_accounts_take_allowed_principals_and_need_no_dns_name():
    host = dict(name='WEB01$', sid=D + '-1101', dn='CN=WEB01,DC=x', type='computer')
    plan = g.plan_rows(dict(name='d', account_type='delegated', outbound_auth_only=False,
                       allowed_to_retrieve_password=dict(set=['WEB01$'])), None, {'WEB01$': host}, {})
    assert plan['create']['msDS-DelegatedMSAState'] == 3
    assert plan['create']['msDS-GroupMSAMembership'] == build_membership_sd([D + '-1101'])
    with pytest.raises(g.PlanError, match='standalone one is bound to its host'):
        g.plan_rows(dict(name='s', account_type='standalone', allowed_to_retrieve_password=dict(set=['WEB01$'])), None,
                    {'WEB01$': host}, {})


def test_principals_of_another_domain_are_named():
    assert pr.foreign_names(['CHILD\\WebHosts', 'CONTOSO\\Web', 'contoso.com\\x', 'plain', 'CN=a,DC=b'],
                            'CONTOSO', 'contoso.com') == ['CHILD\\WebHosts']


@pytest.mark.parametrize('value', ['Servers', 'OU=a,,DC=x', '=x', '', 'OU=a,DC=x,foo'])
def test_malformed_dns_are_refused(value):
    with pytest.raises(ValueError, match='path'):
        check_dn('path', value)


@pytest.mark.parametrize('value', ['objectClass=computer', '(a=b', '(&(a=b)(c=d)))', '((a=b)', ''])
def test_malformed_filters_are_refused(value):
    with pytest.raises(ValueError, match='ldap_filter'):
        check_filter('ldap_filter', value)


def test_numbers_outside_the_attribute_range_are_refused():
    assert check_range('x', 5, 1, 10) == 5
    with pytest.raises(ValueError, match=r'x: 2147483648 is outside 1\.\.2147483647'):
        check_range('x', 2 ** 31, 1, 2 ** 31 - 1)


def test_key_dacl_report():
    protected = kds.key_security_descriptor(D)
    assert kds.key_dacl_report(protected, D) == dict(dacl_protected=True, extra_trustees=[], wider=False)
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    inherited = SECURITY_DESCRIPTOR.from_sddl('D:AI(A;;GA;;;S-1-5-18)(A;CIID;GA;;;S-1-5-21-9-9-9-1105)').to_bytes()
    assert kds.key_dacl_report(inherited, D) == dict(dacl_protected=False, extra_trustees=['S-1-5-21-9-9-9-1105'],
                                                     wider=True)


def test_kds_configuration_overrides_defaults():
    entry = dict(raw={'msKds-PrivateKeyLength': [b'256'], 'msKds-KDFAlgorithmID': [b'SP800_108_CTR_HMAC']})
    cfg = kds.configured_parameters(entry)
    assert cfg == {'msKds-PrivateKeyLength': 256, 'msKds-KDFAlgorithmID': 'SP800_108_CTR_HMAC'}
    import datetime
    attrs = kds.new_key_attributes('k', datetime.datetime.now(datetime.timezone.utc), 0, 'CN=DC', config=cfg,
                                   security_descriptor=b'sd')
    assert attrs['msKds-PrivateKeyLength'] == 256 and attrs['msKds-PublicKeyLength'] == 2048
    assert attrs['nTSecurityDescriptor'] == b'sd' and kds.configured_parameters(None) == {}
