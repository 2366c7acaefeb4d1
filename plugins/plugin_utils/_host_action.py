# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: the one way the host-side action plugins run their controller-side logic.

The action plugin validates its arguments, then hands the logic a ``call(module, args)`` that runs a module on the
host through Ansible's own connection (as ansible.windows' win_updates / win_reboot action plugins do), and turns
a HostTaskError into a failed result that says whether anything was changed.
"""
from __future__ import annotations

import time

from ansible.plugins.action import ActionBase

from ansible_collections.gmsa.farm.plugins.plugin_utils._windows_names import HostTaskError


class HostActionBase(ActionBase):
    """Subclasses set ARGUMENT_SPEC and LOGIC (a module with ``run(params, call, check_mode, sleep, clock)``)."""

    TRANSFERS_FILES = False
    _requires_connection = True
    ARGUMENT_SPEC = {}
    LOGIC = None

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        self._supports_async = False
        result = super().run(tmp, task_vars)
        del tmp
        _validation, params = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)

        def call(module, args):
            return self._execute_module(module_name=module, module_args=args, task_vars=task_vars)

        try:
            out = self.LOGIC.run(params, call, check_mode=bool(self._task.check_mode), sleep=time.sleep,
                                 clock=time.monotonic)
        except HostTaskError as e:
            result.update(e.result)
            result.update(failed=True, changed=e.changed, msg=e.msg)
            return result
        warnings = out.pop('warnings', [])
        if warnings:
            result.setdefault('warnings', []).extend(warnings)
        if not self._task.diff:
            out.pop('diff', None)
        result.update(out)
        return result
