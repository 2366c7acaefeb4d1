# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The list form of gmsa.farm.gmsa: many accounts in one task, each planned once.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

Order: validate every entry (no I/O) -> one batched read of every account, principal and SPN holder
(``read.Reader``) -> plan every account (``gmsa_plan.plan``, the single form's planner) -> check the rights of
every planned request at once -> send account by account, in order. So a bad entry, a missing right or an SPN
clash anywhere stops the task before its first write. Another writer's change to an account between the read
and its first write makes that account alone be read and planned again (``converge``). A write that still fails
stops the task there: the accounts before it stay written (reported), the ones after it are not attempted.
"""
from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import check_rights, converge, execute
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import (
    Conflict, ModuleFailure, NOTHING_CHANGED as NOTHING, PlanError,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import validate
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa_plan import deny_delete_child_once, plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa_task import created_ids, describe_failure, refusal
from ansible_collections.gmsa.farm.plugins.module_utils._object.read import MSA_CLASSES, Reader
from ansible_collections.gmsa.farm.plugins.module_utils._security import is_protected
from ansible_collections.gmsa.farm.plugins.module_utils._values import check_dn, dacl_control, first, raw_first


class Entry(object):
    """One account of the list: its label (``accounts[3] (web)``), its ``Wanted`` and, once planned, its plan."""

    def __init__(self, label, wanted):
        self.label, self.wanted, self.plan = label, wanted, None


def label(index, entry):
    name = entry.get('name') if isinstance(entry, dict) else None
    return 'accounts[%d]%s' % (index, (' (%s)' % name) if name else '')


def checked_entries(entries, spec):
    """Every entry through the module's own argument spec: in one pass over the list, and, when that finds a
    problem, entry by entry, so the refusal names the entry."""
    if all(isinstance(e, dict) for e in entries):
        checked = ArgumentSpecValidator(dict(accounts=dict(type='list', elements='dict', options=spec))).validate(
            dict(accounts=entries))
        if not checked.error_messages:
            return checked.validated_parameters['accounts']
    validator, out = ArgumentSpecValidator(spec), []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ModuleFailure('%s is %r, not a dict of account options. %s' % (label(i, entry), entry, NOTHING))
        checked = validator.validate(entry)
        if checked.error_messages:
            raise ModuleFailure('%s: %s. %s' % (label(i, entry), '; '.join(checked.error_messages), NOTHING))
        out.append(checked.validated_parameters)
    return out


def validate_entries(entries, spec):
    """Every entry through the module's own argument spec and the single form's input rules; no I/O."""
    out, by_sam, by_spn = [], {}, {}
    for i, params in enumerate(checked_entries(entries, spec)):
        where = label(i, entries[i])
        try:
            wanted = validate(params)
        except PlanError as e:
            raise ModuleFailure('%s: %s' % (where, refusal(e).msg))
        if wanted.sam.lower() in by_sam:
            raise ModuleFailure('%s names the account %s, as %s does; give each account once. %s'
                                % (where, wanted.sam, by_sam[wanted.sam.lower()], NOTHING))
        by_sam[wanted.sam.lower()] = where
        for s in wanted.spns:
            if s.lower() in by_spn:
                raise ModuleFailure('%s adds the SPN %s, as %s does; an SPN belongs to one account. %s'
                                    % (where, s, by_spn[s.lower()], NOTHING))
            by_spn[s.lower()] = where
        out.append(Entry(where, wanted))
    return out


def unlisted_accounts(directory, path, listed_sams):
    """Managed service accounts under ``path`` whose sAMAccountName is not in the list: one paged search."""
    try:
        check_dn('unlisted_path', path)
    except ValueError as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING))
    out = []
    for e in directory.search(path, '(|%s)' % MSA_CLASSES, ['sAMAccountName', 'cn', 'nTSecurityDescriptor'],
                              controls=dacl_control(), paged=True):
        sam = first(e['attributes'], 'sAMAccountName') or ''
        if sam.lower() not in listed_sams:
            sd = raw_first(e, 'nTSecurityDescriptor')
            out.append(dict(distinguished_name=e['dn'], sam_account_name=sam, name=first(e['attributes'], 'cn'),
                            protected=bool(sd) and is_protected(sd)))
    return sorted(out, key=lambda x: x['distinguished_name'].lower())


def removals(module, spec, unlisted):
    """An entry with state=absent for each unlisted account to remove (protected ones are left, with a warning)."""
    validator, out = ArgumentSpecValidator(spec), []
    for u in unlisted:
        if u['protected']:
            module.warn('%s is not in the list but is protected from accidental deletion: left in place (remove it '
                        'with its own task and protect_from_deletion: false)' % u['distinguished_name'])
            continue
        params = validator.validate(dict(name=u['name'], sam_account_name=u['sam_account_name'],
                                         state='absent')).validated_parameters
        out.append(Entry('unlisted %s' % u['distinguished_name'], validate(params)))
    return out


def plan_all(directory, entries, check_mode):
    """Every entry planned once, from one batched read; a DACL deny one plan writes is known to the next."""
    reader = Reader(directory, [e.wanted for e in entries], check_mode)
    for e in entries:
        try:
            e.plan = plan(e.wanted, reader.found(e.wanted))
        except PlanError as err:
            raise ModuleFailure('%s: %s' % (e.label, refusal(err).msg), failed_entry=e.label)
        except ModuleFailure as err:
            raise ModuleFailure('%s: %s' % (e.label, err.msg), failed_entry=e.label, **err.details)
        if e.plan.denied_parent:
            reader.denied(e.plan.denied_parent, deny_delete_child_once)


def replan(directory, entry, check_mode):
    """Another writer changed this account since the batched read: read it alone, plan it again, send."""
    def make_plan():
        try:
            return plan(entry.wanted, Reader(directory, [entry.wanted], check_mode).found(entry.wanted))
        except PlanError as e:
            raise refusal(e)
    return converge(directory, check_mode, make_plan, 'account',
                    describe_failure(directory, entry.wanted.params, entry.wanted.sam))


def apply_all(directory, entries, check_mode):
    """Send each planned entry's requests in order; stop at the first failure with an honest report."""
    todo = [i for i, e in enumerate(entries) if e.plan.requests]
    for n, i in enumerate(todo):
        e = entries[i]
        describe = describe_failure(directory, e.wanted.params, e.wanted.sam)
        try:
            try:
                e.plan.written = execute(directory, e.plan.requests, check_mode, describe)
            except Conflict:
                e.plan = replan(directory, e, check_mode)
        except ModuleFailure as err:
            raise stopped(entries, i, [entries[j] for j in todo[n + 1:]], err)
        except DirectoryError as err:     # the re-read of a re-plan, or the look-up that explains a refusal
            raise stopped(entries, i, [entries[j] for j in todo[n + 1:]], ModuleFailure(err.msg))


def stopped(entries, i, not_attempted, err):
    """The failure of entry i, after the entries before it were written."""
    done = [e.label for e in entries[:i] if e.plan.requests]
    msg = err.msg
    if done:
        msg = msg.replace(NOTHING, 'Nothing was changed for this account.')
        msg += ' Accounts changed by this task before it: %s.' % ', '.join(done)
    if not_attempted:
        msg += ' Not attempted: %s.' % ', '.join(e.label for e in not_attempted)
    details = dict(err.details)
    finished = [j for j, e in enumerate(entries) if j < i and e.plan.requests or not e.plan.requests]
    written = [w for e in entries[:i] for w in e.plan.written] + list(err.details.get('written') or [])
    details.update(changed=bool(done) or bool(err.details.get('changed')), failed_entry=entries[i].label,
                   written=written, results=[entry_result(j, entries[j]) for j in finished])
    return ModuleFailure('%s: %s' % (entries[i].label, msg), **details)


def entry_result(index, entry):
    """One entry's result: the single form's keys; its diff only when it changes (or would, in check mode): an
    estate's no-op rerun would otherwise return every account twice, as before and as after."""
    out = dict(index=index, name=entry.wanted.params['name'])
    out.update(entry.plan.module_result())
    if not out['changed']:
        del out['diff']
    return out


def run(module, directory, spec):
    """The list form's task. Returns the module's result."""
    p = module.params
    entries = validate_entries(p['accounts'], spec)
    listed = len(entries)
    unlisted = []
    if p['unlisted'] != 'ignore':
        unlisted = unlisted_accounts(directory, p['unlisted_path'], set(e.wanted.sam.lower() for e in entries))
        if p['unlisted'] == 'remove':
            entries += removals(module, spec, unlisted)
    plan_all(directory, entries, module.check_mode)
    for e in entries:
        for w in e.plan.warnings:
            module.warn('%s: %s' % (e.label, w))
    check_rights(directory, [r for e in entries for r in e.plan.requests])  # all at once, before the first write
    apply_all(directory, entries, module.check_mode)
    if not module.check_mode:
        created_ids(directory, [e.plan for e in entries])
    if p['unlisted'] == 'report':
        for u in unlisted:
            module.warn('%s is under %s but not in the list (unlisted: report)'
                        % (u['distinguished_name'], p['unlisted_path']))
    return list_result(p, entries, listed, unlisted)


def list_result(p, entries, listed, unlisted):
    removed = dict((e.wanted.sam.lower(), e.plan) for e in entries[listed:])
    for u in unlisted:
        x = removed.get(u['sam_account_name'].lower())
        u['removed'] = bool(x and x.requests)
    diffs = []
    for e in entries:
        if e.plan.requests:
            diffs.append(dict(before=e.plan.before, after=e.plan.after, before_header=e.label, after_header=e.label))
    result = dict(changed=any(e.plan.requests for e in entries), diff=diffs,
                  results=[entry_result(i, e) for i, e in enumerate(entries[:listed])])
    if p['unlisted'] != 'ignore':
        result['unlisted'] = unlisted
    return result
