"""The directory modules' runner: how a failure reaches the task result (no server)."""
from __future__ import annotations

import pytest

from ansible_collections.gmsa.farm.plugins.module_utils import _module as runner
from ansible_collections.gmsa.farm.plugins.module_utils._ldap_connection import DirectoryError
from ansible_collections.gmsa.farm.plugins.module_utils._object.errors import ModuleFailure


class Done(Exception):
    pass


class StubModule(object):
    params = {}

    def warn(self, text):
        pass

    def fail_json(self, **result):
        raise Done(dict(result, failed=True))

    def exit_json(self, **result):
        raise Done(result)


class StubDirectory(object):
    not_reached, requests = [], 0

    def __init__(self, params):
        pass

    def connect(self):
        return self

    def close(self):
        pass


def outcome(monkeypatch, core):
    monkeypatch.setattr(runner, 'Directory', StubDirectory)
    with pytest.raises(Done) as e:
        runner.run_with_directory(StubModule(), core)
    return e.value.args[0]


def test_a_write_without_an_answer_outside_a_plan_fails_with_changed_true(monkeypatch):
    def core(module, directory):
        raise DirectoryError('the domain controller dc1 did not answer within domain_timeout (10s) after the create '
                             'request for CN=k,CN=x was sent', outcome_unknown=True)
    r = outcome(monkeypatch, core)
    assert r['failed'] and r['changed'] is True
    assert r['msg'].endswith('was sent: it may or may not have been applied. Run the task again: it reads what is '
                             'there now.')


def test_a_read_failure_fails_without_changed_and_a_plan_failure_keeps_its_details(monkeypatch):
    def read_failure(module, directory):
        raise DirectoryError('the domain controller dc1 did not answer within domain_timeout (10s) during a search')
    r = outcome(monkeypatch, read_failure)
    assert r['failed'] and 'changed' not in r and 'may or may not' not in r['msg']

    def plan_failure(module, directory):
        raise ModuleFailure('x failed', changed=True, written=['perhaps: y'])
    r = outcome(monkeypatch, plan_failure)
    assert r == dict(msg='x failed', changed=True, written=['perhaps: y'], failed=True)
