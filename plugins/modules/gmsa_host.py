# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/gmsa_host.py); this file is its documentation.
from __future__ import annotations

DOCUMENTATION = r'''
module: gmsa_host
short_description: Install, test or uninstall a managed service account on a Windows member host
version_added: 1.0.0
description:
  - Makes a group (or standalone) managed service account usable on the Windows host, the way
    C(Install-ADServiceAccount), C(Test-ADServiceAccount) and C(Uninstall-ADServiceAccount) do, without the
    ActiveDirectory PowerShell module or RSAT.
  - It is an action plugin. The decisions run on the controller; on the host, M(gmsa.farm.host_native) makes one
    raw C(netapi32) call at a time (C(NetQueryServiceAccount), C(NetIsServiceAccount), C(NetAddServiceAccount),
    C(NetRemoveServiceAccount)) and reports what Windows answered.
  - "C(state=present): for a gMSA, C(NetQueryServiceAccount) answers C(Installed) when the computer can retrieve
    the password and C(CannotInstall) when it cannot (it never answers C(CanInstall) for a gMSA). The module
    waits for C(Installed) (or C(CanInstall) for an sMSA linked to this host), then records the account in the
    host's Netlogon store with C(NetAddServiceAccount) unless C(NetIsServiceAccount) says it is there already."
  - "C(state=absent) removes the account from the Netlogon store and succeeds when C(NetIsServiceAccount) no
    longer finds it there; the query state is not used, since a gMSA stays C(Installed) for as long as the
    computer may retrieve the password."
  - "After a group change the computer's Kerberos tickets still carry its old groups: with
    O(refresh_tickets=auto) the module purges the computer's tickets (logon session C(0x3e7)) and tests again.
    The controller writes to one domain controller while the host asks its own: the module retries, purging
    tickets each time, for up to O(replication_timeout) seconds."
  - The facts about Windows this relies on, with their sources, are in the collection's C(docs/windows-facts.md).
author:
  - gmsa.farm maintainers (@gmsa-farm)
attributes:
  check_mode:
    support: full
    description: Reads the host's answers and reports what a real run would do, without purging tickets or
      writing. When the account is not usable yet, it predicts the install and warns.
  diff_mode:
    support: full
    description: The query state and whether the account is in the Netlogon store, before and after.
  idempotent:
    support: full
    description: An account that is usable and in the Netlogon store is left alone; a ticket purge is not a change.
  platform:
    support: full
    platforms: windows
    description: Windows Server 2016 and later members, over WinRM, PSRP or SSH.
options:
  name:
    description:
      - The managed service account, as C(name), C(name$), C(DOMAIN\name$) or C(name$@dns.domain); at most 15
        characters before the C($). A domain given must be the computer's own (its NetBIOS or DNS name), since the
        account is looked up there, and any other domain is refused before anything is changed.
    type: str
    required: true
  state:
    description:
      - C(present) waits until the account is usable on this host and records it in the Netlogon store.
      - C(absent) removes it from the Netlogon store.
    type: str
    choices: [present, absent]
    default: present
  refresh_tickets:
    description:
      - C(auto) purges the computer's Kerberos tickets when the test answers C(CannotInstall), then tests again
        (and again at each retry).
      - C(always) purges them first on every run (changes nothing in the directory; not reported as a change).
      - C(never) does not purge; reboot the host to refresh its group membership.
    type: str
    choices: [auto, always, never]
    default: auto
  replication_timeout:
    description:
      - Seconds to keep retrying while the host reports C(NotExist) or C(CannotInstall), for the account or its
        grant to replicate to the host's domain controller (0 to test once). At most 3600.
    type: int
    default: 60
  retry_interval:
    description:
      - Seconds between retries; at most O(replication_timeout) when that is not 0.
    type: int
    default: 5
  force_offline:
    description:
      - With O(state=absent), when no domain controller answers (C(STATUS_NO_SUCH_DOMAIN)), remove the local
        record anyway (C(SERVICE_ACCOUNT_FLAG_REMOVE_OFFLINE)), as C(Uninstall-ADServiceAccount
        -ForceRemoveLocal) does. The online removal is always tried first.
    type: bool
    default: false
  kdssvc_network_trigger:
    description:
      - Make the KDS service (C(KdsSvc)) start when the first IP address arrives, the workaround for services
        under managed accounts that hang at boot on Windows Server 2012 R2. The trigger is added to the ones
        KdsSvc has; C(sc triggerinfo) would replace them all. Microsoft's note is for Windows Server 2012 R2
        only, so on other versions nothing is changed and a warning says so.
    type: bool
    default: false
notes:
  - The computer must be allowed to retrieve the password (M(gmsa.farm.gmsa) option
    O(gmsa.farm.gmsa#module:allowed_to_retrieve_password), usually through M(gmsa.farm.host_group)).
  - C(CannotInstall) also means that the account and the computer share no Kerberos encryption type.
seealso:
  - module: gmsa.farm.gmsa
  - module: gmsa.farm.host_group
  - module: gmsa.farm.windows_service_identity
  - module: gmsa.farm.host_native
'''

EXAMPLES = r'''
- name: Install and test the farm's gMSA on each member (tickets refreshed after a group change)
  gmsa.farm.gmsa_host:
    name: ITFarm1

- name: Give a freshly created account time to replicate to the member's domain controller
  gmsa.farm.gmsa_host:
    name: CONTOSO\ITFarm1$
    replication_timeout: 300
    retry_interval: 15

- name: Remove the account from a decommissioned member, even if no DC answers
  gmsa.farm.gmsa_host:
    name: ITFarm1
    state: absent
    force_offline: true
'''

RETURN = r'''
name:
  description: The account name as the Windows calls take it (no domain, no C($)).
  returned: always
  type: str
  sample: ITFarm1
domain:
  description: The NetBIOS name of the domain the host is joined to.
  returned: success
  type: str
  sample: CONTOSO
state:
  description: C(NetQueryServiceAccount)'s answer after the task - C(Installed), C(CannotInstall), C(CanInstall),
    C(NotService) or C(NotExist).
  returned: always
  type: str
  sample: Installed
installed:
  description: Whether the account is usable (C(Installed)) and in the host's Netlogon store.
  returned: success
  type: bool
  sample: true
tickets_purged:
  description: Whether the computer's Kerberos tickets were purged (in check mode, whether they would be).
  returned: always
  type: bool
  sample: true
waited:
  description: Seconds spent waiting for replication.
  returned: success
  type: int
  sample: 10
removed_offline:
  description: Whether the offline removal was used because no domain controller answered.
  returned: when O(force_offline=true) was needed
  type: bool
kdssvc_trigger_set:
  description: Whether the KdsSvc network trigger was added (false when it was there already).
  returned: when O(kdssvc_network_trigger=true)
  type: bool
'''
