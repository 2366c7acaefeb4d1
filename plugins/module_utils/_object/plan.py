# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``Plan``: everything one task decided for one object, as a value.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API. Pure.

A kind's planner returns a ``Plan``; check mode, the diff, the rights check, the execution and the failure
report all read it, and nothing else decides a write or a diff entry.
"""
from __future__ import annotations


class Plan(object):
    """requests: the ordered ``Request`` list; before/after: the diff; warnings: shown to the user; result: the
    module's result keys for this object (``changed``, ``requests`` and ``diff`` are added from the plan)."""

    def __init__(self, before=None, after=None, result=None):
        self.requests = []
        self.before = dict(before or {})
        self.after = dict(after or {})
        self.warnings = []
        self.result = dict(result or {})
        self.written = []

    def add(self, request):
        self.requests.append(request)
        return request

    @property
    def changed(self):
        return bool(self.requests)

    def described(self):
        return [r.describe() for r in self.requests]

    def module_result(self):
        """The module's result for this object: its own keys, ``changed``, ``requests`` and ``diff``."""
        out = dict(self.result)
        out.update(changed=bool(self.requests), requests=self.described(),
                   diff=dict(before=self.before, after=self.after))
        return out
