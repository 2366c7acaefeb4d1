"""Against the lab DC: a path written with the spaces RFC 4514 allows after its commas names the same container,
so a rerun plans nothing (no move to the "other" spelling of where the account already is)."""
from __future__ import annotations

import uuid


def test_a_path_with_spaces_after_its_commas_is_idempotent(run_module, lab, ou):
    name = 'sp%s' % uuid.uuid4().hex[:8]
    spaced = ', '.join(ou.split(','))
    args = dict(name=name, path=spaced, dns_hostname='%s.%s' % (name, lab['GMSA_LAB_REALM'].lower()))
    first = run_module('gmsa', args)
    assert not first.failed and first['changed'] and first['distinguished_name'] == 'CN=%s,%s' % (name, ou), first
    again = run_module('gmsa', args)
    assert not again.failed and not again['changed'] and again['requests'] == [], again
    assert not run_module('gmsa', dict(name=name, path=spaced, state='absent')).failed
