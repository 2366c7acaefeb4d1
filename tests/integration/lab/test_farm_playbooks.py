"""The farm lifecycle playbooks against the lab DC, step by step, asserting the directory after each step and
that a removed or compromised host can no longer retrieve the password (bound as that computer).

The playbooks run as the delegated identity (tests/conftest.py): the farm's accounts, host group and member
computers live in an OU inside the delegated one, so what the farm may do there is exactly the delegation;
Administrator only prepares and verifies."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import ldap3
import pytest
import yaml

from conftest import delete_tree

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAB_HOSTS = os.path.join(REPO, 'tests', 'lab', 'lab_hosts.py')


class Farm(object):
    def __init__(self, lab, admin, tmp_path, delegated):
        self.lab, self.admin, self.tmp, self.delegated = lab, admin, tmp_path, delegated
        tag = uuid.uuid4().hex[:6]
        self.ou = 'OU=farm-%s,%s' % (tag, delegated['ou'])
        self.hosts = ['f%sh%d' % (tag, i) for i in range(1, 4)]
        self.account = 'tf%s' % tag
        self.group = 'TF%sHosts' % tag
        self.desc = dict(name='TF%s' % tag, members_group='farm_members', host_group=dict(name=self.group, path=self.ou),
                         accounts=[dict(name=self.account, dns_hostname='%s.gmsalab.test' % self.account,
                                        spn=['http/%s.gmsalab.test' % self.account], path=self.ou)],
                         identities=[], profile='none', fallback_account='LocalSystem')
        self.env = dict(os.environ)
        self.env.update(dict((k, v) for k, v in lab.items() if k.startswith(('GMSA_', 'KRB5')) and isinstance(v, str)))
        self.env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'),
                        ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
                        GMSA_LAB_HOSTS_OU=self.ou)
        # The playbooks bind as the delegated identity; the helper (computers, verification) as Administrator.
        self.env_delegated = dict(self.env, GMSA_DOMAIN_USERNAME=delegated['upn'],
                                  GMSA_DOMAIN_PASSWORD=delegated['password'])
        self.helper(['ensure'] + self.hosts)

    def helper(self, args):
        p = subprocess.run([sys.executable, LAB_HOSTS] + args, capture_output=True, text=True, env=self.env,
                           check=False)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def can_retrieve(self, account=None):
        return self.helper(['verify', account or self.account] + self.hosts)

    def run(self, playbook, members, extra=None, expect_ok=True, check=False, member_vars=None, host_vars=None,
            as_admin=False):
        inv = dict(all=dict(hosts=dict(localhost=dict(ansible_connection='local',
                                                      ansible_python_interpreter=sys.executable)),
                            children=dict(farm_members=dict(hosts=dict((h, (host_vars or {}).get(h)) for h in members),
                                                            vars=dict(gmsa_farm_manage_host=False,
                                                                      **(member_vars or {})))),
                            vars=dict(gmsa_farm=self.desc, directory_kds_effective_time_hours=0)))
        path = self.tmp / 'inventory.yml'
        path.write_text(yaml.safe_dump(inv))
        extra_path = self.tmp / 'extra.json'
        extra_path.write_text(json.dumps(extra or {}))
        p = subprocess.run(['ansible-playbook', '-i', str(path), '-e', '@%s' % extra_path, 'gmsa.farm.%s' % playbook]
                           + (['--check', '--diff'] if check else []),
                           capture_output=True, text=True, env=self.env if as_admin else self.env_delegated,
                           check=False, cwd=REPO)
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

    def cleanup(self):
        self.helper(['delete'] + self.hosts)
        for sam in (self.account + '$', self.account[:13] + '-2$', self.group):
            e = self.read(sam, ['1.1'])
            if e:
                self.admin.delete(e['dn'])
        delete_tree(self.admin, self.ou)


@pytest.fixture
def farm(lab, admin, tmp_path, delegated):
    f = Farm(lab, admin, tmp_path, delegated)
    yield f
    f.cleanup()


def test_check_mode_of_a_whole_new_farm_reports_and_changes_nothing(farm, admin, lab):
    """AWX check jobs run deploy_farm --check on a farm that does not exist yet: the gMSA task must not fail on
    the host group the earlier task would create."""
    h1, h2, _h3 = farm.hosts
    out = farm.run('deploy_farm', [h1, h2], check=True)
    assert 'no such principal in the domain: %s' % farm.group in out and 'check mode' in out
    assert 'failed=0' in out and 'changed=' in out and 'changed=0' not in out.split('PLAY RECAP')[-1]
    assert farm.read(farm.group, ['1.1']) is None and farm.account_state(farm.account) is None


def test_farm_lifecycle(farm):
    h1, h2, h3 = farm.hosts
    # deploy with two members
    out = farm.run('deploy_farm', [h1, h2])
    assert 'No member hosts to configure' in out
    assert farm.group_members() == [h1, h2]
    assert farm.account_state(farm.account) == dict(enabled=True, spn=['http/%s.gmsalab.test' % farm.account],
                                                    has_membership=True)
    assert farm.can_retrieve() == {h1: True, h2: True, h3: False}
    # idempotent
    out = farm.run('deploy_farm', [h1, h2])
    assert 'changed=0' in out

    # add a member: check mode first (it changes nothing), then for real
    out = farm.run('add_member', [h1, h2, h3], dict(gmsa_farm_new_members=[h3]), check=True)
    assert 'changed=0' not in out.split('PLAY RECAP')[-1] and farm.group_members() == [h1, h2]
    farm.run('add_member', [h1, h2, h3], dict(gmsa_farm_new_members=[h3]))
    assert farm.group_members() == [h1, h2, h3]
    assert farm.can_retrieve() == {h1: True, h2: True, h3: True}

    # remove a member: it can no longer retrieve the password
    farm.run('remove_member', [h1, h2, h3], dict(gmsa_farm_leaving_members=[h2]), check=True)
    assert farm.group_members() == [h1, h2, h3]
    farm.run('remove_member', [h1, h2, h3], dict(gmsa_farm_leaving_members=[h2]))
    assert farm.group_members() == [h1, h3]
    assert farm.can_retrieve() == {h1: True, h2: False, h3: True}

    # compromised host, no rollover: cut off in the directory at once
    farm.run('compromised_host', [h1, h3], dict(gmsa_farm_compromised_host=h3), check=True)
    assert farm.group_members() == [h1, h3] and farm.can_retrieve()[h3] is True
    assert not int(farm.read(h3 + '$', ['userAccountControl'])['attributes']['userAccountControl'][0]) & 2
    farm.run('compromised_host', [h1, h3], dict(gmsa_farm_compromised_host=h3))
    assert farm.group_members() == [h1]
    assert farm.can_retrieve() == {h1: True, h2: False, h3: False}

    # h2 comes back, then h1 is compromised and the gMSA rolls over to a new generation. h1 took Kerberos tickets
    # while in the farm group (a TGT, and a service ticket for the DC's LDAP, cached by reading the password):
    # those carry the group's SID and stay valid after the run.
    farm.run('add_member', [h1, h2], dict(gmsa_farm_new_members=[h2]))
    ccache = 'FILE:%s' % (farm.tmp / 'h1.ccache')
    farm.helper(['kinit', h1, ccache])
    assert farm.helper(['verify-ccache', farm.account, ccache]) == dict(bound=True, retrieves=True)
    out = farm.run('compromised_host', [h1, h2], dict(gmsa_farm_compromised_host=h1, gmsa_farm_rollover=True))
    assert 'Tickets it already holds stay valid until they expire' in out
    new = farm.account[:13] + '-2'
    # the old tickets still bind, but the new generation is granted to the remaining computers directly
    assert farm.helper(['verify-ccache', new, ccache])['retrieves'] is False
    e = farm.read(h1 + '$', ['userAccountControl'])
    assert int(e['attributes']['userAccountControl'][0]) & 2, 'the compromised computer account is disabled'
    assert farm.group_members() == [h2]
    assert farm.account_state(farm.account) == dict(enabled=False, spn=[], has_membership=False)
    assert farm.account_state(new) == dict(enabled=True, spn=['http/%s.gmsalab.test' % farm.account],
                                           has_membership=True)
    assert farm.can_retrieve(new) == {h1: False, h2: True, h3: False}
    assert farm.can_retrieve(farm.account) == {h1: False, h2: False, h3: False}

    # decommission: refused without the confirmation, then disables, then deletes
    farm.desc['accounts'][0]['name'] = new
    out = farm.run('decommission_farm', [h2], expect_ok=False)
    assert 'Confirm with -e gmsa_farm_confirm_decommission=%s' % farm.desc['name'] in out
    assert farm.account_state(new)['enabled'] is True
    farm.run('decommission_farm', [h2], dict(gmsa_farm_confirm_decommission=farm.desc['name']))
    assert farm.account_state(new) == dict(enabled=False, spn=['http/%s.gmsalab.test' % farm.account],
                                           has_membership=False)
    assert farm.group_members() == []
    assert farm.can_retrieve(new) == {h1: False, h2: False, h3: False}
    farm.run('decommission_farm', [h2], dict(gmsa_farm_confirm_decommission=farm.desc['name'],
                                             gmsa_farm_decommission_delete=True))
    assert farm.account_state(new) is None
    assert farm.read(farm.group, ['1.1']) is None


def test_audit_flags_a_privileged_gmsa(farm, lab, admin, tmp_path):
    h1 = farm.hosts[0]
    farm.run('deploy_farm', [h1])
    dn = farm.read(farm.account + '$', ['1.1'])['dn']
    da = 'CN=Domain Admins,CN=Users,%s' % lab['GMSA_LAB_BASE_DN']
    assert admin.modify(da, {'member': [(ldap3.MODIFY_ADD, [dn])]})
    try:
        # what the read-only host play sets on a Windows member (unit-tested in test_audit_report.py)
        cand = dict(host=h1, kind='service', name='sql', account='GMSALAB\\svc_sql')
        check = farm.run('audit', [h1], dict(gmsa_farm_audit_dir=str(tmp_path / 'c')), check=True,
                         member_vars=dict(gmsa_farm_host_candidates=[cand]))
        assert "Privileged: ['%s']" % farm.account in check
        out = farm.run('audit', [h1], dict(gmsa_farm_audit_dir=str(tmp_path / 'r')),
                       member_vars=dict(gmsa_farm_host_candidates=[cand]))
        assert "Privileged: ['%s']" % farm.account in out
        archived = json.loads((tmp_path / 'r' / 'gmsa-audit.json').read_text())
        assert archived['host_migration_candidates'] == [cand]
        md = (tmp_path / 'r' / 'gmsa-audit.md').read_text()
        assert '**Attention:** 1 account(s) reach a privileged group' in md
        assert '`%s$`: Administrators, Domain Admins' % farm.account in md or \
            '`%s$`: Domain Admins' % farm.account in md
        # who can change who retrieves: the account's descriptor (Account Operators by the class's default) and
        # the host group's (the delegated identity that created it, with full control)
        assert '## Who can change who retrieves' in md
        row = [line for line in md.splitlines() if line.startswith('| `%s$` |' % farm.account)][-1]
        assert 'Account Operators' in row and farm.group in row and farm.delegated['name'] in row, row
        html = (tmp_path / 'r' / 'gmsa-audit.html').read_text()
        assert 'class="priv"' in html and '(privileged)' in html
        assert '<h2>Who can change who retrieves</h2>' in html and 'can change who retrieves: ' in html
        assert archived['accounts'][0]['grant_changers'], 'the JSON report carries them too'

    finally:
        admin.modify(da, {'member': [(ldap3.MODIFY_DELETE, [dn])]})


def test_migrate_service_account(farm, admin, lab, tmp_path):
    """The "Move to a gMSA" playbook: check mode changes nothing; the SPNs move from the user account to a new gMSA
    allowed to the farm's hosts, the user account is disabled; a second run changes nothing."""
    h1 = farm.hosts[0]
    farm.run('deploy_farm', [h1])
    user = 'svc' + farm.account[2:]
    dn = 'CN=%s,CN=Users,%s' % (user, lab['GMSA_LAB_BASE_DN'])
    spns = ['http/%s.gmsalab.test' % user, 'http/%s' % user]
    assert admin.add(dn, ['top', 'person', 'organizationalPerson', 'user'], {
        'sAMAccountName': user, 'userAccountControl': 0x200, 'servicePrincipalName': spns,
        'unicodePwd': ('"Svc-%s-9a!"' % uuid.uuid4().hex).encode('utf-16-le')}), admin.result
    new = 'mg' + farm.account[2:]
    migration = dict(gmsa_migration=dict(user=user, account=dict(name=new, dns_hostname='%s.gmsalab.test' % new),
                                         members_group='farm_members'))
    try:
        # As Administrator: the service user being migrated (its SPNs, its enabled flag) is outside the farm
        # delegation, which covers the farm's own gMSAs, group and computers.
        out = farm.run('migrate_service_account', [h1], migration, check=True, as_admin=True)
        assert 'Would move the SPNs' in out and farm.account_state(new) is None
        farm.run('migrate_service_account', [h1], migration, as_admin=True)
        assert farm.account_state(new) == dict(enabled=True, spn=sorted(spns), has_membership=True)
        e = farm.read(user, ['servicePrincipalName', 'userAccountControl'])
        assert not e['attributes'].get('servicePrincipalName') and int(e['attributes']['userAccountControl'][0]) & 2
        assert farm.can_retrieve(new)[h1] is True
        out = farm.run('migrate_service_account', [h1], migration, as_admin=True)
        assert 'changed=0' in out.split('PLAY RECAP')[-1]
    finally:
        admin.delete(dn)
        e = farm.read(new + '$', ['1.1'])
        if e:
            admin.delete(e['dn'])
