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
* ``access``   - the rights no attribute of the directory answers (delete, move away, Reset Password), read from
                 DACLs against the bound account's token.
* ``rows``     - property rows: how an option becomes an attribute (text, lists, encryption types, create-only
                 values, userAccountControl bits).

One file (or a few) per kind of object, each with its description (classes, rows, the hooks it needs), a pure
``plan`` returning a ``Plan``, its reads, and ``run(module, directory)``:

* ``gmsa`` (description and rows), ``gmsa_plan`` (plan), ``read`` (the batched reads), ``gmsa_task`` (one
  account), ``gmsa_list`` (the list form: every entry planned once, the rights of all checked at once);
* ``host_group``, ``service_user``, ``computer_account``, ``kds_root_key``, ``ou_delegation``.
"""
