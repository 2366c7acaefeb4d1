#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kds_root_key_info
short_description: List the forest's KDS root keys and whether domain controllers can use them, over LDAP
version_added: 1.0.0
description:
  - Reads every C(msKds-ProvRootKey) object with one search and tells, for each, when it was created, its
    start time, when DCs start using it and whether they do now. Also names the key DCs use now.
  - The descriptor Windows gives a key lets only Enterprise Admins, the forest root domain's Domain Admins and
    SYSTEM read it. Another account (an OU-delegated admin, a child domain's Domain Admins) sees such a key only
    by its name; the module lists it with RV(kds_root_keys[].readable=false), warns which right is missing and returns
    RV(usable=null) when no key it can read is usable, never an empty list or "no key".
  - Never reads or returns key material (C(msKds-RootKeyData)).
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - gmsa.farm.attributes.info_module
options: {}
seealso:
  - module: gmsa.farm.kds_root_key
'''

EXAMPLES = r'''
- name: List KDS root keys
  gmsa.farm.kds_root_key_info:
  register: kds

- name: Stop early when no gMSA can be created yet
  ansible.builtin.assert:
    that: kds.usable
    fail_msg: "No usable KDS root key: run gmsa.farm.kds_root_key (next usable at {{ kds.next_usable_at }})"
'''

RETURN = r'''
kds_root_keys:
  description:
    - All root keys, oldest first (no key material). Unlike RV(keys), the name is no
      dictionary method, so C(result.kds_root_keys) works in templates.
  returned: success
  type: list
  elements: dict
  contains:
    key_id:
      description: The key's id (its CN, a GUID).
      type: str
      returned: always
    distinguished_name:
      description: DN of the key object.
      type: str
      returned: always
    readable:
      description:
        - Whether this account may read the key's attributes. When V(false), only RV(kds_root_keys[].key_id) and
          RV(kds_root_keys[].distinguished_name) are known and the other values are null.
      type: bool
      returned: always
      version_added: 1.0.0
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
      description: When DCs start using the key (start time + 10 h 5 min).
      type: str
      returned: always
    usable:
      description: Whether DCs may use it now; null when the key is not readable.
      type: bool
      returned: always
    valid_id:
      description: Whether the CN is a GUID; DCs ignore keys whose CN is not.
      type: bool
      returned: always
    domain_controller:
      description: C(msKds-DomainID), the DC that created the key.
      type: str
      returned: always
    kdf_algorithm:
      description: Key derivation algorithm.
      type: str
      returned: always
    dacl_protected:
      description: Whether the key's DACL is protected from inheritance, as C(Add-KdsRootKey) writes it.
      type: bool
      returned: when the bind may read the key's descriptor
    extra_trustees:
      description: SIDs the key's DACL grants access beyond Enterprise Admins, Domain Admins and SYSTEM. Any of
        them may be able to read C(msKds-RootKeyData), and so compute every gMSA password in the forest.
      type: list
      elements: str
      returned: when the bind may read the key's descriptor
    dacl_wider_than_windows:
      description: Whether the DACL is unprotected or grants anyone beyond those three (a warning says so).
      type: bool
      returned: when the bind may read the key's descriptor
keys:
  description:
    - Deprecated alias of RV(kds_root_keys), the same list; removed in 2.0.0.
    - In templates it needs C(result['keys']); C(result.keys) is the dictionary method.
  returned: success
  type: list
  elements: dict
usable:
  description:
    - Whether at least one key is usable now (gMSAs can be created).
    - Null when no readable key is usable but keys exist that this account cannot read (see RV(unreadable_keys)).
      The answer is then unknown, and a domain controller may still have a usable key.
  returned: success
  type: bool
  sample: true
unreadable_keys:
  description: Ids of the keys this account sees only by name (it may not read their attributes).
  returned: success
  type: list
  elements: str
  sample: []
  version_added: 1.0.0
active_key_id:
  description: The key DCs use now (latest created among usable ones), or null.
  returned: success
  type: str
  sample: 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11
keys_with_wider_dacl:
  description: Ids of the keys whose DACL is wider than the one Windows writes.
  returned: success
  type: list
  elements: str
  sample: []
next_usable_at:
  description: When the first pending key becomes usable, when no key is usable yet; else null.
  returned: success
  type: str
  sample: '2026-11-22T13:54:06Z'
'''

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils._domain import forest_root_sid
from ansible_collections.gmsa.farm.plugins.module_utils._module import run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils._values import dacl_control, raw_first


def core(module, directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    entries = kds.search_keys(directory, kds.ATTRIBUTES + ['nTSecurityDescriptor'], controls=dacl_control())
    root_sid = None
    keys = []
    for e in entries:
        key = kds.describe_key(e, now)
        sd = raw_first(e, 'nTSecurityDescriptor')
        if sd:
            if root_sid is None:
                root_sid = forest_root_sid(directory)
            report = kds.key_dacl_report(sd, root_sid)
            key.update(dacl_protected=report['dacl_protected'], extra_trustees=report['extra_trustees'],
                       dacl_wider_than_windows=report['wider'])
            if report['wider']:
                module.warn('KDS root key %s has a wider DACL than Windows writes (%s): whoever can read its '
                            'msKds-RootKeyData can compute every gMSA password in the forest. Give it the '
                            'descriptor D:P(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY): gmsa.farm.kds_root_key with '
                            'restrict_descriptors=true does (check mode and diff show it first).' % (
                                key['key_id'], ', '.join((['not protected from inheritance'] if not
                                                          report['dacl_protected'] else []) +
                                                         ['also granted to %s' % x for x in report['extra_trustees']])))
        keys.append(key)
    keys.sort(key=lambda k: (k['creation_time'] or '', k['key_id'] or ''))
    active = kds.active_key(keys)
    pending = sorted(k['usable_at'] for k in keys if k['valid_id'] and not k['usable'] and k['usable_at'])
    unreadable = kds.unreadable_warning(keys, directory.bound_as)
    if unreadable:
        module.warn(unreadable)
    hidden = sorted(k['key_id'] for k in keys if not k['readable'])
    return dict(
        changed=False,
        kds_root_keys=[kds.public(k) for k in keys],
        keys=[kds.public(k) for k in keys],
        usable=True if active is not None else (None if hidden else False),
        unreadable_keys=hidden,
        active_key_id=active['key_id'] if active else None,
        next_usable_at=None if active else (pending[0] if pending else None),
        keys_with_wider_dacl=[k['key_id'] for k in keys if k.get('dacl_wider_than_windows')],
    )


def main():
    run_directory_module({}, core)


if __name__ == '__main__':
    main()
