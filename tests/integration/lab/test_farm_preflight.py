"""The farm playbooks refuse a wrong inventory before their first write, naming what is missing; what the
directory holds afterwards is read back with samba-tool (an independent client)."""
from __future__ import annotations

import pytest

from farm_runner import SILENT_WINDOWS_HOST, Farm


@pytest.fixture(scope='module')
def farm(lab, admin, tmp_path_factory, delegated):
    """One farm deployed once for every refusal below (h1, h2 directory-only members; h3 outside the farm), the
    playbooks run as the delegated identity."""
    f = Farm(lab, admin, tmp_path_factory.mktemp('preflight'), delegated)
    f.run('deploy_farm', f.hosts[:2])
    yield f
    f.cleanup()


def user_state(farm, user):
    """userAccountControl and SPNs of a user account, as samba-tool shows them."""
    out = farm.samba_tool('user', 'show', user, '--attributes=userAccountControl,servicePrincipalName')
    uac = int([line.split(':', 1)[1] for line in out.splitlines() if line.startswith('userAccountControl:')][0])
    spns = sorted(line.split(':', 1)[1].strip() for line in out.splitlines() if line.startswith('servicePrincipalName:'))
    return uac, spns


def gmsa_exists(farm, name):
    out = farm.samba_tool('service-account', 'list')
    return name.lower() + '$' in [line.strip().lower() for line in out.splitlines()]


MIGRATION_REFUSALS = [
    # (what the inventory says, members_group, inventory groups, what the message names)
    ('the header example against an inventory without the group', 'web_servers', None,
     'The inventory has no group web_servers (gmsa_migration.members_group)'),
    ('an empty group', 'web_servers', dict(web_servers=dict(hosts={})),
     'The inventory has no host in the group web_servers'),
    ('only directory-only members', 'farm_members', None,
     'have gmsa_farm_manage_host false (directory-only)'),
    ('a Windows member that does not answer', 'web_servers', dict(web_servers=dict(hosts=dict(web01=SILENT_WINDOWS_HOST))),
     'web01 did not answer'),
]


@pytest.mark.parametrize('case, group, groups, message', MIGRATION_REFUSALS, ids=[c[0] for c in MIGRATION_REFUSALS])
def test_migrate_service_account_refuses_before_any_write(farm, case, group, groups, message):
    tag = 'web%d' % len(farm.users)
    spns = sorted(['http/%s.%s.gmsalab.test' % (tag, farm.account), 'http/%s-%s' % (tag, farm.account)])
    user = farm.service_user(spns)
    new = 'mg' + farm.account[2:]
    migration = dict(gmsa_migration=dict(user=user, account=dict(name=new, dns_hostname='%s.gmsalab.test' % new),
                                         members_group=group, identities=[dict(type='service', name='MyWebSvc')]))
    for check in (True, False):
        out = farm.run('migrate_service_account', farm.hosts[:2], migration, expect_ok=False, check=check,
                       groups=groups)
        assert message in ' '.join(out.split()), out[-3000:]
        assert 'Would move the SPNs' not in out
    # nothing was written: the user account is enabled (512) with its SPNs, no gMSA exists
    assert user_state(farm, user) == (512, spns)
    assert not gmsa_exists(farm, new)


def test_migrate_service_account_refuses_to_disable_the_user_with_nothing_to_switch(farm):
    user = farm.service_user(['http/%s-x' % farm.account])
    new = 'mg' + farm.account[2:]
    migration = dict(gmsa_migration=dict(user=user, account=dict(name=new), members_group='web_servers'))
    out = farm.run('migrate_service_account', [], migration, expect_ok=False,
                   groups=dict(web_servers=dict(hosts=dict(web01=SILENT_WINDOWS_HOST))))
    assert 'gmsa_migration.identities is empty' in ' '.join(out.split())
    assert user_state(farm, user) == (512, ['http/%s-x' % farm.account]) and not gmsa_exists(farm, new)


def computer_state(farm, host):
    out = farm.samba_tool('computer', 'show', host, '--attributes=userAccountControl,pwdLastSet')
    return dict(line.split(': ', 1) for line in out.splitlines() if ': ' in line)


def test_compromised_host_refuses_an_undeployed_farm_before_touching_the_computer(farm):
    h1, _h2, h3 = farm.hosts
    before = computer_state(farm, h1)
    members = farm.samba_tool('group', 'listmembers', farm.group)
    # a wrong -i: another farm's description (its host group and gMSA were never deployed)
    real = farm.desc
    farm.desc = dict(real, name='Other', host_group=dict(name=real['host_group']['name'] + 'X'),
                     accounts=[dict(name=real['accounts'][0]['name'] + 'x')])
    try:
        out = ' '.join(farm.run('compromised_host', farm.hosts[:2], dict(gmsa_farm_compromised_host=h1),
                                expect_ok=False).split())
    finally:
        farm.desc = real
    assert ('The Other farm is not deployed in this directory - missing the host group %sX the gMSAs %sx'
            % (farm.group, farm.account)) in out, out[-3000:]
    assert 'Nothing was changed' in out
    assert computer_state(farm, h1) == before        # still enabled, password not reset (pwdLastSet unchanged)
    assert farm.samba_tool('group', 'listmembers', farm.group) == members
    # not in the farm's inventory group: refused too, naming the group
    out = ' '.join(farm.run('compromised_host', farm.hosts[:2], dict(gmsa_farm_compromised_host=h3),
                            expect_ok=False).split())
    assert '%s is not in the inventory group farm_members' % h3 in out
    assert computer_state(farm, h3)['userAccountControl'] == '4096'


def test_add_member_refuses_a_host_outside_the_inventory_group(farm):
    h3 = farm.hosts[2]
    out = ' '.join(farm.run('add_member', farm.hosts[:2], ['-e', 'gmsa_farm_new_members=[%s]' % h3],
                            expect_ok=False).split())
    assert '%s is not in the inventory group farm_members: add it there first' % h3 in out
    assert h3.upper() + '$' not in farm.samba_tool('group', 'listmembers', farm.group).upper().split()
    # a string that is no host list: the option and the forms that work
    out = ' '.join(farm.run('add_member', farm.hosts, ['-e', 'gmsa_farm_new_members={%s}' % h3],
                            expect_ok=False).split())
    assert 'gmsa_farm_new_members' in out and '-e gmsa_farm_new_members=[web03,web04]' in out


def test_deploy_farm_refuses_when_a_member_to_configure_does_not_answer(farm):
    h1, h2, _h3 = farm.hosts
    members = farm.samba_tool('group', 'listmembers', farm.group)
    out = ' '.join(farm.run('deploy_farm', [h1, h2, 'web01'], host_vars=dict(web01=SILENT_WINDOWS_HOST),
                            expect_ok=False).split())
    assert 'web01 did not answer' in out and 'Nothing was changed' in out
    assert farm.samba_tool('group', 'listmembers', farm.group) == members


def test_compromised_host_rollover_cuts_off_first_then_refuses_the_rollover_when_a_member_does_not_answer(farm):
    """The cut-off never waits for the other members; the new generation is only made once they all answer."""
    _h1, h2, _h3 = farm.hosts
    out = ' '.join(farm.run('compromised_host', farm.hosts[:2] + ['web01'], host_vars=dict(web01=SILENT_WINDOWS_HOST),
                            extra=dict(gmsa_farm_compromised_host=h2, gmsa_farm_rollover=True),
                            expect_ok=False).split())
    assert 'web01 did not answer (see above): no new generation was created' in out, out[-3000:]
    assert computer_state(farm, h2)['userAccountControl'] == '4098'     # disabled at once
    assert h2.upper() + '$' not in farm.samba_tool('group', 'listmembers', farm.group).upper().split()
    assert not gmsa_exists(farm, farm.account[:13] + '-2')
