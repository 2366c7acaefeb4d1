"""Pure tests of the security-descriptor and SID helpers (no server)."""
from __future__ import annotations

import base64

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _security as sec

DOMAIN = 'S-1-5-21-1563812586-3055552829-750439108'
# msDS-GroupMSAMembership as samba-tool 4.22 wrote it (Administrator and one computer), ACL revision 4.
SAMBA_SD = base64.b64decode(
    'AQAEgBQAAAAAAAAAAAAAACQAAAABAgAAAAAABSAAAAAgAgAABABQAAIAAAAAACQA/wEPAAEFAAAAAAAFFQAAAOriNV09CSC2xMq6LPQBAAAAAC'
    'QA/wEPAAEFAAAAAAAFFQAAAOriNV09CSC2xMq6LE4EAAA=')


def test_windows_shape_for_one_domain_sid():
    sd = sec.build_membership_sd([DOMAIN + '-1102'])
    assert len(sd) == 80
    # revision 1, control SE_SELF_RELATIVE|SE_DACL_PRESENT, owner at 20, no group, no SACL, DACL at 36
    assert sd[:20].hex() == '0100048014000000000000000000000024000000'
    assert sd[20:36] == sec.sid_to_bytes('S-1-5-32-544')
    # ACL revision 2, one ACE: ACCESS_ALLOWED, no flags, size 36, mask 0x000F01FF, the SID
    assert sd[36:44].hex() == '02002c0001000000'
    assert sd[44:52].hex() == '00002400ff010f00'
    assert sd[52:] == sec.sid_to_bytes(DOMAIN + '-1102')


def test_parse_samba_written_descriptor():
    p = sec.parse_membership_sd(SAMBA_SD)
    assert p['owner'] == 'S-1-5-32-544'
    assert sec.granted_sids(p) == [DOMAIN + '-500', DOMAIN + '-1102']
    assert p['warnings'] == []


def test_update_keeps_bytes_when_nothing_changes():
    p = sec.parse_membership_sd(SAMBA_SD)
    assert sec.update_membership_sd(p, exact=sec.granted_sids(p)) == SAMBA_SD
    assert sec.update_membership_sd(p, add=[DOMAIN + '-500']) == SAMBA_SD


def test_add_remove_and_exact():
    p = sec.parse_membership_sd(SAMBA_SD)
    added = sec.parse_membership_sd(sec.update_membership_sd(p, add=[DOMAIN + '-2000']))
    assert sec.granted_sids(added) == [DOMAIN + '-500', DOMAIN + '-1102', DOMAIN + '-2000']
    removed = sec.parse_membership_sd(sec.update_membership_sd(p, remove=[DOMAIN.lower() + '-500']))
    assert sec.granted_sids(removed) == [DOMAIN + '-1102']
    exact = sec.parse_membership_sd(sec.update_membership_sd(p, exact=[DOMAIN + '-7', DOMAIN + '-1102']))
    assert sec.granted_sids(exact) == [DOMAIN + '-1102', DOMAIN + '-7']


def test_unmanaged_entries_are_kept_and_reported():
    from winacl.dtyp.ace import ACCESS_DENIED_ACE, AceFlags
    from winacl.dtyp.sid import SID
    base = sec.parse_membership_sd(sec.build_membership_sd([DOMAIN + '-1102']))
    deny = ACCESS_DENIED_ACE()
    deny.AceFlags = AceFlags(0)
    deny.Mask = 0x10
    deny.Sid = SID.from_string(DOMAIN + '-666')
    sd = sec._serialise('S-1-5-32-544', [a['_ace'] for a in base['aces']] + [deny])
    p = sec.parse_membership_sd(sd)
    assert sec.granted_sids(p) == [DOMAIN + '-1102']
    assert len(p['warnings']) == 1 and 'ACCESS_DENIED_ACE_TYPE %s-666' % DOMAIN in p['warnings'][0]
    new = sec.parse_membership_sd(sec.update_membership_sd(p, exact=[]))
    assert [a['sid'] for a in new['aces']] == [DOMAIN + '-666']


def test_sid_round_trip_and_validation():
    for s in ('S-1-5-32-544', DOMAIN + '-1102', 'S-1-1-0'):
        assert sec.sid_to_str(sec.sid_to_bytes(s)) == s
    assert sec.is_sid(DOMAIN + '-1') and not sec.is_sid('S-1-x') and not sec.is_sid('host1$')
    with pytest.raises(sec.SecurityError):
        sec.sid_to_bytes('S-1-5-' + '-'.join(['1'] * 16))
    with pytest.raises(sec.SecurityError):
        sec.sid_to_str(b'\x01\x05\x00')


def test_guids():
    g = '1eb93889-e40c-45df-9f0c-64d23bbb6237'
    assert sec.guid_to_str(sec.guid_to_bytes(g)) == g
    assert sec.guid_to_str('{%s}' % g.upper()) == g
    assert sec.is_guid(g) and not sec.is_guid('1eb93889') and not sec.is_guid('host1')


def _sd_with(aces_sddl):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    return SECURITY_DESCRIPTOR.from_sddl('O:S-1-5-32-544D:' + aces_sddl).to_bytes()


def _conditional_sd(sid):
    """An ACCESS_ALLOWED_CALLBACK_ACE (a conditional entry, MS-DTYP 2.4.4.6) granting 0xF01FF to ``sid``; its
    application data is the 'artx' marker of a conditional expression, padded."""
    body = (0x000F01FF).to_bytes(4, 'little') + sec.sid_to_bytes(sid) + b'artx' + bytes(4)
    ace = bytes([0x09, 0x00]) + (4 + len(body)).to_bytes(2, 'little') + body
    acl = bytes([2, 0]) + (8 + len(ace)).to_bytes(2, 'little') + (1).to_bytes(2, 'little') + bytes(2) + ace
    owner = sec.sid_to_bytes('S-1-5-32-544')
    header = bytes([1, 0]) + (0x8004).to_bytes(2, 'little') + (20).to_bytes(4, 'little') + bytes(8) + \
        (20 + len(owner)).to_bytes(4, 'little')
    return header + owner + acl


def test_every_entry_an_access_check_counts_is_granted():
    """Measured on the lab (one computer per shape): flags without inherit-only grant, inherit-only, object
    entries and generic bits do not."""
    a, b, c, d, e = ('%s-%d' % (DOMAIN, r) for r in (1101, 1102, 1103, 1104, 1105))
    parsed = sec.parse_membership_sd(_sd_with(
        '(A;CI;0xf01ff;;;%s)(A;CIIO;0xf01ff;;;%s)(OA;;0xf01ff;;;%s)(A;;0x80000000;;;%s)(A;;0x10;;;%s)'
        % (a, b, c, d, e)))
    assert sec.granted_sids(parsed) == [a, e]
    assert any(a in w and 'counts as granted' in w for w in parsed['warnings'])


def test_a_conditional_entry_counts_and_is_named_conditional():
    sid = DOMAIN + '-1201'
    parsed = sec.parse_membership_sd(_conditional_sd(sid))
    assert sec.granted_sids(parsed) == [sid] and sec.conditional_sids(parsed) == [sid]
    assert any('only when its condition holds' in w for w in parsed['warnings'])


def test_set_and_remove_drop_every_entry_that_grants_a_sid():
    a, b = DOMAIN + '-1101', DOMAIN + '-1102'
    parsed = sec.parse_membership_sd(_sd_with('(A;CI;0xf01ff;;;%s)(A;OICI;0x10;;;%s)(A;;0xf01ff;;;%s)' % (a, a, b)))
    assert sec.granted_sids(parsed) == [a, b]
    exact = sec.parse_membership_sd(sec.update_membership_sd(parsed, exact=[b]))
    assert sec.granted_sids(exact) == [b] and len(exact['aces']) == 1
    removed = sec.parse_membership_sd(sec.update_membership_sd(parsed, remove=[a]))
    assert sec.granted_sids(removed) == [b]
    kept = sec.parse_membership_sd(sec.update_membership_sd(
        sec.parse_membership_sd(_sd_with('(A;CIIO;0xf01ff;;;%s)(A;;0xf01ff;;;%s)' % (a, b))), remove=[b]))
    assert [x['sid'] for x in kept['aces']] == [a], 'an entry that grants nothing is kept'
