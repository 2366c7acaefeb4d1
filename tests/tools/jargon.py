"""Finds the project's internal vocabulary in what users get: references to its planning documents ("seed 002"),
its tracker ("issue 12"), its private paths ("../shared/docs"), "work item". Scans files, directories and
.tar.gz archives (the built collection); prints each hit as path:line: text and exits 1 when there is one.
Usage: python tests/tools/jargon.py PATH..."""
from __future__ import annotations

import io
import os
import re
import sys
import tarfile

PATTERNS = [
    re.compile(r'\bseeds? ?\(?0\d\d\b', re.I),          # seed 002, seeds (000)
    re.compile(r'\bissues? #?\d+\b', re.I),               # issue 12, issues 10/11
    re.compile(r'(\.\./|/work/)?shared/(docs|seeds)\b'),   # ../shared/docs/..., shared/seeds
    re.compile(r'\bwork items?\b', re.I),
    re.compile(r"\bthe seed('s)?\b", re.I),
]
TEXT = ('.py', '.yml', '.yaml', '.md', '.rst', '.txt', '.j2', '.html', '.json', '.ps1', '.cs', '.cfg', '.toml',
        '.sh', '.ini', '.js')


def scan_text(name, text):
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        for p in PATTERNS:
            m = p.search(line)
            if m:
                hits.append('%s:%d: %s' % (name, n, line.strip()[:200]))
                break
    return hits


def _wanted(name):
    base = os.path.basename(name)
    return name.endswith(TEXT) or base in ('README', 'LICENSE', 'COPYING') or '.' not in base


def scan(path):
    hits = []
    if path.endswith('.tar.gz'):
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.isfile() and _wanted(m.name):
                    data = t.extractfile(m).read()
                    hits += scan_text('%s!%s' % (os.path.basename(path), m.name), data.decode('utf-8', 'replace'))
        return hits
    if os.path.isfile(path):
        with io.open(path, encoding='utf-8', errors='replace') as f:
            return scan_text(path, f.read())
    for root, dirs, files in os.walk(path):
        dirs[:] = [d for d in dirs if d not in ('_static', '.doctrees', '__pycache__')]
        for f in files:
            full = os.path.join(root, f)
            if _wanted(full):
                hits += scan(full)
    return hits


def main(argv):
    hits = [h for p in argv for h in scan(p)]
    for h in hits:
        print(h)
    return 1 if hits else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
