"""The one encryption-type table: msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7) for the gMSA option and the
Kerberos enctype numbers (RFC 3962, RFC 4757) for keytabs, both views read from it."""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.module_utils import _enctypes as et
from ansible_collections.gmsa.farm.plugins.module_utils import _keytab as K
from ansible_collections.gmsa.farm.plugins.module_utils._object import rows


def test_the_gmsa_option_and_the_keytab_read_the_same_table():
    assert rows.ENCTYPES == [('des', 0x3), ('rc4', 0x4), ('aes128', 0x8), ('aes256', 0x10)]
    assert K.ENCTYPES == {'rc4': (23, 0x4, 'arcfour-hmac'), 'aes128': (17, 0x8, 'aes128-cts-hmac-sha1-96'),
                          'aes256': (18, 0x10, 'aes256-cts-hmac-sha1-96')}
    assert dict(rows.ENCTYPES)['aes256'] == K.ENCTYPES['aes256'][1]
    assert sorted(rows.ENCTYPE_CHOICES) == sorted(name for name, _bits, _n, _label in et.TABLE)


def test_names_and_masks_round_trip():
    assert rows.enctype_names(0x18) == ['aes128', 'aes256'] and rows.enctype_mask(['rc4', 'aes256']) == 0x14
    assert rows.enctype_names(0x1F) == ['des', 'rc4', 'aes128', 'aes256']
