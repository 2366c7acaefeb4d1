"""The farm lifecycle playbooks against the lab DC, step by step, asserting the directory after each step and
that a removed or compromised host can no longer retrieve the password (bound as that computer).

The playbooks run as the delegated identity (tests/conftest.py): the farm's accounts, host group and member
computers live in an OU inside the delegated one, so what the farm may do there is exactly the delegation;
Administrator only prepares and verifies."""
from __future__ import annotations

import json

import ldap3
import pytest

from farm_runner import Farm, recap


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


def twice(farm, playbook, members, extra=None, **kw):
    """Run a playbook, then again: the rerun must fail nowhere and change nothing (on the controller and every
    member in the recap)."""
    first = farm.run(playbook, members, extra, **kw)
    again = farm.run(playbook, members, extra, **kw)
    counts = recap(again)
    assert counts['changed'] == 0 and counts['failed'] == 0 and counts.get('unreachable', 0) == 0, \
        (playbook, again[-4000:])
    return first


def test_farm_lifecycle_every_step_twice_the_rerun_clean(farm, run_module):
    h1, h2, h3 = farm.hosts
    # deploy with two members
    out = twice(farm, 'deploy_farm', [h1, h2])
    assert 'No member hosts to configure' in out
    assert farm.group_members() == [h1, h2]
    assert farm.account_state(farm.account) == dict(enabled=True, spn=['http/%s.gmsalab.test' % farm.account],
                                                    has_membership=True)
    assert farm.can_retrieve() == {h1: True, h2: True, h3: False}

    # add a member: check mode first (it changes nothing), then for real, the list typed as users type it
    out = farm.run('add_member', [h1, h2, h3], dict(gmsa_farm_new_members=[h3]), check=True)
    assert 'changed=0' not in out.split('PLAY RECAP')[-1] and farm.group_members() == [h1, h2]
    twice(farm, 'add_member', [h1, h2, h3], ['-e', 'gmsa_farm_new_members=[%s]' % h3])
    assert farm.group_members() == [h1, h2, h3]
    assert farm.can_retrieve() == {h1: True, h2: True, h3: True}

    # remove a member: it can no longer retrieve the password
    farm.run('remove_member', [h1, h2, h3], dict(gmsa_farm_leaving_members=[h2]), check=True)
    assert farm.group_members() == [h1, h2, h3]
    twice(farm, 'remove_member', [h1, h2, h3], ['-e', 'gmsa_farm_leaving_members=%s' % h2])
    assert farm.group_members() == [h1, h3]
    assert farm.can_retrieve() == {h1: True, h2: False, h3: True}

    # compromised host, no rollover: cut off in the directory at once; the rerun resets no password again
    farm.run('compromised_host', [h1, h3], dict(gmsa_farm_compromised_host=h3), check=True)
    assert farm.group_members() == [h1, h3] and farm.can_retrieve()[h3] is True
    assert not int(farm.read(h3 + '$', ['userAccountControl'])['attributes']['userAccountControl'][0]) & 2
    out = twice(farm, 'compromised_host', [h1, h3], dict(gmsa_farm_compromised_host=h3))
    assert farm.group_members() == [h1]
    assert farm.can_retrieve() == {h1: True, h2: False, h3: False}

    # h2 comes back, then h1 is compromised and the gMSA rolls over to a new generation. h1 took Kerberos tickets
    # while in the farm group (a TGT, and a service ticket for the DC's LDAP, cached by reading the password):
    # those carry the group's SID and stay valid after the run.
    farm.run('add_member', [h1, h2], dict(gmsa_farm_new_members=[h2]))
    ccache = 'FILE:%s' % (farm.tmp / 'h1.ccache')
    farm.helper(['kinit', h1, ccache])
    assert farm.helper(['verify-ccache', farm.account, ccache]) == dict(bound=True, retrieves=True)
    out = twice(farm, 'compromised_host', [h1, h2], dict(gmsa_farm_compromised_host=h1, gmsa_farm_rollover=True))
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
    # and with the old generation deleted: still a clean rerun
    twice(farm, 'compromised_host', [h1, h2], dict(gmsa_farm_compromised_host=h1, gmsa_farm_rollover=True,
                                                   gmsa_farm_rollover_delete_old=True))
    assert farm.account_state(farm.account) is None and farm.account_state(new)['enabled'] is True

    # decommission: refused without the confirmation, then disables, then deletes
    farm.desc['accounts'][0]['name'] = new
    out = farm.run('decommission_farm', [h2], expect_ok=False)
    assert 'Confirm with -e gmsa_farm_confirm_decommission=%s' % farm.desc['name'] in out
    assert farm.account_state(new)['enabled'] is True
    # another team's gMSA granted to the farm's host group: decommissioning says it cuts that one off too
    other = 'ot' + farm.account[2:]
    farm.others.append(other)
    assert not run_module('gmsa', dict(name=other, dns_hostname='%s.gmsalab.test' % other, path=farm.ou,
                                       allowed_to_retrieve_password=dict(set=[farm.group]))).failed
    out = twice(farm, 'decommission_farm', [h2], dict(gmsa_farm_confirm_decommission=farm.desc['name']))
    assert 'Also granted to %s, outside this farm: %s.' % (farm.group, other) in ' '.join(out.split()), out[-3000:]
    assert farm.account_state(new) == dict(enabled=False, spn=['http/%s.gmsalab.test' % farm.account],
                                           has_membership=False)
    assert farm.group_members() == []
    assert farm.can_retrieve(new) == {h1: False, h2: False, h3: False}
    out = twice(farm, 'decommission_farm', [h2], dict(gmsa_farm_confirm_decommission=farm.desc['name'],
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
        # what the read-only host play sets on a Windows member (unit-tested in
        # tests/unit/plugins/filter/test_audit_clusters.py)
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
        # who can change who retrieves: the account's descriptor (Account Operators by the class's default) and
        # the host group's (the delegated identity that created it, with full control)
        assert '## Who can change who retrieves' in md
        row = [line for line in md.splitlines() if line.startswith('| `%s$` |' % farm.account)][-1]
        assert 'Account Operators' in row and farm.group in row and farm.delegated['name'] in row, row
        html = (tmp_path / 'r' / 'gmsa-audit.html').read_text()
        assert 'class="priv"' in html and '(privileged)' in html
        assert '<h2>Who can change who retrieves</h2>' in html and 'can change who retrieves: ' in html
        assert archived['accounts'][0]['grant_changers'], 'the JSON report carries them too'
        # a rerun on the unchanged directory keeps the reports (and the JSON's timestamp) as they are
        again = farm.run('audit', [h1], dict(gmsa_farm_audit_dir=str(tmp_path / 'r')),
                         member_vars=dict(gmsa_farm_host_candidates=[cand]))
        assert recap(again)['changed'] == 0, again[-3000:]
        assert json.loads((tmp_path / 'r' / 'gmsa-audit.json').read_text())['generated'] == archived['generated']
        # check mode writes nothing and says what a real run would change: here the JSON, once the grant is gone
        assert admin.modify(da, {'member': [(ldap3.MODIFY_DELETE, [dn])]})
        out = farm.run('audit', [h1], dict(gmsa_farm_audit_dir=str(tmp_path / 'r')), check=True,
                       member_vars=dict(gmsa_farm_host_candidates=[cand]))
        assert 'Reports (check mode, nothing written; a real run would change gmsa-audit.md, gmsa-audit.html, ' \
            'gmsa-audit.json)' in out, out[-3000:]
        assert json.loads((tmp_path / 'r' / 'gmsa-audit.json').read_text()) == archived
        # without gmsa_farm_audit_dir: ~/gmsa-audit of the user running the playbook, not inside the collection
        home = farm.tmp / 'home'
        out = farm.run('audit', [h1], env=dict(HOME=str(home)))
        assert (home / 'gmsa-audit' / 'gmsa-audit.json').is_file()
        assert 'Reports: %s/gmsa-audit/gmsa-audit.md' % home in out
    finally:
        admin.modify(da, {'member': [(ldap3.MODIFY_DELETE, [dn])]})   # gone already when the test got this far
