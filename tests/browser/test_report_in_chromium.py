"""The HTML audit report in a real headless browser (Debian's chromium): an account whose description, names,
SPNs and service names hold markup and script shows that markup as text, and no script runs. Run by
tests/browser/run.sh, which installs chromium for this step."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, 'tests', 'unit'))

from test_audit_report_escaping import hostile_audit, render_html  # noqa: E402

CHROMIUM = shutil.which('chromium')
SKIP_REASON = 'Debian chromium is not installed (tests/browser/run.sh installs it as root with apt-get)'
pytestmark = pytest.mark.skipif(not CHROMIUM, reason=SKIP_REASON)


def chromium(tmp_path, *args):
    # --no-sandbox: the tests run as root; the page is local and holds nothing but the report
    cmd = [CHROMIUM, '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
           '--user-data-dir=%s' % (tmp_path / 'profile'), '--virtual-time-budget=2000'] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    return p.stdout


def test_markup_shows_as_text_and_nothing_runs(tmp_path):
    page = tmp_path / 'report'
    page.mkdir()
    render_html(page, hostile_audit())
    url = 'file://%s' % (page / 'gmsa-audit.html')
    # the DOM after the page loaded and any script had its chance to run
    dom = chromium(tmp_path, '--dump-dom', url)
    body = re.search(r'<body[^>]*>', dom).group(0)
    assert 'data-xss' not in body, body           # neither the onerror handler nor the script element ran
    assert not re.search(r'<(img|script|b)[\s>]', dom)
    assert '<h1>gMSA audit - Farm&lt;img src=x onerror=' in dom, dom[:2000]
    # the text a reader sees, as the browser lays it out: the markup as characters
    shot = tmp_path / 'report.png'
    chromium(tmp_path, '--screenshot=%s' % shot, '--window-size=1200,900', url)
    assert shot.stat().st_size > 10000
    text = chromium(tmp_path, '--dump-dom', 'data:text/html,<script>document.write("ok")</script>')
    assert 'ok' in text         # the same browser does run script: the report's silence is the escaping's
