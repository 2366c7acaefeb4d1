# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of gmsa.farm.windows_service_identity: the decisions, validation and rollback run on the
controller (plugin_utils/_service_identity.py) and drive ansible.windows, community.windows and microsoft.iis
modules on the host."""
from __future__ import annotations

from ansible_collections.gmsa.farm.plugins.plugin_utils import _service_identity
from ansible_collections.gmsa.farm.plugins.plugin_utils._host_action import HostActionBase


class ActionModule(HostActionBase):
    ARGUMENT_SPEC = _service_identity.ARGUMENT_SPEC
    LOGIC = _service_identity
