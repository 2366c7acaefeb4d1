# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gmsa-farm-keytab: the refresher a Linux farm member runs (its systemd timer wakes it every minute).

PRIVATE: implementation detail of the gmsa.farm collection, not a public API.

The member role installs this file as ``__main__.py`` of a small package ``gmsa_farm_keytab`` beside ``_keytab.py``,
``_ldap_connection.py``, ``_values.py`` and ``_enctypes.py`` (the same files the module ``gmsa.farm.gmsa_keytab``
uses, imported relatively, so the module and the refresher run one code), and the timer runs
``python3 -m gmsa_farm_keytab --config FILE``. Nothing here imports Ansible.

Each run ("tick") reads its state file (JSON, also for monitoring: last success, next due, last error) and:
* when the refresh is not due, returns at once and asks the directory nothing (ldap3 is not even imported);
* when it is due, refreshes the keytab like the module (every DC tried in order) and schedules the next refresh
  from the blob: inside the rotation window just after the rotation, otherwise just after the next window opens,
  and at most ``max_age`` seconds (a day) later;
* after a failure, retries in a minute when the rotation is near (inside its window or past it), otherwise backs
  off (1, 2, 4 ... minutes, at most an hour), and says when it retries;
* after a refresh that changed the keytab, runs ``post_refresh_command`` (an argv list, e.g. a service reload).
One line per run for the journal; exit status 1 on failure. No key or password is ever printed or stored.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from ._keytab import CLOCK_SKEW, KeytabError, iso, member_params, refresh_wait, run

MAX_AGE = 86400
RETRY_NEAR_ROTATION = 60
BACKOFF_FIRST, BACKOFF_MAX = 60, 3600


def state_path(params):
    return params.get('state_file') or params['path'] + '.refresh.json'


def read_state(path):
    """The state file's contents ({} when there is none or it cannot be read: then the refresh is due)."""
    try:
        with open(path) as f:
            state = json.load(f)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def write_state(path, state):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(state, f, indent=1, sort_keys=True)
        f.write('\n')
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def is_due(state, keytab_exists, now, force=False):
    """(due, why) for one tick; pure."""
    if force:
        return True, 'forced'
    if not keytab_exists:
        return True, 'the keytab does not exist'
    due_at = state.get('next_due_epoch')
    if not isinstance(due_at, (int, float)):
        return True, 'no schedule yet'
    if now >= due_at:
        return True, 'due since %s' % iso(due_at)
    return False, 'next refresh at %s' % iso(due_at)


def after_success(result, now, max_age=MAX_AGE):
    """The state after a successful refresh, scheduled from the blob's intervals as read at ``now``; pure."""
    rotates_in = max(int(result['query_password_seconds']), 0)
    next_due = int(now) + min(refresh_wait(rotates_in, result['next_password_readable']), max_age)
    return dict(last_success=iso(now), last_success_epoch=int(now), next_due=iso(next_due), next_due_epoch=next_due,
                last_error=None, last_error_at=None, failures=0, kvno=result['kvno'],
                rotation=iso(now + rotates_in), rotation_epoch=int(now) + rotates_in,
                domain_controller=result.get('domain_controller'), changed=bool(result.get('changed')))


def after_failure(state, error, now):
    """The state after a failed refresh (the last success and the kvno stay); pure. Near the rotation (inside its
    window or past it) the retry comes in a minute: whoever reads first after the rotation moves the password, and
    this member must not lack the new key for long. Otherwise each failure doubles the wait, up to an hour."""
    failures = int(state.get('failures') or 0) + 1
    rotation = state.get('rotation_epoch')
    near = isinstance(rotation, (int, float)) and now >= rotation - CLOCK_SKEW
    wait = RETRY_NEAR_ROTATION if near else min(BACKOFF_FIRST * 2 ** (failures - 1), BACKOFF_MAX)
    if isinstance(rotation, (int, float)) and not near:
        wait = min(wait, max(rotation - CLOCK_SKEW - now + 30, RETRY_NEAR_ROTATION))   # never sleep past the window
    out = dict(state)
    out.update(last_error=error, last_error_at=iso(now), failures=failures, next_due_epoch=int(now + wait),
               next_due=iso(now + wait))
    return out


def _log(message):
    sys.stdout.write(message + '\n')
    sys.stdout.flush()


def _open_directory(p):
    from . import _ldap_connection   # only when a refresh is due: an idle tick imports no LDAP library
    return _ldap_connection.Directory(p).connect()


def main(argv=None, now=None, open_directory=None):
    parser = argparse.ArgumentParser(prog='gmsa-farm-keytab', description=(
        'Refresh a Linux farm member\'s keytab of a gMSA from its managed password when the schedule says so.'))
    parser.add_argument('--config', required=True, help='JSON file with the gmsa_keytab options (no secret)')
    parser.add_argument('--force', action='store_true', help='refresh now, whatever the schedule says')
    parser.add_argument('--status', action='store_true', help='print the state file and exit')
    args = parser.parse_args(argv)
    try:
        with open(args.config) as f:
            params = member_params(json.load(f))
    except (OSError, ValueError) as e:
        _log('gmsa-farm-keytab: cannot read the configuration %s: %s' % (args.config, e))
        return 2
    spath = state_path(params)
    state = read_state(spath)
    if args.status:
        _log(json.dumps(state, indent=1, sort_keys=True))
        return 0
    now = time.time() if now is None else now
    due, why = is_due(state, os.path.exists(params['path']), now, args.force)
    if not due:
        _log('%s: keytab %s is current; %s' % (params['name'], params['path'], why))
        return 0
    try:
        result = run(params, False, open_directory or _open_directory)
    except (KeytabError, OSError) as e:     # OSError: the keytab could not be written (disk full, read-only)
        state = after_failure(state, str(e), now)
        write_state(spath, state)
        _log('%s: refresh FAILED (attempt %d): %s; the keytab is unchanged; next try at %s'
             % (params['name'], state['failures'], e, state['next_due']))
        return 1
    state = after_success(result, now, params.get('max_age') or MAX_AGE)
    status = 0
    command = params.get('post_refresh_command')
    if result['changed'] and command:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            if done.returncode != 0:
                state['last_error'] = 'post_refresh_command %s exited %d: %s' % (
                    command[0], done.returncode, (done.stderr or done.stdout).strip()[-300:])
                state['last_error_at'] = iso(now)
                status = 1
        except (OSError, subprocess.TimeoutExpired) as e:
            state['last_error'], state['last_error_at'], status = 'post_refresh_command %s: %s' % (command[0], e), \
                iso(now), 1
    write_state(spath, state)
    _log('%s: keytab %s %s (kvno %d%s, %s, %d principals, from %s); next refresh at %s%s'
         % (params['name'], params['path'], 'updated' if result['changed'] else 'unchanged', result['kvno'],
            ', next password readable' if result['next_password_readable'] else '',
            ', '.join(result['encryption_types']), len(result['principals']), result.get('domain_controller'),
            state['next_due'], '; ' + state['last_error'] if status else ''))
    for warning in result.get('warnings') or []:
        _log('%s: warning: %s' % (params['name'], warning))
    return status


if __name__ == '__main__':
    raise SystemExit(main())
