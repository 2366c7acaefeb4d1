# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of gmsa.farm.gmsa_host: the decisions run on the controller (plugin_utils/_gmsa_host.py); the
host only answers gmsa.farm.host_native's raw netapi32 calls."""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.plugin_utils import _gmsa_host
from ansible_collections.gmsa.farm.plugins.plugin_utils._host_action import HostActionBase


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = _gmsa_host.ARGUMENT_SPEC
    LOGIC = _gmsa_host
