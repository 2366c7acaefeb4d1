"""The audit never under-reports, checked against the truth: for each way a password can be granted, gmsa_info
(bound as the delegated identity) is compared with who really reads msDS-ManagedPassword, binding as each
principal over LDAPS. Where Samba and the documented Windows rule differ, the test says which one it holds the
report to."""
from __future__ import annotations

import uuid

import ldap3
import pytest
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

from conftest import make_user

GROUP_DOMAIN_LOCAL = -2147483644      # security, domain local
PRE_WINDOWS_2000 = 'S-1-5-32-554'     # BUILTIN\\Pre-Windows 2000 Compatible Access
AUTHENTICATED_USERS = 'S-1-5-11'


def uid(prefix='t'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def reads(lab, principal, gmsa_dn):
    from conftest import ldap3_connect
    conn = ldap3_connect(lab, principal['dn'], principal['password'])
    try:
        conn.search(gmsa_dn, '(objectClass=*)', search_scope='BASE', attributes=['msDS-ManagedPassword'])
        entries = [e for e in conn.response if e.get('type') == 'searchResEntry']
        return bool(entries and entries[0]['raw_attributes'].get('msDS-ManagedPassword'))
    finally:
        conn.unbind()


@pytest.fixture
def farm(run_module, admin, ou, lab, computers):
    """Three computers and a user in the test OU, and a way to make a gMSA with a given descriptor."""
    hosts = [computers.create(uid('h')) for dummy in range(3)]
    user = make_user(lab, admin, 'tu')

    def account(sddl=None, principals=None):
        name = uid('a')
        args = dict(name=name, path=ou, dns_hostname='%s.x.test' % name)
        if principals:
            args['allowed_to_retrieve_password'] = dict(set=principals)
        r = run_module('gmsa', args)
        assert not r.failed, r
        if sddl:
            sd = SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()
            assert admin.modify(r['distinguished_name'], {'msDS-GroupMSAMembership': [
                (ldap3.MODIFY_REPLACE, [sd])]}), admin.result
        return name, r['distinguished_name']

    def truth(dn):
        return sorted(p['sam'].lower() if 'sam' in p else p['name'].lower() for p in hosts + [user]
                      if reads(lab, p, dn))

    def report(name):
        info = run_module('gmsa_info', dict(name=[name]))
        assert not info.failed, info
        return info['accounts'][0]

    def reported(acct):
        mine = [p['sam'].lower() for p in hosts] + [user['name'].lower()]
        return sorted(x.lower() for x in acct['effective_retrievers'] if x.lower() in mine)

    yield dict(hosts=hosts, user=user, account=account, truth=truth, report=report, reported=reported)
    admin.delete(user['dn'])


@pytest.mark.parametrize('flags, granted', [('', True), ('CI', True), ('OICI', True), ('CIIO', False)],
                         ids=['no-flags', 'container-inherit', 'object-container-inherit', 'inherit-only'])
def test_entries_with_inheritance_flags_count_exactly_when_the_dc_counts_them(farm, flags, granted):
    h = farm['hosts'][0]
    name, dn = farm['account']('O:S-1-5-32-544D:(A;%s;0xf01ff;;;%s)' % (flags, h['sid']))
    assert farm['truth'](dn) == ([h['sam'].lower()] if granted else [])
    acct = farm['report'](name)
    assert farm['reported'](acct) == farm['truth'](dn)
    assert not acct['retrievers_unbounded'] and acct['orphaned'] is not granted


def test_object_entries_and_generic_bits_grant_nothing_and_are_not_reported(farm):
    h0, h1 = farm['hosts'][:2]
    name, dn = farm['account']('O:S-1-5-32-544D:(OA;;0xf01ff;;;%s)(A;;0x80000000;;;%s)' % (h0['sid'], h1['sid']))
    assert farm['truth'](dn) == []
    acct = farm['report'](name)
    assert farm['reported'](acct) == [] and acct['orphaned'] is True


def test_set_removes_a_host_granted_through_an_inheritable_entry(farm, run_module):
    """A compromised host granted through an entry of another shape than Windows writes loses access."""
    h0, h1 = farm['hosts'][:2]
    name, dn = farm['account']('O:S-1-5-32-544D:(A;CI;0xf01ff;;;%s)(A;;0xf01ff;;;%s)' % (h0['sid'], h1['sid']))
    assert farm['truth'](dn) == sorted([h0['sam'].lower(), h1['sam'].lower()])
    c = run_module('gmsa', dict(name=name, allowed_to_retrieve_password=dict(set=[h1['sam']])), check=True)
    assert c['changed'] is True and c['diff']['before']['allowed_to_retrieve_password'] == sorted(
        [h0['sam'], h1['sam']], key=str.lower)
    r = run_module('gmsa', dict(name=name, allowed_to_retrieve_password=dict(set=[h1['sam']])))
    assert not r.failed and r['changed'] is True, r
    assert farm['truth'](dn) == [h1['sam'].lower()]
    again = run_module('gmsa', dict(name=name, allowed_to_retrieve_password=dict(remove=[h1['sam']])))
    assert not again.failed and again['changed'] is True and farm['truth'](dn) == []


def test_pre_windows_2000_compatible_access_holds_authenticated_users(farm, admin, lab):
    """Samba provisions Authenticated Users in Pre-Windows 2000 Compatible Access (as Windows does when
    "permissions compatible with pre-Windows 2000" is chosen): everyone reads, and the report says unbounded."""
    name, dn = farm['account'](principals=[PRE_WINDOWS_2000])
    everyone = sorted([p['sam'].lower() for p in farm['hosts']] + [farm['user']['name'].lower()])
    assert farm['truth'](dn) == everyone
    acct = farm['report'](name)
    assert acct['retrievers_unbounded'] is True
    assert any('Authenticated Users (S-1-5-11) is a member of Pre-Windows 2000 Compatible Access' in r
               for r in acct['unbounded_reasons']), acct['unbounded_reasons']


def test_a_domain_local_group_holding_authenticated_users_is_unbounded(farm, admin, ou, lab):
    """Windows puts a domain-local group into the token of everyone in a well-known SID it holds (resource
    groups, MS-PAC / MS-KILE); Samba 4.22 does not, so on the lab nobody reads through it. The report follows the
    documented Windows rule: unbounded, naming the well-known member."""
    group = uid('dl')
    gdn = 'CN=%s,%s' % (group, ou)
    assert admin.add(gdn, 'group', {'groupType': GROUP_DOMAIN_LOCAL, 'sAMAccountName': group}), admin.result
    fsp = 'CN=%s,CN=ForeignSecurityPrincipals,%s' % (AUTHENTICATED_USERS, lab['GMSA_LAB_BASE_DN'])
    assert admin.modify(gdn, {'member': [(ldap3.MODIFY_ADD, [fsp])]}), admin.result
    name, dn = farm['account'](principals=[group])
    assert farm['truth'](dn) == []      # Samba's answer, measured; Windows grants every authenticated principal
    acct = farm['report'](name)
    assert acct['retrievers_unbounded'] is True
    assert any('Authenticated Users (S-1-5-11) is a member of %s' % group in r for r in acct['unbounded_reasons'])


def test_a_member_the_auditor_cannot_read_makes_the_report_incomplete(farm, admin, ou, delegated, computers):
    """A host in the allowed group whose object denies the auditor Read Property: it reads the password (truth),
    and the report says so as 'Incomplete', naming it, never drops it."""
    group = uid('hg')
    gdn = 'CN=%s,%s' % (group, ou)
    visible, hidden = farm['hosts'][0], farm['hosts'][1]
    assert admin.add(gdn, 'group', {'groupType': -2147483646, 'sAMAccountName': group,
                                    'member': [visible['dn'], hidden['dn']]}), admin.result
    from conftest import samba_tool
    samba_tool(computers.lab, 'dsacl', 'set', '--objectdn=%s' % hidden['dn'],
               '--sddl=(D;;RP;;;%s)' % delegated['sid'])
    name, dn = farm['account'](principals=[group])
    assert farm['truth'](dn) == sorted([visible['sam'].lower(), hidden['sam'].lower()])
    acct = farm['report'](name)
    assert visible['sam'] in acct['effective_retrievers']
    assert acct['retrievers_unbounded'] is True
    assert any(r.startswith('Incomplete: ') and hidden['dn'].lower() in r.lower() for r in acct['unbounded_reasons']), \
        acct['unbounded_reasons']


def samba_sd(sddl):
    """A descriptor built by Samba's own SDDL parser (the system python3's samba bindings, which read conditional
    entries), as bytes: an independent client for shapes winacl cannot write."""
    import subprocess
    code = ('import sys; from samba.dcerpc import security; from samba.ndr import ndr_pack; '
            'sys.stdout.write(ndr_pack(security.descriptor.from_sddl(sys.argv[1], security.dom_sid("S-1-5-32"))).hex())')
    p = subprocess.run(['/usr/bin/python3', '-c', code, sddl], capture_output=True, text=True, check=False)
    if p.returncode != 0:
        pytest.skip('no samba python bindings: %s' % p.stderr[-300:])
    return bytes.fromhex(p.stdout)


@pytest.mark.parametrize('condition, holds', [('(Member_of {SID(S-1-5-11)})', True),
                                              ('(Member_of {SID(S-1-5-32-544)})', False)],
                         ids=['condition-holds', 'condition-fails'])
def test_conditional_entries_count_and_are_named_conditional(farm, admin, condition, holds):
    """Samba evaluates conditional entries (measured): the host reads exactly when the condition holds. The report
    cannot evaluate conditions, so it counts the principal and names it in conditional_principals."""
    h = farm['hosts'][0]
    name, dn = farm['account']()
    sd = samba_sd('O:BAD:(XA;;0xf01ff;;;%s;%s)' % (h['sid'], condition))
    assert admin.modify(dn, {'msDS-GroupMSAMembership': [(ldap3.MODIFY_REPLACE, [sd])]}), admin.result
    assert farm['truth'](dn) == ([h['sam'].lower()] if holds else [])
    acct = farm['report'](name)
    assert farm['reported'](acct) == [h['sam'].lower()] and acct['conditional_principals'] == [h['sam']]
