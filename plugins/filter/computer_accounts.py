# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

# Documentation: computer_accounts.yml beside this file (and one .yml per other filter here), so that ansible-doc
# shows each filter's own page.

import json
import re

from ansible.errors import AnsibleFilterError

from ansible.module_utils.six import string_types


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
    if isinstance(hosts, string_types):
        # a string would be read letter by letter ("[$, W$, E$, ...")
        raise AnsibleFilterError('computer_accounts takes a list of host names, not the string %r; turn it into a '
                                 'list with gmsa.farm.host_list first' % hosts)
    return [computer_account(h, hostvars) for h in hosts or []]


_HOST_NAME = re.compile(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*$')


def host_list(value, option='hosts'):
    """Inventory host names given on the command line or in vars -> a list of names.

    ``-e name=[web03]`` and ``-e name=web03,web04`` reach a playbook as strings; ``-e '{"name": ["web03"]}'`` and
    ``-e 'name=["web03"]'`` as a list or a JSON string. All of them give ``['web03', ...]``; anything else is refused
    naming ``option`` and the forms that work.
    """
    forms = ('give %s as -e %s=web03,web04, -e %s=[web03,web04] or -e \'{"%s": ["web03", "web04"]}\''
             % (option, option, option, option))
    if value is None:
        return []
    if isinstance(value, string_types):
        text = value.strip()
        if text.startswith('['):
            try:
                parsed = json.loads(text)
            except ValueError:
                if not text.endswith(']'):
                    raise AnsibleFilterError('%s: %r is not a list of host names; %s' % (option, value, forms))
                parsed = [part.strip().strip('\'"') for part in text[1:-1].split(',')]
            value = parsed
        else:
            value = [part.strip() for part in text.split(',')]
        value = [v for v in value if v != '']
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError('%s: %r is not a list of host names; %s' % (option, value, forms))
    out = []
    for v in value:
        if not isinstance(v, string_types) or not _HOST_NAME.match(v):
            raise AnsibleFilterError('%s: %r is not an inventory host name; %s' % (option, v, forms))
        if v not in out:
            out.append(v)
    return out


def rollover_name(account):
    """The next generation's name of a farm account: its rollover_name, or its name cut to 13 + '-2'."""
    name = account.get('rollover_name') or '%s-2' % account['name'][:13]
    if len(name) > 15:
        raise AnsibleFilterError('rollover_name %r is longer than 15 characters' % name)
    return name


# Farm account keys passed through to gmsa as they are, when given.
_PASSED = ('path', 'dns_hostname', 'password_interval_days', 'trusted_to_auth_for_delegation')


def farm_gmsa_accounts(farm):
    """A gmsa_farm description -> the entries of gmsa.farm.gmsa's list form (accounts), one per farm account."""
    if not isinstance(farm, dict) or not isinstance(farm.get('accounts'), list):
        raise AnsibleFilterError('farm_gmsa_accounts takes a gmsa_farm description with an accounts list')
    try:
        group = farm['host_group']['name']
    except (KeyError, TypeError):
        raise AnsibleFilterError('gmsa_farm.host_group.name is missing')
    out = []
    for i, account in enumerate(farm['accounts']):
        if not isinstance(account, dict) or not account.get('name'):
            raise AnsibleFilterError('gmsa_farm.accounts[%d] has no name' % i)
        e = dict(name=account['name'],
                 outbound_auth_only=account.get('outbound_auth_only', False),
                 kerberos_encryption_types=dict(set=account.get('kerberos_encryption_types', ['aes128', 'aes256'])),
                 spn=dict(set=account.get('spn', [])),
                 allowed_to_retrieve_password=dict(set=[group] + list(account.get('extra_principals', []))),
                 enabled=account.get('enabled', True),
                 description=account.get('description', 'gMSA of the %s farm' % farm.get('name')))
        e.update((k, account[k]) for k in _PASSED if account.get(k) is not None)
        if account.get('allowed_to_delegate_to') is not None:
            e['allowed_to_delegate_to'] = dict(set=account['allowed_to_delegate_to'])
        out.append(e)
    return out


class FilterModule(object):
    def filters(self):
        return dict(computer_accounts=computer_accounts, host_list=host_list, rollover_name=rollover_name,
                    farm_gmsa_accounts=farm_gmsa_accounts)
