# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service user kind: an ordinary user account that runs a service (what a move to a gMSA changes on it).

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

* Description: two rows, ``spn`` (servicePrincipalName, value by value) and ``enabled`` (the ACCOUNTDISABLE bit of
  userAccountControl, changed on the value read); no hooks.
* ``read`` - one search for the account; ``plan`` - pure, at most one modify request; ``run`` - the task.
"""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import validate_spn
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import converge
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure, NOTHING_CHANGED, PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.plan import Plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._object.rows import (
    UAC_ACCOUNTDISABLE, RowPlan, options, run_rows, single_value_change,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import first

CLASS_FILTER = '(objectCategory=person)(objectClass=user)'
ROWS = [
    dict(option='spn', attr='servicePrincipalName', kind='list'),
    dict(option='enabled', attr='userAccountControl', kind='uac', bit=UAC_ACCOUNTDISABLE, inverse=True),
]


def argument_spec():
    spec = dict(name=dict(type='str', required=True, aliases=['identity']))
    spec.update(options(ROWS))
    return spec


def validate(params):
    for lst in ('add', 'set'):
        for spn in (params.get('spn') or {}).get(lst) or []:
            validate_spn(spn)


def current(principal, attrs):
    return dict(dn=principal['dn'], spn=list(attrs.get('servicePrincipalName') or []),
                uac=int(first(attrs, 'userAccountControl') or 0))


def plan(params, cur):
    """Pure: the one modify (SPNs value by value, userAccountControl delete-old/add-new) or nothing."""
    rows = run_rows(ROWS, RowPlan(params, cur))
    changes = dict(rows.changes)
    if rows.uac != cur['uac']:
        changes['userAccountControl'] = single_value_change(cur['uac'], rows.uac)
    out = Plan(before=rows.before, after=rows.after,
               result=dict(distinguished_name=cur['dn'], spn=rows.after['spn']))
    if changes:
        out.add(Request('modify', cur['dn'], 'update %s (%s)' % (cur['dn'], ', '.join(sorted(changes))),
                        changes=changes))
    return out


def read(directory, params):
    principal, attrs = pr.find_one(directory, params['name'], CLASS_FILTER, 'user account',
                                   ['userAccountControl', 'servicePrincipalName'])
    return current(principal, attrs)


def run(module, directory):
    """The task: validate, then read + plan + apply (re-planned on a concurrent change)."""
    params = module.params
    try:
        validate(params)
        done = converge(directory, module.check_mode, lambda: plan(params, read(directory, params)), 'user account')
    except (PlanError, pr.PrincipalError) as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING_CHANGED))
    return done.module_result()
