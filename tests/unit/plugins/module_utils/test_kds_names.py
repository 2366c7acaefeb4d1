"""KDS root key descriptions carry microsoft.ad's names (creation_time, effective_time) and, until 2.0.0, the
names they had before (created, effective), with the same values."""
from __future__ import annotations

import datetime

from ansible_collections.gmsa.farm.plugins.module_utils import _kds as kds


def filetime(dt):
    return str(int((dt - datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc)).total_seconds() * 10 ** 7))


def test_describe_key_names_times_as_microsoft_ad_does_and_keeps_the_old_names():
    now = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.timezone.utc)
    created = datetime.datetime(2026, 11, 30, 1, 2, 3, tzinfo=datetime.timezone.utc)
    start = datetime.datetime(2026, 11, 29, 15, 2, 3, tzinfo=datetime.timezone.utc)
    entry = dict(dn='CN=7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11,CN=Master Root Keys', attributes={
        'cn': ['7c1f4a36-8a5a-4a8e-9b1e-1c0f5d0c2a11'], 'msKds-CreateTime': [filetime(created)],
        'msKds-UseStartTime': [filetime(start)], 'msKds-DomainID': ['CN=DC1'], 'msKds-KDFAlgorithmID': ['SP800_108_CTR_HMAC']})
    key = kds.public(kds.describe_key(entry, now))
    assert key['creation_time'] == key['created'] == '2026-11-30T01:02:03Z'
    assert key['effective_time'] == key['effective'] == '2026-11-29T15:02:03Z'
    assert key['usable'] is True and not any(k.startswith('_') for k in key)
