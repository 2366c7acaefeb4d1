"""Pure tests of computer_account's refusals (no server)."""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.modules import computer_account as ca


def test_computer_account_refuses_dcs_rodcs_and_trusts():
    assert ca.refusal(0x1000, 515) == []
    assert ca.refusal(0x82000, 516) == ['a domain controller (SERVER_TRUST_ACCOUNT)',
                                        'its primary group is Domain Controllers (516)']
    assert ca.refusal(0x04001000, 521) == ['a read-only domain controller (PARTIAL_SECRETS_ACCOUNT)',
                                           'its primary group is Read-only Domain Controllers (521)']
    assert ca.refusal(0x0800, 513) == ['a trust account (INTERDOMAIN_TRUST_ACCOUNT)']
