"""ansible-playbook with Windows members answered by simulated hosts (windows_sim.SimHost).

    GMSA_SIM_DIR=<dir> python tests/unit/sim_playbook.py <ansible-playbook arguments>

Every call the host-side action plugins make to a Windows module (module_shapes.MODULES) on inventory host H is
answered by the SimHost pickled in <dir>/H.pickle, which is saved again after the call, so state carries from task
to task as on a real host; every other module (the directory side on the controller) runs as usual. The playbook,
the roles, Ansible's loop handling and its output at any verbosity are the real ones: only the Windows host is
simulated, with the same shape checks against the real modules as the unit tests.
"""
from __future__ import annotations

import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import module_shapes  # noqa: E402  pylint: disable=wrong-import-position
from ansible.plugins.action import ActionBase  # noqa: E402  pylint: disable=wrong-import-position

_ORIGINAL = ActionBase._execute_module


def _execute_module(self, module_name=None, module_args=None, tmp=None, task_vars=None, persist_files=False,
                    delete_remote_tmp=None, wrap_async=False, **kwargs):
    name = module_name or self._task.resolved_action
    if name not in module_shapes.MODULES:
        return _ORIGINAL(self, module_name=module_name, module_args=module_args, tmp=tmp, task_vars=task_vars,
                         persist_files=persist_files, delete_remote_tmp=delete_remote_tmp, wrap_async=wrap_async,
                         **kwargs)
    host = (task_vars or {}).get('inventory_hostname')
    path = os.path.join(os.environ['GMSA_SIM_DIR'], '%s.pickle' % host)
    with open(path, 'rb') as f:
        sim = pickle.load(f)
    try:
        return sim.call(name, dict(module_args or {}))
    finally:
        with open(path, 'wb') as f:
            pickle.dump(sim, f)


ActionBase._execute_module = _execute_module

if __name__ == '__main__':
    from ansible.cli.playbook import main
    sys.argv = ['ansible-playbook'] + sys.argv[1:]
    sys.exit(main())
