"""A throw-away farm on the lab DC for the playbook tests: member "hosts" as computer accounts (lab_hosts.py), an
inventory written per run, ansible-playbook run as a user runs it, and reads of the directory (raw ldap3 as
Administrator, samba-tool) to assert what really changed."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid

import yaml

from conftest import delete_tree, samba_tool

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB_HOSTS = os.path.join(REPO, 'tests', 'lab', 'lab_hosts.py')

# A Windows member nobody answers for: WinRM to a closed local port (connection refused at once).
SILENT_WINDOWS_HOST = dict(ansible_connection='winrm', ansible_host='127.0.0.1', ansible_port=9,
                           ansible_winrm_scheme='http', ansible_winrm_transport='basic', ansible_user='nobody',
                           ansible_password='not-a-secret', ansible_winrm_connection_timeout=3,
                           gmsa_farm_manage_host=True)


def recap(out, host='localhost'):
    """The PLAY RECAP counters of one host, as ints."""
    m = re.search(r'^%s\s+:\s+(.*)$' % re.escape(host), out.split('PLAY RECAP')[-1], re.M)
    assert m, out[-3000:]
    return dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', m.group(1)))


class Farm(object):
    """With ``delegated`` (tests/conftest.py) the playbooks run as that least-privilege identity: the farm's
    accounts, host group and member computers live in an OU inside the delegated one; Administrator only prepares
    and verifies. Without it, everything runs as Administrator in the default containers."""

    def __init__(self, lab, admin, tmp_path, delegated=None):
        self.lab, self.admin, self.tmp = lab, admin, tmp_path
        self.delegated = delegated or dict(upn=lab['GMSA_DOMAIN_USERNAME'], password=lab['GMSA_DOMAIN_PASSWORD'],
                                           name='Administrator')
        tag = uuid.uuid4().hex[:6]
        self.ou = 'OU=farm-%s,%s' % (tag, delegated['ou']) if delegated else None
        self.hosts = ['f%sh%d' % (tag, i) for i in range(1, 4)]
        self.account = 'tf%s' % tag
        self.group = 'TF%sHosts' % tag
        self.desc = dict(name='TF%s' % tag, members_group='farm_members', host_group=dict(name=self.group),
                         accounts=[dict(name=self.account, dns_hostname='%s.gmsalab.test' % self.account,
                                        spn=['http/%s.gmsalab.test' % self.account])],
                         identities=[], profile='none', fallback_account='LocalSystem')
        if self.ou:
            self.desc['host_group']['path'] = self.desc['accounts'][0]['path'] = self.ou
        self.env = dict(os.environ)
        self.env.update(dict((k, v) for k, v in lab.items() if k.startswith(('GMSA_', 'KRB5')) and isinstance(v, str)))
        self.env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'),
                        ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
        if self.ou:
            self.env['GMSA_LAB_HOSTS_OU'] = self.ou
        self.env_delegated = dict(self.env, GMSA_DOMAIN_USERNAME=self.delegated['upn'],
                                  GMSA_DOMAIN_PASSWORD=self.delegated['password'])
        self.helper(['ensure'] + self.hosts)
        self.users = []
        self.others = []      # other gMSAs a test creates (deleted by cleanup)

    def helper(self, args):
        p = subprocess.run([sys.executable, LAB_HOSTS] + args, capture_output=True, text=True, env=self.env,
                           check=False)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def can_retrieve(self, account=None):
        return self.helper(['verify', account or self.account] + self.hosts)

    def run(self, playbook, members, extra=None, expect_ok=True, check=False, member_vars=None, host_vars=None,
            groups=None, args=(), as_admin=False, env=None):
        """ansible-playbook gmsa.farm.<playbook> with the members in the farm's inventory group (directory-only
        unless member_vars/host_vars say otherwise); ``groups`` replaces the inventory's groups entirely."""
        children = groups if groups is not None else dict(
            farm_members=dict(hosts=dict((h, (host_vars or {}).get(h)) for h in members),
                              vars=dict(gmsa_farm_manage_host=False, **(member_vars or {}))))
        inv = dict(all=dict(hosts=dict(localhost=dict(ansible_connection='local',
                                                      ansible_python_interpreter=sys.executable)),
                            children=children,
                            vars=dict(gmsa_farm=self.desc, directory_kds_effective_time_hours=0)))
        path = self.tmp / 'inventory.yml'
        path.write_text(yaml.safe_dump(inv))
        extra_args = []
        if isinstance(extra, dict):
            extra_path = self.tmp / 'extra.json'
            extra_path.write_text(json.dumps(extra))
            extra_args = ['-e', '@%s' % extra_path]
        elif extra:
            extra_args = list(extra)     # -e forms exactly as a user types them
        p = subprocess.run(['ansible-playbook', '-i', str(path)] + extra_args + ['gmsa.farm.%s' % playbook]
                           + (['--check', '--diff'] if check else []) + list(args),
                           capture_output=True, text=True, check=False, cwd=str(self.tmp),
                           # run from a shell in the temporary directory
                           env=dict(self.env if as_admin else self.env_delegated, PWD=str(self.tmp), **(env or {})))
        out = p.stdout + p.stderr
        if expect_ok:
            assert p.returncode == 0, out[-4000:]
        else:
            assert p.returncode != 0, out[-4000:]
        assert self.lab['GMSA_DOMAIN_PASSWORD'] not in out and self.delegated['password'] not in out
        return out

    def read(self, sam, attrs):
        self.admin.search(self.lab['GMSA_LAB_BASE_DN'], '(sAMAccountName=%s)' % sam, attributes=attrs)
        entries = [e for e in self.admin.response if e.get('type') == 'searchResEntry']
        return entries[0] if entries else None

    def group_members(self):
        e = self.read(self.group, ['member'])
        return sorted(d.split(',')[0][3:].lower() for d in e['attributes'].get('member') or [])

    def account_state(self, name):
        e = self.read(name + '$', ['userAccountControl', 'servicePrincipalName', 'msDS-GroupMSAMembership'])
        if e is None:
            return None
        a = e['attributes']
        return dict(enabled=not int(a['userAccountControl'][0]) & 2, spn=sorted(a.get('servicePrincipalName') or []),
                    has_membership=bool(e['raw_attributes'].get('msDS-GroupMSAMembership')))

    def samba_tool(self, *args):
        return samba_tool(self.lab, *args)

    def service_user(self, spns):
        """A user account running a service, with SPNs (removed by cleanup)."""
        user = 'svc' + self.account[2:] + str(len(self.users))
        dn = 'CN=%s,CN=Users,%s' % (user, self.lab['GMSA_LAB_BASE_DN'])
        assert self.admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
            'sAMAccountName': user, 'userAccountControl': 0x200, 'servicePrincipalName': spns,
            'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), self.admin.result
        self.users.append(dn)
        return user

    def cleanup(self):
        self.helper(['delete'] + self.hosts)
        for dn in self.users:
            self.admin.delete(dn)
        for sam in [self.account + '$', self.account[:13] + '-2$', 'mg' + self.account[2:] + '$', self.group] + [
                o + '$' for o in self.others]:
            e = self.read(sam, ['1.1'])
            if e:
                self.admin.delete(e['dn'])
        if self.ou:
            delete_tree(self.admin, self.ou)
