"""Capture msDS-ManagedPassword blobs from the rotation lab DC (tests/lab/dc.sh up with GMSA_LAB_FAKETIME=1) at each
stage of a one-day gMSA's life, with the kvno the DC reports and the keys samba-tool exports at that moment, as unit
test data. Lab tooling only:

    python tests/lab/capture_rotation_blobs.py LAB_ENV OUT.json

Stages: a new account (no previous password), inside its first rotation window, after the first rotation, inside
the second window, after the second rotation. The account is deleted afterwards; the DC's clock is set back to 0.
"""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

from rotation_lab import RotationLab, intervals, read_env


def exported_keys(lab, sam, directory):
    """{kvno: {enctype: key hex}} from samba-tool domain exportkeytab (the DC's own keys), run at the DC's time."""
    path = os.path.join(directory, '%s.keytab' % uuid.uuid4().hex[:6])
    subprocess.run(['samba-tool', 'domain', 'exportkeytab', path, '--principal=%s' % sam,
                    '-s', lab.env['GMSA_LAB_SMB_CONF']], capture_output=True, check=True, env=lab.client_env())
    out = subprocess.run(['klist', '-k', '-K', '-e', path], capture_output=True, text=True, check=True).stdout
    keys = {}
    for m in re.finditer(r'^\s*(\d+) \S+ \(([\w-]+)\)\s+\(0x([0-9a-f]+)\)', out, re.M):
        keys.setdefault(m.group(1), {})[m.group(2)] = m.group(3)
    return keys


def main(env_file, out_file):
    lab = RotationLab(read_env(env_file))
    lab.set_offset(0)
    ou = lab.make_ou()
    tag = uuid.uuid4().hex[:6]
    host = lab.create_computer(ou, 'CH%s' % tag.upper())
    name = 'cap%s' % tag
    dn = lab.create_gmsa(ou, name, [host], ['HTTP/%s.%s' % (name, lab.domain)])
    stages = []
    work = tempfile.mkdtemp()
    try:
        def capture(stage):
            blob, kvno = lab.managed_password(host, dn)
            q, u, prev = intervals(blob)
            stages.append(dict(stage=stage, offset=lab.offset(), kvno=kvno, query=q, unchanged=u, previous=prev,
                               blob=base64.b64encode(blob).decode('ascii'),
                               samba_keys=exported_keys(lab, name + '$', work)))
            return q
        q = capture('new account')
        lab.set_offset(q - 200)
        capture('first window')
        lab.set_offset(q + 100)
        q2 = capture('after first rotation')
        lab.set_offset(q + 100 + q2 - 200)
        capture('second window')
        lab.set_offset(q + 100 + q2 + 100)
        capture('after second rotation')
    finally:
        lab.set_offset(0)
        lab.delete_tree(ou)
    data = dict(source='Samba %s AD DC, clock moved by libfaketime; captured by tests/lab/capture_rotation_blobs.py'
                % subprocess.run(['samba', '--version'], capture_output=True, text=True,
                                 check=True).stdout.split()[-1],
                realm=lab.realm, dns_domain=lab.domain, sam=name + '$', interval_days=1, stages=stages)
    with open(out_file, 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')


if __name__ == '__main__':
    main(*sys.argv[1:3])
