# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations


class ModuleDocFragment(object):
    # How every option with the suboptions add, remove and set behaves (gmsa, host_group, service_user): said here
    # once; each module's option says only what its values are and how they compare.
    DOCUMENTATION = r'''
options: {}
notes:
  - >-
    List values. An option with the suboptions C(add), C(remove) and C(set) changes a list of values as in
    microsoft.ad. C(add) adds the given values that are not there yet and C(remove) removes the given values that
    are there; both leave every other value as it is, so several tasks (or a person) can each manage their own
    values. C(set) makes the list exactly the given values, in any order; C(set=[]) removes them all; with C(set)
    given, C(add) and C(remove) are ignored. Leaving the option out, or giving none of the three, leaves the
    attribute alone.
  - >-
    List values are compared as the option says (SPNs and member names without regard to case, principals by the
    object they resolve to), so a rerun with the same values changes nothing. Check mode and the diff show the
    whole list before and after. A value another writer adds or removes between the task's read and its write is
    never undone by the task.
'''
