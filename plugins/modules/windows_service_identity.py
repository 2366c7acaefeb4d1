# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# This module is implemented as an action plugin (plugins/action/windows_service_identity.py); this file is its
# documentation.
from __future__ import annotations

DOCUMENTATION = r'''
module: windows_service_identity
short_description: Run a Windows service, SQL Server service, IIS pool, task or BizTalk host instance as a gMSA
version_added: 1.0.0
description:
  - Moves a service, a SQL Server Database Engine or Agent service, an IIS application pool, a scheduled task or a
    BizTalk host instance to a gMSA (or back to a built-in or virtual account), grants the logon right it needs,
    restarts it, checks that the new identity really logged on, and puts the previous identity and run state
    back when it did not.
  - It is an action plugin that drives well-kept modules on the host - M(ansible.windows.win_service),
    M(ansible.windows.win_service_info), M(ansible.windows.win_user_right), M(microsoft.iis.web_app_pool),
    M(microsoft.iis.web_app_pool_info), M(community.windows.win_scheduled_task),
    M(community.windows.win_scheduled_task_stat) - and adds what none of them has.
  - "Checked before the first write: the account resolves on the host (its domain is the computer's domain, not
    the connecting user's); the target exists; a service in a shared process (C(win32_share_process)) is
    refused, since one process runs under one account; SQL Server Database Engine and Agent services are
    refused as O(type=service), since Microsoft supports their account change only through SQL Server
    Configuration Manager or its WMI provider (O(type=sql_server_service) uses that provider); a logon right that
    domain Group Policy defines (and would reset at the next refresh) fails the task, or warns with
    O(logon_right_gpo=warn), for every type (an application pool's identity logs on as a batch job through
    C(IIS_IUSRS)); a BizTalk Server without gMSA support is refused."
  - "Accounts are compared by SID: C(name$@corp.contoso.com), C(CORP.CONTOSO.COM\\name$) and C(CONTOSO\\name$)
    are one account when the computer's domain has those names, also where the NetBIOS name is not the first DNS
    label; otherwise their SIDs are compared."
  - "O(type=sql_server_service) - the account of C(MSSQLSERVER), C(MSSQL$<instance>), C(SQLSERVERAGENT) or
    C(SQLAgent$<instance>) is changed with SQL Server's WMI provider (C(SqlService.SetServiceAccount), the
    provider SQL Server Configuration Manager uses, which also gives the account the permissions and rights the
    service needs); the service is then restarted with its dependent services (the Agent depends on the Database
    Engine) and must reach Running. SQL Server supports gMSAs from SQL Server 2014 (standalone instances; 2016
    for failover cluster instances and availability groups): a service the provider does not know as a Database
    Engine or Agent, or an older provider for a gMSA, is refused before any change."
  - "Check mode of a new farm: a gMSA that does not resolve yet (the directory side only planned it) gives a
    warning and the plan a real run would carry out, instead of failing."
  - "Validation: a service must reach Running (its Windows error, for example 1069, is reported otherwise); an
    application pool must start a worker process under the new identity (a pool reports Started before any
    worker logs on, so the probe makes one start); a scheduled task must read back with the gMSA and the
    C(password) logon type (the logon itself happens when the task runs, which this module does not trigger)."
  - "Rollback: when validation fails, the previous identity is put back (when it needs no password, or with
    O(rollback_password)), the logon right granted by the task is removed again, and the previous run state is
    restored; the message says which of these steps succeeded. A scheduled task keeps the logon type it had
    (S4U, interactive token, password). The rollback password goes only to module options that are no_log
    (an application pool's user password is set with gmsa.farm.host_native, not web_app_pool's attributes), with
    one exception - a scheduled task's user password goes to community.windows.win_scheduled_task's password
    option, a legacy module without an argument spec, which returns no invocation and so does not echo it."
  - "A BizTalk host instance is managed through the BizTalk WMI provider, which reads the BizTalk management
    database: over WinRM that is a second hop, so connect with CredSSP or Kerberos delegation, or use
    become, or the provider's calls fail with access denied."
  - The facts about Windows this relies on, with their sources, are in the collection's C(docs/windows-facts.md).
author:
  - gmsa.farm maintainers (@gmsa-farm)
attributes:
  check_mode:
    support: full
    description: Reads the host and reports the plan (RV(plan)) a real run would carry out, changing nothing.
  diff_mode:
    support: full
    description: The identity and run state before and after.
  idempotent:
    support: full
    description: A target already under the account, with the logon right, is left alone (no restart).
  platform:
    support: full
    platforms: windows
    description: Windows Server 2016 and later members. IIS application pools need the WebAdministration module.
requirements:
  - ansible.windows, community.windows and microsoft.iis collections on the controller.
options:
  type:
    description:
      - What to rebind. C(biztalk_host_instance) is the host instance of the BizTalk host O(name) on this server,
        reinstalled under the gMSA through WMI (C(MSBTS_HostInstance) Uninstall, then Install with
        C(IsGmsaAccount)); a failed install puts the previous logon back (see O(rollback_password)).
      - C(sql_server_service) is a SQL Server Database Engine or Agent service (see the description).
    type: str
    choices: [service, iis_app_pool, scheduled_task, biztalk_host_instance, sql_server_service]
    default: service
  name:
    description:
      - The service name (not its display name), the application pool name, or the scheduled task name
        (without its folder; see O(path)).
    type: str
    required: true
  path:
    description:
      - The folder of a scheduled task, such as C(\) or C(\Microsoft\Contoso) (the Task Scheduler's form, with
        no backslash after the last folder name; a trailing one is accepted and dropped).
    type: str
    default: \
  account:
    description:
      - A gMSA as C(name$), C(DOMAIN\name$) or C(name$@dns.domain) (without a domain, the computer's domain is
        used); or C(SYSTEM)/C(LocalSystem), C(LOCAL SERVICE), C(NETWORK SERVICE) (each is spelled the way the
        target needs), C(NT SERVICE\<service>) (a virtual account, services only), or C(ApplicationPoolIdentity)
        (application pools only).
      - Accounts that need a password are refused, since they could not be rolled back to automatically.
    type: str
    required: true
  grant_logon_right:
    description:
      - Grant a gMSA the logon right the target needs, when it does not hold it yet (C(SeServiceLogonRight) for
        services, C(SeBatchLogonRight) for scheduled tasks; IIS grants application pool identities its own way,
        and SQL Server's WMI provider and BizTalk's C(Install) grant it themselves).
    type: bool
    default: true
  logon_right_gpo:
    description:
      - What to do when domain Group Policy defines that logon right on the host and does not list the gMSA (a
        right granted locally would be replaced at the next policy refresh). C(fail) before any change, or
        C(warn) (for a gMSA that gets the right through a group the policy lists).
    type: str
    choices: [fail, warn]
    default: fail
  restart:
    description:
      - C(changed) restarts a running target when its identity changed; a stopped one is left stopped (with a
        warning that its new identity logs on at its next start).
      - C(always) restarts it, or starts it when stopped, on every run.
      - C(never) changes the identity only; nothing is validated. Scheduled tasks are never restarted.
    type: str
    choices: [changed, always, never]
    default: changed
  validate:
    description:
      - Check that the target really runs under the new identity after a change (see the description), and
        roll back when it does not.
    type: bool
    default: true
  validate_timeout:
    description:
      - Seconds a service or application pool has to come up under the new identity (1 to 3600).
    type: int
    default: 60
  rollback_password:
    description:
      - The password of the previous identity when that is an ordinary user account (typical before a move to a
        gMSA, for example a BizTalk host instance), used only to put it back when the new identity fails. Without
        it such an identity is not put back, and the message says so.
    type: str
notes:
  - Install the gMSA on the host first (M(gmsa.farm.gmsa_host)).
seealso:
  - module: gmsa.farm.gmsa_host
  - module: ansible.windows.win_service
  - module: ansible.windows.win_user_right
  - module: community.windows.win_scheduled_task
  - module: microsoft.iis.web_app_pool
'''

EXAMPLES = r'''
- name: Run the BizTalk Rule Engine Update Service as the farm's gMSA
  gmsa.farm.windows_service_identity:
    name: RuleEngineUpdateService
    account: CONTOSO\BizTalkSvc$

- name: IIS application pool of the BAM portal (a worker process is started to prove the logon)
  gmsa.farm.windows_service_identity:
    type: iis_app_pool
    name: BAMAppPool
    account: BizTalkSvc$

- name: Nightly job in a task folder, under the gMSA (gets SeBatchLogonRight; its run level is kept)
  gmsa.farm.windows_service_identity:
    type: scheduled_task
    path: \Contoso
    name: Nightly export
    account: CONTOSO\ITFarm1$

- name: A BizTalk host instance, with the old logon's password for the way back
  gmsa.farm.windows_service_identity:
    type: biztalk_host_instance
    name: BizTalkServerApplication
    account: CONTOSO\BizTalkSvc$
    rollback_password: "{{ vault_biztalk_old_password }}"

- name: SQL Server Database Engine and Agent of instance PROD, through SQL Server's WMI provider
  gmsa.farm.windows_service_identity:
    type: sql_server_service
    name: "{{ item }}"
    account: CONTOSO\SqlProd$
  loop: [MSSQL$PROD, SQLAgent$PROD]

- name: Leave the farm - a least-privilege identity for the service
  gmsa.farm.windows_service_identity:
    name: MyService
    account: NT SERVICE\MyService
'''

RETURN = r'''
account:
  description: The identity set, as the target reads it back after the change (a SID translation such as
    C(NT AUTHORITY\LOCAL SERVICE) or C(CONTOSO\ITFarm1$)); in check mode and when nothing changed, as it is
    given to the target.
  returned: always
  type: str
  sample: CONTOSO\ITFarm1$
previous_account:
  description: The identity before the task, as Windows reported it.
  returned: always
  type: str
  sample: NT AUTHORITY\LocalService
previous_running:
  description: Whether the target was running before the task.
  returned: always
  type: bool
running:
  description: Whether the target runs after the task.
  returned: success, not in check mode
  type: bool
plan:
  description: The steps of the task, in order - C(grant_logon_right), C(set_identity), C(restart) or
    C(start), C(validate). In check mode, what a real run would do.
  returned: always
  type: list
  elements: str
  sample: [grant_logon_right, set_identity, restart, validate]
logon_right:
  description: The logon right the target needs (null for application pools).
  returned: always
  type: str
  sample: SeServiceLogonRight
logon_right_granted:
  description: Whether the task granted the logon right.
  returned: always
  type: bool
restarted:
  description: Whether the target was restarted or started.
  returned: always
  type: bool
validated:
  description: Whether the new identity was validated.
  returned: always
  type: bool
rolled_back:
  description: Whether the previous identity was put back after a failed validation.
  returned: on failure
  type: bool
'''
