"""The shapes of the real Windows modules the host-side action plugins drive, read from the installed collections.

For each module: the options its PowerShell source accepts (the ``$spec`` hashtable of an Ansible.Basic module, or
the ``Get-AnsibleParam`` calls of a legacy one: name, type, choices, required), and the result keys it returns
(its RETURN documentation, with the corrections its own source proves, see RETURN_CORRECTIONS). The failure texts
a module produces come from its source or from the module wrapper (FAILURES).

windows_sim.SimHost checks every call against these shapes, so every unit test that drives the plugins through the
simulated host also proves the plugins send only what the real modules accept, read only what they return, and
that the simulator answers as they do.
"""
from __future__ import annotations

import functools
import glob
import json
import os
import re

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, '.collections', 'ansible_collections')
OWN = os.path.join(REPO, 'plugins', 'modules')

MODULES = (
    'ansible.windows.win_service', 'ansible.windows.win_service_info', 'ansible.windows.win_user_right',
    'microsoft.iis.web_app_pool', 'microsoft.iis.web_app_pool_info',
    'community.windows.win_scheduled_task', 'community.windows.win_scheduled_task_stat',
    'gmsa.farm.host_native', 'ansible.windows.win_ping',
)


def module_wrapper_source():
    import ansible
    path = os.path.join(os.path.dirname(ansible.__file__), 'executor', 'powershell', 'module_wrapper.ps1')
    with open(path, encoding='utf-8') as f:
        return f.read()


def source_path(module):
    ns, coll, name = module.split('.')
    if module.startswith('gmsa.farm.'):
        return os.path.join(OWN, name + '.ps1')
    return os.path.join(COLLECTIONS, ns, coll, 'plugins', 'modules', name + '.ps1')


def read_source(module):
    with open(source_path(module), encoding='utf-8') as f:
        return f.read()


# ------------------------------------------------------------------------------------------ PowerShell literals
_TOKEN = re.compile(r"""
    (?P<ws>[ \t]+|`\n) | (?P<comment>\#[^\n]*) | (?P<nl>\n) |
    (?P<hash>@\{) | (?P<array>@\() | (?P<lbrace>\{) | (?P<rbrace>\}) | (?P<lparen>\() | (?P<rparen>\)) |
    (?P<sq>'(?:[^']|'')*') | (?P<dq>"(?:[^"`]|`.)*") |
    (?P<var>\$[A-Za-z_][\w:]*) | (?P<num>-?\d+) | (?P<word>[A-Za-z_][\w-]*) |
    (?P<eq>=) | (?P<semi>;) | (?P<comma>,) | (?P<other>.)
""", re.X)


class _Var(str):
    """A PowerShell variable the literal reader cannot evaluate (e.g. a type converter scriptblock)."""


def _tokens(text):
    out = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ('ws', 'comment'):
            continue
        out.append((kind, m.group()))
    return out


class _Reader:
    def __init__(self, tokens):
        self.t, self.i = tokens, 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, kind=None):
        tok = self.peek()
        assert kind is None or tok[0] == kind, 'expected %s, got %r' % (kind, tok)
        self.i += 1
        return tok

    def skip_nl(self):
        while self.peek()[0] in ('nl', 'semi'):
            self.i += 1

    def scalar(self):
        kind, text = self.take()
        if kind == 'sq':
            return text[1:-1].replace("''", "'")
        if kind == 'dq':
            return text[1:-1]
        if kind == 'num':
            return int(text)
        if kind == 'var':
            return {'$true': True, '$false': False, '$null': None}.get(text.lower(), _Var(text))
        if kind == 'hash':
            self.i -= 1
            return self.hashtable()
        if kind == 'array':
            items = []
            while True:
                self.skip_nl()
                if self.peek()[0] == 'rparen':
                    self.take()
                    return items
                items.append(self.scalar())
                if self.peek()[0] == 'comma':
                    self.take()
        if kind == 'comma':                          # the unary array operator: , 'x'
            return [self.scalar()]
        if kind == 'lbrace':                         # a scriptblock: skip it
            depth = 1
            while depth:
                kind = self.take()[0]
                depth += {'lbrace': 1, 'hash': 1, 'rbrace': -1}.get(kind, 0)
            return _Var('{scriptblock}')
        raise AssertionError('cannot read PowerShell value at %r' % text)

    def value(self):
        first = self.scalar()
        if self.peek()[0] != 'comma':
            return first
        items = [first]
        while self.peek()[0] == 'comma':
            self.take()
            self.skip_nl() if self.peek()[0] == 'nl' else None
            items.append(self.scalar())
        return items

    def hashtable(self):
        self.take('hash')
        out = {}
        while True:
            self.skip_nl()
            kind, text = self.peek()
            if kind == 'rbrace':
                self.take()
                return out
            key = self.take()[1]
            key = key[1:-1] if key[0] in '\'"' else key
            self.take('eq')
            out[key] = self.value()


def ps_spec(src):
    """The $spec hashtable of an Ansible.Basic module source."""
    m = re.search(r'^\$spec\s*=\s*(@\{)', src, re.M)
    assert m, 'no $spec in the module source'
    return _Reader(_tokens(src[m.start(1):])).hashtable()


_LEGACY = re.compile(r'Get-AnsibleParam\s+(?:-obj\s+)?\$params\s+(?:-name\s+)?"(\w+)"(.*)$', re.M)


def legacy_spec(src):
    """The options of a legacy (Parse-Args / Get-AnsibleParam) module source."""
    variables = dict(re.findall(r'^\$(\w+)\s*=\s*((?:"[^"]*"\s*,\s*)*"[^"]*")\s*$', src, re.M))
    options = {}
    for name, rest in _LEGACY.findall(src):
        if name.startswith('_ansible_'):
            continue
        rest = rest.split('#')[0]
        opt = {}
        t = re.search(r'-type\s+"(\w+)"', rest)
        opt['type'] = t.group(1) if t else 'raw'
        v = re.search(r'-validateset\s+((?:"[^"]*"\s*,\s*)*"[^"]*"|\$\w+)', rest)
        if v:
            text = v.group(1)
            text = variables.get(text[1:], text) if text.startswith('$') else text
            opt['choices'] = re.findall(r'"([^"]*)"', text)
        if '-failifempty $true' in rest:
            opt['required'] = True
        a = re.search(r'-aliases\s+((?:"[^"]*"\s*,\s*)*"[^"]*")', rest)
        if a:
            opt['aliases'] = re.findall(r'"([^"]*)"', a.group(1))
        options[name] = opt
    return options


# ------------------------------------------------------------------------------------------ docs
def _docs(module):
    ns, coll, name = module.split('.')
    base = os.path.join(OWN if module.startswith('gmsa.farm.') else
                        os.path.join(COLLECTIONS, ns, coll, 'plugins', 'modules'), name)
    if os.path.exists(base + '.yml'):
        with open(base + '.yml', encoding='utf-8') as f:
            data = yaml.safe_load(f)
        return data.get('DOCUMENTATION') or {}, data.get('RETURN') or {}
    with open(base + '.py', encoding='utf-8') as f:
        src = f.read()
    blocks = {}
    for key in ('DOCUMENTATION', 'RETURN'):
        m = re.search(r"^%s\s*=\s*r?'''(.*?)'''" % key, src, re.M | re.S) or \
            re.search(r'^%s\s*=\s*r?"""(.*?)"""' % key, src, re.M | re.S)
        blocks[key] = (yaml.safe_load(m.group(1)) if m else None) or {}
    return blocks['DOCUMENTATION'], blocks['RETURN']


def _tree(entries):
    """RETURN docs -> {key: subtree}: the keys of ``contains`` merged with those of the sample (a JSON string or
    YAML data, the first element of a list), since some modules document part of a result in each."""
    tree = {}
    for key, spec in (entries or {}).items():
        spec = spec or {}
        node = {}
        sample = spec.get('sample')
        if isinstance(sample, str) and sample.strip()[:1] in '[{':
            try:
                sample = json.loads(sample)
            except ValueError:
                sample = None
        if isinstance(sample, list):
            sample = sample[0] if sample and isinstance(sample[0], dict) else None
        if isinstance(sample, dict) and spec.get('type') in ('dict', 'complex', 'list'):
            node = _sample_tree(sample)
        if spec.get('contains'):
            node = _merge(node, _tree(spec['contains']))
        tree[key] = node
    return tree


def _merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out.get(k) or {}, v) if v or out.get(k) else {}
    return out


def _sample_tree(sample):
    return {k: (_sample_tree(v) if isinstance(v, dict) else {}) for k, v in sample.items()}


# Where a module's RETURN docs and its source disagree, the source is what runs. Each correction names the source
# text that proves it; test_module_shapes checks that text is still there (and the docs still wrong), so an
# upstream fix shows up.
RETURN_CORRECTIONS = {
    'ansible.windows.win_service_info': [
        # returned as win32_exit_code (its own integration tests assert that spelling); documented as win32_exitcode
        (('services', 'win32_exit_code'), 'add', 'win32_exit_code = $service.Win32ExitCode'),
        (('services', 'win32_exitcode'), 'remove', 'win32_exit_code = $service.Win32ExitCode'),
    ],
    'microsoft.iis.web_app_pool_info': [
        # the sample lists the pool attributes; processModel.password is never returned (filtered by name)
        (('app_pools', 'attributes', 'processModel', 'password'), 'remove', '-notlike "*password*"'),
    ],
}
# Keys Ansible adds to every module result (not in any RETURN): changed, failed, msg and friends.
COMMON_RESULT_KEYS = {'changed', 'failed', 'msg', 'exception', 'invocation', 'warnings', 'deprecations',
                      'skipped', 'diff', '_ansible_no_log'}


@functools.lru_cache(maxsize=None)
def shape(module):
    """{'options': {...}, 'returns': tree, 'docs_options': {...}} of one module."""
    src = read_source(module)
    options = ps_spec(src)['options'] if re.search(r'^\$spec\s*=', src, re.M) else legacy_spec(src)
    doc, ret = _docs(module)
    tree = _tree(ret)
    for path, op, proof in RETURN_CORRECTIONS.get(module, []):
        assert proof in src, '%s: the source no longer has %r; recheck the RETURN correction %s' % (
            module, proof, path)
        node = tree
        for p in path[:-1]:
            node = node.setdefault(p, {})
        if op == 'add':
            node[path[-1]] = {}
        else:
            node.pop(path[-1], None)
    return dict(options=options, returns=tree, docs_options=doc.get('options') or {})


# ------------------------------------------------------------------------------------------ checks
_PY_TYPES = {'str': str, 'bool': bool, 'int': int, 'list': list, 'dict': dict, 'path': str}


def check_args(module, args):
    """Raise AssertionError unless the real module accepts these arguments (names, types, choices, required)."""
    opts = shape(module)['options']
    names = dict((a, n) for n, o in opts.items() for a in [n] + list(o.get('aliases') or []))
    problems = []
    for key, value in args.items():
        if key not in names:
            problems.append('option %r is not accepted (accepts %s)' % (key, ', '.join(sorted(opts))))
            continue
        o = opts[names[key]]
        typ = o.get('type', 'str')
        want = _PY_TYPES.get(typ) if isinstance(typ, str) else None
        if want is not None and value is not None and not isinstance(value, want) or \
                (want is int and isinstance(value, bool)):
            problems.append('option %r=%r is not of type %s' % (key, value, typ))
        choices = o.get('choices')
        if isinstance(choices, str):
            choices = [choices]
        if choices and value is not None and value not in choices:
            problems.append('option %r=%r is not one of %s' % (key, value, choices))
        elements = o.get('elements')
        if elements in _PY_TYPES and isinstance(value, list):
            bad = [v for v in value if not isinstance(v, _PY_TYPES[elements])]
            if bad:
                problems.append('option %r has elements %r that are not %s' % (key, bad, elements))
    for n, o in opts.items():
        if o.get('required') and not any(a in args for a in [n] + list(o.get('aliases') or [])):
            problems.append('required option %r is missing' % n)
    assert not problems, '%s: %s (args %r)' % (module, '; '.join(problems), sorted(args))


def check_result(module, result, tree=None, where=''):
    """Raise AssertionError when a result has a key the real module never returns."""
    tree = shape(module)['returns'] if tree is None else tree
    for key, value in result.items():
        if not where and key in COMMON_RESULT_KEYS:
            continue
        assert key in tree, '%s returns no key %r%s (it returns %s)' % (module, key, where and ' in ' + where,
                                                                        ', '.join(sorted(tree)))
        sub = tree[key]
        if not sub:
            continue
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict):
                check_result(module, item, sub, '%s%s.' % (where, key))


# Account names the modules return, as Windows spells them. win_service_info returns the SCM's stored start name
# (what win_service or an installer wrote) except LocalSystem, which SCManager's Account getter turns into
# NT AUTHORITY\\SYSTEM; win_scheduled_task_stat's ConvertTo-NormalizedUser translates user_id through its SID, so
# built-ins read back only as NT AUTHORITY\\SYSTEM, NT AUTHORITY\\LOCAL SERVICE, NT AUTHORITY\\NETWORK SERVICE.
NEVER_SPELLED = {
    ('ansible.windows.win_service_info', 'services', 'username'): re.compile(r'^localsystem$', re.I),
    ('community.windows.win_scheduled_task_stat', 'principal', 'user_id'): re.compile(
        r'^(localsystem|system|local ?service|network ?service|\.\\.*|nt authority\\(localservice|networkservice))$',
        re.I),
}


def check_spelling(module, result):
    """Raise AssertionError when a result spells an account in a way the real module never returns."""
    for (mod, where, key), never in NEVER_SPELLED.items():
        if mod != module:
            continue
        items = result.get(where) or []
        for item in items if isinstance(items, list) else [items]:
            name = (item or {}).get(key) if isinstance(item, dict) else None
            assert not (isinstance(name, str) and never.match(name)), \
                '%s never returns %s %r (it is read back through a SID translation)' % (module, key, name)


def allowed(module, path):
    """The keys the real module returns at a path of the result ('' for the top, 'services' for its items)."""
    node = shape(module)['returns']
    for p in [p for p in path.split('.') if p]:
        node = node[p]
    return set(node) | (COMMON_RESULT_KEYS if not path else set())


class Tracked(dict):
    """A module result that fails the test when the plugin reads a key the real module never returns."""

    def __init__(self, module, data, path=''):
        super().__init__()
        self.module, self.path = module, path
        for k, v in data.items():
            dict.__setitem__(self, k, _wrap(module, v, '%s.%s' % (path, k) if path else k))

    def _check(self, key):
        keys = allowed(self.module, self.path)
        if keys and key not in keys:
            raise AssertionError('the plugin reads %r from %s%s, which the real module never returns '
                                 '(it returns %s)' % (key, self.module, self.path and ' ' + self.path,
                                                      ', '.join(sorted(keys))))

    def get(self, key, default=None):
        self._check(key)
        return dict.get(self, key, default)

    def __getitem__(self, key):
        self._check(key)
        return dict.__getitem__(self, key)

    def __contains__(self, key):
        self._check(key)
        return dict.__contains__(self, key)


def _wrap(module, value, path):
    try:
        if isinstance(value, dict) and allowed(module, path):
            return Tracked(module, value, path)
    except KeyError:
        return value
    if isinstance(value, list):
        return [_wrap(module, v, path) for v in value]
    return value


def tracked(module, result):
    return Tracked(module, result)


# ------------------------------------------------------------------------------------------ failure texts
def failure_patterns(module):
    """Regexes of every failure text the simulator may give for a module, each with the source it comes from."""
    wrapper = 'Unhandled exception while executing module: '
    assert 'msg = "%s$ErrorRecord"' % wrapper in module_wrapper_source()
    pats = {
        # Start-Service / Restart-Service under $ErrorActionPreference = 'Stop' (module_wrapper.ps1): the
        # ServiceCommandException text of Windows PowerShell (CouldNotStartService); the Win32 code is only in
        # its inner exception.
        'ansible.windows.win_service': [
            re.escape(wrapper) + r"Service '.+ \(.+\)' cannot be started due to the following error: "
            r"Cannot start service .+ on computer '\.'\.",
            re.escape(wrapper) + r"Service '.+ \(.+\)' cannot be stopped due to the following error: .+",
            # ConvertTo-SecurityIdentifier: NTAccount.Translate of an unknown name
            re.escape(wrapper) + r'Exception calling "Translate" with "1" argument\(s\): "Some or all identity '
            r'references could not be translated\."',
            # SCManager's Account setter: ServiceManagerException("Failed to change service config")
            re.escape(wrapper) + r'Exception setting "Account": "Failed to change service config \(.+, '
            r'Win32ErrorCode \d+ - 0x[0-9A-F]{8}\)"',
        ],
        'ansible.windows.win_user_right': [
            r"Failed to translate the account '.+' to a SID",
            r'Failed to (add account .+ to|remove account .+ from) right \w+: .+',
        ],
        'microsoft.iis.web_app_pool': [r'Failed to (start|stop|restart) Web App Pool .+: .+',
                                       r'Failed to set attribute to Web App Pool .+'],
        'microsoft.iis.web_app_pool_info': [r'Failed to fetch the info of the required application pool Exception: .+'],
        # Ansible.ModuleUtils.SID Convert-ToSID, and the module's own checks
        'community.windows.win_scheduled_task': [
            r'account_name .+ is not a valid account, cannot get SID: .+',
            r'username must be SYSTEM, LOCAL SERVICE or NETWORK SERVICE when logon_type=service_account',
            r"failed to set principal property '\w+' to '.*': .+",
        ],
        'community.windows.win_scheduled_task_stat': [r'failed to connect to the task scheduler service: .+'],
        'ansible.windows.win_service_info': [],
        'gmsa.farm.host_native': [r'.+'],     # its own FailJson texts
    }
    for module_, texts in pats.items():
        src = read_source(module_)
        for needle in {'ansible.windows.win_user_right': ["Failed to translate the account '$InputObject' to a SID"],
                       'community.windows.win_scheduled_task': ['username must be SYSTEM, LOCAL SERVICE or NETWORK '
                                                                'SERVICE when logon_type=service_account'],
                       'microsoft.iis.web_app_pool_info': ['Failed to fetch the info of the required application pool ']
                       }.get(module_, []):
            assert needle in src, '%s no longer says %r' % (module_, needle)
    return [re.compile(p, re.S) for p in pats[module]]


def check_failure(module, msg):
    assert any(p.fullmatch(msg) for p in failure_patterns(module)), \
        '%s would not fail with %r' % (module, msg)


def ps1_result_keys(module):
    """Result keys a module's source sets directly ($module.Result.x)."""
    return set(re.findall(r'\$module\.Result\.(\w+)\s*=', read_source(module)))


def all_sources():
    return sorted(glob.glob(os.path.join(COLLECTIONS, '*', '*', 'plugins', 'modules', '*.ps1')))
