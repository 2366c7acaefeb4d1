"""Against the lab DC, through the fault proxy (tests/lab/ldap_fault_proxy.py): a DC that stops answering a
write (the write applied, its answer lost), one that stops answering a read, and one that cuts a search short
with sizeLimitExceeded (Windows does past MaxPageSize; Samba never does). No traceback: a message naming what
happened, and for a write that got no answer, changed: true with what was written before it."""
from __future__ import annotations

import uuid

import ldap3
import pytest

from conftest import samba_tool
from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import Directory, DirectoryError

TIMEOUT = 4     # domain_timeout through the proxy: how long a module waits for the answer the proxy swallows


def uid(prefix='f'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture
def gmsa(run_module, ou, proxy):
    """The gmsa module with path=<the test OU>; ``via=proxy`` connects through the fault proxy with a short
    domain_timeout (the proxy swallows an answer: the task waits that long for it)."""
    through = dict(domain_server=['127.0.0.1'], domain_port=proxy.port, domain_ca_cert=proxy.ca, domain_timeout=TIMEOUT)

    def _run(args, via=None, as_admin=False):
        return run_module('gmsa', dict(dict(path=ou, **(through if via else {})), **args), as_admin=as_admin)
    return _run


def dns(lab, name):
    return '%s.%s' % (name.lower(), lab['GMSA_LAB_REALM'].lower())


def test_a_write_whose_answer_never_comes_is_reported_as_perhaps_applied_after_what_was_written(
        gmsa, lab, admin, ou, proxy):
    """The DC applies the parent OU's deny-delete-child but its answer is lost: the task fails after
    domain_timeout with changed: true, the two requests written before it, and the deny as "perhaps"; the DC
    (read with samba-tool) has it, so a rerun has nothing left to do."""
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    proxy.rules.append(Rule('modifyRequest', dn=ou, drop='answer'))
    r = gmsa(dict(name=name, description='farm account', protect_from_deletion=True), via=proxy, as_admin=True)
    assert r.failed and r['changed'] is True, r
    assert r['written'][:2] == ['update CN=%s,%s (description)' % (name, ou),
                                'protect CN=%s,%s from accidental deletion' % (name, ou)]
    assert len(r['written']) == 3 and r['written'][2].startswith('perhaps: ') and ou in r['written'][2]
    assert 'did not answer within domain_timeout (%ds)' % TIMEOUT in r['msg']
    assert 'may or may not have been applied' in r['msg'] and 'Written before it' in r['msg']
    assert 'Traceback' not in r['msg'] and 'Nothing was changed' not in r['msg']
    assert [s for op, dn, s in proxy.seen if op == 'modifyRequest' and dn == ou] == ['answer dropped']
    sddl = samba_tool(lab, 'dsacl', 'get', '--objectdn=%s' % ou)
    assert '(D;;DC;;;WD)' in sddl.replace('OD;', 'D;'), sddl        # applied: Everyone denied delete-child
    again = gmsa(dict(name=name, description='farm account', protect_from_deletion=True), as_admin=True)
    assert not again.failed and not again['changed'] and again['requests'] == []
    assert not gmsa(dict(name=name, protect_from_deletion=False, state='absent'), as_admin=True).failed


def test_a_write_swallowed_before_the_dc_is_reported_as_perhaps_applied_and_not_retried(gmsa, lab, admin, ou, proxy):
    """The first write of the task gets no answer (here it never reached the DC; the module cannot know): not a
    conflict to retry, not "nothing was changed" - changed: true, perhaps written, the DC unchanged."""
    name = uid('g')
    assert not gmsa(dict(name=name, dns_hostname=dns(lab, name))).failed
    proxy.rules.append(Rule('modifyRequest', dn_part='cn=%s,' % name.lower(), drop='request'))
    r = gmsa(dict(name=name, description='never sent'), via=proxy)
    assert r.failed and r['changed'] is True, r
    assert r['written'] == ['perhaps: update CN=%s,%s (description)' % (name, ou)]
    assert 'may or may not have been applied' in r['msg'] and 'Written before it' not in r['msg']
    assert [s for op, _dn, s in proxy.seen if op == 'modifyRequest'] == ['request dropped']
    admin.search('CN=%s,%s' % (name, ou), '(objectClass=*)', search_scope=ldap3.BASE, attributes=['description'])
    assert not admin.response[0]['attributes'].get('description')


def test_a_read_without_an_answer_fails_clearly_and_writes_nothing(gmsa, lab, ou, proxy):
    """The DC stops answering the first search (the rootDSE read): a message naming the DC, the timeout and the
    search; changed: false; the account is not created."""
    name = uid('g')
    proxy.rules.append(Rule('searchRequest', drop='answer'))
    r = gmsa(dict(name=name, dns_hostname=dns(lab, name)), via=proxy)
    assert r.failed and not r.get('changed'), r
    assert r['msg'] == ('the domain controller 127.0.0.1 did not answer within domain_timeout (%ds) during a search '
                        'under the rootDSE; nothing was written by it. Check the DC and the network, or raise '
                        'domain_timeout for a slow or busy DC' % TIMEOUT)
    assert [op for op, _dn, _s in proxy.seen if op != 'searchRequest'] == []
    assert gmsa(dict(name=name, state='absent'))['changed'] is False


def _via(lab, proxy):
    return Directory(dict(lab['conn'], domain_server=['127.0.0.1'], domain_port=proxy.port, domain_ca_cert=proxy.ca,
                          domain_timeout=30)).connect()


def test_a_search_cut_short_by_the_dc_is_asked_again_page_by_page(lab, admin, ou, proxy):
    """Windows answers a search without the paged-results control with sizeLimitExceeded after MaxPageSize
    entries (1000 by default): the connection layer asks again with paging and gets all of them."""
    names = sorted(uid('c') for dummy in range(3))
    for n in names:
        assert admin.add('CN=%s,%s' % (n, ou), 'container'), admin.result
    proxy.rules.append(Rule('searchRequest', 4, dn=ou, keep=1, message='size limit'))
    with _via(lab, proxy) as d:
        found = d.search(ou, '(objectClass=container)', ['cn'])
        searches = d.requests
    assert sorted(str(e['attributes']['cn'][0]) for e in found) == names
    assert [s for op, dn, s in proxy.seen if op == 'searchRequest' and dn == ou] == ['cut after 1', 'forwarded']
    assert searches == 2    # the search cut short, then the same search paged (one page); no rootDSE read


def test_a_search_cut_short_even_paged_fails_instead_of_being_taken_as_the_whole_answer(lab, admin, ou, proxy):
    for n in (uid('c'), uid('c')):
        assert admin.add('CN=%s,%s' % (n, ou), 'container'), admin.result
    proxy.rules.append(Rule('searchRequest', 4, dn=ou, keep=1, times=None, message='size limit'))
    with _via(lab, proxy) as d:
        with pytest.raises(DirectoryError) as e:
            d.search(ou, '(objectClass=container)', ['cn'])
    assert 'cut the search under %s short' % ou in e.value.msg and 'sizeLimitExceeded (4)' in e.value.msg
    assert 'even page by page' in e.value.msg
