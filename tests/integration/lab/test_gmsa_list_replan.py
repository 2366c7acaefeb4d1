"""Against the lab DC: in the list form, another writer's change to one account between the batched read and that
account's write makes that account alone be read and planned again; the others are written as planned and the
other writer's change is not overwritten. The concurrent change is made through a fault proxy in front of the
lab DC (tests/lab/ldap_fault_proxy.py) and read back with raw ldap3 as Administrator."""
from __future__ import annotations

import uuid

import ldap3

from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest


def uid(prefix='r'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def values(admin, dn, name):
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=[name])
    v = admin.response[0]['attributes'].get(name)
    return sorted(v if isinstance(v, list) else [v])


def test_an_account_changed_meanwhile_is_planned_again_alone_and_nothing_is_overwritten(run_module, lab, admin, ou,
                                                                                        proxy):
    names = [uid(), uid()]
    for n in names:
        dns = '%s.%s' % (n.lower(), lab['GMSA_LAB_REALM'].lower())
        assert not run_module('gmsa', dict(name=n, path=ou, dns_hostname=dns, spn=dict(set=['http/%s' % n]))).failed
    second = 'CN=%s,%s' % (names[1], ou)

    def other_writer():     # adds an SPN to the second account after the task read it, before its write lands
        assert admin.modify(second, {'servicePrincipalName': [(ldap3.MODIFY_ADD, ['http/other-%s' % names[1]])]})
    # the second account's modify meets the other writer's change: noSuchAttribute, as a value delete would
    proxy.rules.append(Rule('modifyRequest', 16, dn=second, before_answer=other_writer))
    accounts = [dict(name=n, path=ou, spn=dict(remove=['http/%s' % n], add=['http/new-%s' % n])) for n in names]
    r = run_module('gmsa', dict(accounts=accounts, domain_server=['127.0.0.1'], domain_port=proxy.port,
                                domain_ca_cert=proxy.ca, domain_timeout=60))
    assert not r.failed and [x['changed'] for x in r['results']] == [True, True], r
    assert [s for _op, dn, s in proxy.seen if dn.lower() == second.lower()] == ['answered 16', 'forwarded']
    assert [s for _op, dn, s in proxy.seen if dn.lower().startswith('cn=%s,' % names[0].lower())] == ['forwarded']
    assert values(admin, 'CN=%s,%s' % (names[0], ou), 'servicePrincipalName') == ['http/new-%s' % names[0]]
    assert values(admin, second, 'servicePrincipalName') == sorted(['http/new-%s' % names[1],
                                                                    'http/other-%s' % names[1]])
    after = r['results'][1]['diff']['after']['spn']
    assert 'http/other-%s' % names[1] in after       # the second account's plan was made from the re-read
