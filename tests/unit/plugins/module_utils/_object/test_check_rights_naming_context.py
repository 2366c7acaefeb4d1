"""The rights check finds objects of the configuration partition (KDS root keys) where they are: a search of the
domain partition would not return them, and a right that is missing would go unnoticed."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import check_rights
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request

DOMAIN = 'DC=example,DC=com'
CONFIG = 'CN=Configuration,DC=example,DC=com'
KEY = ('CN=7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11,CN=Master Root Keys,CN=Group Key Distribution Service,CN=Services,'
       + CONFIG)
OU = 'OU=Farm,' + DOMAIN


class Directory(object):
    """Answers a rights search only under the partition that holds the object, as a DC does."""
    default_nc, configuration_nc, bound_as = DOMAIN, CONFIG, 'op@EXAMPLE.COM'
    token_sids = ['S-1-5-21-1-2-3-1105', 'S-1-5-11']

    def __init__(self, rights):
        self.rights, self.searches = rights, []

    def own_sid(self):
        return self.token_sids[0]       # already in the token, as Samba gives it

    def search(self, base, flt, attrs, scope='subtree', controls=None):
        self.searches.append(base)
        return [dict(dn=dn, attributes=a) for dn, a in self.rights.items()
                if dn.lower().endswith(base.lower()) and (base == CONFIG or not dn.lower().endswith(CONFIG.lower()))
                and ('(distinguishedName=%s)' % dn).lower() in flt.lower()]


def dacl_write(dn):
    return Request('modify', dn, 'restrict %s' % dn, descriptor=True, deferred=lambda d: {})


def test_a_key_whose_dacl_may_not_be_written_is_refused_before_any_write():
    d = Directory({KEY: dict(sDRightsEffective=['0'])})
    with pytest.raises(ModuleFailure) as e:
        check_rights(d, [dacl_write(KEY)])
    assert e.value.msg == ('op@EXAMPLE.COM may not change the permissions (WRITE_DAC) of %s. Grant it those rights, '
                           'or run as an account that has them. Nothing was changed.' % KEY)
    assert d.searches == [CONFIG]


def test_one_search_per_naming_context():
    d = Directory({KEY: dict(sDRightsEffective=['4']), OU: dict(sDRightsEffective=['4'])})
    check_rights(d, [dacl_write(KEY), dacl_write(OU)])
    assert sorted(d.searches) == sorted([CONFIG, DOMAIN])
