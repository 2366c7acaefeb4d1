"""Parse every PowerShell file with tree-sitter-powershell and compile every C# module util with mcs.

There is no Windows and no PowerShell on the CI machines; this catches syntax errors in the Windows-side code
before it reaches a Windows host. Exit 1 on any error.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def powershell_files():
    pats = ['plugins/**/*.ps1', 'plugins/**/*.psm1', 'roles/**/*.ps1', 'tests/**/*.ps1', 'tests/**/*.psm1',
            'extensions/**/*.ps1']
    out = set()
    for p in pats:
        out.update(glob.glob(os.path.join(REPO, p), recursive=True))
    return sorted(out)


def csharp_files():
    return sorted(glob.glob(os.path.join(REPO, 'plugins', 'module_utils', '*.cs')))


def errors_in(tree):
    bad = []
    stack = [tree.root_node]
    while stack:
        n = stack.pop()
        if n.type == 'ERROR' or n.is_missing:
            bad.append('line %d col %d: %s' % (n.start_point[0] + 1, n.start_point[1] + 1,
                                               'missing ' + n.type if n.is_missing else 'syntax error'))
        stack.extend(n.children)
    return bad


def check_powershell(files):
    if not files:
        return 0
    import tree_sitter
    import tree_sitter_powershell
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    failures = 0
    for path in files:
        with open(path, 'rb') as f:
            tree = parser.parse(f.read())
        bad = errors_in(tree)
        rel = os.path.relpath(path, REPO)
        if bad:
            failures += 1
            print('%s: %s' % (rel, '; '.join(bad[:10])))
        else:
            print('%s: parses' % rel)
    return failures


def check_csharp(files):
    failures = 0
    for path in files:
        rel = os.path.relpath(path, REPO)
        with tempfile.TemporaryDirectory() as tmp:
            cmd = ['mcs', '-target:library', '-nologo', '-warnaserror', '-out:%s' % os.path.join(tmp, 'util.dll'),
                   '-r:System.Core.dll', path]
            p = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if p.returncode != 0:
            failures += 1
            print('%s: does not compile\n%s' % (rel, p.stdout + p.stderr))
        else:
            print('%s: compiles' % rel)
    return failures


def main():
    ps = powershell_files()
    cs = csharp_files()
    if not ps and not cs:
        print('no PowerShell or C# files to check yet')
        return 0
    failures = check_powershell(ps) + check_csharp(cs)
    print('%d passed, %d failed' % (len(ps) + len(cs) - failures, failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
