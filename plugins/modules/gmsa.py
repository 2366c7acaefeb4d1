#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: gmsa
short_description: Create, update or delete a group managed service account (gMSA), sMSA or dMSA over LDAP
version_added: 0.1.0
description:
  - Manages a managed service account straight over LDAP from the controller, with every
    C(New-ADServiceAccount) parameter, and no Windows jump host or RSAT.
  - Everything is resolved and validated before the first write (names, principals, SPNs, lengths, the
    password interval, delegation, a usable KDS root key); a failed task leaves the directory as it was.
  - A no-op run costs one search (the account, every principal the task names and every SPN it adds, together)
    plus the connection. A change adds one modify request. Attributes that already have a value are changed
    with delete-old-value + add-new-value in that one request, so a concurrent writer is never overwritten; the
    module re-reads and retries instead.
  - The diff shows the account in the task's terms (principal names, encryption type names), never bytes.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
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
    type: str
    required: true
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
      add:
        description: Types to add.
        type: list
        elements: str
        choices: [aes128, aes256, rc4, des]
      remove:
        description: Types to remove.
        type: list
        elements: str
        choices: [aes128, aes256, rc4, des]
      set:
        description: The exact types; overrides O(kerberos_encryption_types.add) and O(kerberos_encryption_types.remove).
        type: list
        elements: str
        choices: [aes128, aes256, rc4, des]
  spn:
    description:
      - Service principal names (C(servicePrincipalName)), compared case-insensitively.
      - An SPN already held by another account in the domain is refused before any write, naming the holder.
    type: dict
    suboptions:
      add:
        description: SPNs to add.
        type: list
        elements: str
      remove:
        description: SPNs to remove.
        type: list
        elements: str
      set:
        description: The exact SPNs; overrides O(spn.add) and O(spn.remove).
        type: list
        elements: str
  allowed_to_retrieve_password:
    description:
      - Principals allowed to retrieve the password (C(PrincipalsAllowedToRetrieveManagedPassword),
        C(msDS-GroupMSAMembership)), normally the farm's host group, or member computers.
      - Principals by sAMAccountName (computers with or without C($), C(DOMAIN\name) accepted), DN, SID, UPN or
        objectGUID; all resolved in one search.
      - With O(allowed_to_retrieve_password.add) and O(allowed_to_retrieve_password.remove), entries this task does not
        manage (deny entries, other masks) are kept. SIDs of deleted principals are listed in RV(unresolved_sids) and
        can be removed by SID.
      - The descriptor has exactly the shape Windows writes.
    type: dict
    suboptions:
      add:
        description: Principals to allow.
        type: list
        elements: str
      remove:
        description: Principals to disallow.
        type: list
        elements: str
      set:
        description: Exactly these principals; overrides O(allowed_to_retrieve_password.add) and
          O(allowed_to_retrieve_password.remove).
        type: list
        elements: str
      lookup_failure_action:
        description: What to do when a principal does not exist.
        type: str
        choices: [fail, warn, ignore]
        default: fail
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
      add:
        description: SPNs to add.
        type: list
        elements: str
      remove:
        description: SPNs to remove.
        type: list
        elements: str
      set:
        description: The exact SPNs; overrides O(allowed_to_delegate_to.add) and O(allowed_to_delegate_to.remove).
        type: list
        elements: str
  delegates:
    description:
      - Principals that may delegate to this account (resource-based constrained delegation,
        C(msDS-AllowedToActOnBehalfOfOtherIdentity)). Same forms and rules as O(allowed_to_retrieve_password).
    type: dict
    suboptions:
      add:
        description: Principals to allow.
        type: list
        elements: str
      remove:
        description: Principals to disallow.
        type: list
        elements: str
      set:
        description: Exactly these principals; overrides O(delegates.add) and O(delegates.remove).
        type: list
        elements: str
      lookup_failure_action:
        description: What to do when a principal does not exist.
        type: str
        choices: [fail, warn, ignore]
        default: fail
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
      - Both AD and Samba allow C(nTSecurityDescriptor) to be replaced only (no value delete), so this one change
        is a replace of the account's DACL, sent only when the protection changes, right after reading it.
      - As Windows does, protecting also denies Everyone "delete child" on the parent container (otherwise that
        right would still allow the deletion); other objects there stay deletable through the DELETE right
        their own DACLs grant. Lifting the protection leaves the parent as it is.
    type: bool
seealso:
  - module: gmsa.farm.gmsa_info
  - module: gmsa.farm.host_group
  - module: gmsa.farm.kds_root_key
'''

EXAMPLES = r'''
- name: The seed's ITFarm1 - a gMSA for a web farm, retrievable by the farm's host group
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

- name: Delete the account
  gmsa.farm.gmsa:
    name: ITFarm1
    state: absent
'''

RETURN = r'''
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
unresolved_sids:
  description: SIDs granted in the account's descriptors that no longer resolve (deleted principals); remove
    them by SID.
  returned: success
  type: list
  elements: str
'''

import datetime
import random
import time

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError, escape
from ansible_collections.gmsa.farm.plugins.module_utils import _gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._domain import (
    CLASS_DMSA, WKGUID_MANAGED_SERVICE_ACCOUNTS as WKGUID_MSA, check_container, schema_classes, well_known_dn,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    SecurityError, deny_delete_child, guid_to_str, is_protected, parent_denies_delete_child, set_protected,
    sid_to_str,
)

CONFLICT_CODES = (16, 20)  # noSuchAttribute / attributeOrValueExists: someone changed the account meanwhile
MAX_ATTEMPTS = 12

_LIST_ACTION = dict(add=dict(type='list', elements='str'), remove=dict(type='list', elements='str'),
                    set=dict(type='list', elements='str'))
_PRINCIPAL_ACTION = dict(_LIST_ACTION, lookup_failure_action=dict(type='str', choices=['fail', 'warn', 'ignore'],
                                                                  default='fail'))
_ENC_CHOICES = ['aes128', 'aes256', 'rc4', 'des']

ARGUMENT_SPEC = dict(
    name=dict(type='str', required=True),
    sam_account_name=dict(type='str'),
    path=dict(type='str'),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
    account_type=dict(type='str', choices=['group', 'standalone', 'delegated'], default='group'),
    host=dict(type='str'),
    dns_hostname=dict(type='str'),
    outbound_auth_only=dict(type='bool', default=False),
    password_interval_days=dict(type='int', no_log=False),
    kerberos_encryption_types=dict(type='dict', options=dict(
        add=dict(type='list', elements='str', choices=_ENC_CHOICES),
        remove=dict(type='list', elements='str', choices=_ENC_CHOICES),
        set=dict(type='list', elements='str', choices=_ENC_CHOICES))),
    spn=dict(type='dict', options=_LIST_ACTION),
    allowed_to_retrieve_password=dict(type='dict', options=_PRINCIPAL_ACTION, no_log=False),
    trusted_for_delegation=dict(type='bool'),
    trusted_to_auth_for_delegation=dict(type='bool'),
    allowed_to_delegate_to=dict(type='dict', options=_LIST_ACTION),
    delegates=dict(type='dict', options=_PRINCIPAL_ACTION),
    enabled=dict(type='bool'),
    description=dict(type='str'),
    display_name=dict(type='str'),
    protect_from_deletion=dict(type='bool'),
)


class _Conflict(Exception):
    pass


def dacl_control():
    """LDAP_SERVER_SD_FLAGS_OID asking for (or writing) the DACL part of nTSecurityDescriptor only."""
    from ldap3.protocol.microsoft import security_descriptor_control
    return security_descriptor_control(sdflags=0x04)


def apply_protection(module, directory, dn, current_sd, want):
    """Replace the DACL when the protection differs. Returns (before, after)."""
    from ldap3 import MODIFY_REPLACE
    if current_sd is None:
        found = directory.search(dn, '(objectClass=*)', ['nTSecurityDescriptor'], scope='base',
                                 controls=dacl_control())
        current_sd = g._raw_one(found[0], 'nTSecurityDescriptor') if found else None
    have = is_protected(current_sd)
    if want is None or want == have:
        return have, have
    if not module.check_mode:
        directory.modify(dn, {'nTSecurityDescriptor': [(MODIFY_REPLACE, [set_protected(current_sd, want)])]},
                         controls=dacl_control())
        if want:
            parent = g.parent_dn(dn)
            found = directory.search(parent, '(objectClass=*)', ['nTSecurityDescriptor'], scope='base',
                                     controls=dacl_control())
            parent_sd = g._raw_one(found[0], 'nTSecurityDescriptor') if found else None
            if parent_sd and not parent_denies_delete_child(parent_sd):
                directory.modify(parent, {'nTSecurityDescriptor': [(MODIFY_REPLACE, [deny_delete_child(parent_sd)])]},
                                 controls=dacl_control())
    return have, want


def rdn_escape(value):
    from ldap3.utils.dn import escape_rdn
    return escape_rdn(value)


def lookup(directory, params, sam, spns, principal_names):
    """The one batched search: the account by sAMAccountName, holders of the SPNs to add, the principals."""
    parts = ['(sAMAccountName=%s)' % escape(sam),
             # the same account under another sAMAccountName (a rename), found by its CN
             '(&(|(objectClass=msDS-GroupManagedServiceAccount)(objectClass=msDS-ManagedServiceAccount))(cn=%s))'
             % escape(params['name'])]
    parts.extend('(servicePrincipalName=%s)' % escape(s) for s in spns)
    parts.extend(pr.filters_for(principal_names))
    attrs = sorted(set(g.ACCOUNT_ATTRIBUTES) | set(pr.PRINCIPAL_ATTRIBUTES))
    controls = None
    if params.get('protect_from_deletion') is not None:
        attrs.append('nTSecurityDescriptor')
        controls = dacl_control()
    entries = directory.search(directory.default_nc, '(|%s)' % ''.join(sorted(set(parts))), attrs,
                               controls=controls)
    account = None
    for e in entries:
        if (g._one(e['attributes'], 'sAMAccountName') or '').lower() == sam.lower():
            account = e
    if account is None:
        account = account_by_cn(directory, params, entries)
    try:
        resolved, missing = pr.match_all(principal_names, entries)
    except pr.PrincipalError as e:
        raise ModuleFailure(str(e))
    holders = {}
    want = dict((s.lower(), s) for s in spns)
    for e in entries:
        if account is not None and e['dn'] == account['dn']:
            continue
        for s in e['attributes'].get('servicePrincipalName') or []:
            if s.lower() in want:
                holders.setdefault(want[s.lower()], []).append(e['dn'])
    return account, resolved, missing, holders


def account_by_cn(directory, params, entries):
    """No account has the wanted sAMAccountName: a managed account named ``name`` in the target container is the
    same account under its old sAMAccountName (a rename). Only looked at when there is such a candidate."""
    candidates = [e for e in entries
                  if any(c.lower() in g.TYPE_BY_CLASS for c in e['attributes'].get('objectClass') or [])
                  and (g._one(e['attributes'], 'cn') or '').lower() == params['name'].lower()]
    if not candidates:
        return None
    path = params.get('path')
    if not path:
        found = directory.search(well_known_dn(directory, WKGUID_MSA), '(objectClass=*)', ['1.1'], scope='base')
        path = found[0]['dn'] if found else ''
    here = [e for e in candidates if g.parent_dn(e['dn']).lower() == path.lower()]
    return here[0] if len(here) == 1 else None


def handle_missing(module, params, missing, warnings):
    """Apply each option's lookup_failure_action to the principals that do not exist."""
    problems = []
    for opt in ('allowed_to_retrieve_password', 'delegates'):
        action = params.get(opt) or {}
        mentioned = set()
        for lst in ('add', 'set', 'remove'):
            for v in action.get(lst) or []:
                if v in missing and not (lst == 'remove' and v.upper().startswith('S-1-')):
                    mentioned.add(v)
        if not mentioned:
            continue
        how = action.get('lookup_failure_action') or 'fail'
        text = '%s: no such principal in the domain: %s' % (opt, ', '.join(sorted(mentioned)))
        if how == 'fail':
            problems.append(text)
        elif how == 'warn':
            warnings.append(text + ' (skipped)')
    if params.get('host') and params['host'] in missing:
        problems.append('host: no such computer in the domain: %s' % params['host'])
    if problems:
        raise ModuleFailure('; '.join(problems) + '. Nothing was changed.')


def check_kds(directory):
    """Fail early when the forest has no usable KDS root key.

    Keys are visible to every account, but their (confidential) attributes only to admins; when this bind cannot
    read them the check is inconclusive and the DC's own refusal of the add is translated instead.
    """
    entries = directory.search(kds.container_dn(directory.configuration_nc), '(objectClass=msKds-ProvRootKey)',
                               kds.ATTRIBUTES, scope='one')
    if any(not e['attributes'].get('msKds-UseStartTime') for e in entries):
        return
    now = datetime.datetime.now(datetime.timezone.utc)
    keys = [kds.describe_key(e, now) for e in entries]
    if kds.active_key(keys):
        return
    raise ModuleFailure(no_key_message(keys))


def no_key_message(keys=()):
    pending = sorted(k['usable_at'] for k in keys if k['valid_id'] and k['usable_at'])
    return (
        'No usable KDS root key in the forest, so domain controllers cannot compute gMSA passwords and the account '
        'cannot be created.%s Create one with gmsa.farm.kds_root_key (in a lab effective_time_hours: 0 makes it '
        'usable at once; in production keep the default and wait, or use wait: true). Nothing was changed.'
        % ((' The first pending key becomes usable at %s.' % pending[0]) if pending else ''))


def attempt(module, directory):
    p = module.params
    try:
        sam = g.normalise_sam(p.get('sam_account_name') or p['name'])
        g.validate_name(p['name'])
        principal_names = g.principal_inputs(p) if p['state'] == 'present' else []
        spns = g.spns_to_check(p) if p['state'] == 'present' else []
        for s in spns:
            g.validate_spn(s)
        for opt in ('allowed_to_retrieve_password', 'delegates'):
            for lst in ('add', 'remove', 'set'):
                for v in (p.get(opt) or {}).get(lst) or []:
                    pr.classify(v)
    except (g.PlanError, pr.PrincipalError) as e:
        raise ModuleFailure(str(e) + '. Nothing was changed.')
    if p['account_type'] != 'standalone' and p.get('host'):
        raise ModuleFailure('host applies to account_type=standalone only. Nothing was changed.')

    account, resolved, missing, holders = lookup(directory, p, sam, spns, principal_names)
    warnings = []
    result = dict(changed=False, sam_account_name=sam)

    if account is not None:
        classes = [c.lower() for c in account['attributes'].get('objectClass') or []]
        if not any(c in g.TYPE_BY_CLASS for c in classes):
            raise ModuleFailure('sAMAccountName %s is taken by %s, which is a %s, not a managed service account. '
                                'Choose another name. Nothing was changed.'
                                % (sam, account['dn'], pr.principal_type(classes)))

    if p['state'] == 'absent':
        if account is None:
            result.update(distinguished_name=None, object_guid=None, sid=None, principals=[], unresolved_sids=[],
                          diff=dict(before={}, after={}))
            return result
        cur = g.read_state(account)
        if p.get('protect_from_deletion') is False:
            apply_protection(module, directory, account['dn'], g._raw_one(account, 'nTSecurityDescriptor'), False)
        if not module.check_mode:
            try:
                directory.delete(account['dn'])
            except DirectoryError as e:
                if e.code == 50:
                    raise ModuleFailure('%s Is the account protected from accidental deletion? Run with '
                                        'protect_from_deletion: false to lift the protection and delete it.' % e.msg)
                raise
        result.update(changed=True, distinguished_name=account['dn'],
                      object_guid=guid_to_str(g._raw_one(account, 'objectGUID')),
                      sid=sid_to_str(g._raw_one(account, 'objectSid')), principals=[], unresolved_sids=[],
                      diff=dict(before=dict(name=cur['name'], sam_account_name=cur['sam_account_name'],
                                            distinguished_name=account['dn']), after={}))
        return result

    handle_missing(module, p, missing, warnings)
    if holders:
        raise ModuleFailure('SPN already held by another account (SPNs must be unique): %s. Nothing was changed.'
                            % '; '.join('%s is held by %s' % (s, ', '.join(d)) for s, d in sorted(holders.items())))

    current = g.read_state(account) if account is not None else None
    sid_labels = dict((x['sid'], pr.label(x)) for x in resolved.values())
    unresolved_sids = []
    if current is not None:
        from ansible_collections.gmsa.farm.plugins.module_utils._security import granted_sids, parse_membership_sd
        cur_sids = []
        for raw in (current['membership_raw'], current['rbcd_raw']):
            try:
                cur_sids.extend(granted_sids(parse_membership_sd(raw)))
            except SecurityError as e:
                raise ModuleFailure('cannot read a security descriptor of %s: %s' % (account['dn'], e))
        unknown = [s for s in cur_sids if s not in sid_labels]
        if unknown:
            by_sid = pr.principals_by_sid(directory, unknown)
            for s in unknown:
                if s in by_sid:
                    sid_labels[s] = pr.label(by_sid[s])
                else:
                    unresolved_sids.append(s)

    try:
        plan = g.plan(p, current, resolved, sid_labels)
    except g.PlanError as e:
        raise ModuleFailure(str(e) + ('' if str(e).endswith('.') else '.') + ' Nothing was changed.')
    warnings.extend(plan['warnings'])

    dn = account['dn'] if account is not None else None
    if plan['create'] is not None:
        if p['account_type'] == 'delegated':
            if not schema_classes(directory, [CLASS_DMSA])[CLASS_DMSA]:
                raise ModuleFailure('account_type=delegated needs the %s class, which this forest\'s schema does not '
                                    'have (it comes with the Windows Server 2025 schema). Nothing was changed.'
                                    % CLASS_DMSA)
        # One search finds the container (the default one through its well-known GUID), proves it exists and
        # that this account may create the object there.
        problem, path = check_container(directory, p.get('path') or well_known_dn(directory, WKGUID_MSA),
                                        g.CLASS_BY_TYPE[p['account_type']])
        if problem:
            raise ModuleFailure(problem + ' Nothing was changed.')
        dn = 'CN=%s,%s' % (rdn_escape(p['name']), path)
        plan['after']['distinguished_name'] = dn
        if module.check_mode and p['account_type'] in ('group', 'delegated'):
            # A real run learns this from the add (translated below); check mode must report the same outcome.
            check_kds(directory)
        if not module.check_mode:
            try:
                directory.add(dn, ['top', g.CLASS_BY_TYPE[p['account_type']]], plan['create'])
            except DirectoryError as e:
                if 'root key' in (e.msg or '').lower():
                    check_kds(directory)  # raises the full explanation (with when a pending key becomes usable)
                raise ModuleFailure(create_error(e, dn, path, sam))
        result['changed'] = True
    elif plan['modify']:
        if not module.check_mode:
            try:
                directory.modify(dn, plan['modify'])
            except DirectoryError as e:
                if e.code in CONFLICT_CODES:
                    raise _Conflict()
                raise ModuleFailure(modify_error(e, dn))
        result['changed'] = True

    # move / rename
    if account is not None:
        plan['before']['distinguished_name'] = account['dn']
        want_path = p.get('path') or g.parent_dn(account['dn'])
        want_dn = 'CN=%s,%s' % (rdn_escape(p['name']), want_path)
        plan['after']['distinguished_name'] = want_dn
        if want_dn.lower() != account['dn'].lower():
            if not module.check_mode:
                moving = want_path.lower() != g.parent_dn(account['dn']).lower()
                try:
                    directory.move(account['dn'], 'CN=%s' % rdn_escape(p['name']),
                                   new_superior=want_path if moving else None)
                except DirectoryError as e:
                    raise ModuleFailure('could not move or rename %s to %s: %s' % (account['dn'], want_dn, e.msg))
            dn = want_dn
            result['changed'] = True

    # protection from accidental deletion (its own request: nTSecurityDescriptor can only be replaced)
    if p.get('protect_from_deletion') is not None:
        if dn is not None and (account is not None or not module.check_mode):
            sd = g._raw_one(account, 'nTSecurityDescriptor') if account is not None else None
            have, want = apply_protection(module, directory, dn, sd, p['protect_from_deletion'])
        else:  # a new account in check mode is not protected yet
            have, want = False, p['protect_from_deletion']
        if account is not None:
            plan['before']['protect_from_deletion'] = have
        plan['after']['protect_from_deletion'] = want
        if have != want:
            result['changed'] = True

    # standalone: bind to its host
    if p['account_type'] == 'standalone' and p.get('host'):
        host = resolved[p['host']]
        linked = [x.lower() for x in (account['attributes'].get('msDS-HostServiceAccountBL') or [])] \
            if account is not None else []
        plan['before']['host'] = host['name'] if host['dn'].lower() in linked else (None if not linked else linked[0])
        plan['after']['host'] = host['name']
        if host['dn'].lower() not in linked:
            if not module.check_mode:
                from ldap3 import MODIFY_ADD
                directory.modify(host['dn'], {'msDS-HostServiceAccount': [(MODIFY_ADD, [dn])]})
            result['changed'] = True

    guid = sid = None
    if account is not None:
        guid = guid_to_str(g._raw_one(account, 'objectGUID'))
        sid = sid_to_str(g._raw_one(account, 'objectSid'))
    elif not module.check_mode:
        created = directory.search(dn, '(objectClass=*)', ['objectGUID', 'objectSid'], scope='base')
        if created:
            guid = guid_to_str(g._raw_one(created[0], 'objectGUID'))
            sid = sid_to_str(g._raw_one(created[0], 'objectSid'))

    for w in warnings:
        module.warn(w)
    result.update(
        distinguished_name=dn, object_guid=guid, sid=sid, sam_account_name=plan['after']['sam_account_name'],
        principals=[dict(input=k, name=v['name'], sid=v['sid'], dn=v['dn'], type=v['type'])
                    for k, v in resolved.items()],
        unresolved_sids=sorted(set(unresolved_sids)),
        diff=dict(before=plan['before'], after=plan['after']),
    )
    return result


def create_error(e, dn, path, sam):
    if 'root key' in (e.msg or '').lower():
        return no_key_message()
    if e.code == 32:
        return 'path %s does not exist: create the OU or container first, or leave path out to use the Managed ' \
               'Service Accounts container. Nothing was changed.' % path
    if e.code == 68:
        return 'an object named %s already exists (with another sAMAccountName than %s). Choose another name. ' \
               'Nothing was changed.' % (dn, sam)
    if e.code == 50:
        return e.msg + ' Nothing was changed.'
    return '%s. Nothing was changed.' % e.msg


def modify_error(e, dn):
    if 'can only be modified as system' in (e.msg or ''):
        attr = e.msg.split("attribute '")[1].split("'")[0] if "attribute '" in e.msg else 'an attribute'
        return ('this domain controller does not let clients write %s on %s (it treats it as system-only; Samba '
                '4.22 does so for msDS-AllowedToActOnBehalfOfOtherIdentity, Windows DCs accept it). Nothing was '
                'changed.' % (attr, dn))
    if e.code == 19:
        return 'the directory refused the change to %s: %s. Nothing was changed.' % (dn, e.msg)
    return e.msg + ' Nothing was changed.'


def core(module, directory):
    for n in range(MAX_ATTEMPTS):
        try:
            return attempt(module, directory)
        except _Conflict:
            # Another writer changed the account between our read and our modify: re-read and plan again.
            time.sleep(random.uniform(0.01, 0.05 * (n + 1)))
    raise ModuleFailure('the account kept changing under this task (%d attempts); nothing more was written'
                        % MAX_ATTEMPTS)


def main():
    run_directory_module(ARGUMENT_SPEC, core)


if __name__ == '__main__':
    main()
