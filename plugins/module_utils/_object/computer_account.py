# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The computer account kind: a member computer's account, disabled and its password reset when the host is
compromised.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

* Description: one row, ``enabled`` (the ACCOUNTDISABLE bit of userAccountControl, changed on the value read), and
  two hooks: the refusal of domain controllers, read-only domain controllers and trust accounts (raised by the
  plan, so before any write and in check mode too), and the password reset, a request whose value is made only
  when it is sent (the plan, its result and check mode never hold a password).
* ``read`` - one search for the account; ``plan`` - pure; ``run`` - the task.
"""
from __future__ import annotations

import secrets
import string

from ansible_collections.gmsa.farm.plugins.module_utils import _principals as pr
from ansible_collections.gmsa.farm.plugins.module_utils._object import access
from ansible_collections.gmsa.farm.plugins.module_utils._object.apply import converge
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure, NOTHING_CHANGED, PlanError
from ansible_collections.gmsa.farm.plugins.module_utils._object.plan import Plan
from ansible_collections.gmsa.farm.plugins.module_utils._object.request import Request
from ansible_collections.gmsa.farm.plugins.module_utils._object.rows import (
    UAC_ACCOUNTDISABLE, UAC_WORKSTATION_TRUST_ACCOUNT, RowPlan, options, run_rows, single_value_change,
)
from ansible_collections.gmsa.farm.plugins.module_utils._values import MODIFY_REPLACE, first

ROWS = [dict(option='enabled', attr='userAccountControl', kind='uac', bit=UAC_ACCOUNTDISABLE, inverse=True)]

EXPOSURE = ('Kerberos tickets the host obtained before this task stay valid until they expire (service tickets '
            'and TGTs: 10 hours by default; a TGT is renewable for up to 7 days unless its account is disabled). '
            'Grants through groups it was in when they were issued travel with them: give a new gMSA generation '
            'to principals those tickets cannot carry (the compromised_host playbook grants it to the remaining '
            'members directly).')

UAC_INTERDOMAIN_TRUST_ACCOUNT = 0x0800
UAC_SERVER_TRUST_ACCOUNT = 0x2000
UAC_PARTIAL_SECRETS_ACCOUNT = 0x04000000
PROTECTED_UAC = ((UAC_SERVER_TRUST_ACCOUNT, 'a domain controller (SERVER_TRUST_ACCOUNT)'),
                 (UAC_PARTIAL_SECRETS_ACCOUNT, 'a read-only domain controller (PARTIAL_SECRETS_ACCOUNT)'),
                 (UAC_INTERDOMAIN_TRUST_ACCOUNT, 'a trust account (INTERDOMAIN_TRUST_ACCOUNT)'))
PROTECTED_PRIMARY_GROUPS = {516: 'Domain Controllers', 521: 'Read-only Domain Controllers'}
# Computers, and trust accounts (user objects named like computers, DOMAIN$), so a trust is found and refused
# rather than reported missing.
ACCOUNT_FILTER = '(|(objectCategory=computer)(&(objectCategory=person)(userAccountControl:1.2.840.113556.1.4.803:=%d)))' \
    % UAC_INTERDOMAIN_TRUST_ACCOUNT


def argument_spec():
    spec = dict(name=dict(type='str', required=True, aliases=['identity']),
                reset_password=dict(type='bool', default=False, no_log=False))
    spec.update(options(ROWS))
    return spec


def random_password():
    alphabet = string.ascii_letters + string.digits + '!#%+,-./:;=?@_'
    return ''.join(secrets.choice(alphabet) for dummy in range(240))


def refusal(uac, primary_group_id):
    """Why this account must not be disabled or reset (a DC, an RODC, a trust), or an empty list. Pure."""
    why = [text for bit, text in PROTECTED_UAC if uac & bit]
    if primary_group_id in PROTECTED_PRIMARY_GROUPS:
        why.append('its primary group is %s (%d)' % (PROTECTED_PRIMARY_GROUPS[primary_group_id], primary_group_id))
    return why


def current(principal, attrs):
    return dict(dn=principal['dn'], uac=int(first(attrs, 'userAccountControl') or 0),
                primary_group_id=int(first(attrs, 'primaryGroupID') or 0))


def _new_password(directory):
    # unicodePwd: the quoted password in UTF-16LE, replaced (a reset, which needs the Reset Password right);
    # only ever sent over the TLS connection the connection layer insists on. Made here, just before it is sent.
    return {'unicodePwd': [(MODIFY_REPLACE, [('"%s"' % random_password()).encode('utf-16-le')])]}


def reset_request(dn):
    """The password reset, described without a value: the value is made when the request is sent."""
    return Request('modify', dn, 'reset the password of %s' % dn, changes={'unicodePwd': []}, deferred=_new_password,
                   control_access=access.RESET_PASSWORD)


def plan(params, cur):
    """Pure: refuse DCs, RODCs, trusts and non-member accounts; then disable/enable, then the reset."""
    dn = cur['dn']
    why = refusal(cur['uac'], cur['primary_group_id'])
    if why:
        raise PlanError('name: %s is %s: disabling it or resetting its password would break replication and '
                        'Kerberos with it. This module acts on member computers only' % (dn, ' and '.join(why)))
    if not cur['uac'] & UAC_WORKSTATION_TRUST_ACCOUNT:     # what a member computer (and a managed account) is
        raise PlanError('name: %s is not a member computer account (userAccountControl 0x%x has no '
                        'WORKSTATION_TRUST_ACCOUNT)' % (dn, cur['uac']))
    rows = run_rows(ROWS, RowPlan(params, cur))
    reset = bool(params.get('reset_password'))
    out = Plan(before=dict(rows.before, password='unchanged'),
               after=dict(rows.after, password='reset' if reset else 'unchanged'),
               result=dict(distinguished_name=dn, enabled=rows.after['enabled'], password_reset=reset,
                           exposure=EXPOSURE))
    if rows.uac != cur['uac']:
        verb = 'enable' if rows.after['enabled'] else 'disable'
        out.add(Request('modify', dn, '%s %s' % (verb, dn),
                        changes={'userAccountControl': single_value_change(cur['uac'], rows.uac)}))
    if reset:
        out.add(reset_request(dn))
    return out


def read(directory, params):
    principal, attrs = pr.find_one(directory, params['name'], ACCOUNT_FILTER, 'computer',
                                   ['userAccountControl', 'primaryGroupID'])
    return current(principal, attrs)


def run(module, directory):
    """The task: read + plan + apply (re-planned when another writer changed the account first)."""
    params = module.params
    try:
        done = converge(directory, module.check_mode, lambda: plan(params, read(directory, params)), 'computer account')
    except (PlanError, pr.PrincipalError) as e:
        raise ModuleFailure('%s. %s' % (e, NOTHING_CHANGED))
    return done.module_result()
