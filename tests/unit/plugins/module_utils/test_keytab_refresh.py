"""The member's refresher (gmsa_farm_keytab): a tick that is not due asks the directory nothing; a due one refreshes
and schedules the next from the blob (into the window, then after the rotation); failures back off, but never past
the window, and retry every minute near the rotation; the state file says last success, next due and last error.
The directory answers as the lab DC did at the captured stages of a real rotation (data/rotation_blobs.json)."""
from __future__ import annotations

import json
import os

from ansible_collections.gmsa.farm.plugins.module_utils import _keytab_refresh as R
from test_keytab_rotation import STAGES, StageDirectory, SAM


class Counting(object):
    """open_directory for the refresher: the stage's answers, counting each DC opened."""

    def __init__(self, stage=None, error=None):
        self.stage, self.error, self.opened = stage, error, []

    def __call__(self, settings):
        self.opened.append(settings.servers[0].entry)
        if self.error:
            raise self.error
        return StageDirectory(self.stage)


def config(tmp_path, **extra):
    path = tmp_path / 'svc.json'
    path.write_text(json.dumps(dict(dict(name=SAM, path=str(tmp_path / 'svc.keytab'), domain_server=['dc1', 'dc2'],
                                         encryption_types=['aes256', 'aes128'], domain_auth='simple',
                                         domain_username='M$', domain_password='unused'), **extra)))
    return str(path)


def state(tmp_path):
    return json.loads((tmp_path / 'svc.keytab.refresh.json').read_text())


def test_a_tick_that_is_not_due_asks_the_directory_nothing(tmp_path, capsys):
    cfg, now = config(tmp_path), 1_000_000
    d = Counting('new account')
    assert R.main(['--config', cfg], now=now, open_directory=d) == 0
    assert d.opened == ['dc1']
    s = state(tmp_path)
    assert s['last_success_epoch'] == now and s['last_error'] is None and s['kvno'] == 1 and s['failures'] == 0
    # Due just after the window opens: less than 5 minutes before the rotation the blob announced.
    query = STAGES['new account']['query']
    assert now + query - 300 < s['next_due_epoch'] < now + query - 60
    for tick in (now + 60, now + 3600, s['next_due_epoch'] - 1):
        assert R.main(['--config', cfg], now=tick, open_directory=d) == 0
    assert d.opened == ['dc1']
    assert 'is current; next refresh at %s' % s['next_due'] in capsys.readouterr().out
    # Inside the window: refreshed, and due again just after the rotation.
    d.stage = 'first window'
    assert R.main(['--config', cfg], now=s['next_due_epoch'], open_directory=d) == 0
    w = state(tmp_path)
    assert d.opened == ['dc1', 'dc1'] and w['changed'] is True
    assert s['next_due_epoch'] < w['next_due_epoch'] <= s['next_due_epoch'] + 300 + 60


def test_failures_back_off_but_retry_every_minute_near_the_rotation(tmp_path, capsys):
    cfg, now = config(tmp_path), 1_000_000
    R.main(['--config', cfg], now=now, open_directory=Counting('new account'))
    before = open(tmp_path / 'svc.keytab', 'rb').read()
    good = state(tmp_path)
    down = Counting(error=OSError('connection refused'))
    # Far from the rotation: 1, 2, 4 minutes...
    t, waits = now + 7200, []
    for _attempt in range(3):
        assert R.main(['--config', cfg, '--force'], now=t, open_directory=down) == 1
        s = state(tmp_path)
        waits.append(s['next_due_epoch'] - t)
        t = s['next_due_epoch']
    assert waits == [60, 120, 240] and down.opened == ['dc1', 'dc2'] * 3
    out = capsys.readouterr().out
    assert 'refresh FAILED (attempt 3): no domain controller gave the password (tried 2, in order). dc1: ' \
           'connection refused | dc2: connection refused; the keytab is unchanged; next try at' in out
    assert s['last_success_epoch'] == good['last_success_epoch'] and s['kvno'] == 1
    assert s['last_error'].startswith('no domain controller gave the password') and s['failures'] == 3
    assert open(tmp_path / 'svc.keytab', 'rb').read() == before
    # Inside the window (and after the rotation): every minute, whatever the count.
    rotation = good['rotation_epoch']
    for t in (rotation - 200, rotation + 600):
        R.main(['--config', cfg, '--force'], now=t, open_directory=down)
        assert state(tmp_path)['next_due_epoch'] - t == 60
    # A success clears the error.
    R.main(['--config', cfg, '--force'], now=rotation + 700, open_directory=Counting('after first rotation'))
    s = state(tmp_path)
    assert s['last_error'] is None and s['failures'] == 0 and s['kvno'] == 2


def test_backoff_never_sleeps_past_the_window():
    s = dict(rotation_epoch=10_000, failures=9)
    after = R.after_failure(s, 'x', 10_000 - 300 - 100)
    assert after['next_due_epoch'] <= 10_000 - 300 + 60


def test_post_refresh_command_runs_when_the_keytab_changed_only(tmp_path):
    marker = tmp_path / 'reloads'
    cfg = config(tmp_path, post_refresh_command=['sh', '-c', 'echo reload >> %s' % marker])
    R.main(['--config', cfg], now=1_000_000, open_directory=Counting('new account'))
    R.main(['--config', cfg, '--force'], now=1_000_100, open_directory=Counting('new account'))
    assert marker.read_text() == 'reload\n'
    failing = config(tmp_path, post_refresh_command=['sh', '-c', 'echo no such service >&2; exit 3'])
    assert R.main(['--config', failing, '--force'], now=1_000_200, open_directory=Counting('first window')) == 1
    s = state(tmp_path)
    assert s['last_error'] == 'post_refresh_command sh exited 3: no such service' and s['changed'] is True


def test_status_prints_the_state_for_monitoring(tmp_path, capsys):
    cfg = config(tmp_path)
    R.main(['--config', cfg], now=1_000_000, open_directory=Counting('new account'))
    capsys.readouterr()
    assert R.main(['--config', cfg, '--status']) == 0
    shown = json.loads(capsys.readouterr().out)
    assert set(['last_success', 'next_due', 'last_error', 'kvno']) <= set(shown)
    assert 'unused' not in json.dumps(shown) and not os.path.exists(str(tmp_path / 'svc.keytab.refresh.json.tmp'))


def test_a_keytab_that_cannot_be_written_is_a_failure_with_a_retry(tmp_path, monkeypatch):
    cfg = config(tmp_path)

    def full(*_a, **_k):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(R, 'run', lambda *a, **k: full())
    assert R.main(['--config', cfg], now=1_000_000, open_directory=Counting('new account')) == 1
    s = state(tmp_path)
    assert 'No space left on device' in s['last_error'] and s['next_due_epoch'] == 1_000_060


def test_the_refresher_package_is_the_role_s_files_and_imports_nothing_of_ansible(tmp_path):
    """The member role copies the files member_refresher lays out for the lab; with only that package on the path
    (no ansible_collections, so no absolute import of the collection can work), a due tick's imports succeed:
    the connection layer, its values and the encryption-type table come along by relative import."""
    import subprocess
    import sys
    import yaml
    repo = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
    sys.path.insert(0, os.path.join(repo, 'tests', 'lab'))
    from member_refresher import FILES, install_refresher
    role = os.path.join(repo, 'roles', 'member', 'tasks', 'linux_join.yml')
    with open(role) as f:
        tasks = yaml.safe_load(f)
    block = [t for t in tasks if 'block' in t and 'Refresher' in t['name']][0]['block']
    copied = [t for t in block if 'gmsa_farm_keytab' in t.get('name', '') and 'loop' in t][0]['loop']
    assert sorted((item['src'], item['dest']) for item in copied) == sorted(FILES)
    lib = install_refresher(str(tmp_path))
    code = ('import sys; import gmsa_farm_keytab.__main__, gmsa_farm_keytab._ldap_connection as c; '
            'assert "ansible" not in sys.modules, sorted(m for m in sys.modules if "ansible" in m); '
            'print(sorted(c.ConnectionSettings.FIELDS))')
    env = dict(os.environ, PYTHONPATH=lib)
    done = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert 'servers' in done.stdout
