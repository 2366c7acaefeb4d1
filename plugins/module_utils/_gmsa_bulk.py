# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The list form of gmsa.farm.gmsa: many accounts in one task, through the same validation, planner and writes
as one account (``_gmsa_task.attempt``), with the reads batched.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

Order: validate every entry (no I/O) -> one batched read of every account, principal and SPN holder
(``Prefetch``) -> plan every account -> check the rights of every planned request at once -> write account by
account. So a bad entry, a missing right or an SPN clash anywhere stops the task before its first write. A write
that still fails stops the task there: the accounts before it stay written (reported), the ones after it are not
attempted.
"""
from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._security import is_protected
from ansible_collections.gmsa.farm.plugins.module_utils._values import check_dn, dacl_control, first, raw_first
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import Conflict, check_rights, retry_on_conflict
from ansible_collections.gmsa.farm.plugins.module_utils import _gmsa_task as task

NOTHING = 'Nothing was changed.'


class EntryModule(object):
    """What ``attempt`` needs of a module, for one entry of the list: its parameters, check mode, warnings
    (passed on to the module prefixed with the entry's label)."""

    def __init__(self, module, params, label):
        self.params, self.check_mode, self.label = params, module.check_mode, label
        self.module = module
        self.warnings = []

    def warn(self, msg):
        self.warnings.append(msg)
        self.module.warn('%s: %s' % (self.label, msg))


def label(index, entry):
    name = entry.get('name') if isinstance(entry, dict) else None
    return 'accounts[%d]%s' % (index, (' (%s)' % name) if name else '')


def validate_entries(entries, spec):
    """Every entry through the module's own argument spec and the single-account validation; no I/O.
    Returns [(params, sAMAccountName, SPNs to check, principal names)]."""
    validator = ArgumentSpecValidator(spec)
    items, by_sam, by_spn = [], {}, {}
    for i, entry in enumerate(entries):
        where = label(i, entry)
        if not isinstance(entry, dict):
            raise ModuleFailure('%s is %r, not a dict of account options. %s' % (where, entry, NOTHING))
        checked = validator.validate(entry)
        if checked.error_messages:
            raise ModuleFailure('%s: %s. %s' % (where, '; '.join(checked.error_messages), NOTHING))
        params = checked.validated_parameters
        try:
            sam, principal_names, spns = task.validate(params)
        except ModuleFailure as e:
            raise ModuleFailure('%s: %s' % (where, e.msg))
        if sam.lower() in by_sam:
            raise ModuleFailure('%s names the account %s, as %s does; give each account once. %s'
                                % (where, sam, by_sam[sam.lower()], NOTHING))
        by_sam[sam.lower()] = where
        for s in spns:
            if s.lower() in by_spn:
                raise ModuleFailure('%s adds the SPN %s, as %s does; an SPN belongs to one account. %s'
                                    % (where, s, by_spn[s.lower()], NOTHING))
            by_spn[s.lower()] = where
        items.append((params, sam, spns, principal_names))
    return items


def unlisted_accounts(directory, path, listed_sams):
    """Managed service accounts under ``path`` whose sAMAccountName is not in the list: one paged search."""
    try:
        check_dn('unlisted_path', path)
    except ValueError as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING))
    out = []
    for e in directory.search(path, '(|%s)' % task.MSA_CLASSES, ['sAMAccountName', 'cn', 'nTSecurityDescriptor'],
                              controls=dacl_control(), paged=True):
        sam = first(e['attributes'], 'sAMAccountName') or ''
        if sam.lower() not in listed_sams:
            sd = raw_first(e, 'nTSecurityDescriptor')
            out.append(dict(distinguished_name=e['dn'], sam_account_name=sam, name=first(e['attributes'], 'cn'),
                            protected=bool(sd) and is_protected(sd)))
    return sorted(out, key=lambda x: x['distinguished_name'].lower())


def entry_result(index, params, r):
    out = dict(index=index, name=params['name'])
    out.update((k, v) for k, v in r.items() if not k.startswith('_'))
    return out


def bulk(module, directory, spec):
    p = module.params
    items = validate_entries(p['accounts'], spec)
    labels = [label(i, params) for i, (params, _s, _n, _p) in enumerate(items)]
    unlisted = []
    if p['unlisted'] != 'ignore':
        unlisted = unlisted_accounts(directory, p['unlisted_path'], set(sam.lower() for _p, sam, _s, _n in items))
        if p['unlisted'] == 'remove':
            for u in unlisted:
                if u['protected']:
                    module.warn('%s is not in the list but is protected from accidental deletion: left in place '
                                '(remove it with its own task and protect_from_deletion: false)'
                                % u['distinguished_name'])
                    continue
                params = ArgumentSpecValidator(spec).validate(dict(
                    name=u['name'], sam_account_name=u['sam_account_name'], state='absent')).validated_parameters
                items.append((params, task.validate(params)[0], [], []))
                labels.append('unlisted %s' % u['distinguished_name'])
    pre = task.Prefetch(directory, items)
    views = [EntryModule(module, params, labels[i]) for i, (params, _s, _n, _p) in enumerate(items)]

    # Plan every account before the first write; accounts with nothing to do are finished here.
    results, planned, writes = [None] * len(items), [], []
    pre.plan_only = True
    for i, view in enumerate(views):
        try:
            r = task.attempt(view, directory, pre)
        except ModuleFailure as e:
            raise ModuleFailure('%s: %s' % (view.label, e.msg), failed_entry=view.label, **e.details)
        if '_writes' in r:
            planned.append(i)
            writes.extend(r['_writes'])
        else:
            results[i] = r
    check_rights(directory, writes)     # every account's requests at once, before any account's first write
    pre.plan_only, pre.rights_checked = False, True

    for i in planned:
        try:
            try:
                results[i] = task.attempt(views[i], directory, pre)
            except Conflict:    # another writer changed it since the batched read: read it again, alone
                results[i] = retry_on_conflict(task.attempt, views[i], directory, 'account')
        except ModuleFailure as e:
            done = [labels[j] for j in range(len(items)) if results[j] is not None and results[j].get('changed')]
            msg = e.msg
            if done:
                msg = msg.replace(NOTHING, 'Nothing was changed for this account.')
                msg += ' Accounts changed by this task before it: %s.' % ', '.join(done)
            after = [labels[j] for j in planned if j > i]
            if after:
                msg += ' Not attempted: %s.' % ', '.join(after)
            details = dict(e.details)
            details.update(changed=bool(done) or bool(e.details.get('changed')), failed_entry=views[i].label,
                           results=[entry_result(j, items[j][0], r) for j, r in enumerate(results) if r is not None])
            raise ModuleFailure('%s: %s' % (views[i].label, msg), **details)

    listed = len(p['accounts'])
    out = [entry_result(i, items[i][0], r) for i, r in enumerate(results[:listed])]
    removed = dict((items[i][0]['sam_account_name'].lower(), results[i]) for i in range(listed, len(items)))
    for u in unlisted:
        r = removed.get(u['sam_account_name'].lower())
        u['removed'] = bool(r and r.get('changed'))
    diffs = []
    for i, r in enumerate(results):
        if r.get('changed') and r.get('diff'):
            d = dict(r['diff'])
            d['before_header'] = d['after_header'] = labels[i]
            diffs.append(d)
    result = dict(changed=any(r.get('changed') for r in results), results=out, diff=diffs)
    if p['unlisted'] != 'ignore':
        result['unlisted'] = unlisted
        for u in unlisted:
            if p['unlisted'] == 'report':
                module.warn('%s is under %s but not in the list (unlisted: report)'
                            % (u['distinguished_name'], p['unlisted_path']))
    return result
