# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Old import path of ``ACCOUNT_ATTRIBUTES``, which the benchmark still takes from here; the managed service
accounts' description is ``_object/gmsa.py``.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Goes away once nothing imports it.
"""
from __future__ import annotations

# pylint: disable-next=unused-import
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import ACCOUNT_ATTRIBUTES  # noqa: F401
