"""service_user against the lab DC, through the fault proxy (tests/lab/ldap_fault_proxy.py): another writer's
change of the SPNs between the module's read and its write is re-read, kept, and planned around."""
from __future__ import annotations

import uuid

import ldap3

from ldap_fault_proxy import Rule   # tests/lab, on the path through conftest


def test_another_writers_spn_change_is_re_read_and_kept(run_module, admin, ou, proxy):
    user = 'svc%s' % uuid.uuid4().hex[:8]
    dn = 'CN=%s,%s' % (user, ou)
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200, 'servicePrincipalName': ['http/a.x.test', 'http/b'],
        'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result

    def other_writer():
        # removes http/b itself and adds one: the module's delete of http/b then finds nothing (noSuchAttribute)
        assert admin.modify(dn, {'servicePrincipalName': [(ldap3.MODIFY_DELETE, ['http/b']),
                                                          (ldap3.MODIFY_ADD, ['http/c'])]}), admin.result
    proxy.rules.append(Rule('modifyRequest', 16, dn=dn, before_answer=other_writer))
    # As Administrator: service users (the accounts a farm migrates from) are not in the farm delegation.
    r = run_module('service_user', dict(name=user, spn=dict(remove=['http/b']), enabled=False,
                                        domain_server=['127.0.0.1'], domain_port=proxy.port, domain_ca_cert=proxy.ca,
                                        domain_timeout=60), as_admin=True)
    assert not r.failed, r
    assert r['changed'] is True and [x['attributes'] for x in r['requests']] == [['userAccountControl']]
    assert r['spn'] == ['http/a.x.test', 'http/c']
    assert r['diff']['before']['spn'] == ['http/a.x.test', 'http/c'] and r['diff']['after']['enabled'] is False
    assert [s for _op, _dn, s in proxy.seen] == ['answered 16', 'forwarded']
    admin.search(dn, '(objectClass=*)', search_scope=ldap3.BASE,
                 attributes=['servicePrincipalName', 'userAccountControl'])
    a = admin.response[0]['raw_attributes']
    assert sorted(a['servicePrincipalName']) == [b'http/a.x.test', b'http/c'] and int(a['userAccountControl'][0]) == 0x202
