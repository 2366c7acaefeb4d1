"""Lab helper: a private Apache (Debian's apache2 + mod_auth_gssapi) that stands for a Linux farm member's web
service. It listens on one loopback address, accepts Kerberos (SPNEGO) with the keytab it is given, and answers
with the authenticated user's name (a CGI printing REMOTE_USER). Lab tooling only.

    apache_gssapi.py start DIR IP PORT KEYTAB    write DIR/apache2.conf, start, wait until it listens
    apache_gssapi.py stop DIR                    stop the instance started in DIR
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

MODULES = '/usr/lib/apache2/modules'
CONFIG = """\
ServerRoot {dir}
ServerName {ip}
Listen {ip}:{port}
PidFile {dir}/httpd.pid
ErrorLog {dir}/error.log
LogLevel warn auth_gssapi:info
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule cgi_module {modules}/mod_cgi.so
LoadModule auth_gssapi_module {modules}/mod_auth_gssapi.so
StartServers 1
MinSpareServers 1
MaxSpareServers 2
LogFormat "%h %u \\"%r\\" %>s" lab
CustomLog {dir}/access.log lab
DocumentRoot {dir}/www
<Directory {dir}/www>
    Options +ExecCGI
    SetHandler cgi-script
    AuthType GSSAPI
    AuthName "gmsa.farm lab"
    GssapiCredStore keytab:{keytab}
    GssapiAllowedMech krb5
    Require valid-user
</Directory>
"""
CGI = '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nREMOTE_USER=%s\\n" "$REMOTE_USER"\n'


def running(directory, ip, port):
    pid_file = os.path.join(directory, 'httpd.pid')
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().strip() or 0), 0)
        socket.create_connection((ip, int(port)), timeout=0.5).close()
        return True
    except (OSError, ValueError):
        return False


def start(directory, ip, port, keytab, env=None, krb5_config=None):
    """``env``: more environment for apache2 (the rotation lab runs it under libfaketime at the DC's clock);
    ``krb5_config``: the Kerberos configuration to copy (default: KRB5_CONFIG's first file). Prints JSON
    {"changed": bool}: without env and krb5_config, a running Apache with the same configuration is left running
    (mod_auth_gssapi reads the keytab on each request, so a refreshed keytab needs no restart)."""
    config = CONFIG.format(dir=directory, ip=ip, port=port, keytab=keytab, modules=MODULES)
    conf_path = os.path.join(directory, 'apache2.conf')
    try:
        with open(conf_path) as f:
            same = f.read() == config
    except OSError:
        same = False
    if same and env is None and krb5_config is None and running(directory, ip, port):
        print(json.dumps(dict(changed=False)))
        return
    os.makedirs(os.path.join(directory, 'www'), exist_ok=True)
    os.chmod(directory, 0o755)
    os.chmod(os.path.join(directory, 'www'), 0o755)
    with open(conf_path, 'w') as f:
        f.write(config)
    cgi = os.path.join(directory, 'www', 'index.cgi')
    with open(cgi, 'w') as f:
        f.write(CGI)
    os.chmod(cgi, 0o755)
    # The workers run as www-data: they get a readable copy of the lab's Kerberos configuration.
    krb5_conf = os.path.join(directory, 'krb5.conf')
    source = krb5_config or os.environ.get('KRB5_CONFIG', '/etc/krb5.conf').split(':')[0]
    with open(source) as src, open(krb5_conf, 'w') as dst:
        dst.write(src.read())
    os.chmod(krb5_conf, 0o644)
    stop(directory)
    subprocess.run(['ip', 'addr', 'add', '%s/32' % ip, 'dev', 'lo'], capture_output=True, check=False)
    p = subprocess.run(['apache2', '-f', os.path.join(directory, 'apache2.conf'), '-k', 'start'],
                       capture_output=True, text=True, check=False,
                       env=dict(os.environ, APACHE_RUN_DIR=directory, APACHE_LOCK_DIR=directory,
                                APACHE_LOG_DIR=directory, KRB5_CONFIG=krb5_conf, **(env or {})))
    if p.returncode != 0:
        raise SystemExit('apache2 did not start: %s%s' % (p.stdout, p.stderr))
    for _attempt in range(100):
        try:
            socket.create_connection((ip, int(port)), timeout=0.2).close()
            print(json.dumps(dict(changed=True)))
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit('apache2 on %s:%s did not listen; see %s/error.log' % (ip, port, directory))


def stop(directory):
    pid_file = os.path.join(directory, 'httpd.pid')
    if not os.path.exists(pid_file):
        return
    with open(pid_file) as f:
        pid = int(f.read().strip() or 0)
    try:
        os.kill(pid, 15)
    except OSError:
        pass
    for _attempt in range(50):
        try:
            os.kill(pid, 0)
        except OSError:
            break
        time.sleep(0.1)
    if os.path.exists(pid_file):
        os.unlink(pid_file)


if __name__ == '__main__':
    if len(sys.argv) == 6 and sys.argv[1] == 'start':
        start(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == 'stop':
        stop(sys.argv[2])
    else:
        raise SystemExit(__doc__)
