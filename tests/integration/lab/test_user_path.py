"""The README's way in, as a user takes it: build the collection, install it, install its Python requirements
into a clean virtual environment from requirements.txt alone, run the README's first playbook against the lab DC
(simple bind over LDAPS with the lab's CA, then Kerberos from a ticket cache), and check the result with an
independent client."""
from __future__ import annotations

import glob
import os
import re
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def readme_block(marker, lang='yaml'):
    text = open(os.path.join(REPO, 'README.md')).read()
    m = re.search(r'```%s\n(%s\n.*?)```' % (lang, re.escape(marker)), text, re.S)
    assert m, 'README has no %s block starting with %r' % (lang, marker)
    return m.group(1)


def clean_env(tmp_path, **extra):
    """Nothing of the development environment: no PYTHONPATH, no checkout collections, no ansible.cfg."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('ANSIBLE_', 'GMSA_', 'PYTHON', 'VIRTUAL_ENV', 'KRB5CCNAME'))}
    env['PATH'] = os.pathsep.join(p for p in env.get('PATH', '').split(os.pathsep) if '.venv' not in p)
    env.update(HOME=str(tmp_path / 'home'), ANSIBLE_HOME=str(tmp_path / 'home' / '.ansible'), ANSIBLE_NOCOLOR='1')
    env.update(extra)
    return env


def run(cmd, env, cwd, timeout=600):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False)
    assert p.returncode == 0, '%s\n%s' % (' '.join(cmd), (p.stdout + p.stderr)[-4000:])
    return p.stdout + p.stderr


@pytest.fixture(scope='module')
def user_install(tmp_path_factory):
    """Build, install the tarball, pip install -r requirements.txt into a fresh venv (the README's Install)."""
    tmp = tmp_path_factory.mktemp('user')
    (tmp / 'home').mkdir()
    build = tmp / 'build'
    # ansible-galaxy as the user already has it (here the development one); --no-deps: no Galaxy server here,
    # and the first playbook needs none of the Windows collections.
    galaxy = os.path.join(os.path.dirname(sys.executable), 'ansible-galaxy')
    run([galaxy, 'collection', 'build', '--output-path', str(build), REPO], dict(os.environ), REPO)
    tarball = glob.glob(str(build / 'gmsa-farm-*.tar.gz'))
    assert len(tarball) == 1, tarball
    colls = tmp / 'home' / '.ansible' / 'collections'
    run([galaxy, 'collection', 'install', '--no-deps', '-p', str(colls), tarball[0]], clean_env(tmp), str(tmp))
    installed = colls / 'ansible_collections' / 'gmsa' / 'farm'
    assert (installed / 'requirements.txt').is_file()
    venv = tmp / 'venv'
    # the system's Python, not the development venv's
    run(['/usr/bin/python3', '-m', 'venv', str(venv)], clean_env(tmp), str(tmp))
    env = clean_env(tmp, XDG_CACHE_HOME=os.environ.get('XDG_CACHE_HOME', str(tmp / 'cache')))
    run([str(venv / 'bin' / 'pip'), 'install', '-q', '-r', str(installed / 'requirements.txt')], env, str(tmp),
        timeout=900)
    return dict(tmp=tmp, venv=venv, colls=colls, installed=installed)


def test_readme_install_and_first_playbook_against_the_lab_dc(lab, admin, ou, computers, user_install):
    tmp, venv = user_install['tmp'], user_install['venv']
    # the clean venv really holds what requirements.txt promises, the transports the AWX guide names included
    freeze = run([str(venv / 'bin' / 'pip'), 'list', '--format=freeze'], clean_env(tmp), str(tmp)).lower()
    for pkg in ('ansible-core==', 'ldap3==', 'gssapi==', 'winacl==', 'pywinrm==', 'pypsrp==', 'requests-credssp==',
                'pyspnego==', 'cryptography=='):
        assert pkg in freeze, pkg
    tag = ou.split('-', 1)[1][:8]
    hosts = [computers.create('UW%s%d' % (tag, n)) for n in (1, 2)]
    play = tmp / 'first_gmsa.yml'
    play.write_text(readme_block('# first_gmsa.yml'))
    name = 'UP' + tag
    farm = ['-e', 'farm_gmsa=%s' % name, '-e', 'farm_dns_hostname=%s.gmsalab.test' % name.lower(),
            '-e', '{"farm_hosts": ["%s", "%s"]}' % (hosts[0]['sam'], hosts[1]['sam']), '-e', 'farm_path=%s' % ou]
    playbook = str(venv / 'bin' / 'ansible-playbook')
    # The README's "simple bind over LDAPS with your CA" environment
    simple = clean_env(tmp, GMSA_DOMAIN_SERVER=lab['GMSA_DOMAIN_SERVER'],
                       GMSA_DOMAIN_CA_CERT=lab['GMSA_DOMAIN_CA_CERT'],
                       GMSA_DOMAIN_USERNAME=lab['GMSA_DOMAIN_USERNAME'],
                       GMSA_DOMAIN_PASSWORD=lab['GMSA_DOMAIN_PASSWORD'], KRB5_CONFIG=lab['KRB5_CONFIG'])
    dn = 'CN=%s,%s' % (name, ou)

    out = run([playbook, 'first_gmsa.yml', '--check', '--diff'] + farm, simple, str(tmp))
    assert re.search(r'ok=4\s+changed=1\s+unreachable=0\s+failed=0', out), out
    admin.search(ou, '(sAMAccountName=%s$)' % name, attributes=['1.1'])
    assert not [e for e in admin.response if e.get('type') == 'searchResEntry'], 'check mode created the account'

    out = run([playbook, 'first_gmsa.yml', '--diff'] + farm, simple, str(tmp))
    assert re.search(r'ok=4\s+changed=1\s+unreachable=0\s+failed=0', out), out
    assert lab['GMSA_DOMAIN_PASSWORD'] not in out
    # independent checks: the object as Administrator sees it, and the password as each member computer reads it
    admin.search(dn, '(objectClass=msDS-GroupManagedServiceAccount)', search_scope='BASE',
                 attributes=['dNSHostName', 'sAMAccountName'])
    entry = admin.response[0]['raw_attributes']
    assert entry['dNSHostName'] == [b'%s.gmsalab.test' % name.lower().encode()]
    assert entry['sAMAccountName'] == [name.encode() + b'$']
    for h in hosts:
        assert computers.managed_password(h, dn), h['name']

    # The README's Kerberos way: kinit, GMSA_DOMAIN_AUTH=kerberos, no password given to Ansible; changes nothing
    ccache = 'FILE:%s' % (tmp / 'krb5cc')
    kenv = clean_env(tmp, KRB5_CONFIG=lab['KRB5_CONFIG'], KRB5CCNAME=ccache)
    k = subprocess.run(['kinit', lab['GMSA_DOMAIN_USERNAME']], input=lab['GMSA_DOMAIN_PASSWORD'] + '\n',
                       capture_output=True, text=True, env=kenv, check=False)
    assert k.returncode == 0, k.stderr
    kerberos = dict(kenv, GMSA_DOMAIN_SERVER=lab['GMSA_DOMAIN_SERVER'], GMSA_DOMAIN_CA_CERT=lab['GMSA_DOMAIN_CA_CERT'],
                    GMSA_DOMAIN_AUTH='kerberos')
    out = run([playbook, 'first_gmsa.yml', '--diff'] + farm, kerberos, str(tmp))
    assert re.search(r'ok=4\s+changed=0\s+unreachable=0\s+failed=0', out), out
