"""The rotation window as a domain controller reports it, on blobs captured from the Samba lab DC while its clock was
moved through a one-day gMSA's first and second rotation (data/rotation_blobs.json, written by
tests/lab/capture_rotation_blobs.py). Each stage also holds the keys samba-tool exported from the DC at that moment,
so every kvno label the keytab plan gives is checked against the DC's own key for that kvno."""
from __future__ import annotations

import base64
import json
import os

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _keytab as K

with open(os.path.join(os.path.dirname(__file__), 'data', 'rotation_blobs.json')) as _f:
    CAPTURED = json.load(_f)
STAGES = dict((s['stage'], s) for s in CAPTURED['stages'])
ORDER = [s['stage'] for s in CAPTURED['stages']]
SAM, DOMAIN, REALM = CAPTURED['sam'], CAPTURED['dns_domain'], CAPTURED['realm']
SPN = 'HTTP/%s.%s@%s' % (SAM.rstrip('$'), DOMAIN, REALM)
ACCOUNT = '%s@%s' % (SAM, REALM)
LABELS = {'aes256': 'aes256-cts-hmac-sha1-96', 'aes128': 'aes128-cts-hmac-sha1-96'}


def blob(stage):
    return base64.b64decode(STAGES[stage]['blob'])


def dc_key(stage, kvno, enctype):
    """The DC's key for kvno, from the first capture at or after ``stage`` that has it (the next key of a window
    exists on the DC only after the rotation)."""
    for name in ORDER[ORDER.index(stage):]:
        keys = STAGES[name]['samba_keys'].get(str(kvno))
        if keys:
            return keys[LABELS[enctype]]
    raise AssertionError('no capture has kvno %d' % kvno)


def planned_keys(stage, principal, is_account):
    mp = K.parse_blob(blob(stage))
    keys = {'current': K.derive_keys(mp.current, K.salt(SAM, DOMAIN), ['aes256', 'aes128'])}
    if mp.previous is not None:
        keys['previous'] = K.derive_keys(mp.previous, K.salt(SAM, DOMAIN), ['aes256', 'aes128'])
    return [(kvno, e, keys[which][e].hex()) for _p, kvno, which in
            K.plan_versions(mp, STAGES[stage]['kvno'], principal, is_account) for e in ('aes256', 'aes128')]


@pytest.mark.parametrize('stage,in_window,previous', [
    ('new account', False, False), ('first window', True, True), ('after first rotation', False, False),
    ('second window', True, True), ('after second rotation', False, True)])
def test_the_window_is_read_from_the_blob_as_the_dc_sends_it(stage, in_window, previous):
    mp = K.parse_blob(blob(stage))
    assert mp.in_window is in_window
    assert (mp.previous is not None) is previous
    if in_window:
        # The DC's shape inside the window: query under 5 minutes, unchanged about a whole interval (20 h) ahead.
        assert mp.query_seconds <= K.CLOCK_SKEW < mp.unchanged_seconds
        assert abs(mp.unchanged_seconds - (mp.query_seconds + 72000 - K.CLOCK_SKEW)) < 1
    else:
        assert abs(mp.unchanged_seconds - (mp.query_seconds - K.CLOCK_SKEW)) < 1


@pytest.mark.parametrize('stage', ORDER)
def test_every_kvno_label_names_the_dcs_key_of_that_kvno(stage):
    for kvno, enctype, key in planned_keys(stage, SPN, False) + planned_keys(stage, ACCOUNT, True):
        assert key == dc_key(stage, kvno, enctype), (stage, kvno, enctype)


def test_inside_the_window_services_get_the_next_key_and_kinit_keeps_the_key_in_use():
    k = STAGES['first window']['kvno']
    assert k == STAGES['new account']['kvno'] == 1 and STAGES['after first rotation']['kvno'] == 2
    assert sorted(set(v for v, _e, _k in planned_keys('first window', SPN, False))) == [k, k + 1]
    assert sorted(set(v for v, _e, _k in planned_keys('first window', ACCOUNT, True))) == [k]
    # The next key written in the window is the key the DC uses after the rotation.
    assert K.parse_blob(blob('first window')).current == K.parse_blob(blob('after first rotation')).current
    assert K.parse_blob(blob('second window')).current == K.parse_blob(blob('after second rotation')).current


def test_the_schedule_lands_in_the_window_then_after_the_rotation():
    outside = K.parse_blob(blob('new account'))
    due = K.next_refresh(outside, 0)
    # Due inside the window: less than 5 minutes before the rotation, with time to spare.
    assert outside.query_seconds - K.CLOCK_SKEW < due < outside.query_seconds - 60
    window = K.parse_blob(blob('first window'))
    assert window.query_seconds < K.next_refresh(window, 0) <= window.query_seconds + 60


class StageDirectory(object):
    """Answers like the lab DC did at one captured stage: the account search (blob and kvno), then the kvno."""

    def __init__(self, stage):
        self.stage = STAGES[stage]
        self.default_nc, self.dns_domain, self.bound_as, self.server_name = 'DC=x', DOMAIN, 'M$', 'dc1'
        self.searches = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def search(self, base, _filter, attributes, scope='subtree'):
        self.searches += 1
        attrs = {'msDS-KeyVersionNumber': str(self.stage['kvno'])}
        if scope == 'base':
            return [dict(dn=base, attributes=attrs, raw={})]
        attrs.update({'sAMAccountName': SAM, 'servicePrincipalName': [SPN.split('@')[0]],
                      'msDS-SupportedEncryptionTypes': '24'})
        return [dict(dn='CN=x,DC=x', attributes=attrs, raw={'msDS-ManagedPassword': [blob(self.stage['stage'])]})]


def refresh(tmp_path, stage, now=None, **params):
    p = dict(name=SAM, path=str(tmp_path / 'svc.keytab'), state='present', encryption_types=['aes256', 'aes128'],
             domain_server=['dc1'], domain_auth='kerberos')
    p.update(params)
    return K.run(p, False, lambda _p: StageDirectory(stage), now=now)


def kvnos(tmp_path, principal):
    return sorted(set(e[1] for e in K.read_keytab(str(tmp_path / 'svc.keytab'))
                      if e[0] == principal))


def test_a_first_rotation_keeps_the_retired_key_the_blob_no_longer_sends(tmp_path):
    r = refresh(tmp_path, 'first window')
    assert r['next_password_readable'] is True and kvnos(tmp_path, SPN) == [1, 2] and kvnos(tmp_path, ACCOUNT) == [1]
    r = refresh(tmp_path, 'after first rotation')
    assert r['previous_password'] is False and r['kvno'] == 2
    # The blob has no previous password, yet kvno 1 stays: tickets issued before the rotation are still valid.
    assert kvnos(tmp_path, SPN) == [1, 2] and kvnos(tmp_path, ACCOUNT) == [1, 2]
    for p, kvno, e, key, _stamp in K.read_keytab(str(tmp_path / 'svc.keytab')):
        assert key.hex() == dc_key('after first rotation', kvno, K.ENCTYPE_NAMES[e])
    # The same blob again: nothing to change (the kept keys keep their first timestamp).
    assert refresh(tmp_path, 'after first rotation')['changed'] is False
    # Past the maximum ticket lifetime (and the window) after the rotation, kvno 1 goes.
    later = refresh(tmp_path, 'after first rotation', now=K.time.time() + K.DEFAULT_KEEP_PREVIOUS + 2 * K.CLOCK_SKEW)
    assert later['changed'] is True and kvnos(tmp_path, SPN) == [2]


def test_a_later_rotation_gets_the_previous_key_from_the_blob(tmp_path):
    refresh(tmp_path, 'second window')
    assert kvnos(tmp_path, SPN) == [2, 3] and kvnos(tmp_path, ACCOUNT) == [2]
    r = refresh(tmp_path, 'after second rotation', keep_previous_seconds=0)
    assert r['previous_password'] is True and r['kvno'] == 3
    assert kvnos(tmp_path, SPN) == [2, 3] and kvnos(tmp_path, ACCOUNT) == [2, 3]


def test_a_member_down_across_rotations_keeps_what_it_had_for_the_ticket_lifetime(tmp_path):
    refresh(tmp_path, 'new account')
    assert kvnos(tmp_path, SPN) == [1]
    refresh(tmp_path, 'after second rotation')     # two rotations missed: the blob gives kvno 3 and 2
    assert kvnos(tmp_path, SPN) == [1, 2, 3]
