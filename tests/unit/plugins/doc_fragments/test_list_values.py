"""The list_values doc fragment: every module with add/remove/set options uses it, ansible-doc renders its notes
once per module, and every such option's suboptions are documented as the argument spec has them."""
from __future__ import annotations

import json
import os
import re
import subprocess

import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
MODULES = os.path.join(REPO, 'plugins', 'modules')


def _docs():
    out = {}
    for f in sorted(os.listdir(MODULES)):
        if f.endswith('.py'):
            text = open(os.path.join(MODULES, f)).read()
            m = re.search(r"DOCUMENTATION = r'''(.*?)'''", text, re.S)
            out[f[:-3]] = yaml.safe_load(m.group(1))
    return out


def _list_options(options, prefix=''):
    for name, option in (options or {}).items():
        sub = option.get('suboptions') or {}
        if {'add', 'remove', 'set'} <= set(sub):
            yield prefix + name, sub
        yield from _list_options(sub, prefix + name + '.')


def test_every_module_with_add_remove_set_options_uses_the_fragment_and_no_other_does():
    using = dict((m, 'gmsa.farm.list_values' in (d.get('extends_documentation_fragment') or []))
                 for m, d in _docs().items())
    with_lists = dict((m, [name for name, _sub in _list_options(d.get('options'))]) for m, d in _docs().items())
    assert dict((m, bool(v)) for m, v in with_lists.items()) == using
    assert with_lists['gmsa'] == ['attributes', 'kerberos_encryption_types', 'spn', 'allowed_to_retrieve_password',
                                  'allowed_to_delegate_to', 'delegates']
    assert with_lists['host_group'] == ['members'] and with_lists['service_user'] == ['spn']


def test_ansible_doc_renders_the_notes_once_and_every_suboption():
    p = subprocess.run(['ansible-doc', '--json', '-t', 'module', 'gmsa.farm.gmsa', 'gmsa.farm.host_group',
                        'gmsa.farm.service_user'], capture_output=True, text=True, check=False)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr
    rendered = json.loads(p.stdout)
    for module, doc in rendered.items():
        notes = [n for n in doc['doc']['notes'] if n.startswith('List values. ')]
        assert len(notes) == 1 and 'C(set=[]) removes them all' in notes[0], module
        for name, sub in _list_options(doc['doc']['options']):
            for key in ('add', 'remove', 'set'):
                assert sub[key]['description'] and sub[key]['type'] in ('list', 'dict'), (module, name, key)
    enctypes = rendered['gmsa.farm.gmsa']['doc']['options']['kerberos_encryption_types']['suboptions']
    assert enctypes['set']['choices'] == ['aes128', 'aes256', 'rc4', 'des']
