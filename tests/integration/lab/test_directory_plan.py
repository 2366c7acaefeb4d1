"""Against the lab DC: one plan of every write, honest partial failures, and the answers only a Windows
DC gives - injected by a fault proxy in front of the lab DC (tests/lab/ldap_fault_proxy.py), since Samba never
gives them."""
from __future__ import annotations

import functools
import uuid

import ldap3
import pytest

from conftest import dump_tree, samba_tool
from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest


def uid(prefix='p'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def gmsa(run_module, ou, lab):
    def _run(args, check=False, via=None, as_admin=False):
        full = dict(path=ou)
        if via is not None:
            # through the proxy (one more TLS hop, on a busy 2-core CI machine): a longer receive timeout
            full.update(domain_server=['127.0.0.1'], domain_port=via.port, domain_ca_cert=via.ca, domain_timeout=60)
        full.update(args)
        return run_module('gmsa', full, check=check, as_admin=as_admin)
    return _run


# protect_from_deletion also denies "delete child" on the parent OU: that needs WRITE_DAC on the OU itself, which
# the farm delegation (full control on the accounts only) does not give. Such tests run as Administrator.
PROTECTION_NEEDS_WRITE_DAC_ON_THE_OU = dict(as_admin=True)


def dns(lab, name):
    return '%s.%s' % (name.lower(), lab['GMSA_LAB_REALM'].lower())


def members(lab, name):
    out = samba_tool(lab, 'service-account', 'group-msa-membership', 'show', '--name=%s' % name)
    return sorted(line.strip().split(',')[0].split('=')[-1].lower() for line in out.splitlines()[2:] if line.strip())


def attr(admin, dn, name):
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=[name])
    e = [x for x in admin.response if x.get('type') == 'searchResEntry']
    return e[0]['attributes'].get(name) if e else None


# ----------------------------------------------------------------------------- descriptors changed by value
@pytest.mark.parametrize('code', [16, 18, 53], ids=['noSuchAttribute', 'inappropriateMatching', 'unwillingToPerform'])
def test_descriptor_value_delete_refused_falls_back_to_a_guarded_replace(gmsa, computers, lab, proxy, code):
    """A Windows DC may refuse to delete msDS-GroupMSAMembership by value: the module re-reads, sees the value it
    planned from, and replaces it - the new host is added, the old one kept."""
    a, b = computers.create(uid('a')), computers.create(uid('b'))
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name), allowed_to_retrieve_password=dict(set=[a['sam']]))).failed
    proxy.rules.append(Rule('modifyRequest', code, dn_part='cn=%s,' % name.lower(),
                            delete_value_of='msDS-GroupMSAMembership', message='value delete refused'))
    r = gmsa(dict(name=name, allowed_to_retrieve_password=dict(add=[b['sam']])), via=proxy)
    assert not r.failed, r
    assert r['changed'] and r['diff']['after']['allowed_to_retrieve_password'] == sorted([a['sam'], b['sam']], key=str.lower)
    assert [s for _op, dn, s in proxy.seen if dn.lower().startswith('cn=%s,' % name.lower())] == [
        'answered %d' % code, 'forwarded']
    assert members(lab, name) == sorted([a['name'].lower(), b['name'].lower()])
    assert computers.managed_password(b, r['distinguished_name'])


def test_refused_value_delete_with_a_concurrent_change_is_retried_not_overwritten(gmsa, computers, lab, proxy):
    """If the descriptor changed meanwhile, the re-read shows it: no replace over the other writer's change; the
    task re-reads and plans again, and both hosts end up allowed."""
    a, b, c = computers.create(uid('a')), computers.create(uid('b')), computers.create(uid('c'))
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name), allowed_to_retrieve_password=dict(set=[a['sam']]))).failed

    def other_writer():
        samba_tool(lab, 'service-account', 'group-msa-membership', 'add', '--name=%s' % name,
                   '--principal=%s' % c['dn'])
    proxy.rules.append(Rule('modifyRequest', 16, dn_part='cn=%s,' % name.lower(),
                            delete_value_of='msDS-GroupMSAMembership', before_answer=other_writer))
    r = gmsa(dict(name=name, allowed_to_retrieve_password=dict(add=[b['sam']])), via=proxy)
    assert not r.failed, r
    assert members(lab, name) == sorted(x['name'].lower() for x in (a, b, c))


# ----------------------------------------------------------------------------- the plan and partial failures
def test_check_mode_lists_the_same_requests_a_real_run_sends(gmsa, lab, admin, ou):
    gmsa = functools.partial(gmsa, **PROTECTION_NEEDS_WRITE_DAC_ON_THE_OU)
    name = uid('g')
    c = gmsa(dict(name=name, dns_hostname=dns(lab, name), protect_from_deletion=True), check=True)
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name), protect_from_deletion=True))
    assert c['requests'] == r['requests']
    assert [x['what'].split(' ')[0] for x in r['requests']] == ['create', 'protect', 'deny']
    assert not gmsa(dict(name=name, protect_from_deletion=False, state='absent')).failed


def test_a_failure_after_writes_reports_them_and_changed(gmsa, lab, admin, ou, proxy):
    """The parent refuses the "delete child" deny (a delegated OU admin without WRITE_DAC on it, say): the
    account's update and protection were written; the result says so, with changed: true."""
    gmsa = functools.partial(gmsa, **PROTECTION_NEEDS_WRITE_DAC_ON_THE_OU)
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    proxy.rules.append(Rule('modifyRequest', 50, dn=ou, message='insufficient rights on the OU'))
    r = gmsa(dict(name=name, description='farm account', protect_from_deletion=True), via=proxy)
    assert r.failed and r['changed'] is True
    assert r['written'] == ['update CN=%s,%s (description)' % (name, ou),
                            'protect CN=%s,%s from accidental deletion' % (name, ou)]
    assert 'Already written before the failure' in r['msg'] and 'Nothing was changed' not in r['msg']
    assert attr(admin, 'CN=%s,%s' % (name, ou), 'description') in ('farm account', ['farm account'])
    again = gmsa(dict(name=name, description='farm account', protect_from_deletion=True))
    assert not again.failed and [x['what'].split(' ')[0] for x in again['requests']] == ['deny']
    assert not gmsa(dict(name=name, protect_from_deletion=False, state='absent')).failed


def test_a_refused_first_write_changes_nothing_and_says_so(gmsa, lab, admin, ou, proxy):
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    before = dump_tree(admin, ou)
    proxy.rules.append(Rule('modifyRequest', 53, dn_part='cn=%s,' % name.lower(), message='refused'))
    r = gmsa(dict(name=name, description='x'), via=proxy)
    assert r.failed and not r.get('changed') and r['written'] == []
    assert r['msg'].endswith('Nothing was changed.') and dump_tree(admin, ou) == before


def test_constraint_violation_on_an_attribute_filled_meanwhile_is_retried(gmsa, lab, admin, ou, proxy):
    """Windows answers constraintViolation when another writer filled a single-valued attribute that was empty
    when read: the task re-reads and plans again (delete-old/add-new), instead of failing."""
    name = uid('g')
    dn = 'CN=%s,%s' % (name, ou)
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    proxy.rules.append(Rule('modifyRequest', 19, dn=dn, before_answer=lambda: admin.modify(
        dn, {'displayName': [(ldap3.MODIFY_REPLACE, ['someone else'])]})))
    r = gmsa(dict(name=name, display_name='ours'), via=proxy)
    assert not r.failed, r
    assert attr(admin, dn, 'displayName') in ('ours', ['ours'])
    # a real constraint violation (nothing filled meanwhile) fails at once, without the retry loop
    proxy.rules.append(Rule('modifyRequest', 19, dn=dn, message='real constraint'))
    r = gmsa(dict(name=name, description='d'), via=proxy)
    assert r.failed and 'real constraint' in r['msg'] and 'kept changing' not in r['msg']


def test_a_protected_account_is_moved_with_protection_lifted_and_restored(gmsa, lab, admin, ou):
    """Windows refuses to move or rename a protected object: the plan lifts the protection, moves, restores it."""
    gmsa = functools.partial(gmsa, **PROTECTION_NEEDS_WRITE_DAC_ON_THE_OU)
    name = uid('g')
    sub = 'OU=moved,%s' % ou
    admin.add(sub, ['top', 'organizationalUnit'])
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name), protect_from_deletion=True)).failed
    c = gmsa(dict(name=name, path=sub), check=True)
    r = gmsa(dict(name=name, path=sub))
    assert not r.failed, r
    assert c['requests'] == r['requests']
    assert [x['what'].split(' ')[0] for x in r['requests']] == ['lift', 'move/rename', 'protect', 'deny']
    assert r['distinguished_name'] == 'CN=%s,%s' % (name, sub)
    # still protected where it is now: a plain delete is refused
    assert not admin.delete('CN=%s,%s' % (name, sub)) and admin.result['result'] == 50
    assert not gmsa(dict(name=name, path=sub, protect_from_deletion=False, state='absent')).failed


def test_absent_on_a_protected_account_changes_nothing_unless_asked(gmsa, lab, admin, ou):
    gmsa = functools.partial(gmsa, **PROTECTION_NEEDS_WRITE_DAC_ON_THE_OU)
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name), protect_from_deletion=True)).failed
    before = dump_tree(admin, ou)
    r = gmsa(dict(name=name, state='absent'))
    assert r.failed and 'protect_from_deletion: false' in r['msg'] and dump_tree(admin, ou) == before


def test_delete_refused_after_lifting_the_protection_puts_it_back(gmsa, lab, admin, ou, proxy):
    gmsa = functools.partial(gmsa, **PROTECTION_NEEDS_WRITE_DAC_ON_THE_OU)
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name), protect_from_deletion=True)).failed
    proxy.rules.append(Rule('delRequest', 50, dn_part='cn=%s,' % name.lower(), message='no delete right'))
    r = gmsa(dict(name=name, state='absent', protect_from_deletion=False), via=proxy)
    assert r.failed and not r.get('changed') and 'put back' in r['msg'] and r['msg'].endswith('Nothing was changed.')
    assert not admin.delete('CN=%s,%s' % (name, ou)) and admin.result['result'] == 50   # protected again
    assert not gmsa(dict(name=name, state='absent', protect_from_deletion=False)).failed


# ----------------------------------------------------------------------------- the sMSA host link
def test_standalone_account_moved_to_another_host_keeps_one_link(gmsa, computers, lab, admin, ou):
    # As Administrator: standalone accounts (and their hosts' links) are outside the farm delegation.
    gmsa = functools.partial(gmsa, as_admin=True)
    first, second = computers.create(uid('s')), computers.create(uid('s'))
    name = uid('m')
    assert not gmsa(dict(name=name, account_type='standalone', host=first['sam'])).failed
    r = gmsa(dict(name=name, account_type='standalone', host=second['sam']))
    assert not r.failed and r['diff']['before']['host'] == first['sam'] and r['diff']['after']['host'] == second['sam']
    assert [x['what'].split(' ')[0] for x in r['requests']] == ['unlink', 'link']
    assert not attr(admin, first['dn'], 'msDS-HostServiceAccount')
    assert attr(admin, second['dn'], 'msDS-HostServiceAccount') == ['CN=%s,%s' % (name, ou)]
    assert not gmsa(dict(name=name, account_type='standalone', host=second['sam']))['changed']


# -------------------------------------------------------------- Windows refusing a gMSA without a KDS key (NTE_NO_KEY)
NTE_NO_KEY = ('0000207D: SvcErr: DSID-03152D2C, problem 5003 (WILL_NOT_PERFORM), data -2146893811 (0x8009000D '
              'NTE_NO_KEY)')


def test_windows_no_kds_key_refusal_is_shown_as_it_is_when_the_keys_cannot_be_read(gmsa, lab, proxy, ou, admin):
    """The delegated identity cannot read the lab's KDS key (it has the descriptor Windows writes): whether a key
    is usable is unknown to it, so the DC's own refusal is shown, with the right the account lacks to tell."""
    name = uid('g')
    before = dump_tree(admin, ou)
    proxy.rules.append(Rule('addRequest', 53, dn_part='cn=%s,' % name.lower(), message=NTE_NO_KEY))
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name)), via=proxy)
    assert r.failed and r['msg'].endswith('Nothing was changed.'), r
    assert '0x8009000D NTE_NO_KEY' in r['msg'] and 'No usable KDS root key' not in r['msg']
    assert 'cannot read' in r['msg'] and 'Read Property' in r['msg']
    assert dump_tree(admin, ou) == before


def test_windows_no_kds_key_refusal_is_explained_to_who_can_read_the_keys(gmsa, lab, proxy, ou, admin):
    """Administrator reads the key and sees it usable, yet this DC answers NTE_NO_KEY (it lacks the key): the DC's
    refusal is shown as it is, with the likely cause."""
    name = uid('g')
    before = dump_tree(admin, ou)
    proxy.rules.append(Rule('addRequest', 53, dn_part='cn=%s,' % name.lower(), message=NTE_NO_KEY))
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name)), via=proxy, as_admin=True)
    assert r.failed and '0x8009000D NTE_NO_KEY' in r['msg'] and r['msg'].endswith('Nothing was changed.'), r
    assert 'may not have replicated to that DC yet' in r['msg']
    assert dump_tree(admin, ou) == before


# ----------------------------------------------------------------------------- principals
def test_own_domain_netbios_prefix_is_accepted(gmsa, computers, lab):
    host = computers.create(uid('h'))
    name = uid('g')
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name),
                  allowed_to_retrieve_password=dict(set=['%s\\%s' % (lab['GMSA_LAB_NETBIOS'], host['sam'])])))
    assert not r.failed and r['diff']['after']['allowed_to_retrieve_password'] == [host['sam']]


# ----------------------------------------------------------------------------- the compromised host's account
def test_computer_account_disable_and_reset(run_module, computers, admin, ou, lab):
    from conftest import ldap3_connect
    host = computers.create(uid('c'))
    before = dump_tree(admin, ou)
    c = run_module('computer_account', dict(name=host['sam'], enabled=False, reset_password=True), check=True)
    assert not c.failed and c['changed'] and c['diff'] == dict(before=dict(enabled=True, password='unchanged'),
                                                               after=dict(enabled=False, password='reset'))
    assert dump_tree(admin, ou) == before
    r = run_module('computer_account', dict(name=host['name'], enabled=False, reset_password=True))
    assert not r.failed and r['changed'] and [x['what'].split(' ')[0] for x in r['requests']] == ['disable', 'reset']
    assert 'stay valid until they expire' in r['exposure']
    uac = attr(admin, host['dn'], 'userAccountControl')
    assert int(uac[0] if isinstance(uac, list) else uac) & 2, 'disabled'
    with pytest.raises(AssertionError):
        ldap3_connect(lab, host['dn'], host['password'])      # the old machine password no longer binds
    again = run_module('computer_account', dict(name=host['sam'], enabled=False))
    assert not again.failed and not again['changed']
    missing = run_module('computer_account', dict(name='nosuchpc42', enabled=False))
    assert missing.failed and missing['msg'] == 'name: no computer nosuchpc42 in the domain. Nothing was changed.'


def test_service_user_spns_and_enabled(run_module, admin, ou, lab):
    # As Administrator: service users (the accounts a farm migrates from) are not in the farm delegation.
    run_module = functools.partial(run_module, as_admin=True)
    user = uid('svc')
    dn = 'CN=%s,%s' % (user, ou)
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200, 'servicePrincipalName': ['http/a.x.test', 'http/b'],
        'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result
    before = dump_tree(admin, ou)
    args = dict(name=user, spn=dict(remove=['HTTP/B']), enabled=False)
    c = run_module('service_user', args, check=True)
    assert not c.failed and c['changed'] and dump_tree(admin, ou) == before
    assert c['diff'] == dict(before=dict(spn=['http/a.x.test', 'http/b'], enabled=True),
                             after=dict(spn=['http/a.x.test'], enabled=False))
    r = run_module('service_user', args)
    assert not r.failed and r['changed'] and r['spn'] == ['http/a.x.test'] and len(r['requests']) == 1
    assert attr(admin, dn, 'servicePrincipalName') in (['http/a.x.test'], 'http/a.x.test')
    assert not run_module('service_user', args)['changed']
    bad = run_module('service_user', dict(name=user, spn=dict(add=['not an spn'])))
    assert bad.failed and "'not an spn' is not a service principal name" in bad['msg']
    missing = run_module('service_user', dict(name='nosuchuser42', enabled=False))
    assert missing.failed and missing['msg'] == 'name: no user account nosuchuser42 in the domain. Nothing was changed.'


def test_computer_account_refuses_the_domain_controller_before_any_write(run_module, admin, lab):
    """Even as Administrator, in check mode and for real: the lab DC's own account is refused, naming why."""
    admin.search('OU=Domain Controllers,%s' % lab['GMSA_LAB_BASE_DN'], '(objectCategory=computer)',
                 attributes=['userAccountControl', 'pwdLastSet', 'uSNChanged'])
    dc = admin.response[0]
    for check in (True, False):
        r = run_module('computer_account', dict(name=dc['dn'], enabled=False, reset_password=True), check=check,
                       as_admin=True)
        assert r.failed, r
        assert r['msg'] == ('name: %s is a domain controller (SERVER_TRUST_ACCOUNT) and its primary group is Domain '
                            'Controllers (516): disabling it or resetting its password would break replication and '
                            'Kerberos with it. This module acts on member computers only. Nothing was changed.'
                            % dc['dn'])
    admin.search(dc['dn'], '(objectClass=*)', search_scope=ldap3.BASE, attributes=['uSNChanged'])
    assert admin.response[0]['attributes']['uSNChanged'] == dc['attributes']['uSNChanged']
