# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""OU delegation as a kind of the object engine: its reads and a pure plan.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

The object is one OU (or container); the option that matters is the list of right sets (``_delegation.RIGHTS``),
each a fixed list of explicit object entries granted to one trustee. A plan holds at most one request: the OU's
DACL with the missing entries added (or exactly these entries removed), computed again from a fresh read just
before it is sent, so an entry another writer changed in between is kept. The engine's rights check proves
WRITE_DAC on the OU before that write.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _delegation as dl
from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import converge
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import NOTHING_CHANGED, ModuleFailure
from ansible_collections.gmsa.farm.plugins.module_utils._object.plan import Plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._values import (
    MODIFY_REPLACE, check_dn, dacl_control, raw_first,
)

TRUSTEE_FILTER = '(|(objectCategory=person)(objectCategory=group)(objectCategory=computer))'
RIGHT_SETS = list(dl.RIGHTS)      # the option's choices: a right set is added by adding its entry to RIGHTS


def check_params(p):
    """Pure: bad input fails here, before anything is read."""
    if not p['rights']:
        raise ModuleFailure('rights: give at least one of %s. %s' % (', '.join(RIGHT_SETS), NOTHING_CHANGED))
    try:
        check_dn('path', p['path'])
    except ValueError as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING_CHANGED))


# --------------------------------------------------------------------------- reads
def read_dacl(directory, dn):
    found = directory.search(dn, '(objectClass=*)', ['nTSecurityDescriptor', 'objectClass'], scope='base',
                             controls=dacl_control())
    if not found:
        raise ModuleFailure('path: no object %s. %s' % (dn, NOTHING_CHANGED))
    return raw_first(found[0], 'nTSecurityDescriptor')


def read(directory, p):
    """The trustee (one search) and the OU's DACL (one search)."""
    try:
        trustee, dummy = pr.find_one(directory, p['trustee'], TRUSTEE_FILTER, 'user, group or computer',
                                     option='trustee')
    except pr.PrincipalError as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING_CHANGED))
    return dict(trustee=trustee, dacl=read_dacl(directory, p['path']))


# --------------------------------------------------------------------------- the plan (pure)
def _decider(keys, present):
    """Pure: (found, new descriptor or None) for the OU's DACL, with the path in the error."""
    def decide(dacl, dn):
        try:
            return dl.plan(dacl, keys, present)
        except dl.DelegationError as e:
            raise ModuleFailure('%s: %s. %s' % (dn, e, NOTHING_CHANGED))
    return decide


def plan(p, cur):
    """Pure: the task's ``Plan`` from the parameters and what ``read`` found."""
    trustee, dn, present = cur['trustee'], p['path'], p['state'] == 'present'
    keys = dl.wanted(p['rights'], trustee['sid'])
    decide = _decider(keys, present)
    found, new_sd = decide(cur['dacl'], dn)
    changed = new_sd is not None
    added = [dl.sddl(k) for k in keys if k not in found] if present and changed else []
    removed = [dl.sddl(k) for k in found] if not present else []
    shown = dict(path=dn, trustee=trustee['name'])
    who = dict(name=trustee['name'], sid=trustee['sid'], dn=trustee['dn'])
    out = Plan(before=dict(shown, aces=sorted(dl.sddl(k) for k in found)),
               after=dict(shown, aces=sorted(dl.sddl(k) for k in keys) if present else []),
               result=dict(distinguished_name=dn, trustee=who, aces=[dl.sddl(k) for k in keys], added=added,
                           removed=removed))
    if changed:
        count = len(added or removed)
        out.add(dacl_request(dn, decide, '%s %d entr%s for %s on %s' % (
            'add' if present else 'remove', count, 'y' if count == 1 else 'ies', trustee['name'], dn)))
    return out


def dacl_request(dn, decide, what):
    """The OU's DACL write, its value computed from the DACL as it is just before the write: another writer's
    change made since the plan's read is kept. Written by replace of the DACL part (SD flags control): the value
    read with that control is only the DACL, which no delete by value would match."""
    def fresh(directory):
        now = read_dacl(directory, dn)
        dummy, sd = decide(now, dn)
        # None: the entries are already as wanted (another writer made the same change): written back unchanged.
        return {'nTSecurityDescriptor': [(MODIFY_REPLACE, [sd if sd is not None else now])]}
    return Request('modify', dn, what, controls=dacl_control(), descriptor=True, deferred=fresh)


# --------------------------------------------------------------------------- the task
def run(module, directory):
    """Read, plan, check WRITE_DAC, write."""
    p = module.params
    check_params(p)
    done = converge(directory, module.check_mode, lambda: plan(p, read(directory, p)), 'DACL of %s' % p['path'])
    return done.module_result()
