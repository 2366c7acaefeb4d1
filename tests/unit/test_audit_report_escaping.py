"""The HTML audit report shows every value the directory and the hosts gave as text: names, descriptions, SPNs,
service names. Whoever can write an account's description or a service's name must not be able to put markup or
script into the page security staff open (the same report in a real browser: tests/browser)."""
from __future__ import annotations

import html.parser
import json
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)     # the ansible-core the tests run with
TEMPLATE = os.path.join(REPO, 'playbooks', 'templates', 'audit_report.html.j2')
# markup that would run script (an event handler, a script element), break out of an attribute or an element,
# and plain formatting: each must arrive as the characters it is
HOSTILE = ('<img src=x onerror="document.body.setAttribute(\'data-xss\',\'img\')">'
           '<script>document.body.setAttribute("data-xss","script")</script></td></tr></table><b>bold</b> & "q" \'s')


def hostile_audit(h=HOSTILE):
    acct = dict(name='Web' + h, sam_account_name='Web$' + h, description='desc ' + h, display_name='disp ' + h,
                effective_retrievers=['WEB01$' + h], privileged=True, privileged_groups=['Domain Admins' + h],
                retrievers_unbounded=True, unbounded_reasons=['reason ' + h],
                allowed_principals=[dict(name='Hosts' + h, sid='S-1-5-21-1-2-3-1000')], enabled=True,
                delegation=dict(trusted_for_delegation=False, trusted_to_auth_for_delegation=False,
                                allowed_to_delegate_to=['http/' + h], delegates=[]),
                next_rotation='2026-12-01' + h, stale=False, orphaned=False, unresolved_sids=[],
                distinguished_name='CN=Web,CN=Managed Service Accounts', dns_hostname='web.example.com' + h,
                spn=['http/web' + h], kerberos_encryption_types=[], password_interval_days=30,
                password_last_set=None, member_of=[])
    return dict(gmsa_farm=dict(name='Farm' + h), gmsa_farm_audit_scope='farm',
                gmsa_farm_audit=dict(accounts=[acct], migration_candidates=[
                    dict(name='svc' + h, spn=['MSSQLSvc/sql' + h], distinguished_name='CN=svc')]),
                gmsa_farm_audit_host_candidates=[dict(host='web01' + h, kind='service', name='svc ' + h,
                                                      account='CONTOSO\\svc' + h)])


def render_html(tmp_path, variables):
    vfile = tmp_path / 'vars.json'
    vfile.write_text(json.dumps(variables))
    dest = tmp_path / 'gmsa-audit.html'
    p = subprocess.run([os.path.join(BIN, 'ansible'), 'localhost', '-m', 'ansible.builtin.template',
                        '-a', 'src=%s dest=%s' % (TEMPLATE, dest), '-e', '@%s' % vfile],
                       capture_output=True, text=True, cwd=REPO, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    return dest.read_text()


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.text = set(), set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _value in attrs)

    def handle_data(self, data):
        self.text.append(data)


def test_every_expression_in_the_html_template_is_escaped():
    text = open(TEMPLATE).read()
    body = re.sub(r'\{#.*?#\}', '', text, flags=re.S)
    exprs = re.findall(r'\{\{(.*?)\}\}', body, re.S)
    assert len(exprs) > 15
    assert [e for e in exprs if not re.fullmatch(r'\s*\(.*\)\s*\|\s*e\s*', e, re.S)] == []


def test_markup_in_every_value_arrives_as_text(tmp_path):
    page = render_html(tmp_path, hostile_audit())
    p = Tags()
    p.feed(page)
    # only the template's own elements and attributes: nothing injected
    assert p.tags <= {'html', 'head', 'meta', 'title', 'style', 'body', 'h1', 'h2', 'p', 'svg', 'g', 'rect', 'text',
                      'line', 'table', 'tr', 'th', 'td', 'details', 'summary', 'code'}, p.tags
    assert 'onerror' not in p.attrs and 'script' not in p.tags and 'img' not in p.tags and 'b' not in p.tags
    text = ''.join(p.text)
    # the values are there, as the characters they are
    for shown in ('Farm<img src=x onerror=', 'Web$<img', 'WEB01$<img', 'Hosts<img', 'Domain Admins<img',
                  'MSSQLSvc/sql<img', 'web01<img', 'svc <img', 'CONTOSO\\svc<img', '</td></tr></table><b>bold</b> & "q"'):
        assert shown in text, shown
    assert '&lt;script&gt;' in page and '<script>' not in page
