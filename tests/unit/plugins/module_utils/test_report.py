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


def _sd(sddl):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()


def test_a_dmsa_inherits_the_access_of_the_account_it_supersedes_while_migrating_or_migrated():
    def dmsa(state):
        return dict(dn='CN=d', attributes={'objectClass': ['top', 'msDS-DelegatedManagedServiceAccount'],
                                           'msDS-DelegatedMSAState': [str(state)],
                                           'msDS-ManagedAccountPrecededByLink': ['CN=Administrator,CN=Users,DC=x']})
    assert rp.superseded(dmsa(2)) == rp.superseded(dmsa(1)) == ['CN=Administrator,CN=Users,DC=x']
    assert rp.superseded(dmsa(0)) == rp.superseded(dmsa(3)) == []
    gmsa = dict(dn='CN=g', attributes={'objectClass': ['msDS-GroupManagedServiceAccount'],
                                       'msDS-ManagedAccountPrecededByLink': ['CN=x']})
    assert rp.superseded(gmsa) == []


def test_who_may_create_dmsas_in_a_container():
    u, v, w, x = ('S-1-5-21-1-2-3-%d' % r for r in (1101, 1102, 1103, 1104))
    sd = _sd('O:S-1-5-21-1-2-3-512D:(OA;;0x1;%s;;%s)(OA;;0x1;bf967a9c-0de6-11d0-a285-00aa003049e2;;%s)'
             '(A;;0x40000;;;%s)(A;CIIO;0x1;;;%s)(OA;;0x1;;;%s)' % (rp.CLASS_DMSA_GUID, u, v, w, x, x))
    got = dict(rp.dmsa_creator_entries(sd))
    assert got == {'S-1-5-21-1-2-3-512': ['owner (may change permissions)'], u: ['create dMSA objects'],
                   w: ['change permissions'], x: ['create child objects of any class']}
