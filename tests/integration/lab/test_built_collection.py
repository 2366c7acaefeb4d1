"""What `ansible-galaxy collection build` packs (what the AWX guide builds, and what ansible-builder copies into
the execution environment's context), built after the lab ran: only files git tracks, and no key, keytab,
password or lab state among them."""
from __future__ import annotations

import os
import re
import subprocess
import tarfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GENERATED = {'MANIFEST.json', 'FILES.json'}
KEYTAB_MAGIC = (b'\x05\x01', b'\x05\x02')   # MIT keytab file format versions 1 and 2
PRIVATE_KEY = re.compile(rb'-----BEGIN [A-Z ]*PRIVATE KEY-----')


def lab_secrets(lab):
    """The lab's secrets as bytes: the administrator password and every password in the lab's hosts store."""
    found = {lab['GMSA_DOMAIN_PASSWORD'].encode()}
    store = os.path.join(lab['GMSA_LAB_DIR'], 'hosts.json')
    if os.path.exists(store):
        found.update(re.findall(rb'"password":\s*"([^"]{8,})"', open(store, 'rb').read()))
    return found


def test_the_built_collection_holds_only_tracked_files_and_no_secret(lab, tmp_path):
    # the lab's working folders exist in this checkout (the lab ran): the build must leave every one of them out
    lab_dirs = [d for d in os.listdir(REPO) if d.startswith('.lab')]
    assert lab_dirs, 'no lab folder in the checkout: run the lab first'
    p = subprocess.run(['ansible-galaxy', 'collection', 'build', '--output-path', str(tmp_path), REPO],
                       capture_output=True, text=True, check=False)
    assert p.returncode == 0, p.stderr
    tracked = set(subprocess.run(['git', 'ls-files'], capture_output=True, text=True, check=True,
                                 cwd=REPO).stdout.splitlines())
    secrets = lab_secrets(lab)
    problems = []
    built = [f for f in os.listdir(str(tmp_path)) if f.startswith('gmsa-farm-') and f.endswith('.tar.gz')]
    assert len(built) == 1, built
    with tarfile.open(tmp_path / built[0]) as t:
        for m in t.getmembers():
            if m.isdir():
                continue
            if m.name not in tracked and m.name not in GENERATED:
                problems.append('%s: not a file git tracks' % m.name)
            data = t.extractfile(m).read()
            if data[:2] in KEYTAB_MAGIC or m.name.endswith(('.keytab', '.ccache', '.pem', '.key')):
                problems.append('%s: a keytab, ticket cache or key file' % m.name)
            if PRIVATE_KEY.search(data):
                problems.append('%s: holds a private key' % m.name)
            problems.extend('%s: holds a lab password' % m.name for s in secrets if s in data)
    assert problems == []
