"""End-to-end through ansible-playbook: module_defaults groups, the README's main command, no secret at -vvv."""
from __future__ import annotations

import json
import os
import re
import subprocess

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HERE = os.path.dirname(os.path.abspath(__file__))


def ansible_env(lab, **extra):
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.collections'),
               ANSIBLE_CONFIG=os.path.join(REPO, 'tests', 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               KRB5_CONFIG=lab['KRB5_CONFIG'])
    env.update(extra)
    return env


def test_module_defaults_group_and_no_password_at_vvv(lab, tmp_path):
    extra = dict(lab_server=lab['GMSA_DOMAIN_SERVER'], lab_username=lab['GMSA_DOMAIN_USERNAME'],
                 lab_password=lab['GMSA_DOMAIN_PASSWORD'], lab_ca=lab['GMSA_DOMAIN_CA_CERT'],
                 lab_realm=lab['GMSA_LAB_REALM'])
    vars_file = tmp_path / 'vars.json'
    vars_file.write_text(json.dumps(extra))
    p = subprocess.run(['ansible-playbook', '-vvv', '-e', '@%s' % vars_file,
                        os.path.join(HERE, 'playbooks', 'module_defaults.yml')],
                       capture_output=True, text=True, env=ansible_env(lab), check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert 'ok=3' in out
    assert lab['GMSA_DOMAIN_PASSWORD'] not in out
    # -vvv prints the module invocation; the password is masked there
    assert '"domain_password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in out


def test_readme_main_command(lab, tmp_path):
    """scripts/lab.sh: deploy the lab farm, prove every member retrieves the password, write the audit report."""
    env = dict(os.environ)
    env.update(GMSA_FARM_AUDIT_DIR=str(tmp_path))
    p = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh'), '-v'], capture_output=True, text=True,
                       env=env, check=False, cwd=REPO)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    # one screen: what was proven, where the report is, the recap (the playbook's output is in the log)
    assert 'lab: Proven: labweb01, labweb02, labweb03, lablnx01 each retrieved the password of LabFarm1' in out
    # the Linux member's web endpoint (Apache + mod_auth_gssapi with the gMSA's keytab) answered a Kerberos request
    assert re.search(r'lab: Proven: lablnx01 serves http://labfarm1.gmsalab.test:8081/ with LabFarm1\'s keytab; a '
                     r'Kerberos request from labwebuser@GMSALAB.TEST got 200 as REMOTE_USER labwebuser@GMSALAB.TEST',
                     out), out
    assert 'lab: Reports: %s/gmsa-audit.md, .html and .json' % tmp_path in out
    import json
    archived = json.loads((tmp_path / 'gmsa-audit.json').read_text())
    assert [a['name'] for a in archived['accounts']] == ['LabFarm1'] and archived['scope'] == 'farm'
    # the lab farm's container credential spec, next to the report: Docker's JSON, and the Kubernetes manifest
    # that the windows-gmsa CRD schema accepts; the audit says which account it points at
    assert 'lab: Credential specs: labfarm1 -> LabFarm1 (ok)' in out
    spec = json.loads((tmp_path / 'labfarm1.json').read_text())
    assert spec['DomainJoinConfig']['MachineAccountName'] == 'LabFarm1'
    assert spec['DomainJoinConfig']['NetBiosName'] == lab['GMSA_LAB_NETBIOS']
    import yaml
    from k8s_crd import crd_problems
    manifest = list(yaml.safe_load_all((tmp_path / 'labfarm1.gmsacredentialspec.yml').read_text()))
    assert manifest[0]['credspec'] == spec and crd_problems(manifest[0]) == []
    assert [c['account'] for c in archived['credential_specs']] == ['LabFarm1']
    assert len(out.splitlines()) <= 24, out
    log = open(os.path.join(REPO, '.lab', 'lab-run.log')).read()
    assert 'Could not match supplied host pattern' not in log and '[WARNING]: Using a template' not in log
    for text in (out, log):
        assert lab['GMSA_DOMAIN_PASSWORD'] not in text
    report = (tmp_path / 'gmsa-audit.md').read_text()
    # no lab member logs on as the gMSA (they bind as themselves; Apache only accepts tickets): the audit says so
    assert ('| `LabFarm1$` | LabFarmHosts | LABLNX01$, LABWEB01$, LABWEB02$, LABWEB03$ | stale: never logged on |'
            in report)
    html = (tmp_path / 'gmsa-audit.html').read_text()
    assert '<svg' in html and html.count('<line ') == 1   # one row for the farm's four hosts
    assert 'LABLNX01$, LABWEB01$, LABWEB02$, LABWEB03$' in html
    # run again, as the getting-started guide says: it reuses the lab and changes nothing
    p = subprocess.run(['bash', os.path.join(REPO, 'scripts', 'lab.sh')], capture_output=True, text=True,
                       env=env, check=False, cwd=REPO)
    again = p.stdout + p.stderr
    assert p.returncode == 0, again[-3000:]
    recaps = re.findall(r'^lab: (\S+) : ok=\d+ changed=(\d+) unreachable=0 failed=0 ', again, re.M)
    assert sorted(recaps) == [('lablnx01', '0'), ('localhost', '0')], again
    assert json.loads((tmp_path / 'gmsa-audit.json').read_text())['generated'] == archived['generated']


HOST_SIDE = {'gmsa_host', 'windows_service_identity', 'host_native'}


def test_every_module_renders_with_ansible_doc(lab):
    modules = sorted(set(f.rsplit('.', 1)[0] for f in os.listdir(os.path.join(REPO, 'plugins', 'modules'))
                         if f.endswith(('.py', '.ps1'))))
    assert HOST_SIDE < set(modules)
    for m in modules:
        p = subprocess.run(['ansible-doc', 'gmsa.farm.%s' % m], capture_output=True, text=True,
                           env=ansible_env(lab), check=False)
        assert p.returncode == 0 and not p.stderr.strip(), (m, p.stderr)
        assert 'EXAMPLES' in p.stdout and 'RETURN VALUES' in p.stdout, m
        # directory modules document the shared connection options; the host-side ones run over WinRM
        assert ('domain_server' in p.stdout) == (m not in HOST_SIDE), m


def test_gmsa_playbook_at_vvv_shows_no_password(lab, tmp_path, ou, computers):
    host = computers.create('vvvhost1')
    extra = dict(lab_server=lab['GMSA_DOMAIN_SERVER'], lab_username=lab['GMSA_DOMAIN_USERNAME'],
                 lab_password=lab['GMSA_DOMAIN_PASSWORD'], lab_ca=lab['GMSA_DOMAIN_CA_CERT'],
                 gmsa_name='vvvgmsa1', gmsa_path=ou, host_sam=host['sam'])
    vars_file = tmp_path / 'vars.json'
    vars_file.write_text(json.dumps(extra))
    p = subprocess.run(['ansible-playbook', '-vvv', '--diff', '-e', '@%s' % vars_file,
                        os.path.join(HERE, 'playbooks', 'gmsa_vvv.yml')],
                       capture_output=True, text=True, env=ansible_env(lab), check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-3000:]
    assert 'ok=4' in out and 'changed=2' in out
    assert lab['GMSA_DOMAIN_PASSWORD'] not in out
    assert host['password'] not in out
    # the password attribute itself (msDS-ManagedPasswordInterval / -Id are settings, not secrets)
    assert not re.search(r'msDS-ManagedPassword(?![A-Za-z])', out)
    assert '"allowed_to_retrieve_password": [' in out  # the diff is there, in names
