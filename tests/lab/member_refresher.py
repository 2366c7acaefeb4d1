"""Lab helper: the member's refresher package laid out as the member role installs it - gmsa_farm_keytab/ with the
collection's own module_utils files (_keytab_refresh.py as __main__.py) - for tests and benchmarks that run
``python3 -m gmsa_farm_keytab`` with the directory on PYTHONPATH, as the systemd unit does. Lab tooling only."""
from __future__ import annotations

import os
import shutil

MODULE_UTILS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                            'plugins', 'module_utils')
FILES = (('_keytab_refresh.py', '__main__.py'), ('_keytab.py', '_keytab.py'),
         ('_ldap_connection.py', '_ldap_connection.py'), ('_values.py', '_values.py'), ('_enctypes.py', '_enctypes.py'))


def install_refresher(directory):
    """Lay the package out under ``directory``; returns ``directory`` (what PYTHONPATH gets)."""
    package = os.path.join(directory, 'gmsa_farm_keytab')
    os.makedirs(package)
    for src, dest in FILES:
        shutil.copy(os.path.join(MODULE_UTILS, src), os.path.join(package, dest))
    open(os.path.join(package, '__init__.py'), 'w').close()
    return directory
