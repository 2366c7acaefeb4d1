# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The object engine every writing directory module shares.

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

* ``errors``   - the failures a module reports (no Ansible import).
* ``request``  - one LDAP write request of a plan (``Request``), described without values.
* ``plan``     - ``Plan``: the ordered requests, the diff's before/after, warnings and result of one object.
* ``apply``    - rights checked for every request before the first, then the requests sent in order; conflicts
                 re-read and re-planned; an honest report of what was written when a later request fails.
"""
