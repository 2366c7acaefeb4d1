# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""KDS root keys (class msKds-ProvRootKey) as a kind of the object engine: its reads, a pure plan, the wait.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

A key has no property rows: its attributes are not options but the fixed set Windows' Add-KdsRootKey writes
(``_kds.new_key_attributes``). A task's plan holds at most one add (a new key, with the descriptor Add-KdsRootKey
writes), one delete (the key named by ``key_id``), and one DACL write per existing key whose DACL is wider than
Windows' (``restrict_descriptors``), each recomputed from a fresh read of that key just before it is sent.

Rights, all before the first request: the create right comes with the keys (one subtree search of the container
returns the container's ``allowedChildClassesEffective`` too) and is checked by the plan, whose refusal names the
key it would create; the engine's rights check covers the DACL writes (WRITE_DAC on each key) and
the delete (the key's owner and DACL, read with the keys, against the account's token).
``allowedChildClassesEffective`` lists each class the object's descriptor lets the reader create beneath it (MS-ADTS
"allowedChildClassesEffective",
https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-adts/2d3f3808-daf5-49e4-b902-3dca929e0549);
measured on Samba 4.22, the key container's names msKds-ProvRootKey for Administrator and nothing for a plain user.
"""
from __future__ import annotations

import datetime
import time
import uuid

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils._domain import forest_root_sid
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import converge
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import NOTHING_CHANGED, ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._object.plan import Plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_REPLACE, RESULT, dacl_control, first, owner_dacl_control, raw_first,
)

OBJECT_CLASS = ['top', 'msKds-ProvRootKey']
MAX_EFFECTIVE_HOURS = 87600     # 10 years
MAX_WAIT_SECONDS = 86400
GMSA_WITH_KEY_FILTER = '(&(objectClass=msDS-GroupManagedServiceAccount)(msDS-ManagedPasswordId=*))'
NEW_KEY_RDN = 'CN=<new random id>'      # check mode names no id: a real run draws one


# --------------------------------------------------------------------------- input (before any read)
def check_params(p):
    """Pure: the normalised ``key_id`` (or None). Bad input fails here, before anything is read or written."""
    if not 0 <= p['effective_time_hours'] <= MAX_EFFECTIVE_HOURS:
        raise ModuleFailure('effective_time_hours must be from 0 (usable at once) to %d (10 years), got %s. %s'
                            % (MAX_EFFECTIVE_HOURS, p['effective_time_hours'], NOTHING_CHANGED))
    if not 0 <= p['wait_timeout'] <= MAX_WAIT_SECONDS:
        raise ModuleFailure('wait_timeout must be from 0 to %d seconds, got %s. %s'
                            % (MAX_WAIT_SECONDS, p['wait_timeout'], NOTHING_CHANGED))
    key_id = None
    if p['key_id']:
        try:
            key_id = kds.normalise_key_id(p['key_id'])
        except ValueError:
            raise ModuleFailure('key_id %r is not a GUID (like 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11). %s'
                                % (p['key_id'], NOTHING_CHANGED))
    if p['state'] == 'absent' and not key_id:
        raise ModuleFailure('state=absent needs key_id: the id of the key to delete (see kds_root_key_info). %s'
                            % NOTHING_CHANGED)
    if p['match_by'] == 'key_id' and not key_id:
        raise ModuleFailure('match_by=key_id needs key_id. %s' % NOTHING_CHANGED)
    return key_id


def restricting(p):
    return bool(p['restrict_descriptors']) and p['state'] == 'present'


def reads_descriptors(p):
    """The keys' owner and DACL are read with them to restrict them, and to delete one (the rights check reads
    whether the DACL lets this account delete it from the copy the plan hands it)."""
    return restricting(p) or p['state'] == 'absent'


def creates(p, keys, key_id, may_create=True):
    """Pure: whether the plan will create a key (no existing key satisfies ``match_by``, and nothing the listing
    shows makes the plan refuse: keys this account cannot read with ``match_by=any``, no create right)."""
    if p['state'] != 'present' or not may_create or kds.choose_existing(keys, p['match_by'], key_id) is not None:
        return False
    return not (p['match_by'] == 'any' and any(not k['readable'] for k in keys))


# --------------------------------------------------------------------------- reads
def read(directory, p, key_id, now, check_mode):
    """What the plan needs, in the fewest requests: the container and every key in one search, then only what
    this task needs (the forest root's SID for a new key or a DACL; the KDS configuration and the answering DC
    for a new key; the accounts still using a key to delete)."""
    container = kds.container_dn(directory.configuration_nc)
    attributes = kds.ATTRIBUTES + ['allowedChildClassesEffective']
    if reads_descriptors(p):
        attributes.append('nTSecurityDescriptor')
    top, entries = kds.split_listing(directory.search(
        container, kds.LIST_FILTER, attributes, scope='subtree',
        controls=owner_dacl_control() if reads_descriptors(p) else None), container)
    keys = []
    for e in entries:
        key = kds.describe_key(e, now)
        if reads_descriptors(p):
            key['_dacl'] = raw_first(e, 'nTSecurityDescriptor')
        keys.append(key)
    may_create = [c.lower() for c in (top or {}).get('attributes', {}).get('allowedChildClassesEffective') or []]
    cur = dict(container=container, keys=keys, bound_as=directory.bound_as, root_sid=None, config={},
               dc_dn=None, users=None, may_create=OBJECT_CLASS[-1].lower() in may_create)
    new = creates(p, keys, key_id, cur['may_create'])
    if new or (restricting(p) and any(k.get('_dacl') for k in keys)):
        cur['root_sid'] = forest_root_sid(directory)
    if new:
        cur['config'] = kds.configured_parameters(read_config(directory))
        cur['dc_dn'] = None if check_mode else dc_computer_dn(directory)
    if p['state'] == 'absent' and any(k['key_id'] == key_id for k in keys):
        cur['users'] = kds.accounts_using_key(directory.search(
            directory.default_nc, GMSA_WITH_KEY_FILTER, ['msDS-ManagedPasswordId'], paged=True), key_id)
    return cur


def read_config(directory):
    """The forest's KDS configuration object (Set-KdsConfiguration), or None."""
    try:
        found = directory.search(kds.config_dn(directory.configuration_nc), '(objectClass=*)', kds.CONFIG_ATTRIBUTES,
                                 scope='base')
    except DirectoryError as e:
        if e.code == RESULT['noSuchObject']:
            return None
        raise
    return found[0] if found else None


def dc_computer_dn(directory):
    """The answering DC's computer object (for msKds-DomainID), through its server object's serverReference."""
    server = directory.dse_str('serverName')
    if server:
        entries = directory.search(server, '(objectClass=*)', ['serverReference'], scope='base')
        ref = first(entries[0]['attributes'], 'serverReference') if entries else None
        if ref:
            return ref
    short_name = (directory.server_name or 'DC').split('.')[0].upper()
    return 'CN=%s,OU=Domain Controllers,%s' % (short_name, directory.default_nc)


# --------------------------------------------------------------------------- the plan (pure)
def plan(p, cur, key_id, now, new_id=None):
    """Pure: the task's ``Plan`` from the parameters, what ``read`` found, the time and the id a new key gets
    (None in check mode: a real run draws a random one unless ``key_id`` names it)."""
    if p['state'] == 'absent':
        return _plan_delete(cur, key_id)
    out = Plan()
    chosen = _plan_present(out, p, cur, key_id, now, new_id)
    created = bool(out.requests)        # its add is the only request so far
    keys = cur['keys'] + ([chosen] if created else [])
    if p['restrict_descriptors']:
        _plan_restrict(out, cur)
    listed = [kds.public(k) for k in keys]
    out.result.update(key_id=chosen['key_id'], creation_time=chosen['creation_time'],
                      effective_time=chosen['effective_time'], created=chosen['created'],
                      effective=chosen['effective'], usable_at=chosen['usable_at'], usable=chosen['usable'],
                      kds_root_keys=listed, keys=listed)
    return out


def _plan_delete(cur, key_id):
    victim = [k for k in cur['keys'] if k['key_id'] == key_id]
    out = Plan(result=dict(key_id=key_id))
    remaining = [kds.public(k) for k in cur['keys'] if k['key_id'] != key_id]
    out.result.update(kds_root_keys=remaining, keys=remaining)
    if not victim:
        return out
    out.before = kds.public(victim[0])
    out.add(Request('delete', victim[0]['distinguished_name'], 'delete KDS root key %s' % key_id,
                    object_class=OBJECT_CLASS[-1], sd=victim[0].get('_dacl')))
    active = kds.active_key(cur['keys'])
    if active and active['key_id'] == key_id:
        others = [k for k in cur['keys'] if k['usable'] and k['key_id'] != key_id]
        out.warnings.append('deleting the KDS root key that DCs use now%s; gMSA passwords derived from it can no '
                            'longer be computed' % ('' if others else ' and no other key is usable'))
    users = cur['users'] or []
    out.result['accounts_using_key'] = users
    if users:
        out.warnings.append(_users_warning(users, key_id))
    return out


def _users_warning(users, key_id):
    one = len(users) == 1
    return ('%d gMSA%s of this domain still derive%s the current password from KDS root key %s (%s): once it is '
            'deleted, domain controllers cannot compute %s password and the hosts using %s fail to log on' % (
                len(users), '' if one else 's', 's' if one else '', key_id,
                ', '.join(users[:5]) + (', ...' if len(users) > 5 else ''), 'its' if one else 'their',
                'it' if one else 'them'))


def _plan_present(out, p, cur, key_id, now, new_id):
    """The key that satisfies the task: an existing one (no request), or a new one (its add request)."""
    keys = cur['keys']
    unreadable = kds.unreadable_warning(keys, cur['bound_as'])
    chosen = kds.choose_existing(keys, p['match_by'], key_id)
    if chosen is None and unreadable and p['match_by'] == 'any':
        # A key it cannot read may well be usable: a second key beside it is never what was asked for.
        raise ModuleFailure('%s Not creating another key beside keys this account cannot see into: run this task as '
                            'an account that may read them (Enterprise Admins, or Domain Admins of the forest root '
                            'domain), or use match_by=never to create one regardless. %s'
                            % (unreadable, NOTHING_CHANGED),
                            unreadable_keys=sorted(k['key_id'] for k in keys if not k['readable']))
    if unreadable:
        out.warnings.append(unreadable)
    if chosen is not None:
        _check_wait(p, chosen, now)
        out.before = out.after = kds.public(chosen)
        return chosen
    return _plan_create(out, p, cur, key_id or new_id, now)


def _plan_create(out, p, cur, new_id, now):
    if new_id and any(k['key_id'] == new_id for k in cur['keys']):
        raise ModuleFailure('a KDS root key with id %s already exists. %s' % (new_id, NOTHING_CHANGED))
    if p['wait'] and p['effective_time_hours'] * 3600 > p['wait_timeout']:
        # Known before the first write: a wait that cannot succeed must not leave a key behind it.
        raise ModuleFailure('a new key with effective_time_hours=%s becomes usable in %d seconds, later than '
                            'wait_timeout=%d, so the wait cannot succeed. Raise wait_timeout, lower '
                            'effective_time_hours (0 in a lab), or drop wait. %s' % (
                                p['effective_time_hours'], p['effective_time_hours'] * 3600, p['wait_timeout'],
                                NOTHING_CHANGED))
    dn = '%s,%s' % ('CN=%s' % new_id if new_id else NEW_KEY_RDN, cur['container'])
    if not cur['may_create']:
        raise ModuleFailure('Insufficient rights: %s cannot create %s: the domain controller does not list %s among '
                            'the classes it may create in %s (allowedChildClassesEffective). Creating KDS root keys '
                            'needs Enterprise Admins, or Domain Admins of the forest root domain. %s' % (
                                cur['bound_as'], dn, OBJECT_CLASS[-1], cur['container'], NOTHING_CHANGED))
    attrs = kds.new_key_attributes(new_id or '00000000-0000-0000-0000-000000000000', now,
                                   p['effective_time_hours'], cur['dc_dn'], config=cur['config'],
                                   security_descriptor=kds.key_security_descriptor(cur['root_sid']))
    shown = dict((k, v) for k, v in attrs.items() if k not in ('msKds-RootKeyData', 'nTSecurityDescriptor'))
    chosen = kds.describe_key(dict(dn=dn if new_id else None, attributes=shown), now)
    chosen['key_id'] = new_id
    out.add(Request('add', dn, 'create KDS root key %s' % (new_id or '(a new random id)'), attributes=attrs,
                    object_class=OBJECT_CLASS, parent_checked=True))
    out.result['configured_parameters'] = sorted(cur['config'])
    out.before, out.after = {}, kds.public(chosen)
    return chosen


def _check_wait(p, key, now):
    """Known before the first write: an existing key that becomes usable later than wait_timeout."""
    if not p['wait'] or key['usable']:
        return
    delay = (_parse_iso(key['usable_at']) - now).total_seconds()
    if delay > p['wait_timeout']:
        raise ModuleFailure('KDS root key %s becomes usable at %s, %d seconds from now, later than wait_timeout=%d. '
                            'Nothing more to wait for here: create the key earlier, or use effective_time_hours=0 in '
                            'a lab. %s' % (key['key_id'], key['usable_at'], delay, p['wait_timeout'],
                                           NOTHING_CHANGED), key_id=key['key_id'])


def _plan_restrict(out, cur):
    """One DACL write per readable key whose DACL is wider than Windows', in key id order."""
    restricted, before, after = [], {}, {}
    for key in sorted(cur['keys'], key=lambda k: k['key_id'] or ''):
        if not key.get('_dacl'):
            continue
        report = kds.key_dacl_report(key['_dacl'], cur['root_sid'])
        if not report['wider']:
            continue
        restricted.append(key['key_id'])
        before[key['key_id']] = 'wider than Windows: %s' % ', '.join(
            (['not protected from inheritance'] if not report['dacl_protected'] else [])
            + ['also granted to %s' % x for x in report['extra_trustees']])
        after[key['key_id']] = kds.restricted_sddl(key['_dacl'])
        out.add(restrict_request(key, cur['root_sid']))
    out.result['restricted'] = restricted
    if restricted:
        out.before = dict(out.before, descriptors=before)
        out.after = dict(out.after, descriptors=after)


def restrict_request(key, root_sid):
    """The DACL write for one key, its value computed from the key's DACL as it is just before the write (a deny
    entry another writer added meanwhile is kept). Written by replace of the DACL part (SD flags control): the
    value read with that control is only the DACL, which no delete by value would match."""
    dn = key['distinguished_name']

    def fresh(directory):
        found = directory.search(dn, '(objectClass=*)', ['nTSecurityDescriptor'], scope='base',
                                 controls=dacl_control())
        now = raw_first(found[0], 'nTSecurityDescriptor') if found else None
        return {'nTSecurityDescriptor': [(MODIFY_REPLACE, [kds.restricted_dacl(now, root_sid)])]}
    return Request('modify', dn, 'give KDS root key %s the DACL Add-KdsRootKey writes' % key['key_id'],
                   controls=dacl_control(), descriptor=True, deferred=fresh)


def _parse_iso(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)


# --------------------------------------------------------------------------- the task
def run(module, directory):
    """Read, plan, check the rights, write (re-planning while another writer gets in first), then wait."""
    p = module.params
    key_id = check_params(p)

    def make_plan():
        now = datetime.datetime.now(datetime.timezone.utc)
        new_id = None if module.check_mode or key_id else str(uuid.uuid4())
        return plan(p, read(directory, p, key_id, now, module.check_mode), key_id, now, new_id)
    done = converge(directory, module.check_mode, make_plan, 'KDS root key container')
    if p['wait'] and p['state'] == 'present' and not module.check_mode:
        wait_until_usable(done)
    for w in done.warnings:
        module.warn(w)
    return done.module_result()


def wait_until_usable(done, sleep=time.sleep):
    """Sleep until the chosen key is usable (its use is a matter of time alone: nothing to poll), then report it
    usable. The plan already refused a key usable later than wait_timeout."""
    result = done.result
    if result['usable']:
        return
    delay = (_parse_iso(result['usable_at']) - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
    sleep(max(0.0, delay) + 1)
    result['usable'] = True
    for key in result['kds_root_keys']:
        if key['key_id'] == result['key_id']:
            key['usable'] = True
    if done.after.get('key_id') == result['key_id']:
        done.after = dict(done.after, usable=True)
