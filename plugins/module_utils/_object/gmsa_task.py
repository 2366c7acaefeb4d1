# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One gmsa.farm.gmsa account (the single form): validate (no I/O) -> read -> plan -> converge.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

The task decides no write and no diff entry: ``gmsa_plan.plan`` does. Before the input rules run, two reads that
only some tasks make turn the task's words into names: ``identity`` finds the account to manage, and principals
of another domain of the forest ({name, server}) are looked up in the global catalog. ``converge`` then reads
(``read.Reader``), plans, checks the rights of every request, and sends them; it reads and plans again when
another writer changed the account before the first write. The directory's refusals are explained here
(``describe_failure``: a missing KDS root key, a system-only attribute).
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import converge
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure, NOTHING_CHANGED, PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import validate
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa_plan import plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.read import (
    MSA_CLASSES, Reader, kds_keys, no_key_message,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import guid_to_str, sid_to_str
from ansible_collections.gmsa.farm.plugins.module_utils._values import RESULT, escape, first, parent_dn, raw_first


def refusal(error):
    """A PlanError as the task's failure: the reason, and that nothing was written."""
    text = str(error)
    return ModuleFailure('%s%s %s' % (text, '' if text.endswith('.') else '.', NOTHING_CHANGED))


def run(module, directory):
    """The single form's task. Returns the module's result."""
    p = module.params
    if not find_identity(directory, p):
        return dict(changed=False, diff=dict(before={}, after={}))
    forest = resolve_forest_principals(directory, p)
    try:
        wanted = validate(p)
    except PlanError as e:
        raise refusal(e)

    def make_plan():
        try:
            return plan(wanted, Reader(directory, [wanted], module.check_mode, known=forest).found(wanted))
        except PlanError as e:
            raise refusal(e)
    out = converge(directory, module.check_mode, make_plan, 'account', describe_failure(directory, p, wanted.sam))
    if not module.check_mode:
        created_ids(directory, [out])
    for w in out.warnings:
        module.warn(w)
    return out.module_result()


def created_ids(directory, plans):
    """objectGUID and objectSid of the accounts the plans created (the DC assigns them): one search per 200."""
    todo = dict((x.created.lower(), x) for x in plans if x.created and x.written)
    names = sorted(todo)
    for i in range(0, len(names), 200):
        flt = '(|%s)' % ''.join('(distinguishedName=%s)' % escape(todo[n].created) for n in names[i:i + 200])
        try:
            found = directory.search(directory.default_nc, flt, ['objectGUID', 'objectSid'])
        except DirectoryError as e:
            written = [w for x in plans for w in x.written]
            raise ModuleFailure('reading back the objectGUID and objectSid of what this task created failed: %s. '
                                'Written: %s.' % (e.msg, '; '.join(written)), changed=True, written=written)
        for e in found:
            x = todo.get(e['dn'].lower())
            if x is not None:
                x.result.update(object_guid=guid_to_str(raw_first(e, 'objectGUID')),
                                sid=sid_to_str(raw_first(e, 'objectSid')))


# --------------------------------------------------------------------------- before the input rules
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
    entries = directory.search(directory.default_nc, '(&(|%s)%s)' % (MSA_CLASSES, flt), ['cn', 'sAMAccountName'])
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


# --------------------------------------------------------------------------- the directory's refusals explained
def describe_failure(directory, p, sam):
    """``describe_failure(request, error) -> reason`` for ``converge``: what to do about the DC's refusal."""
    def describe(request, error):
        if request.op == 'add':
            return create_error(directory, error, request.dn, p, sam)
        if request.op == 'modify' and 'can only be modified as system' in (error.msg or ''):
            return modify_error(error, request.dn)
        return error.msg
    return describe


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


def is_no_key_error(e):
    """The DC's refusal to create a gMSA for want of a KDS root key: Samba says 'root key'; Windows reports
    NTE_NO_KEY (0x8009000D) in the diagnostic text."""
    text = (e.msg or '').lower()
    return 'root key' in text or '8009000d' in text or 'nte_no_key' in text
