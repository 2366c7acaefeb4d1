#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: domain_info
short_description: Read what gMSA management needs to know about an Active Directory domain, over LDAP
version_added: 1.0.0
description:
  - Connects to a domain controller over LDAPS or StartTLS, reads rootDSE once, the domain head, the
    NetBIOS name and the schema, and returns the domain's names, functional levels, the Managed Service
    Accounts container and which managed-account classes the schema has.
  - Use it as a connectivity check before the other modules; it changes nothing.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - gmsa.farm.attributes.info_module
options: {}
seealso:
  - module: gmsa.farm.kds_root_key_info
'''

EXAMPLES = r'''
- name: Check that the controller can reach and bind to the domain
  gmsa.farm.domain_info:
    domain_server:
      - dc1.example.com
      - dc2.example.com
    domain_username: svc-ansible@EXAMPLE.COM
    domain_password: "{{ vault_ldap_password }}"
    domain_ca_cert: /etc/pki/example-root-ca.pem
  register: domain

- name: Same, with the connection given once for every gmsa.farm LDAP module
  module_defaults:
    group/gmsa.farm.ldap:
      domain_server: dc1.example.com
      domain_auth: kerberos
  block:
    - name: Read the domain
      gmsa.farm.domain_info:
      register: domain

    - name: Show where gMSAs go by default
      ansible.builtin.debug:
        msg: "{{ domain.managed_service_accounts_container }}"
'''

RETURN = r'''
dns_domain:
  description: DNS name of the domain.
  returned: success
  type: str
  sample: example.com
netbios_name:
  description: NetBIOS name of the domain (the C(DOMAIN) in C(DOMAIN\\name$)).
  returned: success
  type: str
  sample: EXAMPLE
domain_sid:
  description: SID of the domain.
  returned: success
  type: str
  sample: S-1-5-21-1004336348-1177238915-682003330
default_naming_context:
  description: DN of the domain.
  returned: success
  type: str
  sample: DC=example,DC=com
configuration_naming_context:
  description: DN of the forest's configuration partition.
  returned: success
  type: str
  sample: CN=Configuration,DC=example,DC=com
schema_naming_context:
  description: DN of the schema partition.
  returned: success
  type: str
  sample: CN=Schema,CN=Configuration,DC=example,DC=com
root_domain_naming_context:
  description: DN of the forest root domain.
  returned: success
  type: str
  sample: DC=example,DC=com
dc_dns_hostname:
  description: DNS name of the domain controller that answered.
  returned: success
  type: str
  sample: dc1.example.com
domain_functional_level:
  description: Domain functional level (C(2008_R2), C(2016), ...).
  returned: success
  type: str
  sample: '2016'
forest_functional_level:
  description: Forest functional level.
  returned: success
  type: str
  sample: '2016'
dc_functional_level:
  description: Functional level of the domain controller that answered.
  returned: success
  type: str
  sample: '2016'
managed_service_accounts_container:
  description: Default container for managed service accounts, from the domain's otherWellKnownObjects.
  returned: success
  type: str
  sample: CN=Managed Service Accounts,DC=example,DC=com
schema:
  description: Which managed service account classes the schema has.
  returned: success
  type: dict
  contains:
    group_managed_service_account:
      description: C(msDS-GroupManagedServiceAccount) (gMSA) exists.
      type: bool
      returned: success
    managed_service_account:
      description: C(msDS-ManagedServiceAccount) (sMSA) exists.
      type: bool
      returned: success
    delegated_managed_service_account:
      description: C(msDS-DelegatedManagedServiceAccount) (dMSA, Windows Server 2025 schema) exists.
      type: bool
      returned: success
supported_controls:
  description: LDAP controls the DC offers (OIDs).
  returned: success
  type: list
  elements: str
'''

from ansible_collections.gmsa.farm.plugins.module_utils._module import run_directory_module
from ansible_collections.gmsa.farm.plugins.module_utils._domain import (
    CLASS_DMSA, CLASS_GMSA, CLASS_SMSA, domain_head, level_name, managed_service_accounts_container,
    netbios_name, schema_classes,
)
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str


def core(module, directory):
    dse = directory.root_dse
    head = domain_head(directory)
    classes = schema_classes(directory, [CLASS_GMSA, CLASS_SMSA, CLASS_DMSA])
    sid = head.get('objectSid')
    return dict(
        changed=False,
        dns_domain=directory.dns_domain,
        netbios_name=netbios_name(directory),
        domain_sid=sid_to_str(sid) if sid else None,
        default_naming_context=directory.default_nc,
        configuration_naming_context=directory.configuration_nc,
        schema_naming_context=directory.schema_nc,
        root_domain_naming_context=directory.root_domain_nc,
        dc_dns_hostname=directory.dse_str('dnsHostName'),
        domain_functional_level=level_name(dse.get('domainFunctionality')),
        forest_functional_level=level_name(dse.get('forestFunctionality')),
        dc_functional_level=level_name(dse.get('domainControllerFunctionality')),
        managed_service_accounts_container=managed_service_accounts_container(directory, head),
        schema=dict(group_managed_service_account=classes[CLASS_GMSA],
                    managed_service_account=classes[CLASS_SMSA],
                    delegated_managed_service_account=classes[CLASS_DMSA]),
        # sorted and unique: Samba 4.22's rootDSE lists some controls twice (measured on the lab DC)
        supported_controls=sorted(set(dse.get('supportedControl') or [])),
    )


def main():
    run_directory_module({}, core)


if __name__ == '__main__':
    main()
