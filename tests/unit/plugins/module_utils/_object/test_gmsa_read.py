"""Tests of the gmsa reader (read.Reader) against a directory that answers searches from a list of objects: how
many searches the single and the list form make, when the accounts' DACLs are asked for, and what one account's
``Found`` holds (the account, its SPNs' other holders, its principals, names for the SIDs it grants)."""
from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import validate
from ansible_collections.gmsa.farm.plugins.module_utils._object.read import Reader, SD
from ansible_collections.gmsa.farm.plugins.module_utils._security import build_membership_sd
from ansible_collections.gmsa.farm.plugins.module_utils._values import ldap_filter_bytes
from ansible_collections.gmsa.farm.plugins.modules.gmsa import ACCOUNT_SPEC

D = 'S-1-5-21-1-2-3'
OU = 'OU=Farm,DC=x'
GMSA = 'msDS-GroupManagedServiceAccount'


def sid_bytes(rid):
    return bytes([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]) + rid.to_bytes(4, 'little')


def account(name, spns=(), grants=()):
    attrs = {'cn': [name], 'sAMAccountName': [name + '$'], 'objectClass': ['top', GMSA], 'userAccountControl': ['4096'],
             'servicePrincipalName': list(spns), 'dNSHostName': ['%s.x' % name]}
    raw = {'objectSid': [sid_bytes(2000 + len(name))], SD: [b'dacl of ' + name.encode()]}
    if grants:
        raw['msDS-GroupMSAMembership'] = [build_membership_sd(list(grants))]
    return dict(dn='CN=%s,%s' % (name, OU), attributes=attrs, raw=raw)


def group(name, rid):
    attrs = {'cn': [name], 'sAMAccountName': [name], 'objectClass': ['top', 'group']}
    return dict(dn='CN=%s,%s' % (name, OU), attributes=attrs, raw={'objectSid': [sid_bytes(rid)]})


class Directory(object):
    """Answers a search with every object whose sAMAccountName, CN, SPN or SID the filter names (or, for the
    managed-account class filter, every managed account); records (base, filter, attributes) of each search."""
    default_nc = 'DC=x'
    bound_as = 'tester'

    def __init__(self, objects):
        self.objects, self.searches = objects, []

    def search(self, base, flt, attrs, scope='subtree', controls=None, paged=False):
        self.searches.append((base, flt, list(attrs)))
        out = []
        for o in self.objects:
            a = o['attributes']
            names = ['(samaccountname=%s)' % a['sAMAccountName'][0].lower(), '(cn=%s)' % a['cn'][0].lower(),
                     '(distinguishedname=%s)' % o['dn'].lower()]
            names += ['(serviceprincipalname=%s)' % s.lower() for s in a.get('servicePrincipalName') or []]
            names.append('(objectsid=%s)' % ldap_filter_bytes(o['raw']['objectSid'][0]).lower())
            if any(n in flt.lower() for n in names) or ('(objectClass=%s)' % GMSA in flt and GMSA in a['objectClass']
                                                        and '(cn=' not in flt and '(samaccountname' not in flt.lower()):
                raw = dict((k, v) for k, v in o['raw'].items() if k in attrs or k == 'objectSid')
                out.append(dict(dn=o['dn'], attributes=a, raw=raw))
        return out


def wanted(**kw):
    args = dict(name='web', dns_hostname='web.x', path=OU)
    args.update(kw)
    return validate(ArgumentSpecValidator(ACCOUNT_SPEC).validate(args).validated_parameters)


def test_the_single_form_reads_account_spns_and_principals_in_one_search_without_dacls():
    d = Directory([account('web', ['http/web.x']), account('other', ['http/taken']), group('hosts', 1101)])
    w = wanted(spn=dict(add=['http/taken']), allowed_to_retrieve_password=dict(set=['hosts']))
    found = Reader(d, [w], False).found(w)
    [(_base, _flt, attrs)] = d.searches
    assert SD not in attrs
    assert found.account['dn'] == 'CN=web,%s' % OU and found.current['name'] == 'web'
    assert found.holders == {'http/taken': ['CN=other,%s' % OU]}
    assert list(found.resolved) == ['hosts'] and found.missing == []


def test_the_dacls_are_read_with_the_accounts_when_a_task_decides_on_protection():
    d = Directory([account('web')])
    w = wanted(protect_from_deletion=False)
    found = Reader(d, [w], False).found(w)
    assert len(d.searches) == 1 and SD in d.searches[0][2] and found.account['raw'][SD]


def test_only_the_dacls_of_accounts_that_move_are_read_in_one_more_search():
    d = Directory([account('web'), account('db')])
    ws = [wanted(), wanted(name='db', path='OU=Elsewhere,DC=x')]
    reader = Reader(d, ws, False)
    assert len(d.searches) == 2 and d.searches[1][2] == [SD] and 'cn=db,' in d.searches[1][1].lower()
    assert reader.found(ws[1]).account['raw'][SD] == [b'dacl of db']
    assert SD not in reader.found(ws[0]).account['raw']


def test_a_long_list_reads_every_managed_account_once_and_only_what_it_did_not_find():
    d = Directory([account('a%d' % i, ['http/a%d' % i]) for i in range(3)])
    ws = [wanted(name='a%d' % i, dns_hostname=None, spn=dict(set=['http/a%d' % i])) for i in range(3)]
    ws.append(wanted(name='new', spn=dict(set=['http/new'])))
    old, Reader.CHUNK = Reader.CHUNK, 4
    try:
        reader = Reader(d, ws, False)
    finally:
        Reader.CHUNK = old
    assert '(|(objectClass=%s)' % GMSA in d.searches[0][1]         # every managed account, paged
    more = ''.join(flt for _b, flt, _a in d.searches[1:])
    assert 'new$' in more and 'http/new' in more and 'a0' not in more   # only the new account and its SPN
    assert [reader.found(w).account is not None for w in ws] == [True, True, True, False]


def test_sids_granted_now_that_the_task_does_not_name_are_named_in_one_search():
    d = Directory([account('a', grants=[D + '-1101']), account('b', grants=[D + '-1101']), group('old', 1101)])
    ws = [wanted(name='a'), wanted(name='b')]
    reader = Reader(d, ws, False)
    assert len(d.searches) == 2 and 'objectSid=' in d.searches[1][1]
    assert reader.found(ws[0]).sid_labels[D + '-1101'] == 'old' and reader.found(ws[1]).unresolved == []
