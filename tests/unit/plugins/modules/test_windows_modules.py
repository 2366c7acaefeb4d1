"""Windows modules, checked where no Windows exists: each sidecar .yml matches the module's $spec exactly
(options, types, defaults, choices, required), the parse check really catches syntax errors, the C# util
compiles, and the action plugins' argument specs match their documentation."""
from __future__ import annotations

import glob
import os
import re
import sys

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), *[os.pardir] * 4))
MODULES = sorted(glob.glob(os.path.join(REPO, 'plugins', 'modules', '*.ps1')))
sys.path.insert(0, os.path.join(REPO, 'tests', 'windows'))

OPTION_LINE = re.compile(r'^\s*(\w+)\s*=\s*@\{(.*)\}\s*$')


def _value(text):
    text = text.strip()
    if text in ('$true', '$false'):
        return text == '$true'
    if re.fullmatch(r'-?\d+', text):
        return int(text)
    items = [i.strip() for i in text.split(',')]
    if all(re.fullmatch(r"'[^']*'", i) for i in items):
        vals = [i[1:-1] for i in items]
        return vals if len(vals) > 1 or ',' in text else vals[0]
    raise AssertionError('cannot read PowerShell value %r (keep $spec to literals)' % text)


def ps_spec(path):
    """$spec.options of a module, read from its source. Each option must be one line: name = @{ k = v; ... }."""
    src = open(path).read()
    m = re.search(r'\$spec = @\{\s*options = @\{\n(.*?)\n    \}\n', src, re.S)
    assert m, '%s: $spec.options block not found in the expected layout' % path
    spec = {}
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        om = OPTION_LINE.match(line)
        assert om, '%s: option line not in the one-line form the check reads: %r' % (path, line)
        fields = {}
        for part in om.group(2).split(';'):
            k, v = part.split('=', 1)
            fields[k.strip()] = _value(v)
        spec[om.group(1)] = fields
    return spec


def doc_options(path):
    with open(path[:-4] + '.yml') as f:
        return yaml.safe_load(f)['DOCUMENTATION']['options']


@pytest.mark.parametrize('path', MODULES, ids=[os.path.basename(m) for m in MODULES])
def test_sidecar_docs_match_spec(path):
    spec, docs = ps_spec(path), doc_options(path)
    assert sorted(spec) == sorted(docs), 'options differ'
    for name, s in spec.items():
        d = docs[name]
        assert d.get('type', 'str') == s.get('type', 'str'), (name, 'type')
        assert d.get('default') == s.get('default'), (name, 'default')
        want_choices = s.get('choices')
        if isinstance(want_choices, str):
            want_choices = [want_choices]
        assert d.get('choices') == want_choices, (name, 'choices')
        assert bool(d.get('required', False)) == bool(s.get('required', False)), (name, 'required')
        assert d.get('description'), (name, 'description')


def test_spec_reader_catches_a_mismatch(tmp_path):
    ps = tmp_path / 'm.ps1'
    ps.write_text("$spec = @{\n    options = @{\n        a = @{ type = 'str'; default = 'x' }\n    }\n}\n")
    (tmp_path / 'm.yml').write_text(yaml.safe_dump(dict(DOCUMENTATION=dict(options=dict(
        a=dict(type='str', default='y', description='d'))))))
    with pytest.raises(AssertionError):
        test_sidecar_docs_match_spec(str(ps))


def test_parse_check_catches_syntax_errors(tmp_path):
    import check_sources
    bad = tmp_path / 'bad.ps1'
    bad.write_text('Function Broken {\n    if ($x -eq 1 {\n        Write-Output "no closing paren"\n    }\n')
    good = tmp_path / 'good.ps1'
    good.write_text('Function Fine {\n    param([int]$x)\n    if ($x -eq 1) { "one" }\n}\n')
    assert check_sources.check_powershell([str(good)]) == 0
    assert check_sources.check_powershell([str(bad)]) == 1


def test_compile_check_catches_errors(tmp_path):
    import check_sources
    bad = tmp_path / 'Bad.cs'
    bad.write_text('namespace X { public class Y { public void Z() { int a = "text"; } } }\n')
    assert check_sources.check_csharp([str(bad)]) == 1


def _action_modules():
    return sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, 'plugins', 'action', '*.py')))


@pytest.mark.parametrize('name', _action_modules())
def test_action_plugin_spec_matches_its_documentation(name):
    """The action plugins validate their arguments with the spec in plugin_utils; the docs-only module file must
    document exactly that spec."""
    import importlib
    logic = importlib.import_module('ansible_collections.gmsa.farm.plugins.plugin_utils._' + (
        'gmsa_host' if name == 'gmsa_host' else 'service_identity'))
    mod = importlib.import_module('ansible_collections.gmsa.farm.plugins.modules.' + name)
    docs = yaml.safe_load(mod.DOCUMENTATION)['options']
    spec = logic.ARGUMENT_SPEC
    assert sorted(spec) == sorted(docs)
    for opt, s in spec.items():
        d = docs[opt]
        for key in ('type', 'default', 'choices', 'required'):
            assert d.get(key, False if key == 'required' else None) == s.get(key, False if key == 'required' else None), (opt, key)


def test_no_decision_module_in_powershell_any_more():
    """The decisions moved to the controller (plugins/plugin_utils); the only PowerShell module is the primitive."""
    assert [os.path.basename(m) for m in MODULES] == ['host_native.ps1']
    assert not glob.glob(os.path.join(REPO, 'plugins', 'module_utils', '*.psm1'))
