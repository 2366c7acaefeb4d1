"""gmsa_info against the lab DC: retrievers through nested groups, privileged reach, filters, paging."""
from __future__ import annotations

import time
import uuid

import ldap3

from conftest import samba_tool


def uid(prefix='i'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def add_group(admin, ou, members=()):
    sam = uid('grp')
    dn = 'CN=%s,%s' % (sam, ou)
    assert admin.add(dn, 'group', {'groupType': -2147483646, 'sAMAccountName': sam}), admin.result
    if members:
        assert admin.modify(dn, {'member': [(ldap3.MODIFY_ADD, list(members))]}), admin.result
    return sam, dn


def test_effective_retrievers_and_privileged(run_module, admin, ou, lab, computers):
    direct = computers.create(uid('d'))
    deep = computers.create(uid('n'))
    inner_sam, inner = add_group(admin, ou, [deep['dn']])
    outer_sam, outer = add_group(admin, ou, [inner])
    name = uid('ia')
    r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.x.test' % name,
                                allowed_to_retrieve_password=dict(set=[direct['sam'], outer_sam])))
    assert not r.failed, r
    dn = r['distinguished_name']
    # Put the gMSA in a group nested into Domain Admins: it reaches a privileged group transitively.
    nest_sam, nest = add_group(admin, ou, [dn])
    da = 'CN=Domain Admins,CN=Users,%s' % lab['GMSA_LAB_BASE_DN']
    assert admin.modify(da, {'member': [(ldap3.MODIFY_ADD, [nest])]}), admin.result
    try:
        info = run_module('gmsa_info', dict(name=[name + '$']))
        assert not info.failed, info
        [acct] = info['accounts']
        assert acct['distinguished_name'] == dn
        assert [p['name'] for p in acct['allowed_principals']] == sorted([direct['sam'], outer_sam], key=str.lower)
        types = {p['name']: p['type'] for p in acct['allowed_principals']}
        assert types == {direct['sam']: 'computer', outer_sam: 'group'}
        assert acct['effective_retrievers'] == sorted([direct['sam'], deep['sam']], key=str.lower)
        assert acct['privileged'] is True
        assert 'Domain Admins' in acct['privileged_groups'] and 'Administrators' in acct['privileged_groups']
        assert acct['member_of'] == [nest]
        assert acct['password_interval_days'] == 30 and acct['enabled'] is True
        assert acct['password_last_set'] and acct['next_rotation'] > acct['password_last_set']
        assert acct['delegation'] == dict(trusted_for_delegation=False, trusted_to_auth_for_delegation=False,
                                          allowed_to_delegate_to=[], delegates=[])
        # The directory agrees: both computers really get the password, through the nested groups too.
        assert computers.managed_password(deep, dn) is not None
        assert computers.managed_password(direct, dn) is not None
    finally:
        admin.modify(da, {'member': [(ldap3.MODIFY_DELETE, [nest])]})
    info = run_module('gmsa_info', dict(name=[name]))
    assert info['accounts'][0]['privileged'] is False and info['accounts'][0]['privileged_groups'] == []


def test_filter_path_and_agreement_with_samba_tool(run_module, ou, lab):
    names = [uid('f') for dummy in range(3)]
    for i, n in enumerate(names):
        assert not run_module('gmsa', dict(name=n, path=ou, dns_hostname='%s.x.test' % n,
                                           description='team-%d' % (i % 2))).failed
    r = run_module('gmsa_info', dict(path=ou))
    assert sorted(a['name'] for a in r['accounts']) == sorted(names)
    r = run_module('gmsa_info', dict(path=ou, ldap_filter='(description=team-0)'))
    assert sorted(a['name'] for a in r['accounts']) == sorted([names[0], names[2]])
    listed = samba_tool(lab, 'service-account', 'list')
    assert all(n + '$' in listed or n in listed for n in names)
    assert run_module('gmsa_info', dict(name=['nosuchaccount']))['accounts'] == []


def test_more_accounts_than_one_page(run_module, admin, ou):
    """Paged search: more than the 500-entry page size comes back complete."""
    t0 = time.time()
    n = 520
    for i in range(n):
        sam = 'pg%05d' % i
        assert admin.add('CN=%s,%s' % (sam, ou), ['top', 'msDS-GroupManagedServiceAccount'], {
            'sAMAccountName': sam + '$', 'msDS-ManagedPasswordInterval': 30, 'userAccountControl': 0x1000,
            'dNSHostName': '%s.x.test' % sam}), admin.result
    assert time.time() - t0 < 300
    r = run_module('gmsa_info', dict(path=ou))
    assert not r.failed
    assert len(r['accounts']) == n
    assert len(set(a['sid'] for a in r['accounts'])) == n


def add_user(admin, ou):
    import uuid as _uuid
    sam = uid('usr')
    password = 'User-%s-9a!' % _uuid.uuid4().hex
    dn = 'CN=%s,%s' % (sam, ou)
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': sam, 'userAccountControl': 0x200,
        'unicodePwd': ('"%s"' % password).encode('utf-16-le')}), admin.result
    return dict(name=sam, sam=sam, dn=dn, password=password)


def reads(lab, principal, gmsa_dn):
    """Does this principal get msDS-ManagedPassword, binding as itself over LDAPS (independent of our code)?"""
    from conftest import ldap3_connect
    conn = ldap3_connect(lab, principal['dn'], principal['password'])
    try:
        conn.search(gmsa_dn, '(objectClass=*)', search_scope='BASE', attributes=['msDS-ManagedPassword'])
        entries = [e for e in conn.response if e.get('type') == 'searchResEntry']
        return bool(entries and entries[0]['raw_attributes'].get('msDS-ManagedPassword'))
    finally:
        conn.unbind()


def test_reported_retrievers_are_exactly_who_reads_the_password(run_module, admin, ou, lab, computers):
    """The audit never under-reports. For each grant - a group with a nested group and a user in it,
    Domain Computers (members through their primary group), a computer directly, Authenticated Users - the
    reported retrievers among these principals equal those that really read the password by binding."""
    a, b, c = computers.create(uid('a')), computers.create(uid('b')), computers.create(uid('c'))
    u, v = add_user(admin, ou), add_user(admin, ou)
    inner_sam, inner = add_group(admin, ou, [b['dn']])
    outer_sam, outer = add_group(admin, ou, [a['dn'], inner, u['dn']])
    known = [a, b, c, u, v]
    grants = {'group': [outer_sam], 'domain computers': ['Domain Computers'], 'direct': [c['sam']],
              'authenticated users': ['S-1-5-11']}
    names = {}
    for label, principals in grants.items():
        name = uid('ga')
        r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.x.test' % name,
                                    allowed_to_retrieve_password=dict(set=principals)))
        assert not r.failed, (label, r)
        names[label] = (name, r['distinguished_name'])
    info = run_module('gmsa_info', dict(name=[n for n, _dn in names.values()]))
    assert not info.failed, info
    by_name = dict((x['name'], x) for x in info['accounts'])
    for label, (name, dn) in names.items():
        acct = by_name[name]
        really = sorted(p['sam'].lower() for p in known if reads(lab, p, dn))
        reported = sorted(r.lower() for r in acct['effective_retrievers'] if r.lower() in [p['sam'].lower() for p in known])
        if label == 'authenticated users':
            assert acct['retrievers_unbounded'] and 'Authenticated Users' in acct['unbounded_reasons'][0]
            assert really == sorted(p['sam'].lower() for p in known)     # indeed everyone here reads it
        else:
            assert not acct['retrievers_unbounded'], (label, acct['unbounded_reasons'])
            assert reported == really, (label, reported, really)
    assert sorted(x.lower() for x in by_name[names['group'][0]]['effective_retrievers']) == sorted(
        p['sam'].lower() for p in (a, b, u))
    assert c['sam'] in by_name[names['domain computers'][0]]['effective_retrievers']


def test_stale_orphaned_and_migration_candidates(run_module, admin, ou, lab, computers):
    """Discovery, as Microsoft's "Secure group managed service accounts" describes it: accounts nobody uses,
    accounts no host can use, and user accounts with SPNs."""
    host = computers.create(uid('h'))
    used, orphan = uid('iu'), uid('io')
    for name, allowed in ((used, [host['sam']]), (orphan, [host['sam']])):
        r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.x.test' % name,
                                    allowed_to_retrieve_password=dict(set=allowed)))
        assert not r.failed, r
    admin.delete(host['dn'])            # the only allowed principal is gone: orphan (and used) now grant nobody
    svc = uid('svc')
    svc_dn = 'CN=%s,%s' % (svc, ou)
    assert admin.add(svc_dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': svc, 'userAccountControl': 0x200, 'servicePrincipalName': ['http/%s.x.test' % svc],
        'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result
    info = run_module('gmsa_info', dict(path=ou, migration_candidates=True))
    assert not info.failed, info
    by_name = dict((a['name'], a) for a in info['accounts'])
    assert by_name[orphan]['orphaned'] and by_name[orphan]['unresolved_sids'] == [host['sid']]
    assert by_name[used]['stale'] and by_name[used]['last_logon'] is None
    assert [c['name'] for c in info['migration_candidates']] == [svc]
    assert info['migration_candidates'][0]['spn'] == ['http/%s.x.test' % svc]
    plain = run_module('gmsa_info', dict(path=ou))
    assert 'migration_candidates' not in plain


def test_forest_root_sid_comes_from_the_crossref_not_a_referral(lab, run_module):
    """The forest root's SID is read from the domain crossRef with the extended-DN control (every DC holds the
    configuration partition); a child domain's DC answers a base search of the root NC only with a referral."""
    from ansible_collections.gmsa.farm.plugins.module_utils._domain import forest_domains, forest_root_sid
    from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import Directory
    with Directory(dict(lab['conn'], domain_timeout=30)).connect() as d:
        domains = forest_domains(d)
        assert [x['dn'] for x in domains] == [lab['GMSA_LAB_BASE_DN']]
        assert domains[0]['dns'] == lab['GMSA_LAB_REALM'].lower()
        sid = forest_root_sid(d, domains)
    # independent: samba-tool reads Administrator's SID, the domain SID plus RID 500
    shown = samba_tool(lab, 'user', 'show', 'Administrator', '--attributes=objectSid')
    assert 'objectSid: %s-500' % sid in shown, shown


def test_forest_wide_privileged_groups_asked_from_the_global_catalog(run_module, admin, ou, lab, monkeypatch):
    """In a forest with more than one domain, Enterprise/Schema Admins are universal groups of the root domain
    that only a global catalog resolves: gmsa_info asks the GC (here the lab DC's real GC on 3269; the second
    domain is simulated because the lab forest has one)."""
    from ansible_collections.gmsa.farm.plugins.module_utils import _report
    real = _report.forest_domains
    monkeypatch.setattr(_report, 'forest_domains', lambda d: real(d) + [
        dict(dn='DC=child,' + lab['GMSA_LAB_BASE_DN'], sid='S-1-5-21-1-2-3', dns='child.' + lab['GMSA_LAB_REALM'])])
    name = uid('ig')
    r = run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.x.test' % name))
    assert not r.failed, r
    nest_sam, nest = add_group(admin, ou, [r['distinguished_name']])
    sa = 'CN=Schema Admins,CN=Users,%s' % lab['GMSA_LAB_BASE_DN']
    assert admin.modify(sa, {'member': [(ldap3.MODIFY_ADD, [nest])]}), admin.result
    try:
        [acct] = run_module('gmsa_info', dict(name=[name]))['accounts']
        assert acct['privileged_groups'] == ['Schema Admins']
        # a DC that is no global catalog: the report says what it could not evaluate
        from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import Directory
        monkeypatch.setattr(Directory, 'dse_str', lambda self, n: 'FALSE' if n == 'isGlobalCatalogReady' else
                            (self.root_dse.get(n) or [None])[0] if isinstance(self.root_dse.get(n), list)
                            else self.root_dse.get(n))
        monkeypatch.setattr(_report, 'privileged_reach', lambda *a, **k: {})
        info = run_module('gmsa_info', dict(name=[name]))
        assert info['accounts'][0]['privileged_groups'] == []
        warned = str(info.get('warnings'))
        assert 'Schema Admins' in warned and 'is not a global catalog' in warned, info
    finally:
        admin.modify(sa, {'member': [(ldap3.MODIFY_DELETE, [nest])]})


def test_from_a_child_domain_the_roots_builtin_groups_are_said_not_evaluated(run_module, ou, lab, monkeypatch):
    """Simulated child domain (the lab forest has one): the forest root's built-in groups are domain local groups
    of the root that this DC cannot list, so the report says so instead of reporting the account unprivileged."""
    from ansible_collections.gmsa.farm.plugins.module_utils import _report
    real = _report.forest_domains
    monkeypatch.setattr(_report, 'forest_domains', lambda d: real(d) + [
        dict(dn='DC=root,DC=test', sid='S-1-5-21-7-7-7', dns='root.test')])
    monkeypatch.setattr(_report, 'forest_root_sid', lambda d, domains=None: 'S-1-5-21-7-7-7')
    monkeypatch.setattr(_report, 'forest_privileged_members', lambda gc, root: {})
    name = uid('ic')
    assert not run_module('gmsa', dict(name=name, path=ou, dns_hostname='%s.x.test' % name)).failed
    info = run_module('gmsa_info', dict(name=[name]))
    assert not info.failed, info
    assert "forest root domain's built-in groups" in ' '.join(info.warning_texts), info.warning_texts
    monkeypatch.undo()
    plain = run_module('gmsa_info', dict(name=[name]))
    assert "forest root domain's built-in groups" not in ' '.join(plain.warning_texts)
