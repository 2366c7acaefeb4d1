"""Pure tests of the shared LDAP value helpers (no server): filter escaping, first values, parent DNs, result
codes by name, and the checks of DN and filter options."""
from __future__ import annotations

import os

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _ldap_connection as lc
from ansible_collections.gmsa.farm.plugins.module_utils import _values as v


def test_escape_follows_rfc_4515_and_is_defined_once():
    assert v.escape('a*(b)\\') == 'a\\2a\\28b\\29\\5c'
    assert v.escape('nul\x00') == 'nul\\00' and v.escape('plain-name$') == 'plain-name$'
    here = os.path.join(os.path.dirname(v.__file__))
    defined = [f for f in os.listdir(here) if f.endswith('.py') and 'def escape(' in open(os.path.join(here, f)).read()]
    assert defined == ['_values.py'] and lc.escape is v.escape
    assert v.ldap_filter_bytes(b'\x00\xff') == '\\00\\ff'         # binary values: every byte


def test_first_values_of_decoded_and_raw_attributes():
    attrs = {'cn': ['web'], 'description': [], 'msDS-KeyVersionNumber': 3}
    assert v.first(attrs, 'cn') == 'web' and v.first(attrs, 'description') is None
    assert v.first(attrs, 'msDS-KeyVersionNumber') == 3 and v.first(attrs, 'missing') is None
    assert v.single(['a', 'b']) == 'a' and v.single(()) is None and v.single('x') == 'x' and v.single(None) is None
    entry = dict(dn='CN=x', raw={'objectSid': [b'\x01\x02'], 'member': []})
    assert v.raw_first(entry, 'objectSid') == b'\x01\x02' and v.raw_first(entry, 'member') is None
    assert v.raw_first(dict(dn='CN=x'), 'objectSid') is None


def test_parent_dn_honours_escaped_commas():
    assert v.parent_dn('CN=web,OU=Farm,DC=x') == 'OU=Farm,DC=x'
    assert v.parent_dn('CN=Smith\\, John,OU=People,DC=x') == 'OU=People,DC=x'
    assert v.parent_dn('DC=x') == ''


def test_result_codes_by_name_both_ways():
    assert v.RESULT['sizeLimitExceeded'] == 4 and v.RESULT['invalidCredentials'] == 49
    assert v.result_name(68) == 'entryAlreadyExists (68)' and v.result_name(999) == 'result (999)'
    assert len(set(v.RESULT.values())) == len(v.RESULT)


@pytest.mark.parametrize('value', ['', 'not a dn', 'OU=a,,DC=x'])
def test_check_dn_names_the_option(value):
    with pytest.raises(ValueError) as e:
        v.check_dn('path', value)
    assert str(e.value).startswith('path: ')


def test_check_filter_accepts_filters_and_names_the_option_otherwise():
    assert v.check_filter('filter', ' (&(objectClass=computer)(cn=web*)) ') == '(&(objectClass=computer)(cn=web*))'
    with pytest.raises(ValueError) as e:
        v.check_filter('filter', 'objectClass=computer')
    assert str(e.value).startswith('filter: ')


def test_a_dn_option_comes_back_as_the_directory_spells_it():
    assert v.check_dn('path', 'OU=Farm, DC=example ,DC=com') == 'OU=Farm,DC=example,DC=com'
    assert v.check_dn('path', 'OU=A\\, B,DC=x') == 'OU=A\\, B,DC=x'     # an escaped comma is part of the value
