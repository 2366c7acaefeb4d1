# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Thin runner shared by the directory modules: argument spec merge, connect, run, close, report.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.
"""
from __future__ import annotations

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import (
    HAS_LDAP3, LDAP3_IMPORT_ERROR, Directory, DirectoryError, connection_argument_spec,
)
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure  # noqa: F401


def run_directory_module(argument_spec, core, **module_kwargs):
    """Build the module (the connection options merged into ``argument_spec``), then ``run_with_directory``."""
    spec = connection_argument_spec()
    spec.update(argument_spec)
    module_kwargs.setdefault('supports_check_mode', True)
    run_with_directory(AnsibleModule(argument_spec=spec, **module_kwargs), core)


def run_with_directory(module, core):
    """Open one bound connection, call ``core(module, directory) -> result``, close it, exit.

    ``core`` raises ``ModuleFailure`` or ``DirectoryError`` to fail; both carry messages for people.
    """
    if not HAS_LDAP3:
        module.fail_json(msg=missing_required_lib('ldap3'), exception=str(LDAP3_IMPORT_ERROR))
    directory = None
    result = None
    failure = None
    try:
        directory = Directory(module.params).connect()
        if directory.not_reached:
            module.warn('Connected to %s after %s did not answer: %s' % (
                directory.server_name, 'one domain controller' if len(directory.not_reached) == 1 else
                '%d domain controllers' % len(directory.not_reached), '; '.join(directory.not_reached)))
        result = core(module, directory)
    except ModuleFailure as e:
        failure = dict(msg=e.msg, **e.details)
    except DirectoryError as e:
        failure = dict(msg=e.msg)
        if e.outcome_unknown:
            # a write sent outside a plan (a plan's own writes are reported by apply.execute) got no answer
            failure.update(msg='%s: it may or may not have been applied. Run the task again: it reads what is '
                               'there now.' % e.msg, changed=True)
    finally:
        if directory is not None:
            directory.close()
    counted = {}
    if directory is not None and os.environ.get('GMSA_FARM_COUNT_REQUESTS'):
        counted['ldap_requests'] = directory.requests
    if failure is not None:
        failure.update(counted)
        module.fail_json(**failure)
    result.update(counted)
    module.exit_json(**result)
