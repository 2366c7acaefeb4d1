"""Who can change who retrieves a password, against the truth: each principal gmsa_info names really writes the
grant (or the allowed group's members) bound as itself, and then a host of its choosing reads the password; a
principal it does not name is refused."""
from __future__ import annotations

import uuid

import ldap3
from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR

from conftest import ldap3_connect, make_user, samba_tool

ATTR_GMSA_MEMBERSHIP = '888eedd6-ce04-df40-b462-b8a50e41ba38'
ATTR_MEMBER = 'bf9679c0-0de6-11d0-a285-00aa003049e2'


def uid(prefix='w'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def grant_to(sid):
    return SECURITY_DESCRIPTOR.from_sddl('O:S-1-5-32-544D:(A;;0xf01ff;;;%s)' % sid).to_bytes()


def test_grant_and_membership_changers_are_named_and_really_can_write(run_module, admin, lab, ou, computers):
    writer, member_writer, nested, plain = (make_user(lab, admin, p) for p in ('gw', 'gm', 'gn', 'gp'))
    try:
        host, other, third = (computers.create(uid('h')) for dummy in range(3))
        group = uid('hg')
        gdn = 'CN=%s,%s' % (group, ou)
        assert admin.add(gdn, 'group', {'groupType': -2147483646, 'sAMAccountName': group,
                                        'member': [host['dn']]}), admin.result
        helpers = uid('hp')
        hdn = 'CN=%s,%s' % (helpers, ou)
        assert admin.add(hdn, 'group', {'groupType': -2147483646, 'sAMAccountName': helpers,
                                        'member': [nested['dn']]}), admin.result
        name = uid('a')
        r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.x.test' % name,
                                    allowed_to_retrieve_password=dict(set=[group])))
        assert not r.failed, r
        dn = r['distinguished_name']
        # Administrator delegates, with samba-tool: the grant to a user, the group's members to a user and to a
        # group (whose member is a user).
        samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % dn,
                   '--sddl=(OA;;WP;%s;;%s)' % (ATTR_GMSA_MEMBERSHIP, writer['sid']))
        admin.search(hdn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['objectSid'])
        from conftest import sid_text
        helpers_sid = sid_text(admin.response[0]['raw_attributes']['objectSid'][0])
        samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % gdn, '--sddl=(OA;;WP;%s;;%s)(OA;;WP;%s;;%s)' % (
            ATTR_MEMBER, member_writer['sid'], ATTR_MEMBER, helpers_sid))

        info = run_module('gmsa_info', dict(name=[name]))
        assert not info.failed, info
        acct = info['accounts'][0]
        by_sid = dict((c['sid'], c) for c in acct['grant_changers'])
        assert by_sid[writer['sid']]['rights'] == ['write this attribute']
        assert writer['name'] in acct['grant_changers_effective']
        assert 'Account Operators' in [c['name'] for c in acct['grant_changers']]     # the class's default
        for p in (member_writer, nested, plain):
            assert p['name'] not in acct['grant_changers_effective']
        [mc] = acct['membership_changers']
        assert mc['group'] == group
        assert member_writer['name'] in mc['effective'] and nested['name'] in mc['effective']
        assert helpers in [c['name'] for c in mc['changers']] and plain['name'] not in mc['effective']

        # The truth, by writing as each of them: the members first (the group is still the grant) ...
        for p, added in ((member_writer, other), (nested, third)):
            conn = ldap3_connect(lab, p['dn'], p['password'])
            assert conn.modify(gdn, {'member': [(ldap3.MODIFY_ADD, [added['dn']])]}), (p['name'], conn.result)
            conn.unbind()
            assert computers.managed_password(added, dn) is not None, p['name']
        # ... then the grant itself, to a host of the writer's choosing.
        as_writer = ldap3_connect(lab, writer['dn'], writer['password'])
        assert as_writer.modify(dn, {'msDS-GroupMSAMembership': [
            (ldap3.MODIFY_REPLACE, [grant_to(writer['sid'])])]}), as_writer.result
        as_writer.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['msDS-ManagedPassword'])
        assert as_writer.response[0]['raw_attributes'].get('msDS-ManagedPassword'), 'the writer reads it now'
        as_writer.unbind()
        # Whom it does not name is refused both writes.
        as_plain = ldap3_connect(lab, plain['dn'], plain['password'])
        assert not as_plain.modify(dn, {'msDS-GroupMSAMembership': [
            (ldap3.MODIFY_REPLACE, [grant_to(plain['sid'])])]})
        assert as_plain.result['result'] == 50
        assert not as_plain.modify(gdn, {'member': [(ldap3.MODIFY_ADD, [plain['dn']])]})
        assert as_plain.result['result'] == 50
        as_plain.unbind()
    finally:
        for p in (writer, member_writer, nested, plain):
            admin.delete(p['dn'])


def test_who_may_create_dmsas_is_listed_and_flagged(run_module, admin, lab, ou):
    """Samba 4.22 has no dMSA class, so nobody can really create one on the lab; the listing is checked against
    the entries Administrator wrote with samba-tool (CreateChild for the class, and change permissions)."""
    creator, owner_like = make_user(lab, admin, 'gc'), make_user(lab, admin, 'go')
    try:
        sub = 'OU=%s,%s' % (uid('dm'), ou)
        assert admin.add(sub, 'organizationalUnit'), admin.result
        samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % sub, '--sddl=(OA;;CC;0feb936f-47b3-49f2-9386-1dedc2c23765;;%s)'
                   '(A;;WD;;;%s)' % (creator['sid'], owner_like['sid']))
        r = run_module('gmsa_info', dict(path=ou, dmsa_creators=True))
        assert not r.failed, r
        here = [c for c in r['dmsa_creators'] if c['container'].lower() == sub.lower()]
        flagged = dict((c['name'], c['rights']) for c in here if c['flagged'])
        assert flagged == {creator['name']: ['create dMSA objects'], owner_like['name']: ['change permissions']}
        assert all(not c['flagged'] for c in here if c['name'] not in flagged)
        assert r['dmsa_creators'][0]['flagged'] is True        # flagged ones first
        plain = run_module('gmsa_info', dict(path=ou))
        assert 'dmsa_creators' not in plain
    finally:
        admin.delete(creator['dn'])
        admin.delete(owner_like['dn'])
