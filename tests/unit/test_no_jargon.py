"""What users get - the built collection and the documentation sources - speaks their language: no references to
the project's planning documents, tracker numbers or private paths (tests/tools/jargon.py; the docs site build
in scripts/test.sh runs the same scan over the generated HTML)."""
from __future__ import annotations

import os
import subprocess
import sys
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tests', 'tools'))

import jargon  # noqa: E402


def test_the_scanner_finds_each_kind_of_jargon(tmp_path):
    lines = ['as seed 002 recommends', 'Seeds (000) say', 'fixed in issue 12', 'see issues 10/11',
             'cited from ../shared/docs/gmsa-facts.md', 'a work item', "The seed's ITFarm1"]
    clean = ['Microsoft\'s "Secure group managed service accounts"', 'a random seed value is not used',
             'the issue is that', 'shared process', 'MS-ADTS 3.1.1.4.5']
    f = tmp_path / 'doc.md'
    f.write_text('\n'.join(lines + clean) + '\n')
    hits = jargon.scan(str(f))
    assert [h.split(':', 2)[1] for h in hits] == [str(n) for n in range(1, len(lines) + 1)], hits


def test_built_collection_and_docs_sources_have_no_jargon(tmp_path):
    p = subprocess.run(['ansible-galaxy', 'collection', 'build', '--output-path', str(tmp_path), REPO],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    tarball = [str(tmp_path / f) for f in os.listdir(tmp_path) if f.endswith('.tar.gz')]
    with tarfile.open(tarball[0]) as t:
        assert 'README.md' in t.getnames() and 'docs/docsite/rst/guide_awx.rst' in t.getnames()
    hits = jargon.scan(tarball[0]) + jargon.scan(os.path.join(REPO, 'docs')) + jargon.scan(
        os.path.join(REPO, 'examples'))
    assert not hits, '\n'.join(hits)
