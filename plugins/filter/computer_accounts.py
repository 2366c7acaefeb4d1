# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
name: computer_accounts
short_description: Inventory hosts to the sAMAccountNames of their computer accounts
version_added: 0.1.0
author:
  - gmsa.farm maintainers (@gmsa-farm)
description:
  - Maps inventory host names to computer account names (C(WEB01$)) as the farm's host group and gMSAs need
    them. A host's C(gmsa_farm_computer_name) variable wins; otherwise the first label of its name, upper-cased.
  - Refuses a name longer than 15 characters, the NetBIOS limit of computer names.
options:
  _input:
    description: Inventory host names.
    type: list
    elements: str
    required: true
  hostvars:
    description: C(hostvars), to read each host's C(gmsa_farm_computer_name).
    type: dict
'''

EXAMPLES = r'''
- name: The members' computer accounts
  ansible.builtin.debug:
    msg: "{{ groups['farm_members'] | gmsa.farm.computer_accounts(hostvars) }}"
'''

RETURN = r'''
_value:
  description: sAMAccountNames, each ending with C($).
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError


def computer_account(host, hostvars=None):
    name = None
    if hostvars is not None and host in hostvars:
        name = hostvars[host].get('gmsa_farm_computer_name')
    if not name:
        name = str(host).split('.', maxsplit=1)[0].upper()
    name = str(name)
    if name.endswith('$'):
        name = name[:-1]
    if not name or len(name) > 15:
        raise AnsibleFilterError('computer name %r of host %r is not 1 to 15 characters; set gmsa_farm_computer_name'
                                 % (name, host))
    return name + '$'


def computer_accounts(hosts, hostvars=None):
    return [computer_account(h, hostvars) for h in hosts or []]


def rollover_name(account):
    """The next generation's name of a farm account: its rollover_name, or its name cut to 13 + '-2'."""
    name = account.get('rollover_name') or '%s-2' % account['name'][:13]
    if len(name) > 15:
        raise AnsibleFilterError('rollover_name %r is longer than 15 characters' % name)
    return name


class FilterModule(object):
    def filters(self):
        return dict(computer_accounts=computer_accounts, rollover_name=rollover_name)
