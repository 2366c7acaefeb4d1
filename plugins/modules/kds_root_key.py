#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kds_root_key
short_description: Ensure a Key Distribution Services (KDS) root key exists, over LDAP
version_added: 1.0.0
description:
  - Domain controllers derive every gMSA password from a KDS root key. Without a usable one, creating a gMSA
    fails. This module makes sure a root key exists (or removes one), writing exactly the attributes
    Windows' C(Add-KdsRootKey) writes, over an encrypted connection only (the key attributes are
    confidential).
  - A DC uses a key once its start time is at least 10 hours and 5 minutes in the past, so that every DC has
    it by replication. O(effective_time_hours) says when that should be; C(0) backdates the start time so the
    key is usable at once, as in a lab (the equivalent of C(Add-KdsRootKey -EffectiveTime
    ((Get-Date).AddHours(-10)))).
  - Creating or deleting keys needs Enterprise Admins, or Domain Admins of the forest root domain.
  - Key material (C(msKds-RootKeyData)) is never read or returned.
  - Keys this account may not read (it sees them only by name) are never taken for "no key". With
    O(match_by=any) the module then refuses to create another key, naming the right that is missing.
  - Deleting a key warns when gMSAs of the domain still derive their current password from it.
  - A new key gets the descriptor C(Add-KdsRootKey) writes, a protected DACL granting only Enterprise Admins,
    Domain Admins (of the forest root domain) and SYSTEM, so that nothing inherited from the Configuration
    partition lets anyone else read the key (which would let them compute every gMSA password). Its algorithm
    attributes follow the forest's KDS configuration (C(Set-KdsConfiguration)) where it sets them, else
    Windows' defaults.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
attributes:
  check_mode:
    support: full
    description: Reports the key that would be created or deleted; C(key_id) is null when a new random id
      would be generated. Never waits.
  diff_mode:
    support: full
    description: Shows the key before and after (id, start time, when usable).
  idempotent:
    support: partial
    description: Idempotent with O(match_by=any) and O(match_by=key_id); O(match_by=never) creates a key on
      every run by design.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller or execution environment; talks LDAP to the domain controller.
options:
  state:
    description:
      - C(present) makes sure a key matching O(match_by) exists, creating one when needed.
      - C(absent) deletes the key O(key_id). Deleting the key that current gMSA passwords were derived from
        breaks password retrieval for those accounts; the module warns when it deletes the key DCs use now.
    type: str
    choices: [present, absent]
    default: present
  effective_time_hours:
    description:
      - For a new key, hours from now until DCs may use it. C(0) means usable at once (lab); the default
        C(10) is Windows' C(-EffectiveImmediately); production forests with slow replication may want more.
    type: float
    default: 10
  match_by:
    description:
      - Which existing key satisfies O(state=present).
      - C(any) any key, usable or still pending; prefers the one DCs use now.
      - C(key_id) the key named O(key_id) (created with that id when missing).
      - C(never) always create a new key.
    type: str
    choices: [any, key_id, never]
    default: any
  key_id:
    description:
      - The key's id, a GUID (the key's CN; what C(msDS-ManagedPasswordId) refers to).
      - Required with O(match_by=key_id) and with O(state=absent). Optional with O(match_by=never), to
        choose the new key's id.
    type: str
  restrict_descriptors:
    description:
      - Give every existing key whose DACL is wider than the one C(Add-KdsRootKey) writes (not protected from
        inheritance, or granting anyone beyond Enterprise Admins, Domain Admins and SYSTEM - what
        M(gmsa.farm.kds_root_key_info) warns about) exactly that DACL, C(D:P(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY)).
        Only the DACL is written (the owner and the SACL stay). Needs the right to change the keys' permissions.
      - Samba's provisioning adds a key without a descriptor, so it inherits from the Configuration partition
        (measured on Samba 4.22); keys made by earlier versions of this collection did too.
    type: bool
    default: false
  wait:
    description:
      - Wait until the chosen key is usable before returning. Fails at once when that is further away than
        O(wait_timeout); for a key that would have to be created, before it is created.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait at most with O(wait=true).
    type: int
    default: 600
seealso:
  - module: gmsa.farm.kds_root_key_info
  - module: gmsa.farm.gmsa
'''

EXAMPLES = r'''
- name: Production - make sure a KDS root key exists (usable in 10 hours when it has to be created)
  gmsa.farm.kds_root_key:
    domain_server: dc1.example.com
    domain_auth: kerberos

- name: Lab - a key usable at once, and wait until DCs accept it
  gmsa.farm.kds_root_key:
    effective_time_hours: 0
    wait: true
    wait_timeout: 60

- name: Make sure a given key exists (created with this id when missing)
  gmsa.farm.kds_root_key:
    match_by: key_id
    key_id: 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11

- name: Give existing keys the descriptor Windows writes (kds_root_key_info warns about wider ones)
  gmsa.farm.kds_root_key:
    restrict_descriptors: true

- name: Remove an old key
  gmsa.farm.kds_root_key:
    state: absent
    key_id: 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11
'''

RETURN = r'''
restricted:
  description: Ids of the keys whose DACL was (in check mode, would be) given Windows' descriptor
    (O(restrict_descriptors=true)).
  returned: when O(restrict_descriptors=true)
  type: list
  elements: str
accounts_using_key:
  description:
    - DNs of the gMSAs of the connected domain whose current password (C(msDS-ManagedPasswordId)) derives from
      the key being deleted; a warning names them. Other domains of the forest are not searched.
  returned: when O(state=absent) finds the key
  type: list
  elements: str
  sample: []
  version_added: 1.0.0
unreadable_keys:
  description: Ids of the keys this account sees only by name (it may not read their attributes).
  returned: when O(match_by=any) refuses to create a key beside keys it cannot read
  type: list
  elements: str
  version_added: 1.0.0
configured_parameters:
  description: The KDS configuration attributes (Set-KdsConfiguration) a new key took from the forest instead of
    Windows' defaults; empty when the forest sets none.
  returned: when a key was (or would be) created
  type: list
  elements: str
  sample: []
key_id:
  description: Id of the key that satisfies the task (or was deleted). Null in check mode for a new random id.
  returned: success
  type: str
  sample: 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11
creation_time:
  description: When the key was created (ISO 8601, UTC).
  returned: success and state=present
  type: str
  sample: '2026-11-22T03:49:06Z'
effective_time:
  description: The key's start time, C(msKds-UseStartTime) (what C(Get-KdsRootKey) calls EffectiveTime).
  returned: success and state=present
  type: str
  sample: '2026-11-21T17:44:06Z'
created:
  description: Deprecated alias of RV(creation_time); removed in 2.0.0.
  returned: success and state=present
  type: str
  sample: '2026-11-22T03:49:06Z'
effective:
  description: Deprecated alias of RV(effective_time); removed in 2.0.0.
  returned: success and state=present
  type: str
  sample: '2026-11-21T17:44:06Z'
usable_at:
  description: When DCs start using the key (start time + 10 h 5 min).
  returned: success and state=present
  type: str
  sample: '2026-11-22T03:49:06Z'
usable:
  description: Whether DCs use the key now.
  returned: success and state=present
  type: bool
  sample: true
kds_root_keys:
  description:
    - All root keys after the task (no key material). Unlike RV(keys), the name is no
      dictionary method, so C(result.kds_root_keys) works in templates.
  returned: success
  type: list
  elements: dict
  contains:
    key_id:
      description: The key's id.
      type: str
      returned: always
    distinguished_name:
      description: DN of the key object.
      type: str
      returned: always
    creation_time:
      description: Creation time, C(msKds-CreateTime) (ISO 8601, UTC); C(Get-KdsRootKey)'s CreationTime.
      type: str
      returned: always
    effective_time:
      description: Start time, C(msKds-UseStartTime) (ISO 8601, UTC); C(Get-KdsRootKey)'s EffectiveTime.
      type: str
      returned: always
    created:
      description: Deprecated alias of RV(kds_root_keys[].creation_time); removed in 2.0.0.
      type: str
      returned: always
    effective:
      description: Deprecated alias of RV(kds_root_keys[].effective_time); removed in 2.0.0.
      type: str
      returned: always
    usable_at:
      description: When DCs start using it.
      type: str
      returned: always
    usable:
      description: Whether DCs may use it now.
      type: bool
      returned: always
    valid_id:
      description: Whether the CN is a GUID; DCs ignore keys whose CN is not.
      type: bool
      returned: always
    domain_controller:
      description: C(msKds-DomainID), the DC that created the key (informational).
      type: str
      returned: always
    kdf_algorithm:
      description: Key derivation algorithm.
      type: str
      returned: always
keys:
  description:
    - Deprecated alias of RV(kds_root_keys), the same list; removed in 2.0.0.
    - In templates it needs C(result['keys']); C(result.keys) is the dictionary method.
  returned: success
  type: list
  elements: dict
'''

import datetime
import time
import uuid

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils._domain import forest_root_sid
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_REPLACE, RESULT, dacl_control, raw_first


def read_keys(directory, now, with_dacl=False):
    container = kds.container_dn(directory.configuration_nc)
    entries = kds.search_keys(directory, kds.ATTRIBUTES + (['nTSecurityDescriptor'] if with_dacl else []),
                              controls=dacl_control() if with_dacl else None)
    keys = []
    for e in entries:
        key = kds.describe_key(e, now)
        if with_dacl:
            key['_dacl'] = raw_first(e, 'nTSecurityDescriptor')
        keys.append(key)
    return container, keys


def restrict_descriptors(module, directory, keys, result):
    """Every key with a wider DACL than Windows writes gets exactly Windows' DACL (DACL part only)."""
    root_sid = forest_root_sid(directory)
    wanted = kds.key_security_descriptor(root_sid)
    restricted, before, after = [], {}, {}
    for key in keys:
        if not key.get('_dacl'):
            continue
        report = kds.key_dacl_report(key['_dacl'], root_sid)
        if not report['wider']:
            continue
        restricted.append(key['key_id'])
        before[key['key_id']] = 'wider than Windows: %s' % ', '.join(
            (['not protected from inheritance'] if not report['dacl_protected'] else [])
            + ['also granted to %s' % x for x in report['extra_trustees']])
        after[key['key_id']] = kds.KEY_SDDL
        if not module.check_mode:
            directory.modify(key['distinguished_name'], {'nTSecurityDescriptor': [(MODIFY_REPLACE, [wanted])]},
                             controls=dacl_control())
    result['restricted'] = restricted
    if restricted:
        result['changed'] = True
    return before, after


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
        if entries:
            ref = entries[0]['attributes'].get('serverReference')
            ref = ref[0] if isinstance(ref, list) and ref else ref
            if ref:
                return ref
    short_name = (directory.server_name or 'DC').split('.')[0].upper()
    return 'CN=%s,OU=Domain Controllers,%s' % (short_name, directory.default_nc)


def core(module, directory):
    p = module.params
    if not 0 <= p['effective_time_hours'] <= 87600:
        raise ModuleFailure('effective_time_hours must be from 0 (usable at once) to 87600 (10 years), got %s. '
                            'Nothing was changed.' % p['effective_time_hours'])
    if not 0 <= p['wait_timeout'] <= 86400:
        raise ModuleFailure('wait_timeout must be from 0 to 86400 seconds, got %s. Nothing was changed.'
                            % p['wait_timeout'])
    key_id = None
    if p['key_id']:
        try:
            key_id = kds.normalise_key_id(p['key_id'])
        except ValueError:
            raise ModuleFailure('key_id %r is not a GUID (like 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11)' % p['key_id'])
    if p['state'] == 'absent' and not key_id:
        raise ModuleFailure('state=absent needs key_id: the id of the key to delete (see kds_root_key_info)')
    if p['match_by'] == 'key_id' and not key_id:
        raise ModuleFailure('match_by=key_id needs key_id')

    now = datetime.datetime.now(datetime.timezone.utc)
    container, keys = read_keys(directory, now, with_dacl=p['restrict_descriptors'] and p['state'] == 'present')
    result = dict(changed=False)
    warnings = []

    if p['state'] == 'absent':
        victim = [k for k in keys if k['key_id'] == key_id]
        result['key_id'] = key_id
        if victim:
            active = kds.active_key(keys)
            if active and active['key_id'] == key_id:
                others = [k for k in keys if k['usable'] and k['key_id'] != key_id]
                warnings.append('deleting the KDS root key that DCs use now%s; gMSA passwords derived from it can '
                                'no longer be computed' % ('' if others else ' and no other key is usable'))
            users = kds.accounts_using_key(directory.search(
                directory.default_nc, '(&(objectClass=msDS-GroupManagedServiceAccount)(msDS-ManagedPasswordId=*))',
                ['msDS-ManagedPasswordId'], paged=True), key_id)
            result['accounts_using_key'] = users
            if users:
                warnings.append('%d gMSA%s of this domain still derive%s the current password from KDS root key %s '
                                '(%s): once it is deleted, domain controllers cannot compute %s password and the '
                                'hosts using %s fail to log on' % (
                                    len(users), '' if len(users) == 1 else 's', 's' if len(users) == 1 else '',
                                    key_id, ', '.join(users[:5]) + (', ...' if len(users) > 5 else ''),
                                    'its' if len(users) == 1 else 'their', 'it' if len(users) == 1 else 'them'))
            result['changed'] = True
            result['diff'] = dict(before=kds.public(victim[0]), after={})
            if not module.check_mode:
                directory.delete(victim[0]['distinguished_name'])
            keys = [k for k in keys if k['key_id'] != key_id]
        else:
            result['diff'] = dict(before={}, after={})
        result['kds_root_keys'] = result['keys'] = [kds.public(k) for k in keys]
        for w in warnings:
            module.warn(w)
        return result

    unreadable = kds.unreadable_warning(keys, directory.bound_as)
    chosen = kds.choose_existing(keys, p['match_by'], key_id)
    if chosen is None and unreadable and p['match_by'] == 'any':
        # A key it cannot read may well be usable: a second key beside it is never what was asked for.
        raise ModuleFailure('%s Not creating another key beside keys this account cannot see into: run this task as '
                            'an account that may read them (Enterprise Admins, or Domain Admins of the forest root '
                            'domain), or use match_by=never to create one regardless. Nothing was changed.'
                            % unreadable, unreadable_keys=sorted(k['key_id'] for k in keys if not k['readable']))
    if unreadable:
        warnings.append(unreadable)
    if chosen is None:
        new_id = key_id or (None if module.check_mode else str(uuid.uuid4()))
        if new_id and any(k['key_id'] == new_id for k in keys):
            raise ModuleFailure('a KDS root key with id %s already exists. Nothing was changed.' % new_id)
        if p['wait'] and p['effective_time_hours'] * 3600 > p['wait_timeout']:
            # Known before the first write: a wait that cannot succeed must not leave a key behind it.
            raise ModuleFailure('a new key with effective_time_hours=%s becomes usable in %d seconds, later than '
                                'wait_timeout=%d, so the wait cannot succeed. Raise wait_timeout, lower '
                                'effective_time_hours (0 in a lab), or drop wait. Nothing was changed.' % (
                                    p['effective_time_hours'], p['effective_time_hours'] * 3600, p['wait_timeout']))
        config = kds.configured_parameters(read_config(directory))
        attrs = kds.new_key_attributes(
            new_id or '00000000-0000-0000-0000-000000000000', now, p['effective_time_hours'],
            None if module.check_mode else dc_computer_dn(directory), config=config,
            security_descriptor=kds.key_security_descriptor(forest_root_sid(directory)))
        dn = '%s,%s' % ('CN=%s' % new_id, container) if new_id else None
        chosen = kds.describe_key(dict(dn=dn, attributes=dict((k, v) for k, v in attrs.items()
                                                              if k not in ('msKds-RootKeyData', 'nTSecurityDescriptor'))),
                                  now)
        chosen['key_id'] = new_id
        if not module.check_mode:
            directory.add(dn, ['top', 'msKds-ProvRootKey'], attrs)
        result['changed'] = True
        result['configured_parameters'] = sorted(config)
        result['diff'] = dict(before={}, after=kds.public(chosen))
        keys = keys + [chosen]
    else:
        result['diff'] = dict(before=kds.public(chosen), after=kds.public(chosen))

    if p['wait'] and not chosen['usable'] and not module.check_mode:
        usable_at = datetime.datetime.strptime(chosen['usable_at'], '%Y-%m-%dT%H:%M:%SZ').replace(
            tzinfo=datetime.timezone.utc)
        delay = (usable_at - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        if delay > p['wait_timeout']:
            raise ModuleFailure('KDS root key %s becomes usable at %s, %d seconds from now, later than '
                                'wait_timeout=%d. Nothing more to wait for here: create the key earlier, or use '
                                'effective_time_hours=0 in a lab.%s' % (
                                    chosen['key_id'], chosen['usable_at'], delay, p['wait_timeout'],
                                    ' (The key was created.)' if result['changed'] else ''),
                                key_id=chosen['key_id'], changed=result['changed'])
        time.sleep(max(0.0, delay) + 1)
        chosen['usable'] = True

    if p['restrict_descriptors']:
        dacl_before, dacl_after = restrict_descriptors(module, directory, keys, result)
        if dacl_before:
            result['diff'] = dict(before=dict(result['diff']['before'], descriptors=dacl_before),
                                  after=dict(result['diff']['after'], descriptors=dacl_after))
    for w in warnings:
        module.warn(w)
    listed = [kds.public(k) for k in keys]
    result.update(key_id=chosen['key_id'], creation_time=chosen['creation_time'],
                  effective_time=chosen['effective_time'], created=chosen['created'], effective=chosen['effective'],
                  usable_at=chosen['usable_at'], usable=chosen['usable'], kds_root_keys=listed, keys=listed)
    return result


def main():
    run_directory_module(dict(
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        effective_time_hours=dict(type='float', default=10),
        match_by=dict(type='str', choices=['any', 'key_id', 'never'], default='any'),
        key_id=dict(type='str'),
        wait=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=600),
        restrict_descriptors=dict(type='bool', default=False),
    ), core)


if __name__ == '__main__':
    main()
