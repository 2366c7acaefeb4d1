#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: gmsa_info
short_description: Report managed service accounts, who can retrieve each password, and risky privileges
version_added: 1.0.0
description:
  - Lists group and standalone managed service accounts by name, by LDAP filter, or everything under a path
    (paged), with their settings in people's terms.
  - For each account, tells which principals may retrieve the password and which computer accounts
    effectively can (expanding nested groups), its delegation settings, its groups, and whether it reaches a
    privileged group (Domain, Enterprise or Schema Admins, Administrators, Account, Server, Backup or Print
    Operators, DnsAdmins, Group Policy Creator Owners), transitively.
  - Never asks for C(msDS-ManagedPassword).
  - The number of searches does not grow with the number of accounts.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - gmsa.farm.attributes.info_module
options:
  name:
    description:
      - Accounts by name (CN) or sAMAccountName (with or without C($)).
    type: list
    elements: str
  ldap_filter:
    description:
      - An extra LDAP filter ANDed with the managed-service-account classes, for example C((description=web*)).
    type: str
  path:
    description:
      - Search only under this DN. Defaults to the whole domain.
    type: str
  migration_candidates:
    description:
      - Also list the enabled user accounts that have SPNs (RV(migration_candidates)) - the service accounts
        Kerberoasting targets, and what moving services to gMSAs starts from. One more paged search, over O(path).
    type: bool
    default: false
  dmsa_creators:
    description:
      - Also list, for every OU and container under O(path), the principals that may create delegated managed
        service accounts (dMSAs) there (RV(dmsa_creators)) - CreateChild for that class or for all classes, full
        control, change permissions or take ownership, or ownership of the container. A dMSA created there can be
        made the successor of any account and inherit its access (the published "BadSuccessor" research); those
        that are not Domain Admins, Enterprise Admins, Administrators or SYSTEM are flagged.
      - One more paged search (the containers' descriptors), over O(path).
    type: bool
    default: false
    version_added: 1.0.0
seealso:
  - module: gmsa.farm.gmsa
'''

EXAMPLES = r'''
- name: One account
  gmsa.farm.gmsa_info:
    name: ITFarm1
  register: farm

- name: Which hosts can retrieve the password
  ansible.builtin.debug:
    msg: "{{ farm.accounts[0].effective_retrievers }}"

- name: Every managed service account in an OU, flagging privileged ones
  gmsa.farm.gmsa_info:
    path: OU=Service Accounts,DC=contoso,DC=com
  register: all_msa

- name: Domain-wide - every managed service account, and user accounts still running services (with SPNs)
  gmsa.farm.gmsa_info:
    migration_candidates: true
  register: estate

- name: Fail when a gMSA reaches a privileged group
  ansible.builtin.assert:
    that: all_msa.accounts | selectattr('privileged') | list | length == 0
    fail_msg: "Privileged gMSAs: {{ all_msa.accounts | selectattr('privileged') | map(attribute='name') | list }}"

- name: By filter
  gmsa.farm.gmsa_info:
    ldap_filter: (description=BizTalk*)
'''

RETURN = r'''
accounts:
  description: The accounts found, sorted by DN.
  returned: success
  type: list
  elements: dict
  contains:
    distinguished_name:
      description: DN.
      type: str
      returned: always
    name:
      description: CN.
      type: str
      returned: always
    sam_account_name:
      description: sAMAccountName, with C($).
      type: str
      returned: always
    account_type:
      description: C(group) or C(standalone).
      type: str
      returned: always
    object_guid:
      description: objectGUID.
      type: str
      returned: always
    sid:
      description: objectSid.
      type: str
      returned: always
    dns_hostname:
      description: dNSHostName.
      type: str
      returned: always
    spn:
      description: servicePrincipalName values.
      type: list
      elements: str
      returned: always
    kerberos_encryption_types:
      description: Encryption types by name (C(des), C(rc4), C(aes128), C(aes256)); null when unset.
      type: list
      elements: str
      returned: always
    password_interval_days:
      description: msDS-ManagedPasswordInterval.
      type: int
      returned: always
    enabled:
      description: Whether the account is enabled.
      type: bool
      returned: always
    outbound_auth_only:
      description: No dNSHostName and no SPNs.
      type: bool
      returned: always
    description:
      description: description.
      type: str
      returned: always
    allowed_principals:
      description: Principals allowed to retrieve the password (name, sid, type, dn).
      type: list
      elements: dict
      returned: always
    unresolved_sids:
      description: Allowed SIDs that no longer resolve (deleted principals). A SID kept in another principal's
        C(sIDHistory) resolves to that principal (its entry in RV(accounts[].allowed_principals) has
        C(sid_history=true)) and is not listed here.
      type: list
      elements: str
      returned: always
    conditional_principals:
      description: Principals granted only through conditional entries (they retrieve the password when the
        condition holds); they are counted among the retrievers.
      type: list
      elements: str
      returned: always
      version_added: 1.0.0
    effective_retrievers:
      description:
        - sAMAccountNames of the security principals (computers, users, managed service accounts) that can
          retrieve the password - granted directly, through (nested) groups, or through a primary group (such as
          Domain Computers, which the in-chain matching rule does not follow).
        - Complete only when RV(accounts[].retrievers_unbounded) is false.
      type: list
      elements: str
      returned: always
    retrievers_unbounded:
      description:
        - Whether a grant cannot be enumerated, so more principals than RV(accounts[].effective_retrievers) may
          retrieve the password - a well-known SID such as Authenticated Users or Everyone, or a principal of
          another domain, granted directly or as a member of an allowed group (such as Authenticated Users in
          C(Pre-Windows 2000 Compatible Access)); or a member of an allowed group this account could not read.
        - Every entry of the descriptor that an access check counts is counted - allow entries with inheritance
          flags (not inherit-only) and conditional entries included.
      type: bool
      returned: always
    unbounded_reasons:
      description: Why the retrievers are unbounded, one sentence per grant; a sentence about an object that could
        not be read starts with C(Incomplete:) and names it.
      type: list
      elements: str
      returned: always
    delegation:
      description: trusted_for_delegation, trusted_to_auth_for_delegation, allowed_to_delegate_to, delegates.
      type: dict
      returned: always
    member_of:
      description: DNs of the groups the account is a direct member of.
      type: list
      elements: str
      returned: always
    privileged:
      description: Whether the account reaches a privileged group, directly or through nesting.
      type: bool
      returned: always
    privileged_groups:
      description:
        - Names of the privileged groups it reaches, directly or nested, through its groups and its primary group.
        - In a forest of several domains the forest-wide groups (Enterprise Admins, Schema Admins, Enterprise Key
          Admins, Enterprise Read-only Domain Controllers) are universal groups of the root domain; they are
          asked from the connected DC's global catalog (port 3269 over LDAPS, 3268 with StartTLS). When that DC
          is not a global catalog the module warns that they were not evaluated.
      type: list
      elements: str
      returned: always
    host:
      description: For a standalone account, the computer it is bound to.
      type: str
      returned: always
    password_last_set:
      description: When the DC last changed the password (ISO 8601, UTC).
      type: str
      returned: always
    next_rotation:
      description: When the next change is due (password_last_set + interval).
      type: str
      returned: always
    last_logon:
      description: C(lastLogonTimestamp) - when the account last logged on, to within about 14 days (it
        replicates lazily); null when it never has.
      type: str
      returned: always
    stale:
      description: Whether the account never logged on, so no member has used it (a candidate for removal).
      type: bool
      returned: always
    orphaned:
      description: Whether a group or delegated account has no allowed principal that still resolves, so no host
        can retrieve its password.
      type: bool
      returned: always
    supersedes:
      description:
        - For a dMSA that is migrating from or has replaced an account (C(msDS-DelegatedMSAState) 1 or 2), the
          DNs in its C(msDS-ManagedAccountPrecededByLink). It gets their access, so their groups count in
          RV(accounts[].privileged_groups) (Microsoft's "Delegated Managed Service Accounts overview").
      type: list
      elements: str
      returned: always
      version_added: 1.0.0
    grant_changers:
      description:
        - Who can change who retrieves the password - one write away from it. The trustees of the account's own
          descriptor that can write C(msDS-GroupMSAMembership) (its owner, entries with change permissions, take
          ownership, full control, write all properties, or write property on it), with how.
        - Deny entries are not subtracted, so a principal a deny stops may be listed; none is missed.
      type: list
      elements: dict
      returned: always
      version_added: 1.0.0
      contains:
        name:
          description: The trustee's sAMAccountName (or its SID when it does not resolve; well-known names for
            well-known SIDs).
          type: str
        sid:
          description: The trustee's SID.
          type: str
        rights:
          description: How it can change the grant.
          type: list
          elements: str
    grant_changers_readable:
      description: Whether this account could read the gMSA's descriptor (READ_CONTROL). When V(false),
        RV(accounts[].grant_changers) is empty because it is unknown, not because nobody can change the grant.
      type: bool
      returned: always
      version_added: 1.0.0
    grant_changers_effective:
      description: The users, computers and managed accounts among RV(accounts[].grant_changers), groups expanded
        as for RV(accounts[].effective_retrievers).
      type: list
      elements: str
      returned: always
      version_added: 1.0.0
    membership_changers:
      description: For each allowed group, who can change its members (owner, change permissions, take
        ownership, full control, write all properties, write property on C(member) or the Membership property
        set, add/remove self as member), as trustees and expanded.
      type: list
      elements: dict
      returned: always
      version_added: 1.0.0
      contains:
        group:
          description: The allowed group's sAMAccountName.
          type: str
        changers:
          description: Trustees, as in RV(accounts[].grant_changers).
          type: list
          elements: dict
        effective:
          description: The users, computers and managed accounts among them, groups expanded.
          type: list
          elements: str
dmsa_creators:
  description: With O(dmsa_creators=true), who may create dMSAs where, flagged ones first.
  returned: when O(dmsa_creators=true)
  type: list
  elements: dict
  version_added: 1.0.0
  contains:
    container:
      description: DN of the OU or container.
      type: str
    name:
      description: The trustee's sAMAccountName (or well-known name, or SID).
      type: str
    sid:
      description: The trustee's SID.
      type: str
    rights:
      description: What lets it create dMSAs there.
      type: list
      elements: str
    flagged:
      description: Whether it is not one of Domain Admins, Enterprise Admins, Administrators or SYSTEM.
      type: bool
migration_candidates:
  description: With O(migration_candidates=true), enabled user accounts that have SPNs (krbtgt excepted).
  returned: when O(migration_candidates=true)
  type: list
  elements: dict
  contains:
    name:
      description: sAMAccountName.
      type: str
    distinguished_name:
      description: DN.
      type: str
    spn:
      description: Its SPNs.
      type: list
      elements: str
    password_last_set:
      description: When its password was last set (ISO 8601, UTC); old passwords are what Kerberoasting cracks.
      type: str
'''

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._values import check_dn, check_filter, owner_dacl_control
from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _report as rep


def core(module, directory):
    p = module.params
    try:
        if p.get('path') is not None:
            check_dn('path', p['path'])
        if p.get('ldap_filter') is not None:
            check_filter('ldap_filter', p['ldap_filter'])
    except ValueError as e:
        raise ModuleFailure(str(e))
    base = p.get('path') or directory.default_nc
    entries = directory.search(base, rep.account_filter(p.get('name'), p.get('ldap_filter')),
                               g.ACCOUNT_ATTRIBUTES + ['nTSecurityDescriptor', 'msDS-ManagedAccountPrecededByLink',
                                                       'msDS-DelegatedMSAState'], paged=True,
                               controls=owner_dacl_control())
    entries.sort(key=lambda e: e['dn'].lower())
    warnings = []
    result = dict(changed=False, accounts=rep.build_report(directory, entries, base, warnings=warnings))
    for w in warnings:
        module.warn(w)
    if p['migration_candidates']:
        result['migration_candidates'] = rep.migration_candidates(directory, base)
    if p['dmsa_creators']:
        result['dmsa_creators'] = rep.dmsa_creators(directory, base, rep.domain_sid_of(directory))
    return result


def main():
    run_directory_module(dict(
        name=dict(type='list', elements='str'),
        ldap_filter=dict(type='str'),
        path=dict(type='str'),
        migration_candidates=dict(type='bool', default=False),
        dmsa_creators=dict(type='bool', default=False),
    ), core)


if __name__ == '__main__':
    main()
