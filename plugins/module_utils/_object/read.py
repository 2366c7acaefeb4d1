# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reads of a gmsa.farm.gmsa task: one reader for the single form (one account) and the list form (many).

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

``Reader(directory, wanted, check_mode)`` reads, in as few searches as it can, every account of the task, every
holder of an SPN the task adds and every principal the task names; ``found(wanted)`` then answers one account's
questions (``gmsa_plan.Found``) from that read, plus the few reads that only some tasks need, each made once per
task and shared by its accounts: the container a new account goes to, whether the schema has the dMSA class,
the KDS root keys (check mode), the DACL of a protected account's parent, the names of SIDs granted now that the
task does not name.

* Few accounts (the single form, a short list): one search, the filter parts of every account (its
  sAMAccountName, its CN among managed service accounts for a rename), SPN and principal OR-ed together (split
  every ``CHUNK`` parts, which keeps each request well below the DCs' 10 MB MaxReceiveBuffer).
* Many accounts: the principals, then every managed service account of the domain in one paged search, then
  only for accounts not found their names among all objects and their CN, and only the SPNs the accounts do not
  hold yet. So a no-op rerun costs the same few searches whatever the list's length, apart from paging.
* The accounts' DACLs (most of an account's bytes) come with them only when an entry decides on protection
  (``protect_from_deletion`` given, or ``state=absent``); otherwise only the DACLs of the accounts the task moves
  or renames are read, in one more search (a protected account is lifted before its move).
"""
from __future__ import annotations

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._domain import (
    CLASS_DMSA, WKGUID_MANAGED_SERVICE_ACCOUNTS as WKGUID_MSA, check_container, schema_classes, well_known_dn,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import (
    CLASS_BY_TYPE, PLANNED_ATTRIBUTES, TYPE_BY_CLASS, current_sids, read_state,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa_plan import (
    Found, read_dacl, target_dn, want_protection,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import dacl_control, escape, first, parent_dn, rdn_escape

SEARCH_ATTRIBUTES = sorted(set(PLANNED_ATTRIBUTES) | set(pr.PRINCIPAL_ATTRIBUTES))
SD = 'nTSecurityDescriptor'
MSA_CLASSES = ''.join('(objectClass=%s)' % c for c in CLASS_BY_TYPE.values())


def _is_msa(entry):
    return any(c.lower() in TYPE_BY_CLASS for c in entry['attributes'].get('objectClass') or [])


def account_parts(w):
    """The filter parts that find one account: by sAMAccountName, or by CN among managed accounts (a rename)."""
    return ['(sAMAccountName=%s)' % escape(w.sam), '(&(|%s)(cn=%s))' % (MSA_CLASSES, escape(w.params['name']))]


class Reader(object):
    """The batched read of one task's accounts (see the module docstring), then per-account answers."""
    CHUNK = 250     # filter parts per search

    def __init__(self, directory, wanted, check_mode, known=None):
        """wanted: a ``gmsa.Wanted`` per account; known: {SID: principal} found elsewhere (principals of another
        domain of the forest, looked up in the global catalog)."""
        self.directory, self.check_mode = directory, check_mode
        # The DACLs (most of the bytes of an account) only when a task decides on protection; else only those of
        # accounts that move (a protected one is lifted first), read after the accounts are found.
        self.with_sd = any(w.params.get('protect_from_deletion') is not None or w.params['state'] == 'absent'
                           for w in wanted)
        self.attributes = SEARCH_ATTRIBUTES + sorted(set(a for w in wanted for a in w.extra_attributes)) + (
            [SD] if self.with_sd else [])
        names = sorted(set(n for w in wanted for n in w.principal_names))
        _principal_failure(pr.check_domains, directory, names)
        found = {}
        parts = pr.filters_for(names)
        many = len(wanted) * 2 > self.CHUNK
        if many:
            self._read(found, '(|%s)' % MSA_CLASSES)
        else:
            parts += [x for w in wanted for x in account_parts(w) + self._spn_parts(w, None)]
        self._read_parts(found, parts)
        self._index(found)
        if many:
            more = [x for w in wanted for x in
                    (account_parts(w) if self._by_sam(w) is None else []) + self._spn_parts(w, self._by_sam(w))]
            if more:
                self._read_parts(found, more)
                self._index(found)
        self.resolved, missing = _principal_failure(pr.match_all, names, self.entries)
        for sid in [m for m in missing if m in (known or {})]:
            self.resolved[sid] = known[sid]
            missing.remove(sid)
        self.missing = set(missing)
        self._containers, self._dacls, self._once = {}, {}, {}
        self._states, self.labels = {}, dict((x['sid'], pr.label(x)) for x in self.resolved.values())
        self._label_sids(wanted)
        if not self.with_sd:
            self._read_moving_dacls(wanted)

    # ----------------------------------------------------------------------- the batched read
    def _read(self, found, flt):
        for e in self.directory.search(self.directory.default_nc, flt, self.attributes, paged=True,
                                       controls=dacl_control() if self.with_sd else None):
            found[e['dn'].lower()] = e

    def _read_moving_dacls(self, wanted):
        """The DACLs of the accounts the task moves or renames: one search per 200."""
        moving = {}
        for w in wanted:
            a = self.account(w)
            if a is not None and _is_msa(a) and w.params['state'] == 'present':
                where = w.params.get('path') or parent_dn(a['dn'])
                if ('cn=%s,%s' % (rdn_escape(w.params['name']), where)).lower() != a['dn'].lower():
                    moving[a['dn'].lower()] = a
        names = sorted(moving)
        for i in range(0, len(names), 200):
            flt = '(|%s)' % ''.join('(distinguishedName=%s)' % escape(moving[n]['dn']) for n in names[i:i + 200])
            for e in self.directory.search(self.directory.default_nc, flt, [SD], controls=dacl_control()):
                if e['dn'].lower() in moving:
                    moving[e['dn'].lower()]['raw'][SD] = (e.get('raw') or {}).get(SD)

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
            if _is_msa(e):
                self.by_cn.setdefault((first(a, 'cn') or '').lower(), []).append(e)
            for spn in a.get('servicePrincipalName') or []:
                self.by_spn.setdefault(spn.lower(), []).append(e)

    def _by_sam(self, w):
        return self.by_sam.get(w.sam.lower())

    @staticmethod
    def _spn_parts(w, account):
        held = set(x.lower() for x in (account or {}).get('attributes', {}).get('servicePrincipalName') or [])
        return ['(servicePrincipalName=%s)' % escape(s) for s in w.spns if s.lower() not in held]

    def _label_sids(self, wanted):
        """Names for the SIDs the accounts grant now that the task does not name: one batched search."""
        unknown = set()
        for w in wanted:
            state = self._state(self.account(w))
            if state is not None:
                unknown.update(s for s in current_sids(state) if s not in self.labels)
        if unknown:
            self.labels.update((s, pr.label(x)) for s, x in pr.principals_by_sid(self.directory, unknown).items())

    def _state(self, account):
        """read_state of a managed account, once per account."""
        if account is None or not _is_msa(account):
            return None
        key = account['dn'].lower()
        if key not in self._states:
            self._states[key] = read_state(account)
        return self._states[key]

    # ----------------------------------------------------------------------- one account's answers
    def account(self, w):
        """The account a task names: by sAMAccountName, else (a rename) a managed account named ``name`` in the
        task's container, the same account under its old sAMAccountName."""
        account = self._by_sam(w)
        if account is not None:
            return account
        candidates = [e for e in self.by_cn.get(w.params['name'].lower(), []) if _is_msa(e)]
        if not candidates:
            return None
        path = (w.params.get('path') or self.default_container()).lower()
        here = [e for e in candidates if parent_dn(e['dn']).lower() == path]
        return here[0] if len(here) == 1 else None

    def found(self, w):
        """Everything ``gmsa_plan.plan`` decides from for one account."""
        account = self.account(w)
        state = self._state(account)
        resolved = dict((v, self.resolved[v]) for v in w.principal_names if v in self.resolved)
        holders = {}
        want = dict((s.lower(), s) for s in w.spns)
        for e in [e for s in w.spns for e in self.by_spn.get(s.lower(), [])]:
            if account is None or e['dn'] != account['dn']:
                for s in e['attributes'].get('servicePrincipalName') or []:
                    if s.lower() in want and e['dn'] not in holders.get(want[s.lower()], []):
                        holders.setdefault(want[s.lower()], []).append(e['dn'])
        out = Found(account=account, current=state, resolved=resolved,
                    missing=[v for v in w.principal_names if v in self.missing], holders=holders,
                    sid_labels=self.labels, check_mode=self.check_mode,
                    unresolved=[s for s in current_sids(state) if s not in self.labels] if state else [])
        if w.params['state'] == 'present':
            self._present_reads(w, out)
        return out

    def _present_reads(self, w, out):
        p = w.params
        if out.account is None:
            kind = CLASS_BY_TYPE[p['account_type']]
            if p['account_type'] == 'delegated':
                out.has_dmsa_class = self._one('dmsa', lambda: schema_classes(self.directory, [CLASS_DMSA])[CLASS_DMSA])
            out.container = self.container(p.get('path'), kind)
            if self.check_mode and p['account_type'] in ('group', 'delegated'):
                out.kds_warnings = self._one('kds', lambda: kds_warnings(self.directory))   # a real run: the add
        if out.account is not None and out.current is None:
            return      # not a managed account: the plan refuses it
        if out.container is not None and out.container[0]:
            return
        if want_protection(p, out)[1]:   # the parent's "delete child" deny is checked on every such run
            out.parent_sd = self.dacl(parent_dn(target_dn(p, out)))

    def _one(self, key, read):
        """A read every account of the task would repeat: made once."""
        if key not in self._once:
            self._once[key] = read()
        return self._once[key]

    def default_container(self):
        def read():
            found = self.directory.search(well_known_dn(self.directory, WKGUID_MSA), '(objectClass=*)', ['1.1'],
                                          scope='base')
            return found[0]['dn'] if found else ''
        return self._one('default container', read)

    def container(self, path, object_class):
        """(problem or None, DN): the container exists and the account may create ``object_class`` there."""
        key = (path.lower() if path else None, object_class)
        if key not in self._containers:
            self._containers[key] = check_container(self.directory, path or well_known_dn(self.directory, WKGUID_MSA),
                                                    object_class)
        return self._containers[key]

    def dacl(self, dn):
        if dn.lower() not in self._dacls:
            self._dacls[dn.lower()] = read_dacl(self.directory, dn)
        return self._dacls[dn.lower()]

    def denied(self, dn, deny):
        """A plan of this task denies "delete child" on ``dn``: the next accounts there plan knowing it."""
        self._dacls[dn.lower()] = deny(self.dacl(dn))


def _principal_failure(function, *args):
    try:
        return function(*args)
    except pr.PrincipalError as e:
        raise PlanError(str(e))


# --------------------------------------------------------------------------- KDS root keys (check mode)
def kds_keys(directory):
    """Every KDS root key of the forest as this account sees it (one search; unreadable keys included)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return [kds.describe_key(e, now) for e in kds.search_keys(directory)]


def no_key_message(keys=()):
    pending = sorted(k['usable_at'] for k in keys if k['valid_id'] and k['usable_at'])
    return (
        'No usable KDS root key in the forest, so domain controllers cannot compute gMSA passwords and the account '
        'cannot be created.%s Create one with gmsa.farm.kds_root_key (in a lab effective_time_hours: 0 makes it '
        'usable at once; in production keep the default and wait, or use wait: true). Nothing was changed.'
        % ((' The first pending key becomes usable at %s.' % pending[0]) if pending else ''))


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
