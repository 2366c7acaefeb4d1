#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: kds_root_key_info
short_description: List the forest's KDS root keys and whether domain controllers can use them, over LDAP
version_added: 0.1.0
description:
  - Reads every C(msKds-ProvRootKey) object with one search and tells, for each, when it was created, its
    start time, when DCs start using it and whether they do now. Also names the key DCs use now.
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
keys:
  description:
    - All root keys, oldest first.
    - In templates write C(result['keys']); C(result.keys) is the dictionary method.
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
    created:
      description: Creation time (ISO 8601, UTC).
      type: str
      returned: always
    effective:
      description: Start time, C(msKds-UseStartTime) (ISO 8601, UTC).
      type: str
      returned: always
    usable_at:
      description: When DCs start using the key (start time + 10 h 5 min).
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
      description: C(msKds-DomainID), the DC that created the key.
      type: str
      returned: always
    kdf_algorithm:
      description: Key derivation algorithm.
      type: str
      returned: always
usable:
  description: Whether at least one key is usable now (gMSAs can be created).
  returned: success
  type: bool
  sample: true
active_key_id:
  description: The key DCs use now (latest created among usable ones), or null.
  returned: success
  type: str
  sample: 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11
next_usable_at:
  description: When the first pending key becomes usable, when no key is usable yet; else null.
  returned: success
  type: str
  sample: '2026-11-22T13:54:06Z'
'''

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils._module import run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds


def core(module, directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    entries = directory.search(kds.container_dn(directory.configuration_nc), '(objectClass=msKds-ProvRootKey)',
                               kds.ATTRIBUTES, scope='one')
    keys = sorted((kds.describe_key(e, now) for e in entries), key=lambda k: k['created'] or '')
    active = kds.active_key(keys)
    pending = sorted(k['usable_at'] for k in keys if k['valid_id'] and not k['usable'] and k['usable_at'])
    return dict(
        changed=False,
        keys=[kds.public(k) for k in keys],
        usable=active is not None,
        active_key_id=active['key_id'] if active else None,
        next_usable_at=None if active else (pending[0] if pending else None),
    )


def main():
    run_directory_module({}, core)


if __name__ == '__main__':
    main()
