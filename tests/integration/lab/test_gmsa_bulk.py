"""The list form of gmsa - many accounts in one task, same validation, planner and writes, reads
batched; verified with samba-tool (an independent client)."""
from __future__ import annotations

import uuid

from conftest import dump_tree, samba_tool
from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest


def uid(prefix='b'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def exists(lab, name):
    try:
        samba_tool(lab, 'service-account', 'view', '--name=%s' % name)
        return True
    except AssertionError:
        return False


def entry(lab, name, **kw):
    dns = '%s.%s' % (name.lower(), lab['GMSA_LAB_REALM'].lower())
    e = dict(name=name, dns_hostname=dns, spn=dict(set=['http/%s' % dns, 'http/%s' % name]),
             allowed_to_retrieve_password=dict(set=['Domain Controllers']))
    e.update(kw)
    return e


def test_mixed_list_check_diff_write_and_idempotent(run_module, lab, admin, ou, monkeypatch):
    upd, same, new = uid('u'), uid('s'), uid('c')
    for n in (upd, same):
        assert not run_module('gmsa', dict(entry(lab, n), path=ou)).failed
    accounts = [entry(lab, new, path=ou), entry(lab, upd, path=ou, description='updated'), entry(lab, same, path=ou)]

    # a bad entry anywhere: named by index and name, nothing written for any entry
    before = dump_tree(admin, ou)
    bad = run_module('gmsa', dict(accounts=accounts + [dict(name=uid('x'), state='gone')]))
    assert bad.failed and bad['msg'].startswith('accounts[3] (x') and 'state' in bad['msg'], bad
    assert bad['msg'].endswith('Nothing was changed.') and dump_tree(admin, ou) == before
    clash = run_module('gmsa', dict(accounts=accounts + [entry(lab, uid('d'), path=ou, spn=dict(
        add=['http/%s' % new]))]))
    assert clash.failed and 'accounts[3]' in clash['msg'] and 'as accounts[0] (%s) does' % new in clash['msg']
    missing = run_module('gmsa', dict(accounts=accounts + [entry(lab, uid('m'), path=ou, allowed_to_retrieve_password=dict(
        set=['NoSuchHosts']))]))
    assert missing.failed and 'accounts[3]' in missing['msg'] and 'NoSuchHosts' in missing['msg']
    assert dump_tree(admin, ou) == before

    # check mode: what a real run would do, per account, with a diff for each changed one; nothing written
    chk = run_module('gmsa', dict(accounts=accounts), check=True)
    assert not chk.failed, chk
    expected = [(0, new, True), (1, upd, True), (2, same, False)]
    assert [(r['index'], r['name'], r['changed']) for r in chk['results']] == expected
    assert [d['after_header'] for d in chk['diff']] == ['accounts[0] (%s)' % new, 'accounts[1] (%s)' % upd]
    assert chk['diff'][1]['before']['description'] != 'updated' and chk['diff'][1]['after']['description'] == 'updated'
    assert dump_tree(admin, ou) == before and not exists(lab, new)

    monkeypatch.setenv('GMSA_FARM_COUNT_REQUESTS', '1')
    real = run_module('gmsa', dict(accounts=accounts))
    assert not real.failed and real['changed'] is True, real
    assert [r['changed'] for r in real['results']] == [True, True, False]
    assert [r['requests'] for r in real['results']] == [r['requests'] for r in chk['results']]
    # independent: samba-tool sees the new account with its SPNs and the update
    spns = samba_tool(lab, 'spn', 'list', new + '$')
    assert sorted(x.strip() for x in spns.splitlines() if x.startswith('\t')) == sorted(accounts[0]['spn']['set']), spns
    admin.search('CN=%s,%s' % (upd, ou), '(objectClass=*)', search_scope='BASE', attributes=['description'])
    assert admin.response[0]['attributes']['description'] in ('updated', ['updated'])

    again = run_module('gmsa', dict(accounts=accounts))
    assert not again.failed and again['changed'] is False and again['diff'] == []
    assert [r['changed'] for r in again['results']] == [False, False, False]
    # a no-op: the rootDSE, one batched search (the domain's NetBIOS name is not needed), whatever the list size
    assert again['ldap_requests'] <= 3, again['ldap_requests']
    # a long list reads every managed service account of the domain in one paged search instead of by name
    # (here made "long" by a smaller chunk): still a no-op, and the requests do not grow with the list
    from ansible_collections.gmsa.farm.plugins.module_utils._object.read import Reader
    monkeypatch.setattr(Reader, 'CHUNK', 4)
    long_form = run_module('gmsa', dict(accounts=accounts))
    assert not long_form.failed and long_form['changed'] is False, long_form
    assert [r['changed'] for r in long_form['results']] == [False, False, False]
    assert long_form['ldap_requests'] <= 2 + 2, long_form['ldap_requests']   # rootDSE, principals, MSA pages


def test_unlisted_report_and_remove(run_module, lab, admin, ou):
    keep, extra = uid('k'), uid('e')
    for n in (keep, extra):
        assert not run_module('gmsa', dict(entry(lab, n), path=ou)).failed
    listed = [entry(lab, keep, path=ou)]
    rep = run_module('gmsa', dict(accounts=listed, unlisted='report', unlisted_path=ou))
    assert not rep.failed and rep['changed'] is False
    assert [u['sam_account_name'] for u in rep['unlisted']] == [extra + '$'] and not rep['unlisted'][0]['removed']
    assert 'not in the list' in str(rep.get('warnings'))
    chk = run_module('gmsa', dict(accounts=listed, unlisted='remove', unlisted_path=ou), check=True)
    assert chk['changed'] is True and chk['unlisted'][0]['removed'] is True and exists(lab, extra)
    [removal] = chk['diff']
    assert removal['after_header'] == 'unlisted CN=%s,%s' % (extra, ou) and removal['after'] == {}
    assert removal['before']['sam_account_name'] == extra + '$' and chk['results'][0]['changed'] is False
    real = run_module('gmsa', dict(accounts=listed, unlisted='remove', unlisted_path=ou))
    assert real['changed'] is True and not exists(lab, extra) and exists(lab, keep)
    again = run_module('gmsa', dict(accounts=listed, unlisted='remove', unlisted_path=ou))
    assert again['changed'] is False and again['unlisted'] == []


def test_failure_in_the_middle_reports_what_was_written(run_module, lab, admin, ou, proxy):
    """The DC refuses the second account's add (Windows: a quota, a policy): the first stays written and is
    named, changed is true, the third is not attempted."""
    a, b, c = uid('p'), uid('q'), uid('r')
    proxy.rules.append(Rule('addRequest', 50, dn_part='cn=%s,' % b.lower(), message='refused by policy'))
    r = run_module('gmsa', dict(accounts=[entry(lab, n, path=ou) for n in (a, b, c)], domain_server=['127.0.0.1'],
                                domain_port=proxy.port, domain_ca_cert=proxy.ca, domain_timeout=60))
    assert r.failed and r['changed'] is True and r['failed_entry'] == 'accounts[1] (%s)' % b, r
    assert 'Accounts changed by this task before it: accounts[0] (%s)' % a in r['msg']
    assert 'Not attempted: accounts[2] (%s)' % c in r['msg'] and 'Nothing was changed for this account' in r['msg']
    assert [x['name'] for x in r['results']] == [a] and r['results'][0]['changed']
    assert exists(lab, a) and not exists(lab, b) and not exists(lab, c)


def test_top_level_account_options_are_refused_with_the_list(run_module, lab, ou):
    r = run_module('gmsa', dict(accounts=[dict(name=uid())], path=ou))
    assert r.failed and 'not at the top level: path' in r['msg']
    r = run_module('gmsa', dict(name=uid(), unlisted='report'))
    assert r.failed and 'list form' in r['msg']
    r = run_module('gmsa', dict(accounts=[dict(name=uid())], unlisted='remove'))
    assert r.failed and r['msg'] == ('unlisted=remove needs unlisted_path (the container or OU to compare with the '
                                     'list). Nothing was changed.')
