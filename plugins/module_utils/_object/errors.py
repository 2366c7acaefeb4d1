# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The failures the directory modules report. No Ansible import: the pure planners raise them too.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.
"""
from __future__ import annotations

NOTHING_CHANGED = 'Nothing was changed.'


class ModuleFailure(Exception):
    """Fail the task with ``msg`` (and extra result keys such as ``changed`` and ``written``)."""

    def __init__(self, msg, **details):
        super(ModuleFailure, self).__init__(msg)
        self.msg = msg
        self.details = details


class Conflict(Exception):
    """Another writer changed the object between the read and the first write; nothing was written."""


class PlanError(ValueError):
    """The task asks for something that cannot or must not be done; nothing is written (raised by the pure
    planners, turned into a ModuleFailure by the task)."""
