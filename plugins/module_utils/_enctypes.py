# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kerberos encryption types gmsa.farm knows, in one table: the gMSA option ``kerberos_encryption_types``
(msDS-SupportedEncryptionTypes bits) and the keytab code (Kerberos enctype numbers) both read it.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. No imports: the Linux member's
refresher package ``gmsa_farm_keytab`` carries this file and an idle tick imports it.
"""
from __future__ import annotations

# (option name, msDS-SupportedEncryptionTypes bits (MS-KILE 2.2.7), Kerberos enctype number (RFC 3962 for AES,
# RFC 4757 for RC4; None: a keytab never gets DES keys from gmsa.farm), MIT krb5 name), weakest first.
TABLE = (
    ('des', 0x1 | 0x2, None, 'des-cbc-crc, des-cbc-md5'),
    ('rc4', 0x4, 23, 'arcfour-hmac'),
    ('aes128', 0x8, 17, 'aes128-cts-hmac-sha1-96'),
    ('aes256', 0x10, 18, 'aes256-cts-hmac-sha1-96'),
)

# name -> msDS-SupportedEncryptionTypes bits, weakest first (the order the option's values are shown in)
SUPPORTED_BITS = [(name, bits) for name, bits, _number, _label in TABLE]
# name -> (Kerberos enctype number, msDS-SupportedEncryptionTypes bit, label), for the types a keytab can hold
KEYTAB_TYPES = dict((name, (number, bits, label)) for name, bits, number, label in TABLE if number is not None)
