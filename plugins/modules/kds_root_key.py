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
    description: Reports the key that would be created or deleted, and the refusals a real run would meet (a
      missing right, a wait that cannot succeed); C(key_id) is null when a new random id would be generated.
      Never waits.
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
        M(gmsa.farm.kds_root_key_info) warns about) that DACL, C(D:P(A;;GA;;;EA)(A;;GA;;;DA)(A;;GA;;;SY)). Explicit
        deny entries the key has are kept in front of it (they only narrow who may read the key); allow entries for
        anyone else and inherited entries go. Only the DACL is written (the owner and the SACL stay). Needs the
        right to change the keys' permissions, checked before the first write.
      - Each key's new DACL is computed from a fresh read of that key just before it is written, so a deny entry
        another writer adds while the task runs is not lost.
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
requests:
  description: The LDAP requests the task sent (in check mode, would send), in order, without values.
  returned: success
  type: list
  elements: dict
  sample: [{op: add, dn: 'CN=7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11,CN=Master Root Keys,CN=Group Key Distribution
            Service,CN=Services,CN=Configuration,DC=contoso,DC=com',
            what: 'create KDS root key 7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11', attributes: [cn, msKds-Version]}]
written:
  description: On failure, what was written before the failing request (empty when nothing was).
  returned: failure after the plan started
  type: list
  elements: str
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

from ansible_collections.gmsa.farm.plugins.module_utils._module import run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._object import kds_root_key as kind

ARGUMENT_SPEC = dict(
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    effective_time_hours=dict(type='float', default=10),
    match_by=dict(type='str', choices=['any', 'key_id', 'never'], default='any'),
    key_id=dict(type='str'),
    wait=dict(type='bool', default=False),
    wait_timeout=dict(type='int', default=600),
    restrict_descriptors=dict(type='bool', default=False),
)


def main():
    run_directory_module(ARGUMENT_SPEC, kind.run)


if __name__ == '__main__':
    main()
