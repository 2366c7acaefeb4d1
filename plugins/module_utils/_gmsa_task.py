# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What one gmsa.farm.gmsa task does: validate -> read -> plan every write -> check rights -> execute.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

``plan_writes`` is where a newcomer finds every LDAP write a task can make, in the order they are sent: the
account's add or modify, lifting and restoring protection around a move or rename, the move, the account's and
its parent's descriptors, and a standalone account's host link. Check mode, the diff, the rights check and the
failure report all come from that list (``_writes``).
"""
from __future__ import annotations

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import escape
from ansible_collections.gmsa.farm.plugins.module_utils import _gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._domain import (
    CLASS_DMSA, WKGUID_MANAGED_SERVICE_ACCOUNTS as WKGUID_MSA, check_container, schema_classes, well_known_dn,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    SecurityError, deny_delete_child, granted_sids, guid_to_str, is_protected, parent_denies_delete_child,
    parse_membership_sd, set_protected, sid_to_str,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, RESULT, check_dn, check_range, dacl_control, first, parent_dn,
    raw_first, rdn_escape,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import Write, check_rights, execute, retry_on_conflict

INTERVAL_MAX = 2 ** 31 - 1      # msDS-ManagedPasswordInterval is a 32-bit signed integer


# --------------------------------------------------------------------------- validate (no I/O)
def validate(p):
    """Everything knowable without the directory. Returns (sAMAccountName, principal names, SPNs to check)."""
    try:
        sam = g.wanted_sam(p)
        g.validate_name(p['name'])
        g.validate_upn(p.get('upn'))
        if p.get('path') is not None:
            check_dn('path', p['path'])
        check_range('password_interval_days', p.get('password_interval_days'), 1, INTERVAL_MAX)
        principal_names = g.principal_inputs(p) if p['state'] == 'present' else []
        spns = g.spns_to_check(p) if p['state'] == 'present' else []
        for s in spns:
            g.validate_spn(s)
        for opt in ('allowed_to_retrieve_password', 'delegates'):
            for lst in ('add', 'remove', 'set'):
                for v in (p.get(opt) or {}).get(lst) or []:
                    pr.classify(v)
    except (g.PlanError, pr.PrincipalError, ValueError) as e:
        raise ModuleFailure(str(e) + '. Nothing was changed.')
    if p['account_type'] != 'standalone' and p.get('host'):
        raise ModuleFailure('host applies to account_type=standalone only. Nothing was changed.')
    return sam, principal_names, spns


# --------------------------------------------------------------------------- read
SEARCH_ATTRIBUTES = sorted(set(g.ACCOUNT_ATTRIBUTES) | set(pr.PRINCIPAL_ATTRIBUTES) | {'nTSecurityDescriptor'})
MSA_CLASSES = ''.join('(objectClass=%s)' % c for c in g.CLASS_BY_TYPE.values())


def search_parts(params, sam, spns, principal_names):
    """The filter parts that find an account (by sAMAccountName, or by CN for a rename), the holders of the SPNs
    it adds and the principals it names: OR-ed into one search (or, for many accounts, a few)."""
    parts = ['(sAMAccountName=%s)' % escape(sam), '(&(|%s)(cn=%s))' % (MSA_CLASSES, escape(params['name']))]
    parts.extend('(servicePrincipalName=%s)' % escape(s) for s in spns)
    parts.extend(pr.filters_for(principal_names))
    return parts


def spn_holders(spns, entries, account):
    """SPN -> DNs of the other objects that hold it (SPNs are unique in the domain)."""
    holders = {}
    want = dict((s.lower(), s) for s in spns)
    for e in entries:
        if account is not None and e['dn'] == account['dn']:
            continue
        for s in e['attributes'].get('servicePrincipalName') or []:
            if s.lower() in want:
                holders.setdefault(want[s.lower()], []).append(e['dn'])
    return holders


def _check_domains(directory, names):
    try:
        pr.check_domains(directory, names)
    except pr.PrincipalError as e:
        raise ModuleFailure(str(e) + '. Nothing was changed.')


def _match_all(names, entries):
    try:
        return pr.match_all(names, entries)
    except pr.PrincipalError as e:
        raise ModuleFailure(str(e) + '. Nothing was changed.')


class Reads(object):
    """How one account's task reads the directory - straight, for the single form. ``Prefetch`` (the list form)
    answers the same questions from its batched read and shares what several accounts need."""
    plan_only = False   # stop after planning and return the writes (the list form plans every account first)

    def __init__(self, directory):
        self.directory = directory

    def lookup(self, params, sam, spns, principal_names):
        """The one batched search: the account (with its DACL), holders of the SPNs to add, the principals."""
        d = self.directory
        _check_domains(d, principal_names)
        extra = sorted(set(a for act in (params.get('attributes') or {}).values() for a in (act or {})))
        entries = d.search(d.default_nc, '(|%s)' % ''.join(sorted(set(
            search_parts(params, sam, spns, principal_names)))), SEARCH_ATTRIBUTES + extra, controls=dacl_control())
        account = None
        for e in entries:
            if (first(e['attributes'], 'sAMAccountName') or '').lower() == sam.lower():
                account = e
        if account is None:
            account = account_by_cn(d, params, entries)
        resolved, missing = _match_all(principal_names, entries)
        return account, resolved, missing, spn_holders(spns, entries, account)

    def container(self, path, object_class):
        """One search finds the container (the default one through its well-known GUID), proves it exists and
        that this account may create the object there."""
        return check_container(self.directory, path or well_known_dn(self.directory, WKGUID_MSA), object_class)

    def dacl(self, dn):
        return read_dacl(self.directory, dn)

    def forget(self, dns):
        """Objects just written (nothing is kept here)."""

    def check_kds(self):
        return kds_warnings(self.directory)

    def check_rights(self, writes):
        check_rights(self.directory, writes)


class Prefetch(Reads):
    """The read of the list form: every account of the list, every SPN holder and every principal it names, in
    a few paged searches, then looked up by index per account. Also caches what several accounts share:
    containers checked for creation, parent DACLs, the KDS check. ``rights_checked``: the list form checked the
    rights of every planned request at once."""
    CHUNK = 250     # filter parts per search: keeps each request well below the DCs' 10 MB MaxReceiveBuffer

    def __init__(self, directory, items):
        """items: (params, sAMAccountName, SPNs to check, principal names) per account.

        Reads in the order that keeps a no-op rerun independent of the list's length apart from paging: the
        principals (distinct names), then the accounts - by name for a short list, or one paged search of every
        managed service account of the domain for a long one - then, only for accounts not found, their names
        again among all objects (a name taken by a user or computer) and their CN (a rename), and only the SPNs
        the accounts do not hold yet (holders elsewhere)."""
        super(Prefetch, self).__init__(directory)
        names = sorted(set(n for _p, _s, _spns, pn in items for n in pn))
        _check_domains(directory, names)
        found = {}
        first_parts = pr.filters_for(names)
        if len(items) * 2 > self.CHUNK:
            self._read(found, '(|%s)' % MSA_CLASSES)
        else:
            first_parts += ['(sAMAccountName=%s)' % escape(sam) for _p, sam, _s, _n in items]
        self._read_parts(found, first_parts)
        self._index(found)
        more = []
        for params, sam, spns, _n in items:
            account = self.by_sam.get(sam.lower())
            if account is None:
                more += ['(sAMAccountName=%s)' % escape(sam),
                         '(&(|%s)(cn=%s))' % (MSA_CLASSES, escape(params['name']))]
            held = set(x.lower() for x in (account or {}).get('attributes', {}).get('servicePrincipalName') or [])
            more += ['(servicePrincipalName=%s)' % escape(s) for s in spns if s.lower() not in held]
        if more:
            self._read_parts(found, more)
            self._index(found)
        self.resolved, missing = _match_all(names, self.entries)
        self.missing = set(missing)
        self.dacls, self.containers = {}, {}
        self.kds_checked = False
        self.rights_checked = False

    def _read(self, found, flt):
        for e in self.directory.search(self.directory.default_nc, flt, SEARCH_ATTRIBUTES, controls=dacl_control(),
                                       paged=True):
            found[e['dn'].lower()] = e

    def _read_parts(self, found, parts):
        parts = sorted(set(parts))
        for i in range(0, len(parts), self.CHUNK):
            self._read(found, '(|%s)' % ''.join(parts[i:i + self.CHUNK]))

    def _index(self, found):
        self.entries = list(found.values())
        self.by_sam, self.by_cn, self.by_spn = {}, {}, {}
        for e in self.entries:
            a = e['attributes']
            self.by_sam[(first(a, 'sAMAccountName') or '').lower()] = e
            if any(c.lower() in g.TYPE_BY_CLASS for c in a.get('objectClass') or []):
                self.by_cn.setdefault((first(a, 'cn') or '').lower(), []).append(e)
            for spn in a.get('servicePrincipalName') or []:
                self.by_spn.setdefault(spn.lower(), []).append(e)

    def lookup(self, params, sam, spns, principal_names):
        account = self.by_sam.get(sam.lower())
        if account is None:
            account = account_by_cn(self.directory, params, self.by_cn.get(params['name'].lower(), []))
        resolved = dict((v, self.resolved[v]) for v in principal_names if v in self.resolved)
        missing = [v for v in principal_names if v in self.missing]
        holders = spn_holders(spns, [e for s in spns for e in self.by_spn.get(s.lower(), [])], account)
        return account, resolved, missing, holders

    def dacl(self, dn):
        if dn.lower() not in self.dacls:
            self.dacls[dn.lower()] = read_dacl(self.directory, dn)
        return self.dacls[dn.lower()]

    def forget(self, dns):
        """Objects just written: read them again when another account needs them."""
        for dn in dns:
            self.dacls.pop(dn.lower(), None)

    def container(self, path, object_class):
        key = (path.lower() if path else None, object_class)
        if key not in self.containers:
            self.containers[key] = super(Prefetch, self).container(path, object_class)
        return self.containers[key]

    def check_kds(self):
        """The KDS warnings once per task (every account of the list would repeat them)."""
        if self.kds_checked:
            return []
        self.kds_checked = True
        return kds_warnings(self.directory)

    def check_rights(self, writes):
        if not self.rights_checked:
            check_rights(self.directory, writes)


def account_by_cn(directory, params, entries):
    """No account has the wanted sAMAccountName: a managed account named ``name`` in the target container is the
    same account under its old sAMAccountName (a rename). Only looked at when there is such a candidate."""
    candidates = [e for e in entries
                  if any(c.lower() in g.TYPE_BY_CLASS for c in e['attributes'].get('objectClass') or [])
                  and (first(e['attributes'], 'cn') or '').lower() == params['name'].lower()]
    if not candidates:
        return None
    path = params.get('path')
    if not path:
        found = directory.search(well_known_dn(directory, WKGUID_MSA), '(objectClass=*)', ['1.1'], scope='base')
        path = found[0]['dn'] if found else ''
    here = [e for e in candidates if parent_dn(e['dn']).lower() == path.lower()]
    return here[0] if len(here) == 1 else None


def handle_missing(module, params, missing, warnings):
    """Apply each option's lookup_failure_action to the principals that do not exist. In check mode a principal
    that does not exist yet (made by an earlier task of the same run, such as the farm's host group) is a
    warning, so a check run of a whole new farm reports what would happen instead of failing."""
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
        if how == 'fail' and module.check_mode:
            warnings.append(text + ' - in check mode this is reported, not failed: an earlier task of the run may '
                            'create it; a real run fails here unless it exists by then')
        elif how == 'fail':
            problems.append(text)
        elif how == 'warn':
            warnings.append(text + ' (skipped)')
    if params.get('host') and params['host'] in missing:
        if module.check_mode:
            warnings.append('host: no such computer in the domain yet: %s (check mode)' % params['host'])
        else:
            problems.append('host: no such computer in the domain: %s' % params['host'])
    if problems:
        raise ModuleFailure('; '.join(problems) + '. Nothing was changed.')


PENDING = ' (not in the directory yet)'


def show_pending(params, missing, after, check_mode):
    """Check mode: principals a task would grant that do not exist yet (the farm's host group an earlier task of
    the run creates) are shown in the diff's after, marked, so a reviewer sees the grant the real run makes."""
    if not check_mode:
        return after
    after = dict(after)
    for opt in ('allowed_to_retrieve_password', 'delegates'):
        action = params.get(opt) or {}
        if (action.get('lookup_failure_action') or 'fail') != 'fail':
            continue
        pending = [v for lst in ('set', 'add') for v in action.get(lst) or [] if v in missing]
        if pending and isinstance(after.get(opt), list):
            after[opt] = sorted(after[opt] + [v + PENDING for v in pending if v + PENDING not in after[opt]],
                                key=str.lower)
    return after


def kds_keys(directory):
    """Every KDS root key of the forest as this account sees it (one search; unreadable keys included)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return [kds.describe_key(e, now) for e in kds.search_keys(directory)]


def kds_warnings(directory):
    """Check mode's view of the KDS root keys before a create (a real run learns it from the add).

    * keys exist that this account cannot read and none it can read is usable: inconclusive, a warning says so
      and which right is missing; the DC decides at the real create;
    * no usable key: the create is still predicted (an earlier task of the play may be planning the key, which
      check mode does not write), with a warning that a real run needs a usable key first.
    """
    keys = kds_keys(directory)
    if kds.active_key(keys):
        return []
    unreadable = kds.unreadable_warning(keys, directory.bound_as)
    if unreadable:
        return [unreadable + ' The create is planned; a real run shows the domain controller\'s answer.']
    return [no_key_message(keys)[:-len(' Nothing was changed.')].replace(
        'the account cannot be created.', 'a real run cannot create the account until one is usable.') +
        ' (Check mode plans the create: an earlier task may be planning the key.)']


def no_key_message(keys=()):
    pending = sorted(k['usable_at'] for k in keys if k['valid_id'] and k['usable_at'])
    return (
        'No usable KDS root key in the forest, so domain controllers cannot compute gMSA passwords and the account '
        'cannot be created.%s Create one with gmsa.farm.kds_root_key (in a lab effective_time_hours: 0 makes it '
        'usable at once; in production keep the default and wait, or use wait: true). Nothing was changed.'
        % ((' The first pending key becomes usable at %s.' % pending[0]) if pending else ''))


def is_no_key_error(e):
    """The DC's refusal to create a gMSA for want of a KDS root key: Samba says 'root key'; Windows reports
    NTE_NO_KEY (0x8009000D) in the diagnostic text."""
    text = (e.msg or '').lower()
    return 'root key' in text or '8009000d' in text or 'nte_no_key' in text


# --------------------------------------------------------------------------- plan every write (pure)
def plan_writes(p, account, plan, new_dn, parent_sd, host):
    """The complete ordered list of writes. ``account``: the search entry or None; ``plan``: g.plan() output;
    ``new_dn``: where the account is (or goes); ``parent_sd``: the DACL of new_dn's parent when protection is
    applied (else None); ``host``: the resolved host of a standalone account (or None)."""
    writes = []
    cur_dn = account['dn'] if account is not None else new_dn
    cur_sd = raw_first(account, 'nTSecurityDescriptor') if account is not None else None
    protected = bool(cur_sd) and is_protected(cur_sd)
    want_protected = p['protect_from_deletion'] if p.get('protect_from_deletion') is not None else protected
    moving = account is not None and cur_dn.lower() != new_dn.lower()
    if plan['create'] is not None:
        writes.append(Write('add', new_dn, 'create %s' % new_dn, attributes=plan['create'],
                            object_class=['top', g.CLASS_BY_TYPE[p['account_type']]], parent_checked=True))
    elif plan['modify']:
        sd_values = dict((attr, old) for attr, old in plan['sd_old'].items() if attr in plan['modify'])
        writes.append(Write('modify', cur_dn, 'update %s (%s)' % (cur_dn, ', '.join(sorted(plan['modify']))),
                            changes=plan['modify'], sd_values=sd_values))
    if moving:
        if protected:   # Windows refuses to move or rename a protected object
            writes.append(_dacl_write(cur_dn, set_protected(cur_sd, False),
                                      'lift the protection from accidental deletion of %s for the move' % cur_dn))
        superior = parent_dn(new_dn) if parent_dn(new_dn).lower() != parent_dn(cur_dn).lower() else None
        writes.append(Write('move', cur_dn, 'move/rename %s to %s' % (cur_dn, new_dn),
                            new_rdn='CN=%s' % rdn_escape(p['name']), new_superior=superior))
    if want_protected and (not protected or moving):
        what = 'protect %s from accidental deletion' % new_dn
        if cur_sd:
            writes.append(_dacl_write(new_dn, set_protected(cur_sd, True), what))
        else:   # a new account: protect the DACL the DC gives it at the add, read just before this write
            writes.append(Write('modify', new_dn, what, controls=dacl_control(), descriptor=True,
                                deferred=lambda directory: {'nTSecurityDescriptor': [(MODIFY_REPLACE, [
                                    set_protected(read_dacl(directory, new_dn), True)])]}))
    if want_protected and parent_sd is not None and not parent_denies_delete_child(parent_sd):
        parent = parent_dn(new_dn)
        writes.append(_dacl_write(parent, deny_delete_child(parent_sd),
                                  'deny Everyone "delete child" on %s (closes deletion through the parent)' % parent))
    if protected and not want_protected:
        writes.append(_dacl_write(cur_dn, set_protected(cur_sd, False),
                                  'lift the protection from accidental deletion of %s' % cur_dn))
    if host is not None:
        linked = list(account['attributes'].get('msDS-HostServiceAccountBL') or []) if account else []
        for old in linked:
            if old.lower() != host['dn'].lower():
                writes.append(Write('modify', old, 'unlink %s from its old host %s' % (new_dn, old),
                                    changes={'msDS-HostServiceAccount': [(MODIFY_DELETE, [new_dn])]}))
        if host['dn'].lower() not in [x.lower() for x in linked]:
            writes.append(Write('modify', host['dn'], 'link %s to its host %s' % (new_dn, host['dn']),
                                changes={'msDS-HostServiceAccount': [(MODIFY_ADD, [new_dn])]}))
    return writes


def _dacl_write(dn, new_sd, what):
    """nTSecurityDescriptor can only be replaced (Samba refuses a value delete, Windows documents none)."""
    return Write('modify', dn, what, changes={'nTSecurityDescriptor': [(MODIFY_REPLACE, [new_sd])]},
                 controls=dacl_control(), descriptor=True)


# --------------------------------------------------------------------------- the task
def current_attribute_values(account, names):
    """The account's values of the attributes ``attributes`` names, as text (ldap3's raw values decoded)."""
    raw = (account or {}).get('raw') or {}
    out = {}
    for name in names:
        for k, values in raw.items():
            if k.lower() == name.lower():
                out[name] = [v.decode('utf-8', 'replace') if isinstance(v, bytes) else str(v) for v in values]
    return out


def merge_attributes(plan, actions, account):
    """Add the ``attributes`` option's writes to the plan of the account's own options (same add or modify)."""
    creating = plan['create'] is not None
    changes, before, after = g.plan_attributes(actions, current_attribute_values(account, actions), creating)
    if creating:
        plan['create'].update(changes)
    elif changes:
        plan['modify'] = dict(plan['modify'] or {}, **changes)
    if account is not None:
        plan['before']['attributes'] = before
    plan['after']['attributes'] = after


def resolve_forest_principals(directory, p):
    """{name, server} principals of another domain of the forest, in the principal options, looked up in the
    global catalog and replaced by their SIDs (single form). Returns {SID: principal}."""
    found = {}
    for opt in ('allowed_to_retrieve_password', 'delegates'):
        action = p.get(opt) or {}
        for lst in ('add', 'remove', 'set'):
            if action.get(lst):
                try:
                    action[lst], more = pr.resolve_forest_principals(directory, action[lst])
                except pr.PrincipalError as e:
                    raise ModuleFailure('%s.%s: %s. Nothing was changed.' % (opt, lst, e))
                found.update(more)
    return found


def find_identity(directory, p):
    """``identity`` - the account's name, sAMAccountName (with or without the $), DN, objectGUID, objectSid or
    userPrincipalName, as microsoft.ad takes it - finds the account to manage; its current name and
    sAMAccountName then stand for the options the task leaves out (so a new ``name`` renames it and the
    sAMAccountName stays). One search, made only when identity is given. Returns False when there is nothing to
    manage (absent, and no name to create)."""
    ident = p.get('identity')
    if not ident:
        return True
    try:
        kind, value = pr.classify(ident)
        if kind == 'sam':
            pr.check_domains(directory, [ident])
    except pr.PrincipalError as e:
        raise ModuleFailure('identity: %s. Nothing was changed.' % e)
    flt = pr.filter_for(kind, value)
    if kind == 'sam':
        flt = '(|%s(cn=%s))' % (flt, escape(value))
    entries = directory.search(directory.default_nc, '(&(|%s)%s)' % (MSA_CLASSES, flt),
                               ['cn', 'sAMAccountName'])
    if len(entries) > 1:
        raise ModuleFailure('identity %r matches %d managed service accounts: %s. Name one by DN, objectGUID or '
                            'objectSid. Nothing was changed.' % (ident, len(entries), '; '.join(e['dn'] for e in entries)))
    if not entries:
        if p.get('name'):
            return True         # microsoft.ad: an identity that finds nothing creates the account named name
        if p['state'] == 'absent':
            return False
        raise ModuleFailure('identity %r matches no managed service account; to create one, give name. Nothing was '
                            'changed.' % ident)
    a = entries[0]['attributes']
    if not p.get('name'):
        p['name'] = first(a, 'cn')
    if not p.get('sam_account_name'):
        p['sam_account_name'] = first(a, 'sAMAccountName')
        p['do_not_append_dollar_to_sam'] = True     # as it is, with or without its $
    return True


def attempt(module, directory, reads=None):
    """One account: read (through ``reads``: a Prefetch in the list form), plan, check rights, write. With
    ``reads.plan_only`` it stops after planning and returns the planned writes under ``_writes`` (the list form
    checks every account's rights at once before any account's first write)."""
    p = module.params
    if reads is None and not find_identity(directory, p):
        return dict(changed=False, diff=dict(before={}, after={}))
    forest = {}
    if reads is None:
        forest = resolve_forest_principals(directory, p)
    reads = reads or Reads(directory)
    sam, principal_names, spns = validate(p)
    account, resolved, missing, holders = reads.lookup(p, sam, spns, principal_names)
    for sid in [m for m in missing if m in forest]:
        resolved[sid] = forest[sid]
        missing.remove(sid)
    warnings = []
    result = dict(changed=False, sam_account_name=sam)

    if account is not None:
        classes = [c.lower() for c in account['attributes'].get('objectClass') or []]
        if not any(c in g.TYPE_BY_CLASS for c in classes):
            raise ModuleFailure('sAMAccountName %s is taken by %s, which is a %s, not a managed service account. '
                                'Choose another name. Nothing was changed.'
                                % (sam, account['dn'], pr.principal_type(classes)))

    if p['state'] == 'absent':
        return absent(module, directory, p, account, result, reads)

    handle_missing(module, p, missing, warnings)
    if holders:
        raise ModuleFailure('SPN already held by another account (SPNs must be unique): %s. Nothing was changed.'
                            % '; '.join('%s is held by %s' % (s, ', '.join(d)) for s, d in sorted(holders.items())))
    host = None
    if p['account_type'] == 'standalone' and p.get('host') and p['host'] in resolved:
        host = resolved[p['host']]
        if host['type'] != 'computer':
            raise ModuleFailure('host: %s is a %s, not a computer; a standalone managed service account is bound to '
                                'one computer. Nothing was changed.' % (host['dn'], host['type']))

    current = g.read_state(account) if account is not None else None
    sid_labels = dict((x['sid'], pr.label(x)) for x in resolved.values())
    unresolved_sids = describe_current_sids(directory, account, current, sid_labels)

    try:
        plan = g.plan(p, current, resolved, sid_labels)
        attr_actions = g.attribute_actions(p)
    except g.PlanError as e:
        raise ModuleFailure(str(e) + ('' if str(e).endswith('.') else '.') + ' Nothing was changed.')
    if attr_actions:
        merge_attributes(plan, attr_actions, account)
    warnings.extend(plan['warnings'])

    # Where the account is, or goes.
    if account is None:
        if p['account_type'] == 'delegated' and not schema_classes(directory, [CLASS_DMSA])[CLASS_DMSA]:
            raise ModuleFailure('account_type=delegated needs the %s class, which this forest\'s schema does not '
                                'have (it comes with the Windows Server 2025 schema). Nothing was changed.'
                                % CLASS_DMSA)
        problem, path = reads.container(p.get('path'), g.CLASS_BY_TYPE[p['account_type']])
        if problem:
            raise ModuleFailure(problem + ' Nothing was changed.')
        new_dn = 'CN=%s,%s' % (rdn_escape(p['name']), path)
        if module.check_mode and p['account_type'] in ('group', 'delegated'):
            warnings.extend(reads.check_kds())  # a real run learns this from the add
    else:
        new_dn = 'CN=%s,%s' % (rdn_escape(p['name']), p.get('path') or parent_dn(account['dn']))
    plan['after']['distinguished_name'] = new_dn
    if account is not None:
        plan['before']['distinguished_name'] = account['dn']

    # Protection: before and after, and the parent's descriptor when it will be protected.
    cur_sd = raw_first(account, 'nTSecurityDescriptor') if account is not None else None
    have_protection = bool(cur_sd) and is_protected(cur_sd)
    want_protection = p['protect_from_deletion'] if p.get('protect_from_deletion') is not None else have_protection
    if p.get('protect_from_deletion') is not None:
        if account is not None:
            plan['before']['protect_from_deletion'] = have_protection
        plan['after']['protect_from_deletion'] = want_protection
    parent_sd = None
    if want_protection:     # the parent's "delete child" deny is checked on every run that wants protection
        parent_sd = reads.dacl(parent_dn(new_dn))
    if host is not None:
        linked = account['attributes'].get('msDS-HostServiceAccountBL') or [] if account is not None else []
        if account is not None:
            plan['before']['host'] = host['name'] if host['dn'].lower() in [x.lower() for x in linked] else (
                ', '.join(pr_name(x) + '$' for x in linked) or None)
        plan['after']['host'] = host['name']

    writes = plan_writes(p, account, plan, new_dn, parent_sd, host)
    if reads.plan_only and writes:
        return dict(_writes=writes)
    reads.check_rights(writes)
    written = run_writes(module, directory, writes, sam, p)
    reads.forget(w.dn for w in writes)

    guid = sid = None
    if account is not None:
        guid = guid_to_str(raw_first(account, 'objectGUID'))
        sid = sid_to_str(raw_first(account, 'objectSid'))
    elif not module.check_mode:
        created = directory.search(new_dn, '(objectClass=*)', ['objectGUID', 'objectSid'], scope='base')
        if created:
            guid = guid_to_str(raw_first(created[0], 'objectGUID'))
            sid = sid_to_str(raw_first(created[0], 'objectSid'))

    for w in warnings:
        module.warn(w)
    result.update(
        changed=bool(written), distinguished_name=new_dn, object_guid=guid, sid=sid,
        sam_account_name=plan['after']['sam_account_name'],
        principals=[dict(input=k, name=v['name'], sid=v['sid'], dn=v['dn'], type=v['type'])
                    for k, v in resolved.items()],
        unresolved_sids=sorted(set(unresolved_sids)),
        requests=[w.describe() for w in writes],
        diff=dict(before=plan['before'], after=show_pending(p, missing, plan['after'], module.check_mode)),
    )
    return result


def pr_name(dn):
    """A computer's CN from its DN, for the diff (CN=WEB01,OU=... -> WEB01)."""
    return dn.split(',', 1)[0].split('=', 1)[1]


def read_dacl(directory, dn):
    found = directory.search(dn, '(objectClass=*)', ['nTSecurityDescriptor'], scope='base', controls=dacl_control())
    return raw_first(found[0], 'nTSecurityDescriptor') if found else None


def describe_current_sids(directory, account, current, sid_labels):
    """Names for the SIDs already granted (for the diff); SIDs of deleted principals are returned."""
    unresolved = []
    if current is None:
        return unresolved
    cur_sids = []
    for raw in current['raw'].values():
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
                unresolved.append(s)
    return unresolved


def run_writes(module, directory, writes, sam, p):
    """Execute the plan, translating the directory's refusals into what to do about them."""
    def describe_failure(w, e):
        if w.op == 'add':
            return create_error(directory, e, w.dn, p, sam)
        if w.op == 'modify' and 'can only be modified as system' in (e.msg or ''):
            return modify_error(e, w.dn)
        return e.msg
    return execute(directory, writes, module.check_mode, describe_failure)


def create_error(directory, e, dn, p, sam):
    if p['account_type'] in ('group', 'delegated') and (is_no_key_error(e) or e.code in (
            RESULT['unwillingToPerform'], RESULT['other'], RESULT['operationsError'])):
        keys = kds_keys(directory)
        if not kds.active_key(keys):
            unreadable = kds.unreadable_warning(keys, directory.bound_as)
            if unreadable:      # the DC's own answer, as it is, with what this account could not check
                return '%s (%s)' % (e.msg, unreadable)
            raise ModuleFailure(no_key_message(keys))
        if is_no_key_error(e):
            return ('%s (the domain controller found no usable KDS root key, though this account reads key %s as '
                    'usable: the key may not have replicated to that DC yet, or its clock differs; wait for '
                    'replication and run again)' % (e.msg, kds.active_key(keys)['key_id']))
    if e.code == RESULT['noSuchObject']:
        return 'path %s does not exist: create the OU or container first, or leave path out to use the Managed ' \
               'Service Accounts container' % parent_dn(dn)
    if e.code == RESULT['entryAlreadyExists']:
        return 'an object named %s already exists (with another sAMAccountName than %s). Choose another name' \
               % (dn, sam)
    return e.msg


def modify_error(e, dn):
    attr = e.msg.split("attribute '")[1].split("'")[0] if "attribute '" in e.msg else 'an attribute'
    return ('this domain controller does not let clients write %s on %s (it treats it as system-only; Samba 4.22 '
            'does so for msDS-AllowedToActOnBehalfOfOtherIdentity, Windows DCs accept it)' % (attr, dn))


def absent(module, directory, p, account, result, reads):
    if account is None:
        result.update(distinguished_name=None, object_guid=None, sid=None, principals=[], unresolved_sids=[],
                      requests=[], diff=dict(before={}, after={}))
        return result
    cur = g.read_state(account)
    sd = raw_first(account, 'nTSecurityDescriptor')
    protected = bool(sd) and is_protected(sd)
    if protected and p.get('protect_from_deletion') is not False:
        raise ModuleFailure('%s is protected from accidental deletion. Run with protect_from_deletion: false to lift '
                            'the protection and delete it. Nothing was changed.' % account['dn'])
    writes = []
    if protected:
        writes.append(_dacl_write(account['dn'], set_protected(sd, False),
                                  'lift the protection from accidental deletion of %s' % account['dn']))
    classes = account['attributes'].get('objectClass') or []
    writes.append(Write('delete', account['dn'], 'delete %s' % account['dn'], sd=sd,
                        object_class=classes[-1] if classes else None))
    if reads.plan_only:
        return dict(_writes=writes)
    reads.check_rights(writes)
    try:
        execute(directory, writes, module.check_mode)
    except ModuleFailure as e:
        if protected and e.details.get('changed'):
            # The delete failed after the protection was lifted: put it back, so the failure changes nothing.
            try:
                execute(directory, [_dacl_write(account['dn'], sd, 'restore the protection of %s' % account['dn'])],
                        False)
                e.msg = e.msg.split(' Already written')[0] + '. The protection was lifted for the delete and put ' \
                    'back. Nothing was changed.'
                e.details.update(changed=False, written=[])
            except ModuleFailure as again:
                e.msg += ' Putting the protection back failed too: %s' % again.msg
        raise
    result.update(changed=True, distinguished_name=account['dn'],
                  object_guid=guid_to_str(raw_first(account, 'objectGUID')),
                  sid=sid_to_str(raw_first(account, 'objectSid')), principals=[], unresolved_sids=[],
                  requests=[w.describe() for w in writes],
                  diff=dict(before=dict(name=cur['name'], sam_account_name=cur['sam_account_name'],
                                        distinguished_name=account['dn']), after={}))
    return result


def core(module, directory):
    return retry_on_conflict(attempt, module, directory, 'account')
