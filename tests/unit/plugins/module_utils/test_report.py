"""Pure tests of how the report names what makes retrievers unbounded (no server)."""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _report as rp

GROUP = dict(name='WebHosts', dn='CN=WebHosts,OU=x,DC=corp,DC=test')


def test_a_foreign_member_is_named_for_what_it_stands_for():
    au = dict(type='foreign', sid='S-1-5-11', dn='CN=S-1-5-11,CN=ForeignSecurityPrincipals,DC=corp,DC=test')
    assert rp.member_reason(au, GROUP, 'S-1-5-21-1-2-3') == (
        'Authenticated Users (S-1-5-11) is a member of WebHosts: every principal it stands for can retrieve this '
        'password')
    trusted = dict(type='foreign', sid='S-1-5-21-7-7-7-1105', dn='CN=S-1-5-21-7-7-7-1105,CN=ForeignSecurityPrincipals')
    assert 'S-1-5-21-7-7-7-1105, a principal of another domain' in rp.member_reason(trusted, GROUP, 'S-1-5-21-1-2-3')
    assert rp.member_reason(dict(type='computer', sid='S-1-5-21-1-2-3-1101', dn='CN=W'), GROUP, 'S-1-5-21-1-2-3') \
        is None


def test_a_member_not_found_is_another_domains_or_unread():
    assert rp.unread_reason('cn=web9,ou=x,dc=child,dc=corp,dc=test', GROUP, 'DC=corp,DC=test').startswith(
        'cn=web9,ou=x,dc=child,dc=corp,dc=test, an object of another domain, is a member of WebHosts')
    assert rp.unread_reason('cn=web9,ou=x,dc=corp,dc=test', GROUP, 'DC=corp,DC=test') == (
        'Incomplete: cn=web9,ou=x,dc=corp,dc=test, a member of WebHosts, could not be read by this account')

