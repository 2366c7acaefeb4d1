#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: gmsa
short_description: Create, update or delete a group managed service account (gMSA), sMSA or dMSA over LDAP
version_added: 1.0.0
description:
  - Manages a managed service account straight over LDAP from the controller, with every
    C(New-ADServiceAccount) parameter, and no Windows jump host or RSAT.
  - Everything is resolved and validated before the first write (names, DNs, principals, SPNs, lengths, number
    ranges, the password interval, delegation, a usable KDS root key). Then the task plans every LDAP request it
    will send, in order (RV(requests)), and checks the bound account's rights for each before sending the first.
    A refusal before any write changes nothing and says so; a failure after some writes reports C(changed=true)
    and what was written (RV(written)).
  - A no-op run costs one search (the account, every principal the task names and every SPN it adds, together)
    plus the connection. Attributes that already have a value are changed with delete-old-value + add-new-value,
    so a concurrent writer is never overwritten; the module re-reads and retries instead. When a Windows DC
    refuses to delete a security descriptor by value, the value is re-read and, when unchanged, replaced.
  - The diff shows the account in the task's terms (principal names, encryption type names), never bytes.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - gmsa.farm.list_values
attributes:
  check_mode:
    support: full
    description: Reports exactly the changes and diff a real run would make, writing nothing.
  diff_mode:
    support: full
    description: Before and after in the task's terms.
  idempotent:
    support: full
    description: A second run with the same options changes nothing.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller or execution environment; talks LDAP to the domain controller.
options:
  name:
    description:
      - The account's name (its CN), for example C(ITFarm1).
      - Required unless O(accounts) or O(identity) is given; O(name) and O(accounts) are mutually exclusive.
      - With O(identity), a O(name) that differs from the account's renames it (its CN); its sAMAccountName stays
        unless O(sam_account_name) is given.
    type: str
  identity:
    description:
      - Finds the account to manage, as microsoft.ad's O(identity) does - by its name (CN), sAMAccountName (with
        or without the C($)), distinguished name, objectGUID, objectSid or userPrincipalName. Single form only.
      - The account's current name and sAMAccountName then stand in for O(name) and O(sam_account_name) when they
        are not given, so a task can manage an account it knows only by GUID or SID.
      - When nothing matches, an account is created with O(name) (required then); with O(state=absent) nothing
        is done. Several matches (a name used in two containers) are refused; name the account by DN, GUID or SID.
      - One more search than a task by O(name).
    type: str
  attributes:
    description:
      - Other LDAP attributes of the account, as microsoft.ad's O(attributes) - each of C(add), C(remove) and
        C(set) maps an attribute name to a value or a list of values (strings or numbers), changed as list values
        are (see the notes); a null C(set) value clears the attribute too. Values compare exactly. Single form
        only.
      - Attributes this module manages through its own options (C(servicePrincipalName) is O(spn),
        C(userPrincipalName) is O(upn), ...) and those the directory or the password machinery keep (C(cn),
        C(objectClass), C(nTSecurityDescriptor), C(msDS-ManagedPassword*), C(unicodePwd), ...) are refused before
        any write. The writes go into the same request as the account's other changes, with the same rights
        check, check mode and diff (the diff shows C(attributes) with the named attributes only).
    type: dict
    suboptions:
      add: {description: Values to add to each named attribute., type: dict}
      remove: {description: Values to remove from each named attribute., type: dict}
      set: {description: The values each named attribute gets., type: dict}
  upn:
    description:
      - The account's userPrincipalName (C(name@suffix)); an empty string clears it. As microsoft.ad's O(upn).
    type: str
  do_not_append_dollar_to_sam:
    description:
      - Use O(sam_account_name) exactly as given, without appending C($), as microsoft.ad does. Only applies when
        O(sam_account_name) is given.
      - Windows expects a managed service account's sAMAccountName to end with C($) (C(Install-ADServiceAccount)
        and the host modules name it so); use this only for accounts that already have such a name.
    type: bool
    default: false
  accounts:
    description:
      - The list form - many accounts in one task, for an estate kept as data. Each element is a dict of the
        per-account options of this module (O(name), O(path), O(state), O(account_type), O(spn),
        O(allowed_to_retrieve_password), ... - every option here except the connection options, O(accounts),
        O(unlisted) and O(unlisted_path)), validated as if given to a task of its own; per-account options must
        not be given at the top level then.
      - Every entry goes through the same validation, planner and writes as the single form. The reads are
        batched - the principals the list names; the accounts by name, or past 125 accounts one paged search of
        every managed service account of the domain (a no-op rerun costs the same few requests whatever the
        list's length); then only the names not found and the SPNs not yet held - and the rights of every
        planned request of every account are checked at once,
        so a bad entry (named by its index and name), an SPN two entries add, a missing principal or a missing
        right stops the task before its first write, for every account.
      - Accounts are then written in list order. If a write still fails, the task stops there; the accounts
        before it stay written (listed in the message, and C(changed) is true), the ones after it are not
        attempted. An account another writer changed since the batched read is read again on its own and
        retried.
      - Results per account are in RV(results), in list order; the diff shows each changed account.
    type: list
    elements: dict
  unlisted:
    description:
      - With O(accounts), what to do with managed service accounts under O(unlisted_path) that are not in the
        list (drift from a source of truth).
      - C(ignore) does nothing; C(report) lists them in RV(unlisted) and warns; C(remove) also deletes them
        (planned, rights-checked and written like the list's own entries; accounts protected from accidental
        deletion are left in place with a warning). Check mode deletes nothing and reports what would be.
    type: str
    choices: [ignore, report, remove]
    default: ignore
  unlisted_path:
    description:
      - The container or OU (searched with its subtree) that O(unlisted) looks at. Required when O(unlisted) is
        not C(ignore).
    type: str
  sam_account_name:
    description:
      - The account's sAMAccountName (its NetBIOS name). Defaults to O(name). A C($) is appended when missing.
      - At most 15 characters before the C($); the characters C("/\[]:;|=,+*?<>@) are refused.
      - The account is found by this name, or else by O(name) in the target container; so changing it on an
        existing account renames its logon name.
    type: str
  path:
    description:
      - DN of the container or OU for a new account. Defaults to the domain's Managed Service Accounts
        container (found through its well-known object GUID, so renamed containers are honoured).
      - When given and an existing account is elsewhere, the account is moved there.
    type: str
  state:
    description:
      - C(present) creates or updates the account; C(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  account_type:
    description:
      - C(group) a group managed service account (gMSA), usable by many hosts.
      - C(standalone) a standalone managed service account (sMSA) bound to one computer (O(host)); the host
        sets its password.
      - C(delegated) a delegated managed service account (dMSA, Windows Server 2025 schema). Fails with a clear
        message where the schema lacks the class (Samba 4.22, older Windows forests).
    type: str
    choices: [group, standalone, delegated]
    default: group
  host:
    description:
      - With O(account_type=standalone), the computer the account is bound to (its C(msDS-HostServiceAccount)
        gets the account). Any name form accepted by O(allowed_to_retrieve_password).
    type: str
  dns_hostname:
    description:
      - DNS name of the service, for example C(itfarm1.example.com). Required to create a group account unless
        O(outbound_auth_only=true).
    type: str
  outbound_auth_only:
    description:
      - The account only authenticates outbound (C(-RestrictToOutboundAuthenticationOnly)), so it has no
        dNSHostName and no SPNs. C(true) removes both from an existing account; cannot be combined with
        O(dns_hostname) or with SPNs to add or set.
    type: bool
    default: false
  password_interval_days:
    description:
      - Days between password changes, written when the account is created (default 30, as on Windows).
      - The directory refuses any later change. When an existing account has a different interval the task
        fails and changes nothing; the message explains how to roll the services to a new account.
    type: int
  kerberos_encryption_types:
    description:
      - Kerberos encryption types the account supports (C(msDS-SupportedEncryptionTypes)).
      - A new account gets C(aes128) and C(aes256) unless told otherwise; include AES always.
    type: dict
    suboptions:
      add: {description: Types to add., type: list, elements: str, choices: [aes128, aes256, rc4, des]}
      remove: {description: Types to remove., type: list, elements: str, choices: [aes128, aes256, rc4, des]}
      set: {description: Exactly these types., type: list, elements: str, choices: [aes128, aes256, rc4, des]}
  spn:
    description:
      - Service principal names (C(servicePrincipalName)), compared case-insensitively.
      - An SPN already held by another account in the domain is refused before any write, naming the holder.
    type: dict
    suboptions:
      add: {description: SPNs to add., type: list, elements: str}
      remove: {description: SPNs to remove., type: list, elements: str}
      set: {description: Exactly these SPNs., type: list, elements: str}
  allowed_to_retrieve_password:
    description:
      - Principals allowed to retrieve the password (C(PrincipalsAllowedToRetrieveManagedPassword),
        C(msDS-GroupMSAMembership)), normally the farm's host group, or member computers.
      - Principals by sAMAccountName (computers with or without C($), C(DOMAIN\name) accepted), DN, SID, UPN or
        objectGUID; all resolved in one search.
      - A principal of another domain of the forest is given as microsoft.ad gives it, a dictionary with the keys
        C(name) (in any of the forms above) and C(server) (that domain's DNS name, or one of its domain
        controllers'), and is looked up in the global catalog of the connected DC (one more search each; single
        form only). A C(server) that is no domain of the forest, or a name the global catalog does not hold, fails
        the task before any write.
      - With O(allowed_to_retrieve_password.add) and O(allowed_to_retrieve_password.remove), entries this task does not
        manage (deny entries, other masks) are kept. SIDs of deleted principals are listed in RV(unresolved_sids) and
        can be removed by SID.
      - The descriptor has exactly the shape Windows writes.
    type: dict
    suboptions:
      add: {description: Principals to allow., type: list, elements: raw}
      remove: {description: Principals to disallow., type: list, elements: raw}
      set: {description: Exactly these principals., type: list, elements: raw}
      lookup_failure_action: {description: What to do when a principal does not exist., type: str,
                              choices: [fail, warn, ignore], default: fail}
  trusted_for_delegation:
    description:
      - Unconstrained Kerberos delegation (userAccountControl TRUSTED_FOR_DELEGATION). Rarely wise.
      - Cannot be true together with O(trusted_to_auth_for_delegation).
    type: bool
  trusted_to_auth_for_delegation:
    description:
      - Protocol transition for constrained delegation (TRUSTED_TO_AUTH_FOR_DELEGATION).
    type: bool
  allowed_to_delegate_to:
    description:
      - SPNs of services this account may delegate to (constrained delegation, C(msDS-AllowedToDelegateTo)).
    type: dict
    suboptions:
      add: {description: SPNs to add., type: list, elements: str}
      remove: {description: SPNs to remove., type: list, elements: str}
      set: {description: Exactly these SPNs., type: list, elements: str}
  delegates:
    description:
      - Principals that may delegate to this account (resource-based constrained delegation,
        C(msDS-AllowedToActOnBehalfOfOtherIdentity)). Same forms and rules as O(allowed_to_retrieve_password).
    type: dict
    suboptions:
      add: {description: Principals to allow., type: list, elements: raw}
      remove: {description: Principals to disallow., type: list, elements: raw}
      set: {description: Exactly these principals., type: list, elements: raw}
      lookup_failure_action: {description: What to do when a principal does not exist., type: str,
                              choices: [fail, warn, ignore], default: fail}
  enabled:
    description:
      - Whether the account is enabled. A new account is enabled unless this is C(false).
    type: bool
  description:
    description:
      - The account's description; an empty string clears it.
    type: str
  display_name:
    description:
      - The account's display name; an empty string clears it.
    type: str
  protect_from_deletion:
    description:
      - Deny Everyone the right to delete the account (and its subtree), like "Protect object from accidental
        deletion" in the Windows tools. With O(state=absent) and C(false), the protection is lifted first.
      - Both AD and Samba allow C(nTSecurityDescriptor) to be replaced only (no value delete), so this change is a
        replace of the DACL, sent only when the protection changes and computed from a read of the DACL made just
        before the write, so an entry another administrator adds meanwhile is kept.
      - As Windows does, protecting also denies Everyone "delete child" on the parent container (otherwise that
        right would still allow the deletion); other objects there stay deletable through the DELETE right
        their own DACLs grant. Lifting the protection leaves the parent as it is.
      - A move to another container needs the DELETE right the protection denies (the modify-DN access checks
        of MS-ADTS), so a move or rename of a protected account lifts the protection, moves the account and
        protects it again where it is then; when the move fails, the protection is put back.
      - Omitted, the protection is left as it is (a move or rename keeps it).
    type: bool
seealso:
  - module: gmsa.farm.gmsa_info
  - module: gmsa.farm.host_group
  - module: gmsa.farm.kds_root_key
'''

EXAMPLES = r'''
- name: ITFarm1 (the name Microsoft's Get started guide uses) - a gMSA for a web farm, retrievable by the farm's host group
  gmsa.farm.gmsa:
    name: ITFarm1
    dns_hostname: itfarm1.contoso.com
    kerberos_encryption_types:
      set: [aes128, aes256]
    spn:
      set:
        - http/ITFarm1.contoso.com/contoso.com
        - http/ITFarm1.contoso.com/contoso
        - http/ITFarm1/contoso.com
        - http/ITFarm1/contoso
    allowed_to_retrieve_password:
      set: [ITFarmHosts]

- name: Outbound-only account with a 75-day password interval (set at creation only)
  gmsa.farm.gmsa:
    name: ITFarm2
    outbound_auth_only: true
    password_interval_days: 75
    allowed_to_retrieve_password:
      add: [ITFarmHosts]

- name: Add one member host, keep the others (and any entry this task does not manage)
  gmsa.farm.gmsa:
    name: ITFarm1
    allowed_to_retrieve_password:
      add: [WEB03$]

- name: Remove a decommissioned host and the SID of a deleted computer
  gmsa.farm.gmsa:
    name: ITFarm1
    allowed_to_retrieve_password:
      remove: [WEB01, S-1-5-21-1004336348-1177238915-682003330-1611]

- name: Constrained delegation to SQL Server with protocol transition
  gmsa.farm.gmsa:
    name: ITFarm1
    trusted_to_auth_for_delegation: true
    allowed_to_delegate_to:
      set: [MSSQLSvc/sql1.contoso.com:1433]

# Windows DCs only: Samba 4.22 treats msDS-AllowedToActOnBehalfOfOtherIdentity as system-only, so there the task
# is refused before any write (in check mode too), saying so.
- name: Let the web tier delegate to this account (resource-based constrained delegation)
  gmsa.farm.gmsa:
    name: ITFarm1
    delegates:
      add: [WEBFRONT$]

- name: A standalone MSA bound to one computer, in a given OU, disabled for now
  gmsa.farm.gmsa:
    name: svc-sql1
    account_type: standalone
    host: SQL1
    path: OU=Service Accounts,DC=contoso,DC=com
    enabled: false
    description: SQL Server on SQL1

- name: Delete an account (the outbound-only one above)
  gmsa.farm.gmsa:
    name: ITFarm2
    state: absent

- name: A whole estate in one task (the list form), reporting accounts in the OU that are not in the list
  gmsa.farm.gmsa:
    accounts: "{{ estate_accounts }}"     # [{name: App001, spn: {set: [...]}, allowed_to_retrieve_password: ...}]
    unlisted: report
    unlisted_path: OU=Service Accounts,DC=contoso,DC=com
  register: estate

- name: What changed, per account
  ansible.builtin.debug:
    msg: "{{ estate.results | selectattr('changed') | map(attribute='name') | list }}"
'''

RETURN = r'''
results:
  description:
    - With O(accounts), one dict per entry in list order - its C(index), C(name), C(changed), and the keys the
      single form returns (RV(distinguished_name), RV(object_guid), RV(sid), RV(sam_account_name),
      RV(principals), RV(requests), RV(unresolved_sids)), and C(diff) for an entry that changes (or would, in
      check mode), as in the task's own diff, where each has the entry as its header.
    - On a failure after the plan, the entries finished before it.
  returned: with O(accounts)
  type: list
  elements: dict
unlisted:
  description: With O(unlisted) C(report) or C(remove), the managed service accounts under O(unlisted_path) that
    are not in the list, each with C(distinguished_name), C(sam_account_name), C(name), C(protected) and
    C(removed) (true when this run deleted it, or would in check mode).
  returned: with O(accounts) and O(unlisted) other than C(ignore)
  type: list
  elements: dict
failed_entry:
  description: On failure in the list form, the entry that failed (C(accounts[INDEX] (NAME))).
  returned: failure with O(accounts)
  type: str
distinguished_name:
  description: DN of the account (the DN it would have, in check mode, when created).
  returned: success
  type: str
  sample: CN=ITFarm1,CN=Managed Service Accounts,DC=contoso,DC=com
object_guid:
  description: objectGUID of the account; null when it does not exist (yet, in check mode).
  returned: success
  type: str
  sample: 1966c64d-9500-41d4-9ba6-95624eeda33e
sid:
  description: objectSid of the account; null when it does not exist.
  returned: success
  type: str
  sample: S-1-5-21-1563812586-3055552829-750439108-1103
sam_account_name:
  description: sAMAccountName (with the trailing C($)).
  returned: success
  type: str
  sample: ITFarm1$
principals:
  description: The principals the task named, as resolved (one entry per name given).
  returned: success
  type: list
  elements: dict
  contains:
    input:
      description: The name as given in the task.
      type: str
      returned: always
    name:
      description: sAMAccountName.
      type: str
      returned: always
    sid:
      description: objectSid.
      type: str
      returned: always
    dn:
      description: Distinguished name.
      type: str
      returned: always
    type:
      description: C(computer), C(group), C(user), C(gmsa), C(msa) or another object class.
      type: str
      returned: always
requests:
  description: The LDAP requests the task sent (in check mode, would send), in order, without values.
  returned: success
  type: list
  elements: dict
  sample: [{op: add, dn: 'CN=ITFarm1,CN=Managed Service Accounts,DC=contoso,DC=com',
            what: 'create CN=ITFarm1,CN=Managed Service Accounts,DC=contoso,DC=com', attributes: [sAMAccountName]}]
written:
  description: On failure, what was written before the failing request (empty when nothing was).
  returned: failure after the plan started
  type: list
  elements: str
unresolved_sids:
  description: SIDs granted in the account's descriptors that no longer resolve (deleted principals); remove
    them by SID.
  returned: success
  type: list
  elements: str
'''

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa_list, gmsa_task
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import property_options

# One account's identity and state; every other option comes from a row of the property table. The list form
# validates each entry of ``accounts`` with this same spec.
ACCOUNT_SPEC = dict(
    name=dict(type='str', required=True),
    path=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    account_type=dict(type='str', choices=['group', 'standalone', 'delegated'], default='group'),
    host=dict(type='str'),
    outbound_auth_only=dict(type='bool', default=False),
    protect_from_deletion=dict(type='bool'),
    do_not_append_dollar_to_sam=dict(type='bool', default=False),
    **property_options()
)
ATTRIBUTES_SPEC = dict(type='dict', options=dict(add=dict(type='dict'), remove=dict(type='dict'), set=dict(type='dict')))
ARGUMENT_SPEC = dict(ACCOUNT_SPEC, name=dict(type='str'), identity=dict(type='str'), attributes=ATTRIBUTES_SPEC,
                     accounts=dict(type='list', elements='dict'),
                     unlisted=dict(type='str', choices=['ignore', 'report', 'remove'], default='ignore'),
                     unlisted_path=dict(type='str'))


def core(module, directory):
    p = module.params
    if p.get('accounts') is None:
        if p.get('unlisted') != 'ignore' or p.get('unlisted_path'):
            raise ModuleFailure('unlisted and unlisted_path apply to the list form (accounts) only. Nothing was '
                                'changed.')
        return gmsa_task.run(module, directory)
    given = sorted(k for k, spec in ACCOUNT_SPEC.items() if p.get(k) != spec.get('default'))
    if given:
        raise ModuleFailure('with accounts, give per-account options inside each entry, not at the top level: %s. '
                            'Nothing was changed.' % ', '.join(given))
    if p['unlisted'] != 'ignore' and not p.get('unlisted_path'):
        raise ModuleFailure('unlisted=%s needs unlisted_path (the container or OU to compare with the list). '
                            'Nothing was changed.' % p['unlisted'])
    return gmsa_list.run(module, directory, ACCOUNT_SPEC)


def main():
    run_directory_module(ARGUMENT_SPEC, core, mutually_exclusive=[('name', 'accounts'), ('identity', 'accounts'),
                                                                  ('attributes', 'accounts')],
                         required_one_of=[('name', 'accounts', 'identity')])


if __name__ == '__main__':
    main()
