"""Pure tests of the delete/move and DACL-write verdicts read from descriptors: first on descriptors, tokens and
answers captured from the lab DC (data/delete_rights.json: for each case the DC's own answer to the delete),
then on hand-written SDDL for the ACE shapes the lab has none of."""
from __future__ import annotations

import base64
import json
import os

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils._object import access

DATA = os.path.join(os.path.dirname(__file__), 'data', 'delete_rights.json')
USER = 'S-1-5-21-1-2-3-1105'
TOKEN = [USER, 'S-1-5-21-1-2-3-513', 'S-1-1-0', 'S-1-5-2', 'S-1-5-11']
GMSA = 'msDS-GroupManagedServiceAccount'


def sd(sddl):
    from winacl.dtyp.security_descriptor import SECURITY_DESCRIPTOR
    return SECURITY_DESCRIPTOR.from_sddl(sddl).to_bytes()


@pytest.mark.parametrize('case', json.load(open(DATA)), ids=lambda c: c['case'])
def test_the_verdict_on_captured_descriptors_is_the_dcs_answer(case):
    verdict = access.may_delete(base64.b64decode(case['sd']), base64.b64decode(case['parent_sd']), case['token'],
                                case['object_class'])
    assert verdict is case['dc_allowed']


def test_delete_on_the_object_or_delete_child_on_the_parent_grants_it():
    assert access.may_delete(sd('O:S-1-5-32-544D:(A;;SD;;;%s)' % USER), None, TOKEN, GMSA) is True
    parent = sd('O:S-1-5-32-544D:(OA;;DC;%s;;%s)' % (access.CLASS_GUIDS['msds-groupmanagedserviceaccount'], USER))
    assert access.may_delete(sd('O:S-1-5-32-544D:(A;;RP;;;%s)' % USER), parent, TOKEN, GMSA) is True
    # "delete child" for another class does not
    other = sd('O:S-1-5-32-544D:(OA;;DC;%s;;%s)' % (access.CLASS_GUIDS['group'], USER))
    assert access.may_delete(sd('O:S-1-5-32-544D:(A;;RP;;;%s)' % USER), other, TOKEN, GMSA) is False


def test_the_first_allow_or_deny_of_a_bit_decides_and_inherit_only_aces_are_skipped():
    assert access.granted(sd('O:S-1-5-32-544D:(D;;SD;;;WD)(A;;SD;;;%s)' % USER), TOKEN, access.DELETE) is False
    assert access.granted(sd('O:S-1-5-32-544D:(A;;SD;;;%s)(D;;SD;;;WD)' % USER), TOKEN, access.DELETE) is True
    assert access.granted(sd('O:S-1-5-32-544D:(A;CIIO;SD;;;%s)' % USER), TOKEN, access.DELETE) is False
    assert access.granted(sd('O:S-1-5-32-544D:(A;;SD;;;S-1-5-21-9-9-9-500)'), TOKEN, access.DELETE) is False


def test_shapes_it_cannot_evaluate_leave_the_decision_to_the_dc():
    # an OWNER RIGHTS ACE (who owns it is not known from a DACL-only read), an object ACE of a class it was not
    # told: "cannot tell", never "refused"
    assert access.granted(sd('O:S-1-5-32-544D:(A;;SD;;;S-1-3-4)'), TOKEN, access.DELETE) is None
    parent = sd('O:S-1-5-32-544D:(OA;;DC;%s;;%s)' % (access.CLASS_GUIDS['group'], USER))
    assert access.may_delete(sd('O:S-1-5-32-544D:(A;;RP;;;%s)' % USER), parent, TOKEN, 'someOtherClass') is None
    assert access.granted(None, TOKEN, access.DELETE) is None


def test_the_owner_may_always_change_the_dacl():
    assert access.granted(sd('O:%sD:(D;;WD;;;WD)' % USER), TOKEN, access.WRITE_DAC) is True
    assert access.granted(sd('O:S-1-5-32-544D:(A;;RP;;;%s)' % USER), TOKEN, access.WRITE_DAC) is False


def test_no_dacl_at_all_grants_everything():
    import struct
    owner = bytes([1, 2, 0, 0, 0, 0, 0, 5]) + struct.pack('<II', 32, 544)          # S-1-5-32-544
    no_dacl = struct.pack('<BBHIIII', 1, 0, 0x8000, 20, 0, 0, 0) + owner           # self-relative, no DACL
    assert access.granted(no_dacl, TOKEN, access.DELETE) is True
