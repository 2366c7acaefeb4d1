"""A farm with Windows containers, through its playbooks on the lab DC: deploy_farm writes the credential specs
(checked against the directory, rerun and check mode change nothing), compromised_host with rollover rewrites
them for the new generation under the same names, the audit says which spec points at which account, and
decommission_farm removes them."""
from __future__ import annotations

import json

import pytest
import yaml

from k8s_crd import crd_problems
from test_farm_playbooks import Farm


@pytest.fixture
def container_farm(lab, admin, tmp_path, delegated):
    f = Farm(lab, admin, tmp_path, delegated)
    f.specs = tmp_path / 'specs'
    f.desc['containers'] = dict(controller_dir=str(f.specs), specs=[dict(
        account=f.account, name='web', kubernetes=dict(service_accounts=[dict(name='default', namespace='web')]))])
    yield f
    f.cleanup()


def read_spec(farm):
    return json.loads((farm.specs / 'web.json').read_text())


def test_farm_credential_specs_follow_the_farm(container_farm, tmp_path):
    farm = container_farm
    h1, h2, h3 = farm.hosts
    # check mode of a new farm: the gMSA is only planned, so the specs wait for the real run, and say so
    out = farm.run('deploy_farm', [h1, h2], check=True)
    assert 'the credential specs (which are checked against the directory as it is) are built' in out
    assert not farm.specs.exists()

    farm.run('deploy_farm', [h1, h2])
    spec = read_spec(farm)
    assert spec['DomainJoinConfig']['MachineAccountName'] == farm.account
    assert spec['ActiveDirectoryConfig']['GroupManagedServiceAccounts'][1] == dict(Name=farm.account, Scope='GMSALAB')
    docs = list(yaml.safe_load_all((farm.specs / 'web.gmsacredentialspec.yml').read_text()))
    assert docs[0]['metadata']['name'] == 'web' and docs[0]['credspec'] == spec and crd_problems(docs[0]) == []
    assert [d['kind'] for d in docs] == ['GMSACredentialSpec', 'ClusterRole', 'RoleBinding']

    # rerun and check-mode rerun change nothing
    before = (farm.specs / 'web.json').stat().st_mtime_ns
    for check in (True, False):
        out = farm.run('deploy_farm', [h1, h2], check=check)
        assert 'changed=0' in out.split('PLAY RECAP')[-1], out[-3000:]
    assert (farm.specs / 'web.json').stat().st_mtime_ns == before

    # the audit lists which spec points at which account, read from the file
    out = farm.run('audit', [h1, h2], dict(gmsa_farm_audit_dir=str(tmp_path / 'r')))
    assert 'Credential specs: web -> %s (ok)' % farm.account in out
    archived = json.loads((tmp_path / 'r' / 'gmsa-audit.json').read_text())
    assert [(c['name'], c['account'], c['status']) for c in archived['credential_specs']] == [
        ('web', farm.account, 'ok')]
    assert '| web | `%s` | `%s` | ok |' % (farm.specs / 'web.json', farm.account) in \
        (tmp_path / 'r' / 'gmsa-audit.md').read_text()
    assert '<td>web</td><td><code>%s</code></td><td>%s</td><td>ok</td>' % (farm.specs / 'web.json', farm.account) in \
        (tmp_path / 'r' / 'gmsa-audit.html').read_text()

    # rollover: same file and resource name, pointing at the new generation
    farm.run('compromised_host', [h1, h2], dict(gmsa_farm_compromised_host=h1, gmsa_farm_rollover=True))
    new = farm.account[:13] + '-2'
    spec = read_spec(farm)
    assert spec['DomainJoinConfig']['MachineAccountName'] == new
    assert [a['Name'] for a in spec['ActiveDirectoryConfig']['GroupManagedServiceAccounts']] == [new, new]
    docs = list(yaml.safe_load_all((farm.specs / 'web.gmsacredentialspec.yml').read_text()))
    assert docs[0]['metadata']['name'] == 'web' and docs[0]['credspec'] == spec

    # decommission removes them
    farm.desc['accounts'][0]['name'] = new
    farm.desc['containers']['specs'][0]['account'] = new
    farm.run('decommission_farm', [h2], dict(gmsa_farm_confirm_decommission=farm.desc['name']))
    assert not (farm.specs / 'web.json').exists() and not (farm.specs / 'web.gmsacredentialspec.yml').exists()
