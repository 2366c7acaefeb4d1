# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Old import path of the names host_group, service_user, computer_account and the benchmark still take from here:
the property rows now live in ``_object/rows.py`` and the managed service accounts' description in
``_object/gmsa.py``.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Goes away once no module imports it.
"""
from __future__ import annotations

# pylint: disable=unused-import
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import PlanError  # noqa: F401
from ansible_collections.gmsa.farm.plugins.module_utils._object.gmsa import ACCOUNT_ATTRIBUTES, validate_spn  # noqa: F401
from ansible_collections.gmsa.farm.plugins.module_utils._object.rows import (  # noqa: F401
    UAC_ACCOUNTDISABLE, apply_list_action, list_action_spec, list_changes, single_value_change, uac_enabled,
)
