"""Against the lab DC: the rights check of deletes and moves agrees with the DC, and a delete the DC would
refuse is refused before the first write (even when the plan would lift the protection first).

The DC is the judge here: for each case the pure evaluation (``_object.access.may_delete``) is compared with
the answer of a real delete sent by the same identity with raw ldap3. With GMSA_CAPTURE_DELETE_RIGHTS=<file>
the descriptors, tokens and the DC's answers are written there (the unit tests' data file was made so)."""
from __future__ import annotations

import base64
import json
import os
import uuid

import ldap3
import pytest

from conftest import delete_tree, dump_tree, ldap3_connect, samba_tool

from ansible_collections.gmsa.farm.plugins.module_utils._object import access
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str

SD_DACL = ldap3.protocol.microsoft.security_descriptor_control(sdflags=0x04)
CAPTURED = []


def uid(prefix='r'):
    return '%s%s' % (prefix, uuid.uuid4().hex[:8])


def read_sd(conn, dn):
    conn.search(dn, '(objectClass=*)', search_scope=ldap3.BASE, attributes=['nTSecurityDescriptor'],
                controls=SD_DACL)
    e = [x for x in conn.response if x.get('type') == 'searchResEntry']
    return bytes(e[0]['raw_attributes']['nTSecurityDescriptor'][0])


def token(conn):
    conn.search('', '(objectClass=*)', search_scope=ldap3.BASE, attributes=['tokenGroups'])
    return [sid_to_str(v) for v in conn.response[0]['raw_attributes']['tokenGroups']]


def judge(case, conn, dn, expect):
    """Our verdict from the DACLs as the identity reads them, then the DC's own answer to a real delete."""
    sd, parent_sd, sids = read_sd(conn, dn), read_sd(conn, dn.split(',', 1)[1]), token(conn)
    ours = access.may_delete(sd, parent_sd, sids, 'msDS-GroupManagedServiceAccount')
    dc = conn.delete(dn)
    CAPTURED.append(dict(case=case, sd=base64.b64encode(sd).decode(), parent_sd=base64.b64encode(parent_sd).decode(),
                         token=sids, object_class='msDS-GroupManagedServiceAccount', dc_allowed=bool(dc)))
    assert ours is dc is expect, (case, ours, dc, conn.result)


@pytest.fixture(scope='module', autouse=True)
def capture():
    yield
    out = os.environ.get('GMSA_CAPTURE_DELETE_RIGHTS')
    if out:
        with open(out, 'w') as f:
            json.dump(CAPTURED, f, indent=1)


@pytest.fixture
def outside(lab, admin):
    """An OU outside the delegated one: the delegated identity holds no right there."""
    dn = 'OU=nodel-%s,%s' % (uuid.uuid4().hex[:10], lab['GMSA_LAB_BASE_DN'])
    assert admin.add(dn, 'organizationalUnit'), admin.result
    yield dn
    delete_tree(admin, dn)


def dns(lab, name):
    return '%s.%s' % (name.lower(), lab['GMSA_LAB_REALM'].lower())


def test_the_delete_verdict_agrees_with_the_dc(run_module, lab, admin, delegated, ou, outside):
    as_delegated = ldap3_connect(lab, delegated['upn'], delegated['password'])
    # 1. an account in the delegated OU: full control on it (inherited), "delete child" on the OU -> allowed
    mine = uid()
    assert not run_module('gmsa', dict(name=mine, path=ou, dns_hostname=dns(lab, mine))).failed
    judge('delegated OU', as_delegated, 'CN=%s,%s' % (mine, ou), True)
    # 2. an account outside it, readable by the identity but nothing more -> refused
    other = uid()
    assert not run_module('gmsa', dict(name=other, path=outside, dns_hostname=dns(lab, other)),
                          as_admin=True).failed
    samba_tool(lab, 'dsacl', 'set', '--objectdn=CN=%s,%s' % (other, outside),
               '--sddl=(A;;RPLCLORC;;;%s)' % delegated['sid'])
    judge('outside the delegation', as_delegated, 'CN=%s,%s' % (other, outside), False)
    # 3. a protected account in the delegated OU: Everyone denied DELETE on it and "delete child" on the OU
    prot = uid()
    assert not run_module('gmsa', dict(name=prot, path=ou, dns_hostname=dns(lab, prot), protect_from_deletion=True),
                          as_admin=True).failed
    judge('protected', as_delegated, 'CN=%s,%s' % (prot, ou), False)
    assert not run_module('gmsa', dict(name=prot, path=ou, state='absent', protect_from_deletion=False),
                          as_admin=True).failed
    as_delegated.unbind()


def test_a_delete_the_dc_would_refuse_is_refused_before_the_protection_is_lifted(run_module, lab, admin, delegated,
                                                                                 outside):
    """The identity may change the account's permissions (WRITE_DAC) but not delete it: the plan (lift the
    protection, delete) is refused before its first request, so nothing - not even a lift put back - is
    written."""
    name = uid()
    dn = 'CN=%s,%s' % (name, outside)
    assert not run_module('gmsa', dict(name=name, path=outside, dns_hostname=dns(lab, name),
                                       protect_from_deletion=True), as_admin=True).failed
    samba_tool(lab, 'dsacl', 'set', '--objectdn=%s' % dn, '--sddl=(A;;RPLCLORCWD;;;%s)' % delegated['sid'])
    before = dump_tree(admin, outside)
    r = run_module('gmsa', dict(name=name, path=outside, state='absent', protect_from_deletion=False))
    assert r.failed and not r.get('changed'), r
    assert 'may not delete %s' % dn in r['msg'] and r['msg'].endswith('Nothing was changed.'), r['msg']
    assert dump_tree(admin, outside) == before      # uSNChanged included: no lift, no restore
    # the DC agrees: the identity's own delete is refused
    as_delegated = ldap3_connect(lab, delegated['upn'], delegated['password'])
    assert not as_delegated.delete(dn) and as_delegated.result['result'] == 50
    as_delegated.unbind()
    assert not run_module('gmsa', dict(name=name, path=outside, state='absent', protect_from_deletion=False),
                          as_admin=True).failed


def test_an_account_that_may_write_the_dacl_is_not_refused_where_the_dc_leaves_out_sdrightseffective(
        run_module, lab, admin, ou):
    """Samba 4.22 gives a non-administrator no sDRightsEffective value, even on an account it has full control
    of: the check reads the owner and DACL against the token instead, and the DC accepts the write."""
    first_one, mine = uid(), uid()
    # Administrator protects one account: that also denies Everyone "delete child" on the OU, so protecting a
    # second account needs no write on the OU (which the delegation does not allow)
    assert not run_module('gmsa', dict(name=first_one, path=ou, dns_hostname=dns(lab, first_one),
                                       protect_from_deletion=True), as_admin=True).failed
    assert not run_module('gmsa', dict(name=mine, path=ou, dns_hostname=dns(lab, mine))).failed
    r = run_module('gmsa', dict(name=mine, path=ou, protect_from_deletion=True))
    assert not r.failed and r['changed'], r
    assert [x['what'].split(' ')[0] for x in r['requests']] == ['protect']
    assert not admin.delete('CN=%s,%s' % (mine, ou)) and admin.result['result'] == 50   # the DC enforces it
    for name in (first_one, mine):
        assert not run_module('gmsa', dict(name=name, path=ou, state='absent', protect_from_deletion=False),
                              as_admin=True).failed
