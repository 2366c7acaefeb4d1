"""Pure tests of the domain helpers (no server): well-known containers and functional level names."""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils._domain import level_name, well_known_container


def test_domain_helpers():
    values = ['B:32:6227F0AF1FC2410D8E3BB10615BB5B0F:CN=NTDS Quotas,DC=x',
              'B:32:1EB93889E40C45DF9F0C64D23BBB6237:CN=Managed Service Accounts,DC=x']
    assert well_known_container(values, '1eb93889e40c45df9f0c64d23bbb6237') == 'CN=Managed Service Accounts,DC=x'
    assert well_known_container([], '1EB93889E40C45DF9F0C64D23BBB6237') is None
    assert level_name(['4']) == '2008_R2' and level_name('7') == '2016' and level_name(None) is None
