"""Against the lab DC: protection from accidental deletion survives a failed move, and the parent OU's DACL is
written from a fresh read, so another writer's entry added after the task planned is kept. Read back with
samba-tool and raw ldap3 as Administrator, independently of the collection's code."""
from __future__ import annotations

import uuid

import ldap3
import pytest

from conftest import make_user, samba_tool
from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest

PROTECT_ACES = ('(D;;SDDT;;;WD)', '(D;;DTSD;;;WD)')     # samba-tool's SDDL of the deny-delete entry


def uid(prefix='v'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def dns(lab, name):
    return '%s.%s' % (name.lower(), lab['GMSA_LAB_REALM'].lower())


def sddl(lab, dn):
    return samba_tool(lab, 'dsacl', 'get', '--objectdn=%s' % dn)


def exists(admin, dn):
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['1.1'])
    return any(e.get('type') == 'searchResEntry' for e in admin.response)


@pytest.fixture
def as_admin(run_module):
    """Protection denies "delete child" on the parent OU too, which needs WRITE_DAC on the OU itself: the farm
    delegation (full control on the accounts only) does not give it, so these tasks run as Administrator."""
    def _run(args, via=None, check=False):
        full = dict(args)
        if via is not None:     # through the proxy: one more TLS hop, a longer receive timeout
            full.update(domain_server=['127.0.0.1'], domain_port=via.port, domain_ca_cert=via.ca, domain_timeout=60)
        return run_module('gmsa', full, as_admin=True, check=check)
    return _run


def test_a_refused_move_leaves_the_account_protected_where_it_was(as_admin, lab, admin, ou, proxy):
    """The DC refuses the modify-DN after the protection was lifted for it (Windows: a policy, a rights change):
    the lift is put back, the task says nothing was changed, and the account is still protected in place."""
    name = uid()
    dn, sub = 'CN=%s,%s' % (name, ou), 'OU=moved,%s' % ou
    assert admin.add(sub, 'organizationalUnit'), admin.result
    assert not as_admin(dict(name=name, path=ou, dns_hostname=dns(lab, name), protect_from_deletion=True)).failed
    proxy.rules.append(Rule('modDNRequest', 53, dn_part='cn=%s,' % name.lower(), message='move refused by policy'))
    r = as_admin(dict(name=name, path=sub), via=proxy)
    assert r.failed and not r.get('changed') and r['written'] == [], r
    assert 'move refused by policy' in r['msg'] and 'put back' in r['msg'] and r['msg'].endswith('Nothing was changed.')
    assert [s for op, _dn, s in proxy.seen if op == 'modDNRequest'] == ['answered 53']
    assert any(ace in sddl(lab, dn) for ace in PROTECT_ACES), 'the protection was not put back'
    assert not exists(admin, 'CN=%s,%s' % (name, sub))
    assert not admin.delete(dn) and admin.result['result'] == 50    # still protected: even Administrator is denied
    assert not as_admin(dict(name=name, path=ou, state='absent', protect_from_deletion=False)).failed


@pytest.mark.parametrize('form', ['single', 'list'])
def test_the_parent_dacl_keeps_an_entry_another_writer_added_after_the_plan(as_admin, lab, admin, ou, monkeypatch,
                                                                            form):
    """Between the task's read (its plan) and its write of the parent OU's "delete child" deny, another writer
    adds an entry to the OU's DACL; the deny is computed from a fresh read when it is sent, so both are there."""
    from ansible_collections.gmsa.farm.plugins.module_utils._object import apply, gmsa_list
    other = make_user(lab, admin, 'w')
    names = [uid(), uid()]
    holder, attribute = (gmsa_list, 'check_rights') if form == 'list' else (apply, 'check_rights')
    planned = getattr(holder, attribute)

    def other_writer_then_rights(directory, requests):    # runs after planning, before the first write
        samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % ou, '--sddl=(A;;RPLC;;;%s)' % other['sid'])
        return planned(directory, requests)
    monkeypatch.setattr(holder, attribute, other_writer_then_rights)
    try:
        entries = [dict(name=n, path=ou, dns_hostname=dns(lab, n), protect_from_deletion=True) for n in names]
        r = as_admin(dict(accounts=entries) if form == 'list' else entries[0])
        assert not r.failed and r['changed'], r
        steps = [x['what'].split(' ')[0] for x in (r['requests'] if form == 'single' else
                                                   [q for e in r['results'] for q in e['requests']])]
        assert steps.count('deny') == 1, steps   # the second account of the list plans knowing the first denies
        acl = sddl(lab, ou)
        assert '(D;;DC;;;WD)' in acl and other['sid'] in acl, acl
    finally:
        for n in names:
            as_admin(dict(name=n, path=ou, state='absent', protect_from_deletion=False))
        admin.delete(other['dn'])
