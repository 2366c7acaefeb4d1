"""Pure tests of principal classification and matching (no server)."""
from __future__ import annotations

import uuid

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_bytes

D = 'S-1-5-21-1-2-3'


def entry(dn, sam, rid, classes=('top', 'computer'), upn=None):
    attrs = dict(sAMAccountName=[sam], objectClass=list(classes))
    if upn:
        attrs['userPrincipalName'] = [upn]
    return dict(dn=dn, attributes=attrs, raw=dict(objectSid=[sid_to_bytes('%s-%d' % (D, rid))],
                                                  objectGUID=[uuid.UUID(int=rid).bytes_le]))


ENTRIES = [entry('CN=WEB01,OU=x', 'WEB01$', 1101), entry('CN=web01,OU=y', 'web01', 1102, ('top', 'user')),
           entry('CN=Hosts,OU=x', 'Hosts', 1103, ('top', 'group'), upn=None)]


def test_every_form_matches_and_a_missing_one_is_reported():
    values = ['WEB01$', '%s-1103' % D, 'CN=Hosts,OU=x', str(uuid.UUID(int=1101)), 'CONTOSO\\Hosts', 'ghost']
    resolved, missing = pr.match_all(values, ENTRIES)
    assert {v: p['dn'] for v, p in resolved.items()} == {
        'WEB01$': 'CN=WEB01,OU=x', '%s-1103' % D: 'CN=Hosts,OU=x', 'CN=Hosts,OU=x': 'CN=Hosts,OU=x',
        str(uuid.UUID(int=1101)): 'CN=WEB01,OU=x', 'CONTOSO\\Hosts': 'CN=Hosts,OU=x'}
    assert missing == ['ghost']
    assert resolved['WEB01$']['type'] == 'computer' and resolved['CN=Hosts,OU=x']['type'] == 'group'


def test_a_bare_name_prefers_the_exact_sam_then_the_computer():
    resolved, dummy = pr.match_all(['web01'], ENTRIES)
    assert resolved['web01']['dn'] == 'CN=web01,OU=y'
    resolved, dummy = pr.match_all(['hosts'], ENTRIES[:1] + ENTRIES[2:])
    assert resolved['hosts']['dn'] == 'CN=Hosts,OU=x'


def test_an_ambiguous_value_names_every_match():
    twins = [entry('CN=A,OU=x', 'dup$', 1), entry('CN=B,OU=y', 'DUP$', 2)]
    with pytest.raises(pr.PrincipalError, match=r"member 'dup\$' is ambiguous: it matches CN=A,OU=x, CN=B,OU=y"):
        pr.match_all(['dup$'], twins, what='member')


def test_filters_cover_each_form():
    assert pr.filters_for(['web01', 'web01$', 'a@b.c']) == [
        '(|(sAMAccountName=web01)(sAMAccountName=web01$))', '(sAMAccountName=web01$)', '(userPrincipalName=a@b.c)']
    with pytest.raises(pr.PrincipalError):
        pr.filters_for(['  '])


class _Directory(object):
    default_nc = 'DC=x'

    def __init__(self, entries):
        self.entries, self.filters = entries, []

    def search(self, base, flt, attributes, paged=False, **kw):
        self.filters.append(flt)
        return self.entries


def test_a_sid_in_another_principals_sid_history_resolves_to_it():
    migrated = entry('CN=WEB09,OU=x', 'WEB09$', 1109)
    migrated['raw']['sIDHistory'] = [sid_to_bytes('S-1-5-21-9-9-9-4242')]
    d = _Directory([migrated])
    found = pr.principals_by_sid(d, ['S-1-5-21-9-9-9-4242', '%s-1109' % D])
    assert found['S-1-5-21-9-9-9-4242']['name'] == 'WEB09$' and found['S-1-5-21-9-9-9-4242']['via_sid_history']
    assert not found['%s-1109' % D].get('via_sid_history')
    assert '(sIDHistory=' in d.filters[0] and len(d.filters) == 1
