# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credential specs for Windows containers (Docker, Kubernetes, ECS) built from the directory.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

A credential spec is the JSON document Microsoft's ``New-CredentialSpec`` (the CredentialSpec PowerShell module)
writes: ``CmsPlugins``, ``DomainJoinConfig`` (the gMSA stands in for the container's computer account) and
``ActiveDirectoryConfig`` (the gMSA scoped by the domain's DNS and NetBIOS names, additional accounts, and the
optional ``HostAccountConfig`` of the portable CCG plugin for hosts that are not domain members).

I/O happens at one end only (``read_domain``: one search of CN=Partitions); everything else is pure: building the
document, checking the account against the audit's answer, the Kubernetes manifest, rendering and the diff.
"""
from __future__ import annotations

import copy
import json
import re
import uuid
from collections import OrderedDict

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._values import escape, single
from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str

# LDAP_SERVER_EXTENDED_DN_OID (MS-ADTS 3.1.1.3.4.1.5): a DN value comes as <GUID=hex>;<SID=hex>;DN, the GUID's hex
# being objectGUID's bytes as stored. Measured on Samba 4.22: the nCName of the domain's crossRef carries the
# domain head's objectGUID and objectSid this way, so one search gives every DomainJoinConfig field.
EXTENDED_DN_OID = '1.2.840.113556.1.4.529'

CMS_PLUGIN = 'ActiveDirectory'
PORTABLE_CCG_VERSION = '1'
# The plugin New-CredentialSpec -AKV writes (Azure Key Vault, CCG version 2); other plugins bring their own GUID.
AKV_PLUGIN_GUID = '{CCC2A336-D7F3-4818-A213-272B7924213E}'
MASK = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'

K8S_API_VERSION = 'windows.k8s.io/v1'
K8S_KIND = 'GMSACredentialSpec'
K8S_GROUP = 'windows.k8s.io'
K8S_RESOURCE = 'gmsacredentialspecs'
# Kubernetes object names: RFC 1123 subdomain (lower case, digits, '-' and '.', at most 253 characters);
# namespaces and service accounts: RFC 1123 label (at most 63).
_SUBDOMAIN = re.compile(r'^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')
_LABEL = re.compile(r'^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
_PLUGIN_GUID = re.compile(r'^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$')

UAC_ACCOUNTDISABLE = 0x2


class SpecError(ValueError):
    """A spec that must not be built or written; nothing is written."""


# --------------------------------------------------------------------------- reading the domain (one search)

def parse_extended_dn(value):
    """``<GUID=..>;<SID=..>;DN`` → (dn, guid string or None, sid string or None); hex or string forms."""
    if isinstance(value, bytes):
        value = value.decode('utf-8')
    guid = sid = None
    while value.startswith('<'):
        part, _sep, value = value.partition('>;')
        key, _eq, data = part[1:].partition('=')
        key = key.upper()
        if key == 'GUID' and data:
            guid = str(uuid.UUID(data)) if '-' in data else str(uuid.UUID(bytes_le=bytes.fromhex(data)))
        elif key == 'SID' and data:
            sid = data.upper() if data.upper().startswith('S-') else sid_to_str(bytes.fromhex(data))
    return value, guid, sid


def domain_from_partitions(default_nc, root_nc, entries):
    """Pure: the crossRef entries of the domain and of the forest root → the DomainJoinConfig facts.

    Field by field what ``Get-ADDomain`` gives ``New-CredentialSpec``: DNSRoot (the domain crossRef's dnsRoot),
    NetBIOSName (its nETBIOSName), ObjectGUID and DomainSID (the domain head), Forest (the forest root domain's
    dnsRoot)."""
    domain = root = None
    for e in entries:
        dn, guid, sid = parse_extended_dn(single(e['attributes'].get('nCName')) or '')
        facts = dict(dn=dn, guid=guid, sid=sid, dns=single(e['attributes'].get('dnsRoot')),
                     netbios=single(e['attributes'].get('nETBIOSName')))
        if dn.lower() == default_nc.lower():
            domain = facts
        if dn.lower() == (root_nc or default_nc).lower():
            root = facts
    if domain is None or not domain['dns'] or not domain['netbios']:
        raise DirectoryError('the domain %s has no crossRef with dnsRoot and nETBIOSName in CN=Partitions: the '
                             'credential spec needs both' % default_nc)
    if root is None or not root['dns']:
        raise DirectoryError('the forest root domain %s has no crossRef with dnsRoot in CN=Partitions (the '
                             'credential spec\'s DnsTreeName)' % root_nc)
    return dict(dns_name=domain['dns'], netbios_name=domain['netbios'], guid=domain['guid'], sid=domain['sid'],
                dns_tree_name=root['dns'], distinguished_name=domain['dn'])


def read_domain(directory):
    """Every domain field of a credential spec: rootDSE (cached by the connection) and one search of the
    domain's and the forest root's crossRef objects, their nCName read as an extended DN. When a DC gives no
    GUID or SID there (not seen on Samba 4.22; Windows documents them), one base search of the domain head."""
    default_nc, root_nc = directory.default_nc, directory.root_domain_nc or directory.default_nc
    flt = '(&(objectClass=crossRef)(|(nCName=%s)(nCName=%s)))' % (escape(default_nc), escape(root_nc))
    entries = directory.search('CN=Partitions,%s' % directory.configuration_nc, flt,
                               ['nCName', 'dnsRoot', 'nETBIOSName'], scope='one',
                               controls=[(EXTENDED_DN_OID, False, None)])
    facts = domain_from_partitions(default_nc, root_nc, entries)
    if not facts['guid'] or not facts['sid']:
        head = directory.search(default_nc, '(objectClass=*)', ['objectGUID', 'objectSid'], scope='base')
        raw = head[0]['raw'] if head else {}
        if raw.get('objectGUID'):
            facts['guid'] = str(uuid.UUID(bytes_le=bytes(raw['objectGUID'][0])))
        if raw.get('objectSid'):
            facts['sid'] = sid_to_str(bytes(raw['objectSid'][0]))
    return facts


# --------------------------------------------------------------------------- the document (pure)

def account_name(sam):
    """sAMAccountName → the name a credential spec uses (no trailing $), as New-CredentialSpec trims it."""
    return sam[:-1] if sam.endswith('$') else sam


def additional_entries(additional, domain):
    """Additional accounts → (Name, Scope) pairs, as New-CredentialSpec writes them: one entry each, scoped by
    the domain given (DNS name; this domain when none is given)."""
    out = []
    for a in additional or []:
        out.append((account_name(a['name']), a.get('domain') or domain['dns_name']))
    return out


def build_spec(domain, sam, additional=(), host_account=None):
    """The credential spec of gMSA ``sam`` (its sAMAccountName) in ``domain`` (read_domain's answer).

    Keys in the order Microsoft's documented example shows; New-CredentialSpec builds the same keys from
    PowerShell hashtables (no fixed order)."""
    name = account_name(sam)
    accounts = [OrderedDict([('Name', name), ('Scope', domain['dns_name'])]),
                OrderedDict([('Name', name), ('Scope', domain['netbios_name'])])]
    for extra_name, scope in additional_entries(additional, domain):
        accounts.append(OrderedDict([('Name', extra_name), ('Scope', scope)]))
    ad = OrderedDict([('GroupManagedServiceAccounts', accounts)])
    if host_account:
        ad['HostAccountConfig'] = OrderedDict([
            ('PortableCcgVersion', str(host_account.get('portable_ccg_version') or PORTABLE_CCG_VERSION)),
            ('PluginGUID', host_account['plugin_guid']),
            ('PluginInput', host_account['plugin_input']),
        ])
    return OrderedDict([
        ('CmsPlugins', [CMS_PLUGIN]),
        ('DomainJoinConfig', OrderedDict([
            ('Sid', domain['sid']),
            ('MachineAccountName', name),
            ('Guid', domain['guid']),
            ('DnsTreeName', domain['dns_tree_name']),
            ('DnsName', domain['dns_name']),
            ('NetBiosName', domain['netbios_name']),
        ])),
        ('ActiveDirectoryConfig', ad),
    ])


def masked(spec):
    """A copy that can be shown and returned: the CCG plugin input (it may hold a secret) replaced."""
    out = copy.deepcopy(spec)
    ad = out.get('ActiveDirectoryConfig') if isinstance(out, dict) else None
    hac = ad.get('HostAccountConfig') if isinstance(ad, dict) else None
    if isinstance(hac, dict) and 'PluginInput' in hac:
        hac['PluginInput'] = MASK
    return out


def render_json(spec):
    """The file's text: 4-space indented JSON, ASCII only (New-CredentialSpec writes ASCII too), newline ended."""
    return json.dumps(spec, indent=4, ensure_ascii=True) + '\n'


def default_file_name(domain, sam):
    """New-CredentialSpec's default: ``<netbios>_<account>.json``, lower case."""
    return '%s_%s.json' % (domain['netbios_name'].lower(), account_name(sam).lower())


def default_resource_name(sam):
    """A Kubernetes object name for the gMSA's spec: lower case (Kubernetes refuses upper case names)."""
    return re.sub(r'[^a-z0-9-]+', '-', account_name(sam).lower()).strip('-')


# --------------------------------------------------------------------------- checks (pure)

def validate_host_account(option, value):
    if not value:
        return None
    guid = value.get('plugin_guid') or ''
    if not _PLUGIN_GUID.match(guid):
        raise SpecError('%s.plugin_guid: %r is not a COM class GUID in braces such as %s'
                        % (option, guid, AKV_PLUGIN_GUID))
    if not value.get('plugin_input'):
        raise SpecError('%s.plugin_input is empty: the CCG plugin needs its input (what it uses to find the '
                        'credentials of the account that retrieves the gMSA password)' % option)
    version = str(value.get('portable_ccg_version') or PORTABLE_CCG_VERSION)
    if version != PORTABLE_CCG_VERSION:
        raise SpecError('%s.portable_ccg_version: %r is not a version Windows documents (only "1")'
                        % (option, version))
    return value


def validate_kubernetes(option, value):
    if not value:
        return None
    for key in ('name', 'role_name'):
        if value.get(key) and not _SUBDOMAIN.match(value[key]):
            raise SpecError('%s.%s: %r is not a Kubernetes object name (lower-case letters, digits, "-" and ".", '
                            'starting and ending with a letter or digit, at most 253 characters)'
                            % (option, key, value[key]))
    for i, sa in enumerate(value.get('service_accounts') or []):
        for key in ('name', 'namespace'):
            if not _LABEL.match(sa.get(key) or ''):
                raise SpecError('%s.service_accounts[%d].%s: %r is not a Kubernetes name (lower-case letters, '
                                'digits and "-", at most 63 characters)' % (option, i, key, sa.get(key)))
    return value


def host_sam(host):
    """A container host as given (``web01``, ``WEB01$``, ``web01.example.com``, ``EXAMPLE\\web01``) → the
    sAMAccountName of its computer account, for comparison with the effective retrievers."""
    h = host.strip()
    if '\\' in h:
        h = h.split('\\', 1)[1]
    if h.endswith('$'):
        return h
    return h.split('.', 1)[0].upper() + '$'


def account_problems(report, container_hosts, inbound, ccg_retriever=None):
    """What forbids writing a spec for this account (gmsa_info's report of it): (problems, warnings).

    - it must be a group managed service account, and enabled;
    - with inbound use (containers that accept Kerberos: web sites, SQL Server) it needs SPNs: an outbound-only
      gMSA (no dNSHostName, no SPN) cannot be a service's identity;
    - every container host named (domain members, by computer name) must be among its effective retrievers, and
      so must ``ccg_retriever``, the account a portable CCG plugin on hosts that are not domain members uses.
      When the grants cannot be enumerated (Authenticated Users, another domain) one not listed is a warning.
    """
    name = report['sam_account_name']
    problems, warnings = [], []
    if report['account_type'] != 'group':
        problems.append('%s is a %s managed service account: containers run only as a group managed service '
                        'account (gMSA)' % (name, report['account_type']))
    if not report['enabled']:
        problems.append('%s is disabled: a container running as it gets no Kerberos tickets. Enable it first '
                        '(gmsa.farm.gmsa enabled=true)' % name)
    if inbound and report['outbound_auth_only']:
        problems.append('%s is outbound-only (no dNSHostName and no SPN) but the spec is for inbound use: clients '
                        'cannot get tickets for a service running as it. Give it dns_hostname and spn, or set '
                        'inbound=false for containers that only connect out' % name)
    retrievers = set(r.lower() for r in report['effective_retrievers'])
    wanted = [('container host', h, host_sam(h)) for h in container_hosts or []]
    if ccg_retriever:
        wanted.append(('CCG plugin account', ccg_retriever, ccg_retriever.split('\\', 1)[-1]))
    for what, given, sam in wanted:
        if sam.lower() in retrievers:
            continue
        listed = ', '.join(report['effective_retrievers']) or (
            'none: msDS-GroupMSAMembership allows no one, or the bound account may not read it'
            if not report.get('allowed_principals') else 'none')
        if report['retrievers_unbounded']:
            warnings.append('%s: %s %s is not among the retrievers that could be enumerated (%s); %s'
                            % (name, what, given, listed, '; '.join(report['unbounded_reasons'])))
        else:
            problems.append('%s: %s %s cannot retrieve its password (effective retrievers: %s). Grant it first '
                            '(gmsa.farm.gmsa allowed_to_retrieve_password, or the farm\'s host group)'
                            % (name, what, given, listed))
    return problems, warnings


# --------------------------------------------------------------------------- Kubernetes (pure)

def kubernetes_documents(spec, resource_name, service_accounts=(), role_name=None):
    """The GMSACredentialSpec resource, and (for service accounts) the ClusterRole that may ``use`` it and one
    RoleBinding per namespace: the windows-gmsa webhook asks a LocalSubjectAccessReview in the pod's namespace
    for verb ``use`` on the resource, as the Kubernetes documentation "Configure GMSA for Windows Pods and
    containers" describes."""
    docs = [OrderedDict([('apiVersion', K8S_API_VERSION), ('kind', K8S_KIND),
                         ('metadata', OrderedDict([('name', resource_name)])),
                         ('credspec', copy.deepcopy(spec))])]
    if not service_accounts:
        return docs
    role = role_name or '%s-use' % resource_name
    docs.append(OrderedDict([
        ('apiVersion', 'rbac.authorization.k8s.io/v1'), ('kind', 'ClusterRole'),
        ('metadata', OrderedDict([('name', role)])),
        ('rules', [OrderedDict([('apiGroups', [K8S_GROUP]), ('resources', [K8S_RESOURCE]), ('verbs', ['use']),
                                ('resourceNames', [resource_name])])]),
    ]))
    by_ns = OrderedDict()
    for sa in service_accounts:
        by_ns.setdefault(sa['namespace'], [])
        if sa['name'] not in by_ns[sa['namespace']]:
            by_ns[sa['namespace']].append(sa['name'])
    for ns, names in by_ns.items():
        docs.append(OrderedDict([
            ('apiVersion', 'rbac.authorization.k8s.io/v1'), ('kind', 'RoleBinding'),
            ('metadata', OrderedDict([('name', '%s-use' % resource_name), ('namespace', ns)])),
            ('subjects', [OrderedDict([('kind', 'ServiceAccount'), ('name', n), ('namespace', ns)]) for n in names]),
            ('roleRef', OrderedDict([('kind', 'ClusterRole'), ('name', role),
                                     ('apiGroup', 'rbac.authorization.k8s.io')])),
        ]))
    return docs


def _plain(value):
    if isinstance(value, dict):
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def render_yaml(docs):
    """Multi-document YAML in the documents' key order (kubectl apply -f takes it)."""
    import yaml  # ansible-core depends on PyYAML

    class _Dumper(yaml.SafeDumper):
        pass

    _Dumper.add_representer(OrderedDict, lambda d, data: d.represent_mapping('tag:yaml.org,2002:map', data.items()))
    return ''.join('---\n' + yaml.dump(d, Dumper=_Dumper, default_flow_style=False, sort_keys=False, width=120)
                   for d in docs)


# --------------------------------------------------------------------------- files (pure)

def file_change(current, desired, shown_current=None, shown_desired=None):
    """(changed, diff) for a file whose text is ``current`` (None when absent) and should be ``desired``; the
    diff shows the ``shown_*`` texts (secrets masked) when given."""
    changed = current != desired
    before = shown_current if shown_current is not None else (current or '')
    after = shown_desired if shown_desired is not None else desired
    if changed and before == after:
        after += '# (a value hidden as a secret changes)\n'
    return changed, dict(before=before if current is not None else '', after=after)


def shown_text(text, secret, kind='json'):
    """A file's text as the diff may show it: every CCG plugin input masked, whatever its value (a file on disk
    may hold an older secret than the task's). The file is parsed (JSON, or the manifest's YAML) and re-rendered
    with the input masked; text that does not parse is not shown, only its size."""
    if text is None:
        return None
    try:
        if kind == 'yaml':
            import yaml  # ansible-core depends on PyYAML
            docs = list(yaml.safe_load_all(text))
            out = []
            for d in docs:
                if isinstance(d, dict) and isinstance(d.get('credspec'), dict):
                    d = dict(d, credspec=masked(d['credspec']))
                out.append(d)
            shown = render_yaml(out)
        else:
            shown = render_json(masked(json.loads(text, object_pairs_hook=OrderedDict)))
    except Exception:  # pylint: disable=broad-except  # any unparsable text is summarised, never shown
        return '(%d bytes that are not a credential spec)\n' % len(text)
    if secret and secret in shown:
        return '(%d bytes with a secret outside PluginInput)\n' % len(text)
    return shown
