# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of one gmsa.farm.gmsa account: every request the task sends, in order, with its diff and result.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure: ``plan`` reads nothing; the
DACL requests it makes re-read the DACL they change when the engine sends them (``Request.deferred``).

``plan(wanted, found)`` is where a newcomer finds every LDAP write a task can make, in the order they are sent:

1. the account's add, or the modify of its own attributes (the property rows and the ``attributes`` option);
2. a move or rename (modify DN); for a move of a protected account to another container the protection is lifted
   first (its ``undo`` puts it back when a later request fails) and restored where it is now after the move;
3. the account's own protection from accidental deletion, and its parent's deny of "delete child";
4. the protection lifted when the task asks for protect_from_deletion=false;
5. a standalone account's host link: the old host unlinked, the new one linked;
6. or, for state=absent: the protection lifted (put back if the delete fails), then the delete.

The diff (before/after) and the module's result come from the same function; check mode, the rights check, the
execution and the failure report all read the returned ``Plan``.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import (
    CLASS_BY_TYPE, TYPE_BY_CLASS, plan_attributes, plan_rows,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.plan import Plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._security import (
    deny_delete_child, guid_to_str, is_protected, parent_denies_delete_child, set_protected, sid_to_str,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_ADD, MODIFY_DELETE, MODIFY_REPLACE, RESULT, dacl_control, parent_dn, raw_first, rdn_escape,
)

PENDING = ' (not in the directory yet)'


class Found(object):
    """What the reads found for one account: with the task's options, everything ``plan`` decides from.

    account: the account's search entry (None: there is none); current: its ``read_state`` (None for none or
    for an object that is not a managed service account); resolved: principal name -> principal; missing: the
    names that match nothing; holders: SPN -> DNs of the other objects holding it; sid_labels: SID -> name for
    the diff; unresolved: SIDs granted now that name no principal; container: (problem or None, DN) of the
    container a new account goes to; parent_sd: the DACL of the account's (new) parent, read when the account is
    or will be protected; has_dmsa_class: the schema has the dMSA class (read only to create one);
    kds_warnings: check mode's view of the KDS root keys before a create; check_mode: the task's check mode.
    """

    def __init__(self, account=None, current=None, resolved=None, missing=(), holders=None, sid_labels=None,
                 unresolved=(), container=None, parent_sd=None, has_dmsa_class=True, kds_warnings=(),
                 check_mode=False):
        self.account, self.current = account, current
        self.resolved, self.missing, self.holders = resolved or {}, list(missing), holders or {}
        self.sid_labels, self.unresolved = sid_labels or {}, list(unresolved)
        self.container, self.parent_sd, self.has_dmsa_class = container, parent_sd, has_dmsa_class
        self.kds_warnings, self.check_mode = list(kds_warnings), check_mode


class AccountPlan(Plan):
    """A gmsa plan; ``denied_parent``: the container whose "delete child" it denies (the list form plans the
    next accounts of that container knowing it); ``created``: the DN it creates (None: none)."""
    denied_parent = None
    created = None


def want_protection(params, found):
    """(protected now, protected after the task): decided here once, read by every part of the plan and by the
    reader (which reads the parent's DACL when the account is to be protected). An account read without its DACL
    (the task leaves protection out and does not move it: ``read.Reader``) counts as unprotected, so nothing about
    its protection is planned."""
    sd = raw_first(found.account, 'nTSecurityDescriptor') if found.account is not None else None
    protected = bool(sd) and is_protected(sd)
    given = params.get('protect_from_deletion')
    return protected, (given if given is not None else protected)


def target_dn(params, found):
    """Where the account is, or goes: CN=name in path (default: where it is; for a new one, its container)."""
    where = params.get('path')
    if not where:
        where = parent_dn(found.account['dn']) if found.account is not None else found.container[1]
    return 'CN=%s,%s' % (rdn_escape(params['name']), where)


# --------------------------------------------------------------------------- the plan
def plan(wanted, found):
    """Every request of one account's task, in order, with the diff and the result. Raises PlanError (nothing
    written) for what cannot be done."""
    p = wanted.params
    _refuse_other_objects(wanted, found)
    if p['state'] == 'absent':
        return _absent(wanted, found)
    warnings = _missing_principals(p, found)
    _refuse_taken_spns(found)
    host = _host(p, found)
    if found.account is None:
        _refuse_uncreatable(p, found)
    rows = plan_rows(p, found.current, found.resolved, found.sid_labels)
    if wanted.attributes:
        _merge_attributes(rows, wanted.attributes, found.account)
    new_dn = target_dn(p, found)
    out = AccountPlan(rows['before'], rows['after'], _result(wanted, found, rows['after'], new_dn))
    out.warnings = warnings + rows['warnings'] + (found.kds_warnings if found.account is None else [])
    out.after['distinguished_name'] = new_dn
    if found.account is not None:
        out.before['distinguished_name'] = found.account['dn']
    protected, want = want_protection(p, found)
    if p.get('protect_from_deletion') is not None:
        if found.account is not None:
            out.before['protect_from_deletion'] = protected
        out.after['protect_from_deletion'] = want
    _account_request(out, p, found, rows, new_dn)
    _place(out, p, found, new_dn, protected)
    _protection(out, p, found, new_dn, protected, want)
    if host is not None:
        _host_link(out, found, host, new_dn)
    if found.check_mode:
        out.after = show_pending(p, found.missing, out.after)
    return out


def _result(wanted, found, after, new_dn):
    a = found.account
    return dict(distinguished_name=new_dn, sam_account_name=after['sam_account_name'],
                object_guid=guid_to_str(raw_first(a, 'objectGUID')) if a is not None else None,
                sid=sid_to_str(raw_first(a, 'objectSid')) if a is not None else None,
                principals=[dict(input=k, name=v['name'], sid=v['sid'], dn=v['dn'], type=v['type'])
                            for k, v in found.resolved.items()],
                unresolved_sids=sorted(set(found.unresolved)))


def _account_request(out, p, found, rows, new_dn):
    """1. The add of a new account, or the modify of an existing one's own attributes."""
    if rows['create'] is not None:
        out.created = new_dn
        out.add(Request('add', new_dn, 'create %s' % new_dn, attributes=rows['create'],
                        object_class=['top', CLASS_BY_TYPE[p['account_type']]], parent_checked=True))
    elif rows['modify']:
        dn = found.account['dn']
        sd_values = dict((attr, old) for attr, old in rows['sd_old'].items() if attr in rows['modify'])
        out.add(Request('modify', dn, 'update %s (%s)' % (dn, ', '.join(sorted(rows['modify']))),
                        changes=rows['modify'], sd_values=sd_values))


def _moves(found, new_dn):
    """The account goes to another container (a rename in place keeps its parent)."""
    return found.account is not None and parent_dn(found.account['dn']).lower() != parent_dn(new_dn).lower()


def _place(out, p, found, new_dn, protected):
    """2. A move or rename (modify DN). A move to another container needs the DELETE right the protection denies
    (MS-ADTS 3.1.1.5.4.1.1, "Security Considerations" of Modify DN), so the protection is lifted first (its undo
    puts it back if a later request fails) and restored at the new DN after the move (by ``_protection``). A
    rename in place needs only the right to write the naming attribute: the protection stays as it is."""
    account = found.account
    if account is None or account['dn'].lower() == new_dn.lower():
        return
    cur_dn, sd = account['dn'], raw_first(account, 'nTSecurityDescriptor')
    moves = _moves(found, new_dn)
    if protected and moves:
        restore = dacl_request(cur_dn, 'restore the protection from accidental deletion of %s' % cur_dn,
                               protect, sd)
        out.add(dacl_request(cur_dn, 'lift the protection from accidental deletion of %s for the move' % cur_dn,
                             unprotect, sd, undo=restore))
    out.add(Request('move', cur_dn, 'move/rename %s to %s' % (cur_dn, new_dn), new_rdn='CN=%s' % rdn_escape(p['name']),
                    new_superior=parent_dn(new_dn) if moves else None,
                    object_class=CLASS_BY_TYPE[found.current['account_type']], sd=sd))


def _protection(out, p, found, new_dn, protected, want):
    """3. and 4. The account's protection where it is after the task, its parent's deny of "delete child"
    (checked on every run that wants protection), and the protection lifted when the task asks so."""
    moves = _moves(found, new_dn)
    sd = raw_first(found.account, 'nTSecurityDescriptor') if found.account is not None else None
    if want and (not protected or moves):
        out.add(dacl_request(new_dn, 'protect %s from accidental deletion' % new_dn, protect, sd))
    # the parent's deny is checked when the task asks for protection, or moves a protected account (the list form
    # may have read an account's DACL for another entry's sake: that alone plans nothing)
    asked = p.get('protect_from_deletion') is True or (moves and protected)
    if want and asked and found.parent_sd is not None and not parent_denies_delete_child(found.parent_sd):
        parent = parent_dn(new_dn)
        out.denied_parent = parent
        out.add(dacl_request(parent, 'deny Everyone "delete child" on %s (closes deletion through the parent)'
                             % parent, deny_delete_child_once, found.parent_sd))
    if protected and not want and not moves:   # a move already lifted it (and does not restore it)
        out.add(dacl_request(new_dn, 'lift the protection from accidental deletion of %s' % new_dn, unprotect, sd))


def _host_link(out, found, host, new_dn):
    """5. A standalone account is bound to one computer (msDS-HostServiceAccount on the computer, a linked
    attribute): the old host's link removed first, then the new one's added."""
    linked = list(found.account['attributes'].get('msDS-HostServiceAccountBL') or []) if found.account else []
    for old in linked:
        if old.lower() != host['dn'].lower():
            out.add(Request('modify', old, 'unlink %s from its old host %s' % (new_dn, old),
                            changes={'msDS-HostServiceAccount': [(MODIFY_DELETE, [new_dn])]}))
    if host['dn'].lower() not in [x.lower() for x in linked]:
        out.add(Request('modify', host['dn'], 'link %s to its host %s' % (new_dn, host['dn']),
                        changes={'msDS-HostServiceAccount': [(MODIFY_ADD, [new_dn])]}))
    if found.account is not None:
        out.before['host'] = host['name'] if host['dn'].lower() in [x.lower() for x in linked] else (
            ', '.join(cn_of(x) + '$' for x in linked) or None)
    out.after['host'] = host['name']


def _absent(wanted, found):
    """6. state=absent: the delete, after lifting the protection when the task allows it (put back when the
    delete fails)."""
    account, p = found.account, wanted.params
    result = dict(sam_account_name=wanted.sam, principals=[], unresolved_sids=[])
    if account is None:
        return AccountPlan(result=dict(result, distinguished_name=None, object_guid=None, sid=None))
    dn = account['dn']
    protected, _want = want_protection(p, found)
    if protected and p.get('protect_from_deletion') is not False:
        raise PlanError('%s is protected from accidental deletion. Run with protect_from_deletion: false to lift '
                        'the protection and delete it' % dn)
    out = AccountPlan(dict(name=found.current['name'], sam_account_name=found.current['sam_account_name'],
                           distinguished_name=dn), {},
                      dict(result, distinguished_name=dn, object_guid=guid_to_str(raw_first(account, 'objectGUID')),
                           sid=sid_to_str(raw_first(account, 'objectSid'))))
    sd = raw_first(account, 'nTSecurityDescriptor')
    if protected:
        restore = dacl_request(dn, 'restore the protection from accidental deletion of %s' % dn, protect, sd)
        out.add(dacl_request(dn, 'lift the protection from accidental deletion of %s' % dn, unprotect, sd,
                             undo=restore))
    out.add(Request('delete', dn, 'delete %s' % dn, sd=sd, object_class=CLASS_BY_TYPE[found.current['account_type']]))
    return out


# --------------------------------------------------------------------------- DACL requests
def protect(sd):
    return set_protected(sd, True)


def unprotect(sd):
    return set_protected(sd, False)


def deny_delete_child_once(sd):
    return sd if parent_denies_delete_child(sd) else deny_delete_child(sd)


def read_dacl(directory, dn):
    """The DACL part of an object's nTSecurityDescriptor, read now."""
    found = directory.search(dn, '(objectClass=*)', ['nTSecurityDescriptor'], scope='base', controls=dacl_control())
    sd = raw_first(found[0], 'nTSecurityDescriptor') if found else None
    if not sd:
        raise DirectoryError('cannot read the permissions of %s' % dn, code=RESULT['noSuchObject'])
    return sd


def dacl_request(dn, what, change, read=None, undo=None):
    """A DACL write, ``change(dacl) -> dacl`` applied to the DACL read just before it is sent (``deferred``): a
    change another writer made since the task's read is kept, not overwritten. ``read``: the DACL as the task
    read it; the value planned from it is what the rights check reasons with (a delete after the protection is
    lifted). nTSecurityDescriptor is written by replace (Samba refuses a value delete of it; Windows documents no
    matching rule for it)."""
    def fresh(directory):   # request.dn: an undo is sent to where the object is then (after a move)
        return {'nTSecurityDescriptor': [(MODIFY_REPLACE, [change(read_dacl(directory, request.dn))])]}
    planned = {'nTSecurityDescriptor': [(MODIFY_REPLACE, [change(read)])]} if read else None
    request = Request('modify', dn, what, changes=planned, controls=dacl_control(), descriptor=True, deferred=fresh,
                      undo=undo)
    return request


# --------------------------------------------------------------------------- refusals (nothing written)
def _refuse_other_objects(wanted, found):
    if found.account is None:
        return
    classes = [c.lower() for c in found.account['attributes'].get('objectClass') or []]
    if not any(c in TYPE_BY_CLASS for c in classes):
        raise PlanError('sAMAccountName %s is taken by %s, which is a %s, not a managed service account. Choose '
                        'another name' % (wanted.sam, found.account['dn'], pr.principal_type(classes)))


def _refuse_taken_spns(found):
    if found.holders:
        raise PlanError('SPN already held by another account (SPNs must be unique): %s' % '; '.join(
            '%s is held by %s' % (s, ', '.join(d)) for s, d in sorted(found.holders.items())))


def _refuse_uncreatable(p, found):
    if p['account_type'] == 'delegated' and not found.has_dmsa_class:
        raise PlanError('account_type=delegated needs the msDS-DelegatedManagedServiceAccount class, which this '
                        'forest\'s schema does not have (it comes with the Windows Server 2025 schema)')
    problem = found.container[0]
    if problem:
        raise PlanError(problem)


def _host(p, found):
    """The computer a standalone account is bound to (None: no host given, or not found in check mode)."""
    if p['account_type'] != 'standalone' or not p.get('host') or p['host'] not in found.resolved:
        return None
    host = found.resolved[p['host']]
    if host['type'] != 'computer':
        raise PlanError('host: %s is a %s, not a computer; a standalone managed service account is bound to one '
                        'computer' % (host['dn'], host['type']))
    return host


def _missing_principals(params, found):
    """Each option's lookup_failure_action applied to the principals that do not exist: warnings, or a
    PlanError. In check mode a principal that does not exist yet (made by an earlier task of the same run, such
    as the farm's host group) is a warning, so a check run of a whole new farm reports what would happen."""
    problems, warnings = [], []
    for opt in ('allowed_to_retrieve_password', 'delegates'):
        action = params.get(opt) or {}
        mentioned = set(v for lst in ('add', 'set', 'remove') for v in action.get(lst) or []
                        if v in found.missing and not (lst == 'remove' and v.upper().startswith('S-1-')))
        if not mentioned:
            continue
        how = action.get('lookup_failure_action') or 'fail'
        text = '%s: no such principal in the domain: %s' % (opt, ', '.join(sorted(mentioned)))
        if how == 'fail' and found.check_mode:
            warnings.append(text + ' - in check mode this is reported, not failed: an earlier task of the run may '
                            'create it; a real run fails here unless it exists by then')
        elif how == 'fail':
            problems.append(text)
        elif how == 'warn':
            warnings.append(text + ' (skipped)')
    if params.get('host') and params['host'] in found.missing:
        if found.check_mode:
            warnings.append('host: no such computer in the domain yet: %s (check mode)' % params['host'])
        else:
            problems.append('host: no such computer in the domain: %s' % params['host'])
    if problems:
        raise PlanError('; '.join(problems))
    return warnings


# --------------------------------------------------------------------------- diff helpers (pure)
def show_pending(params, missing, after):
    """Check mode: principals a task would grant that do not exist yet (the farm's host group an earlier task of
    the run creates) are shown in the diff's after, marked, so a reviewer sees the grant the real run makes."""
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


def cn_of(dn):
    """A computer's CN from its DN, for the diff (CN=WEB01,OU=... -> WEB01)."""
    return dn.split(',', 1)[0].split('=', 1)[1]


def current_attribute_values(account, names):
    """The account's values of the attributes ``attributes`` names, as text (ldap3's raw values decoded)."""
    raw = (account or {}).get('raw') or {}
    out = {}
    for name in names:
        for k, values in raw.items():
            if k.lower() == name.lower():
                out[name] = [v.decode('utf-8', 'replace') if isinstance(v, bytes) else str(v) for v in values]
    return out


def _merge_attributes(rows, actions, account):
    """The ``attributes`` option's changes joined to the rows' (the same add or modify request)."""
    creating = rows['create'] is not None
    changes, before, after = plan_attributes(actions, current_attribute_values(account, actions), creating)
    if creating:
        rows['create'].update(changes)
    elif changes:
        rows['modify'] = dict(rows['modify'] or {}, **changes)
    if account is not None:
        rows['before']['attributes'] = before
    rows['after']['attributes'] = after
