"""The collection builds, and the tarball carries no development files."""
from __future__ import annotations

import os
import subprocess
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_build_has_no_development_files(tmp_path):
    p = subprocess.run(['ansible-galaxy', 'collection', 'build', '--output-path', str(tmp_path), REPO],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    tarball = [f for f in os.listdir(tmp_path) if f.endswith('.tar.gz')]
    assert tarball == ['gmsa-farm-1.0.0.tar.gz']
    with tarfile.open(tmp_path / tarball[0]) as t:
        names = t.getnames()
    assert 'plugins/modules/kds_root_key.py' in names
    assert 'meta/runtime.yml' in names
    assert 'requirements.txt' in names
    for bad in ('.venv', '.lab', '.lab-kds', '.lab-linux', '.collections', '.ci', 'tests', 'scripts', 'pytest.ini', '.git',
                '.cache', '.docs', '.benchmarks'):
        assert not any(n == bad or n.startswith(bad + '/') for n in names), bad
    assert not any(n.endswith('.lock') or '__pycache__' in n for n in names)
