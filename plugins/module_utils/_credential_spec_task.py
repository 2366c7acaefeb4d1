# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credential_spec module's task: read the domain and the accounts, check, plan every file, then write.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

Order: validate every spec's options (no I/O) → one search for the domain, one for every account of every spec,
the audit's report of them (gmsa_info's code) → check every spec → plan every file (its text now and after) →
write (unless check mode). A refusal anywhere before the writes writes nothing.
"""
from __future__ import annotations

import os
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.gmsa.farm.plugins.module_utils import _credential_spec as cs
from ansible_collections.gmsa.farm.plugins.module_utils import _report as rep
from ansible_collections.gmsa.farm.plugins.module_utils._object import gmsa as g
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import connection_argument_spec
from ansible_collections.gmsa.farm.plugins.module_utils._module import ModuleFailure, run_with_directory

SPEC_OPTIONS = dict(
    additional_accounts=dict(type='list', elements='dict', default=[], options=dict(
        name=dict(type='str', required=True), domain=dict(type='str'))),
    container_hosts=dict(type='list', elements='str', default=[]),
    inbound=dict(type='bool', default=True),
    host_account_config=dict(type='dict', options=dict(
        plugin_guid=dict(type='str', required=True),
        plugin_input=dict(type='str', required=True, no_log=True),
        portable_ccg_version=dict(type='str', default='1'),
        retriever=dict(type='str'),
    )),
    path=dict(type='path'),
    kubernetes=dict(type='dict', options=dict(
        name=dict(type='str'),
        service_accounts=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True), namespace=dict(type='str', required=True))),
        role_name=dict(type='str'),
        path=dict(type='path'),
    )),
    state=dict(type='str', choices=['present', 'absent'], default='present'),
)


def argument_spec():
    spec = connection_argument_spec()
    spec.update(SPEC_OPTIONS)
    spec['name'] = dict(type='str')
    spec['specs'] = dict(type='list', elements='dict',
                         options=dict(name=dict(type='str', required=True), **SPEC_OPTIONS))
    return spec


def module_kwargs():
    return dict(supports_check_mode=True, add_file_common_args=True, mutually_exclusive=[('name', 'specs')],
                required_one_of=[('name', 'specs')])


def _specs(params):
    if params.get('specs') is not None:
        return [dict(s) for s in params['specs']], True
    return [dict((k, params.get(k)) for k in list(SPEC_OPTIONS) + ['name'])], False


def validate(specs, listed):
    """Every option of every spec, before any I/O."""
    for i, s in enumerate(specs):
        where = 'specs[%d].' % i if listed else ''
        if not (s.get('name') or '').strip():
            raise cs.SpecError('%sname is empty' % where)
        s['host_account_config'] = cs.validate_host_account(where + 'host_account_config', s.get('host_account_config'))
        s['kubernetes'] = cs.validate_kubernetes(where + 'kubernetes', s.get('kubernetes'))
        for j, a in enumerate(s.get('additional_accounts') or []):
            if not (a.get('name') or '').strip():
                raise cs.SpecError('%sadditional_accounts[%d].name is empty' % (where, j))
        if s['kubernetes'] and s['kubernetes'].get('name') is None:
            s['kubernetes']['name'] = cs.default_resource_name(s['name'])
            if not s['kubernetes']['name']:
                raise cs.SpecError('%skubernetes.name: no Kubernetes name can be made from %r; give one'
                                   % (where, s['name']))


def _local(add, domain):
    return not add.get('domain') or add['domain'].lower() in (domain['dns_name'].lower(),
                                                              domain['netbios_name'].lower())


def read_accounts(directory, names):
    """The report (gmsa_info's) of every named account: one search for all of them, then the retrievers."""
    entries = directory.search(directory.default_nc, rep.account_filter(sorted(set(names), key=str.lower)),
                               g.ACCOUNT_ATTRIBUTES, paged=True)
    reports = rep.build_report(directory, entries, directory.default_nc)
    by_name = {}
    for r in reports:
        by_name[r['name'].lower()] = r
        by_name[r['sam_account_name'].lower()] = r
        by_name[r['sam_account_name'][:-1].lower()] = r
    return by_name


def _find(by_name, name):
    return by_name.get(name.lower()) or by_name.get(name.lower().rstrip('$'))


def _read(path):
    """A file's text now (None when absent); bytes that are not UTF-8 only make it differ from the new text."""
    if not path or not os.path.exists(path):
        return None
    with open(path, 'rb') as f:
        return to_text(f.read(), errors='surrogate_or_replace')


def plan_spec(spec, domain, by_name):
    """One spec → its result (returned values), its files to write [(path, text, secret)], problems, warnings."""
    problems, warnings = [], []
    name = spec['name']
    report = _find(by_name, name)
    if report is None:
        return None, [], ['%s: no managed service account of that name in %s' % (name, domain['dns_name'])], []
    p, w = cs.account_problems(report, spec.get('container_hosts'), spec.get('inbound', True),
                               (spec.get('host_account_config') or {}).get('retriever'))
    problems += p
    warnings += w
    for a in spec.get('additional_accounts') or []:
        if not _local(a, domain):
            warnings.append('%s: additional account %s of %s is written unchecked (it is not in %s)'
                            % (name, a['name'], a['domain'], domain['dns_name']))
            continue
        extra = _find(by_name, a['name'])
        if extra is None:
            problems.append('%s: additional account %s: no managed service account of that name in %s'
                            % (name, a['name'], domain['dns_name']))
            continue
        p, w = cs.account_problems(extra, (), False)
        problems += ['%s: additional account %s' % (name, x) for x in p]
        warnings += w
        a['name'] = extra['sam_account_name']
        a['domain'] = a.get('domain') or domain['dns_name']
    hac = spec.get('host_account_config')
    secret = hac['plugin_input'] if hac else None
    doc = cs.build_spec(domain, report['sam_account_name'], spec.get('additional_accounts'), hac)
    shown = cs.masked(doc)
    content = cs.render_json(doc)
    result = dict(name=name, credential_spec=shown, content=cs.render_json(shown),
                  file_name=cs.default_file_name(domain, report['sam_account_name']),
                  account=dict(distinguished_name=report['distinguished_name'],
                               sam_account_name=report['sam_account_name'],
                               effective_retrievers=report['effective_retrievers'],
                               retrievers_unbounded=report['retrievers_unbounded']))
    files = []
    if spec.get('path'):
        result['path'] = spec['path']
        files.append((spec['path'], content, secret, 'json'))
    k8s = spec.get('kubernetes')
    if k8s:
        docs = cs.kubernetes_documents(doc, k8s['name'], k8s.get('service_accounts'), k8s.get('role_name'))
        shown_docs = cs.kubernetes_documents(shown, k8s['name'], k8s.get('service_accounts'), k8s.get('role_name'))
        result['kubernetes_manifest'] = shown_docs
        result['kubernetes_content'] = cs.render_yaml(shown_docs)
        if k8s.get('path'):
            result['kubernetes_path'] = k8s['path']
            files.append((k8s['path'], cs.render_yaml(docs), secret, 'yaml'))
    for path, _text, _secret, _kind in files:
        if os.path.isdir(path):
            problems.append('%s: %s is a folder: give the file\'s path' % (name, path))
        elif not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            problems.append('%s: the folder of %s does not exist: create it first' % (name, path))
    return result, files, problems, warnings


def _write(module, path, text, secret):
    """Write ``text`` to ``path`` atomically; a file that holds a secret is readable by its owner only (0600 when
    new; an existing file loses its group and other bits), unless ``mode`` says otherwise."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.credspec-')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(to_bytes(text))
        if not os.path.exists(path):
            # a new file: made first, empty, with its final mode, so the text never lies about with a wider one
            # (atomic_move gives a new file the umask's mode, and keeps an existing file's)
            mode = 0o600 if secret or module.params.get('mode') is not None else 0o644
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            os.chmod(path, mode)
        elif secret and module.params.get('mode') is None and os.stat(path).st_mode & 0o077:
            # an existing file about to take a secret: private first (atomic_move keeps the existing file's mode)
            os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & 0o700)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _file_diff(path, current, text, secret, kind):
    changed, diff = cs.file_change(current, text, cs.shown_text(current, secret, kind),
                                   cs.shown_text(text, secret, kind))
    diff.update(before_header=path, after_header=path)
    return changed, diff


def _attributes(module, path, changed, diff=None):
    file_args = module.load_file_common_arguments(module.params, path=path)
    return module.set_fs_attributes_if_different(file_args, changed, diff=diff)


def run_absent(module, specs, listed):
    results, diffs, changed_any = [], [], False
    for s in specs:
        paths = [p for p in (s.get('path'), (s.get('kubernetes') or {}).get('path')) if p]
        removed = []
        for path in paths:
            if os.path.isdir(path):
                raise ModuleFailure('%s is a folder: give the file\'s path' % path)
            if os.path.exists(path):
                removed.append(path)
                kind = 'yaml' if path.endswith(('.yml', '.yaml')) else 'json'
                diffs.append(dict(before_header=path, after_header=path,
                                  before=cs.shown_text(_read(path), None, kind), after=''))
                if not module.check_mode:
                    os.unlink(path)
        changed_any = changed_any or bool(removed)
        r = dict(name=s['name'], changed=bool(removed), removed=removed)
        if s.get('path'):
            r['path'] = s['path']
        if (s.get('kubernetes') or {}).get('path'):
            r['kubernetes_path'] = s['kubernetes']['path']
        results.append(r)
    out = dict(changed=changed_any)
    if listed:
        out['credential_specs'] = results
    else:
        out.update(results[0])
        out.pop('name', None)
    if module._diff:
        out['diff'] = diffs if listed else (diffs[0] if len(diffs) == 1 else diffs)
    return out


def _shared_paths(specs, planned):
    """Problems for any file two outputs of the task would write (the last would silently win)."""
    seen, problems = {}, []
    for s, (_result, files) in zip(specs, planned):
        for path, _text, _secret, kind in files:
            key = os.path.abspath(path)
            if key in seen:
                problems.append('%s: %s is also where %s goes: give each output its own path'
                                % (s['name'], path, seen[key]))
            else:
                seen[key] = '%s\'s %s' % (s['name'], 'spec' if kind == 'json' else 'Kubernetes manifest')
    return problems


def run_present(module, directory, specs, listed):
    domain = cs.read_domain(directory)
    names = []
    for s in specs:
        names.append(s['name'])
        names += [a['name'] for a in s.get('additional_accounts') or [] if _local(a, domain)]
    by_name = read_accounts(directory, names)
    planned, problems, warnings = [], [], []
    for s in specs:
        result, files, p, w = plan_spec(s, domain, by_name)
        problems += p
        warnings += w
        planned.append((result, files))
    problems += _shared_paths(specs, planned)
    if problems:
        raise ModuleFailure('Nothing was written: %s' % ' | '.join(problems), problems=problems)
    # Every file's change is known before the first write.
    changes = []
    for result, files in planned:
        for path, text, secret, kind in files:
            current = _read(path)
            changed, diff = _file_diff(path, current, text, secret, kind)
            changes.append((result, path, text, secret, changed, diff))
    written, diffs = [], []
    try:
        for result, path, text, secret, changed, diff in changes:
            if changed and not module.check_mode:
                _write(module, path, text, secret)
                written.append(path)
            if os.path.exists(path) or not module.check_mode:
                changed = _attributes(module, path, changed)
            result['changed'] = result.get('changed', False) or changed
            if changed:
                diffs.append(diff)
    except (OSError, IOError) as e:
        raise ModuleFailure('writing failed after %s were written: %s' % (', '.join(written) or 'no file', e),
                            changed=bool(written), written=written)
    for w in warnings:
        module.warn(w)
    results = []
    for result, _files in planned:
        result.setdefault('changed', False)
        result['domain'] = domain
        results.append(result)
    out = dict(changed=any(r['changed'] for r in results), domain=domain)
    if listed:
        out['credential_specs'] = results
    else:
        r = dict(results[0])
        r.pop('name', None)
        out.update(r)
    if module._diff:
        out['diff'] = diffs if (listed or len(diffs) != 1) else diffs[0]
    return out


def run(module):
    specs, listed = _specs(module.params)
    try:
        validate(specs, listed)
    except cs.SpecError as e:
        module.fail_json(msg=str(e))
    if all(s.get('state') == 'absent' for s in specs):
        try:
            module.exit_json(**run_absent(module, specs, listed))
        except ModuleFailure as e:
            module.fail_json(msg=e.msg, **e.details)
    if any(s.get('state') == 'absent' for s in specs):
        module.fail_json(msg='specs: give state=present or state=absent to every spec of one task, not both')

    def present(module, directory):
        try:
            return run_present(module, directory, specs, listed)
        except cs.SpecError as e:
            raise ModuleFailure(str(e))

    run_with_directory(module, present)
