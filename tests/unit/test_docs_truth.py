"""What the guides and role specs say about the code is true: the action group's modules, the role's fallback,
the one module that reads a managed password, version_added values not beyond the collection's version."""
from __future__ import annotations

import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RST = os.path.join(REPO, 'docs', 'docsite', 'rst')


def read(*parts):
    return open(os.path.join(REPO, *parts)).read()


def test_connection_guide_names_every_module_of_the_action_group():
    group = yaml.safe_load(read('meta', 'runtime.yml'))['action_groups']['ldap']
    text = re.sub(r'\s+', ' ', read('docs', 'docsite', 'rst', 'guide_connection.rst'))
    intro = text[:text.index('Give them once')]
    named = re.findall(r'``([a-z_]+)``', intro)
    modules = [n for n in named if n in group or n.startswith(('gmsa', 'kds', 'domain', 'host', 'computer', 'ou_', 'service', 'credential'))]
    assert sorted(modules) == sorted(group)
    assert 'the %s of the ``gmsa.farm.ldap`` action group' % {8: 'eight', 9: 'nine', 10: 'ten'}.get(len(group), len(group)) in intro


def test_directory_role_spec_does_not_promise_a_localsystem_fallback():
    spec = yaml.safe_load(read('roles', 'directory', 'meta', 'argument_specs.yml'))
    opt = spec['argument_specs']['main']['options']['gmsa_farm']['options']['fallback_account']
    assert 'default' not in opt
    assert 'least-privileged' in ' '.join(opt['description'])


def test_security_guide_names_the_module_that_reads_a_managed_password():
    text = re.sub(r'\s+', ' ', read('docs', 'docsite', 'rst', 'guide_security.rst'))
    readers = [f for f in os.listdir(os.path.join(REPO, 'plugins', 'modules'))
               if f.endswith('.py') and "'msDS-ManagedPassword'" in read('plugins', 'modules', f)]
    readers += [f for f in os.listdir(os.path.join(REPO, 'plugins', 'module_utils'))
                if f.endswith('.py') and "'msDS-ManagedPassword'" in read('plugins', 'module_utils', f)]
    assert readers, 'no module reads msDS-ManagedPassword any more: update the guide'
    assert '``gmsa_keytab``' in text and 'no directory module reads it' in text


def test_version_added_is_the_first_release():
    version = yaml.safe_load(read('galaxy.yml'))['version']
    found = []
    for root, _dirs, files in os.walk(os.path.join(REPO, 'plugins')):
        for f in files:
            if f.endswith(('.py', '.yml')):
                found += re.findall(r'version_added: *[\'"]?([0-9.]+)', open(os.path.join(root, f)).read())
    versions = [tuple(int(x) for x in v.split('.')) for v in found]
    # 1.0.0 is the first release: nothing was added before it, nor after the version being built
    assert found and min(versions) >= (1, 0, 0) and max(versions) <= tuple(int(x) for x in version.split('.'))
