#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r'''
module: credential_spec
short_description: Build the credential spec that lets Windows containers run as a gMSA, from LDAP alone
version_added: 1.0.0
description:
  - Builds the credential spec document Docker (C(--security-opt credentialspec=file://...)), Kubernetes (a
    C(GMSACredentialSpec) resource) and Amazon ECS take to run a Windows container as a group managed service
    account, with no Windows host, RSAT or Docker; every field is read over LDAP.
  - The document is, field for field, what Microsoft's C(New-CredentialSpec) (CredentialSpec PowerShell module)
    writes for the same domain and account - C(CmsPlugins), C(DomainJoinConfig) (Sid, MachineAccountName, Guid, DnsTreeName,
    DnsName, NetBiosName), C(ActiveDirectoryConfig.GroupManagedServiceAccounts) (the account scoped by the
    domain's DNS name and by its NetBIOS name, then the additional accounts) and the optional
    C(HostAccountConfig) of the portable CCG plugin for hosts that are not domain members. Where it differs, it
    is said in the guide "gMSA for containers" - the account name is the directory's spelling, the keys have a
    fixed order, the plugin is not limited to Azure Key Vault.
  - Before anything is written, each account is checked - it exists, is a gMSA, is enabled, is not outbound-only
    when O(inbound=true), and each of O(container_hosts) (and O(host_account_config.retriever)) is among its
    effective retrievers as M(gmsa.farm.gmsa_info) computes them (nested groups and primary groups expanded).
    Any failure fails the task naming the account and the host, and nothing is written, for any spec of the task.
  - Writes the JSON to O(path) and a Kubernetes manifest (the C(GMSACredentialSpec), and the C(ClusterRole) and
    C(RoleBinding) that let service accounts C(use) it) to O(kubernetes.path) on the host that runs the module
    (the controller); to put the spec on a Windows container host, copy RV(content) there (the
    C(gmsa.farm.directory) role does so with C(ansible.windows.win_copy)).
  - Reads the domain with one search (the domain's and the forest root's crossRef objects, the domain head's
    GUID and SID coming with them as an extended DN), the accounts with one, and the retrievers as
    M(gmsa.farm.gmsa_info) does, whatever the number of specs.
  - The CCG plugin input may hold a secret; it is never returned, shown in a diff or logged.
author:
  - gmsa.farm maintainers (@gmsa-farm)
extends_documentation_fragment:
  - gmsa.farm.ldap_connection
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    description: Reads and checks everything, reports what would be written and the diff, writes nothing.
  diff_mode:
    support: full
    description: Each file's text before and after, the CCG plugin input masked.
  idempotent:
    support: full
    description: A file is rewritten only when its text differs.
  platform:
    support: full
    platforms: posix
    description: Runs on the controller or execution environment; talks LDAP to the domain controller.
options:
  name:
    description:
      - The gMSA, by name (CN) or sAMAccountName (with or without C($)).
      - Give O(name) or O(specs).
    type: str
  specs:
    description:
      - Several credential specs in one task (an estate or a farm). Every spec is read and checked before the first
        file is written.
      - Each entry takes the single-spec options, with the same meaning and defaults.
    type: list
    elements: dict
    suboptions:
      name:
        description: The gMSA, as O(name).
        type: str
        required: true
      additional_accounts:
        description: As O(additional_accounts).
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The gMSA's name.
            type: str
            required: true
          domain:
            description: Its domain's DNS name; this domain when left out.
            type: str
      container_hosts:
        description: As O(container_hosts).
        type: list
        elements: str
        default: []
      inbound:
        description: As O(inbound).
        type: bool
        default: true
      host_account_config:
        description: As O(host_account_config).
        type: dict
        suboptions:
          plugin_guid:
            description: As O(host_account_config.plugin_guid).
            type: str
            required: true
          plugin_input:
            description: As O(host_account_config.plugin_input); never returned or logged.
            type: str
            required: true
          portable_ccg_version:
            description: As O(host_account_config.portable_ccg_version).
            type: str
            default: '1'
          retriever:
            description: As O(host_account_config.retriever).
            type: str
      path:
        description: As O(path).
        type: path
      kubernetes:
        description: As O(kubernetes).
        type: dict
        suboptions:
          name:
            description: As O(kubernetes.name).
            type: str
          service_accounts:
            description: As O(kubernetes.service_accounts).
            type: list
            elements: dict
            default: []
            suboptions:
              name:
                description: The service account's name.
                type: str
                required: true
              namespace:
                description: Its namespace.
                type: str
                required: true
          role_name:
            description: As O(kubernetes.role_name).
            type: str
          path:
            description: As O(kubernetes.path).
            type: path
      state:
        description: As O(state).
        type: str
        choices: [present, absent]
        default: present
  additional_accounts:
    description:
      - More gMSAs the container may use, each a C(name) and optionally the C(domain) (DNS name) they are in,
        by default this domain. Written as New-CredentialSpec writes them, one entry scoped by that domain.
      - Accounts of this domain are checked like O(name) (exists, gMSA, enabled); those of another domain are
        written unchecked, with a warning.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The gMSA's name (CN or sAMAccountName).
        type: str
        required: true
      domain:
        description: Its domain's DNS name; this domain when left out.
        type: str
  container_hosts:
    description:
      - The domain-member container hosts that will run the containers, by computer name (C(web01), C(WEB01$),
        C(web01.example.com) or C(EXAMPLE\\web01)). Each must be among the gMSA's effective retrievers.
    type: list
    elements: str
    default: []
  inbound:
    description:
      - Whether the containers accept Kerberos with this identity (web sites, SQL Server). Then an outbound-only
        gMSA (no dNSHostName and no SPN) is refused. Set C(false) for containers that only connect out.
    type: bool
    default: true
  host_account_config:
    description:
      - For container hosts that are not domain members, the portable Container Credential Guard (CCG) plugin
        that fetches the credentials of an account allowed to retrieve the gMSA password (C(HostAccountConfig)).
    type: dict
    suboptions:
      plugin_guid:
        description:
          - The plugin's COM class GUID in braces, for example C({CCC2A336-D7F3-4818-A213-272B7924213E}) (Azure
            Key Vault, what C(New-CredentialSpec -AKV) writes) or the one your plugin documents.
        type: str
        required: true
      plugin_input:
        description:
          - What the plugin needs to find the credentials (for Azure Key Vault
            C(ObjectId=<id>;SecretUri=<uri>)). May hold a secret; never returned or logged.
        type: str
        required: true
      portable_ccg_version:
        description: C(PortableCcgVersion). Windows documents only C(1).
        type: str
        default: '1'
      retriever:
        description:
          - The account (sAMAccountName) whose credentials the plugin fetches; checked among the gMSA's effective
            retrievers like O(container_hosts).
        type: str
  path:
    description:
      - Write the JSON here, on the host that runs the module. The folder must exist.
      - Without it the spec is only returned. New-CredentialSpec's file name is RV(file_name).
      - Unless O(mode) is given, a new file gets C(0600) when it holds a CCG plugin input, C(0644) otherwise.
    type: path
  kubernetes:
    description:
      - Also build the Kubernetes C(GMSACredentialSpec) (C(windows.k8s.io/v1)) and, for O(kubernetes.service_accounts),
        the C(ClusterRole) that may C(use) it and a C(RoleBinding) in each of their namespaces.
    type: dict
    suboptions:
      name:
        description:
          - The resource's name (a pod's C(securityContext.windowsOptions.gmsaCredentialSpecName)); lower case.
          - Defaults to the gMSA's name in lower case.
        type: str
      service_accounts:
        description: Service accounts whose pods may use the spec.
        type: list
        elements: dict
        default: []
        suboptions:
          name:
            description: The service account's name.
            type: str
            required: true
          namespace:
            description: Its namespace (a RoleBinding is made in each).
            type: str
            required: true
      role_name:
        description: The ClusterRole's name. Defaults to C(<name>-use); each RoleBinding is named C(<name>-use).
        type: str
      path:
        description: Write the manifest (multi-document YAML, for C(kubectl apply -f)) here.
        type: path
  state:
    description:
      - C(present) builds, checks and writes. C(absent) removes O(path) and O(kubernetes.path) and reads nothing
        from the directory (decommissioning, or before the gMSA is deleted).
    type: str
    choices: [present, absent]
    default: present
notes:
  - It only reads the directory. Measured on Samba 4.22, a domain user with no other rights gets the same
    document and retrievers as an administrator. The retriever check needs read access to each gMSA's
    C(msDS-GroupMSAMembership); where the bound account may not read it, the check fails and says so.
  - Containers get the gMSA's tickets through the container host, which must be able to retrieve the password
    (a domain member in the allowed principals, directly or through a group) or, on a host that is not a domain
    member, through the CCG plugin and the account it uses.
seealso:
  - module: gmsa.farm.gmsa
  - module: gmsa.farm.gmsa_info
  - name: Create gMSAs for Windows containers
    description: Microsoft's guide, with New-CredentialSpec.
    link: https://learn.microsoft.com/en-us/virtualization/windowscontainers/manage-containers/manage-serviceaccounts
  - name: Configure GMSA for Windows Pods and containers
    description: The Kubernetes documentation (GMSACredentialSpec, ClusterRole, RoleBinding).
    link: https://kubernetes.io/docs/tasks/configure-pod-container/configure-gmsa/
'''

EXAMPLES = r'''
- name: Credential spec for Docker on a domain-member container host
  gmsa.farm.credential_spec:
    name: WebApp01
    container_hosts: [ctrhost01, ctrhost02]
    path: /srv/credspecs/contoso_webapp01.json
  register: spec

- name: Put it where Docker looks (then docker run --security-opt "credentialspec=file://contoso_webapp01.json")
  ansible.windows.win_copy:
    content: "{{ spec.content }}"
    dest: C:\ProgramData\Docker\CredentialSpecs\{{ spec.file_name }}
  delegate_to: ctrhost01

- name: Kubernetes - the GMSACredentialSpec, and the RBAC for the default service account of namespace web
  gmsa.farm.credential_spec:
    name: WebApp01
    container_hosts: [k8swin01, k8swin02]
    kubernetes:
      name: webapp01
      service_accounts:
        - name: default
          namespace: web
      path: /srv/k8s/webapp01-gmsa.yml

- name: Hosts that are not domain members (ECS domainless, AKS); the CCG plugin fetches the credentials of svc-ccg
  gmsa.farm.credential_spec:
    name: WebApp01
    host_account_config:
      plugin_guid: "{{ ccg_plugin_guid }}"      # the GUID the plugin's documentation gives
      plugin_input: "{{ ccg_plugin_input }}"    # what that plugin needs; may hold a secret
      retriever: svc-ccg
    path: /srv/credspecs/webapp01-ecs.json

- name: Every spec of an estate in one task (all checked before any is written)
  gmsa.farm.credential_spec:
    specs:
      - name: WebApp01
        container_hosts: [ctrhost01]
        path: /srv/credspecs/webapp01.json
      - name: Batch01
        inbound: false
        additional_accounts:
          - name: Reports01
        path: /srv/credspecs/batch01.json
'''

RETURN = r'''
credential_spec:
  description: The credential spec (a C(HostAccountConfig.PluginInput) masked). With O(specs), see RV(credential_specs).
  returned: success, with O(name) and O(state=present)
  type: dict
  sample:
    CmsPlugins: [ActiveDirectory]
    DomainJoinConfig:
      Sid: S-1-5-21-702590844-1001920913-2680819671
      MachineAccountName: WebApp01
      Guid: 56d9b66c-d746-4f87-bd26-26760cfdca2e
      DnsTreeName: contoso.com
      DnsName: contoso.com
      NetBiosName: CONTOSO
    ActiveDirectoryConfig:
      GroupManagedServiceAccounts:
        - {Name: WebApp01, Scope: contoso.com}
        - {Name: WebApp01, Scope: CONTOSO}
content:
  description: The JSON text as written to O(path) (a plugin input masked).
  returned: success, with O(name) and O(state=present)
  type: str
file_name:
  description: The file name New-CredentialSpec would give it (C(<netbios>_<account>.json), lower case).
  returned: success, with O(name) and O(state=present)
  type: str
  sample: contoso_webapp01.json
path:
  description: O(path), when given.
  returned: with O(name), when O(path) is given
  type: str
kubernetes_manifest:
  description: The Kubernetes documents (GMSACredentialSpec, then ClusterRole and RoleBindings when service
    accounts are given).
  returned: with O(name), when O(kubernetes) is given
  type: list
  elements: dict
kubernetes_content:
  description: The manifest as YAML (a plugin input masked).
  returned: with O(name), when O(kubernetes) is given
  type: str
kubernetes_path:
  description: O(kubernetes.path), when given.
  returned: with O(name), when O(kubernetes.path) is given
  type: str
removed:
  description: With O(state=absent), the files removed (or that would be, in check mode).
  returned: with O(name) and O(state=absent)
  type: list
  elements: str
account:
  description: The gMSA's distinguished name and sAMAccountName, and its effective retrievers (gmsa_info's answer).
  returned: success, with O(name) and O(state=present)
  type: dict
domain:
  description: The domain facts the spec holds (dns_name, netbios_name, guid, sid, dns_tree_name, distinguished_name).
  returned: success, when O(state=present)
  type: dict
credential_specs:
  description: With O(specs), one entry per spec with the keys above (and C(name), C(changed)).
  returned: success, with O(specs)
  type: list
  elements: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gmsa.farm.plugins.module_utils._credential_spec_task import argument_spec, module_kwargs, run


def main():
    module = AnsibleModule(argument_spec=argument_spec(), **module_kwargs())
    run(module)


if __name__ == '__main__':
    main()
