# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: computer_accounts.yml beside this file (and one .yml per other filter here), so that ansible-doc
# shows each filter's own page.

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
