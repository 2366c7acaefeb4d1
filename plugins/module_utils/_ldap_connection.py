# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDAP connection layer shared by every gmsa.farm directory module.

PRIVATE: this file is an implementation detail of the gmsa.farm collection. It is not a public API and can
change at any time without notice.

Design:
* ``connection_argument_spec()`` is the one place the ``domain_*`` options are declared (the doc fragment
  ``gmsa.farm.ldap_connection`` documents exactly these options; ``meta/runtime.yml`` groups the modules as
  ``group/gmsa.farm.ldap``).
* ``Directory`` opens TLS (LDAPS or StartTLS) first and binds second, so no credential ever travels in
  clear. Servers are tried in order; the next one is used only when one cannot be reached. Bad credentials
  stop at once (trying the next DC would only lock the account sooner).
* rootDSE is read once per connection (one round trip) and reused.
* Every request goes through ``Directory.search/add/modify/delete`` so requests can be counted
  (``Directory.requests``) and errors are turned into messages a person can act on.
"""
from __future__ import annotations

import os
import shutil
import socket
import ssl
import tempfile
import uuid
import warnings

try:
    import ldap3
    from ldap3.core import exceptions as ldap_exc
    from ldap3.core.results import RESULT_SUCCESS
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None
except ImportError as e:  # pragma: no cover - exercised by the sanity import test
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = e


ENV_PREFIX = 'GMSA_DOMAIN_'

# LDAP result codes we translate (RFC 4511 section 4.1.9)
RC_NO_SUCH_OBJECT = 32
RC_INVALID_CREDENTIALS = 49
RC_INSUFFICIENT_ACCESS = 50
RC_CONSTRAINT_VIOLATION = 19
RC_ATTRIBUTE_OR_VALUE_EXISTS = 20
RC_NO_SUCH_ATTRIBUTE = 16
RC_ENTRY_ALREADY_EXISTS = 68
RC_STRONGER_AUTH_REQUIRED = 8
RC_UNWILLING_TO_PERFORM = 53

CTRL_PAGED_RESULTS = '1.2.840.113556.1.4.319'
CTRL_SD_FLAGS = '1.2.840.113556.1.4.801'
CTRL_PERMISSIVE_MODIFY = '1.2.840.113556.1.4.1413'
CTRL_SHOW_DELETED = '1.2.840.113556.1.4.417'

ROOT_DSE_ATTRIBUTES = [
    'defaultNamingContext', 'configurationNamingContext', 'schemaNamingContext', 'rootDomainNamingContext',
    'dnsHostName', 'serverName', 'ldapServiceName', 'domainFunctionality', 'forestFunctionality',
    'domainControllerFunctionality', 'supportedControl', 'supportedSASLMechanisms', 'isGlobalCatalogReady',
    'tokenGroups',      # the SIDs of the bound account's token (the rights check of deletes and moves reads them)
]


def connection_argument_spec():
    """The ``domain_*`` options, with environment-variable fallbacks for AWX/AAP credentials. (Ansible is imported
    here, not at the top: the member's keytab refresh command imports this file without Ansible installed.)"""
    from ansible.module_utils.basic import env_fallback

    def env(name):
        return (env_fallback, [ENV_PREFIX + name])

    return dict(
        domain_server=dict(type='list', elements='str', fallback=env('SERVER')),
        domain_port=dict(type='int', fallback=env('PORT')),
        domain_tls=dict(type='str', choices=['ldaps', 'starttls', 'none'], default='ldaps', fallback=env('TLS')),
        domain_auth=dict(type='str', choices=['simple', 'kerberos'], default='simple', fallback=env('AUTH')),
        domain_username=dict(type='str', fallback=env('USERNAME')),
        domain_password=dict(type='str', no_log=True, fallback=env('PASSWORD')),
        domain_keytab=dict(type='path', fallback=env('KEYTAB')),
        domain_ccache=dict(type='str', fallback=env('CCACHE')),
        domain_ca_cert=dict(type='path', fallback=env('CA_CERT')),
        domain_validate_certs=dict(type='bool', default=True, fallback=env('VALIDATE_CERTS')),
        domain_timeout=dict(type='int', default=10, fallback=env('TIMEOUT')),
    )


class DirectoryError(Exception):
    """An error with a message meant for a person; ``result`` carries the LDAP result when there was one."""

    def __init__(self, msg, result=None, code=None):
        super(DirectoryError, self).__init__(msg)
        self.msg = msg
        self.result = result
        self.code = code if code is not None else (result or {}).get('result')


def _split_server(value, default_port):
    """``host``, ``host:port``, ``ldaps://host[:port]``, ``ldap://host`` → (scheme or None, host, port)."""
    scheme = None
    v = value.strip()
    if '://' in v:
        scheme, v = v.split('://', 1)
        scheme = scheme.lower()
        v = v.rstrip('/')
    port = default_port
    if v.startswith('['):  # [ipv6]:port
        host, dummy, rest = v[1:].partition(']')
        if rest.startswith(':'):
            port = int(rest[1:])
    elif v.count(':') == 1:
        host, p = v.split(':')
        port = int(p)
    else:
        host = v
    return scheme, host, port


LDAPS_PORTS = (636, 3269)
STARTTLS_PORTS = (389, 3268)


def endpoint(entry, domain_tls, domain_port):
    """One ``domain_server`` entry -> (host, port, mode), mode ``ldaps`` or ``starttls``.

    The entry's scheme decides the mode (``ldaps://`` LDAPS, ``ldap://`` StartTLS), else ``domain_tls``. The port
    is the entry's own (``host:port``); ``domain_port`` applies to entries without a scheme, so that
    ``GMSA_DOMAIN_PORT=636`` in the environment does not turn an explicit ``ldap://dc1`` into StartTLS on the LDAPS
    port; else the mode's default (636, 389). The well-known port of the other mode is refused naming both.
    """
    scheme, host, port = _split_server(entry, None)
    mode = domain_tls or 'ldaps'
    if scheme == 'ldaps':
        mode = 'ldaps'
    elif scheme == 'ldap':
        mode = 'starttls'   # ldap:// only ever with StartTLS
    elif scheme is not None:
        raise DirectoryError('domain_server %r: unknown scheme %r (use ldaps:// or ldap:// with StartTLS)'
                             % (entry, scheme))
    source = 'in domain_server %r' % entry
    if port is None and scheme is None and domain_port is not None:
        port, source = domain_port, 'from domain_port (or GMSA_DOMAIN_PORT)'
    if port is None:
        port = 636 if mode == 'ldaps' else 389
    if mode == 'starttls' and port in LDAPS_PORTS:
        raise DirectoryError('domain_server %r: StartTLS on port %d (%s), which is the LDAPS port. Use port 389 '
                             'for StartTLS (ldap://%s, or domain_port: 389), or LDAPS (domain_tls: ldaps).'
                             % (entry, port, source, host))
    if mode == 'ldaps' and port in STARTTLS_PORTS:
        raise DirectoryError('domain_server %r: LDAPS on port %d (%s), which is the plain LDAP port that StartTLS '
                             'uses. Use port 636 for LDAPS, or StartTLS (domain_tls: starttls, or ldap://%s).'
                             % (entry, port, source, host))
    return host, port, mode


def _ldap_message(result):
    """A short text from an ldap3 result dict: ``invalidCredentials (49): 80090308: ... data 52e``."""
    if not result:
        return 'no result'
    desc = result.get('description') or ''
    msg = (result.get('message') or '').strip().rstrip('\x00')
    return '%s (%s)%s' % (desc, result.get('result'), (': ' + msg) if msg else '')


class Directory(object):
    """One bound LDAP connection to a domain controller."""

    def __init__(self, params):
        if not HAS_LDAP3:
            raise DirectoryError('the Python library ldap3 is required on the host that runs this module '
                                 '(pip install ldap3): %s' % LDAP3_IMPORT_ERROR)
        self.params = params
        self.conn = None
        self.server_name = None
        self.not_reached = []   # the domain_server entries tried before the one that answered, with why
        self.requests = 0
        self._root_dse = None
        self._token = []
        self.bound_as = None
        self.mode = None
        self._gc = None

    # ------------------------------------------------------------------ connection
    def _validate_params(self):
        p = self.params
        if p.get('domain_tls') == 'none':
            raise DirectoryError(
                'domain_tls=none is refused: gmsa.farm never sends credentials or reads gMSA/KDS attributes over '
                'an unencrypted LDAP connection (AD also refuses confidential attributes and, since Windows Server '
                '2025, unsigned binds there). Use domain_tls=ldaps (port 636) or domain_tls=starttls (port 389).')
        if not p.get('domain_server'):
            raise DirectoryError('domain_server is required (or the GMSA_DOMAIN_SERVER environment variable): the '
                                 'DNS name of one or more domain controllers, tried in order')
        if p.get('domain_auth') == 'simple':
            if not p.get('domain_username') or p.get('domain_password') in (None, ''):
                raise DirectoryError('domain_auth=simple needs domain_username and domain_password (an empty '
                                     'password would be an anonymous bind)')
        if p.get('domain_password') and p.get('domain_keytab'):
            raise DirectoryError('domain_password and domain_keytab are mutually exclusive')
        if p.get('domain_keytab') and not os.path.isfile(p['domain_keytab']):
            raise DirectoryError('domain_keytab %s does not exist or is not a file' % p['domain_keytab'])
        if p.get('domain_ca_cert') and not os.path.isfile(p['domain_ca_cert']):
            raise DirectoryError('domain_ca_cert %s does not exist or is not a file' % p['domain_ca_cert'])
        if p.get('domain_ca_cert'):
            try:
                ssl.create_default_context(cafile=p['domain_ca_cert'])
            except (ssl.SSLError, ValueError) as e:
                raise DirectoryError('domain_ca_cert %s is not a PEM certificate (or bundle) that TLS can use: %s'
                                     % (p['domain_ca_cert'], getattr(e, 'reason', None) or e))
        if p.get('domain_port') is not None and not 1 <= p['domain_port'] <= 65535:
            raise DirectoryError('domain_port %s is not a TCP port (1..65535)' % p['domain_port'])
        for entry in p.get('domain_server') or []:
            try:
                _scheme, _host, port = _split_server(entry, p.get('domain_port'))
            except ValueError:
                raise DirectoryError('domain_server %r is not a host name, host:port or ldaps://host[:port]' % entry)
            if port is not None and not 1 <= port <= 65535:
                raise DirectoryError('domain_server %r names port %s, which is not a TCP port (1..65535)'
                                     % (entry, port))
        if not 0 < (p.get('domain_timeout') or 0) <= 3600:
            raise DirectoryError('domain_timeout must be a positive number of seconds, at most 3600')

    def _tls(self):
        p = self.params
        validate = ssl.CERT_REQUIRED if p.get('domain_validate_certs', True) else ssl.CERT_NONE
        return ldap3.Tls(validate=validate, ca_certs_file=p.get('domain_ca_cert'),
                         version=ssl.PROTOCOL_TLS_CLIENT if validate == ssl.CERT_REQUIRED else ssl.PROTOCOL_TLS)

    def _kerberos_credentials(self):
        """GSSAPI credentials: a password (ticket in memory), a keytab, or the ticket cache."""
        try:
            import gssapi
            import gssapi.raw
        except ImportError as e:
            raise DirectoryError('domain_auth=kerberos needs the Python library gssapi (pip install gssapi; it '
                                 'builds against MIT krb5: apt-get install libkrb5-dev): %s' % e)
        p = self.params
        if '\\' in (p.get('domain_username') or ''):
            # GSSAPI reads a backslash as an escape: GMSALAB\Administrator would become GMSALABAdministrator@...
            host = _split_server(p['domain_server'][0], None)[1] if p.get('domain_server') else ''
            realm = host.split('.', 1)[1].upper() if '.' in host else 'EXAMPLE.COM'
            raise DirectoryError('domain_username %r is a DOMAIN\\user name, which Kerberos does not know: give the '
                                 'principal, user@REALM (here probably %s@%s - usually the user\'s UPN), or use '
                                 'domain_auth=simple' % (p['domain_username'], p['domain_username'].split('\\', 1)[1],
                                                         realm))
        user = canonical_principal(p.get('domain_username'))
        self._krb5_config_for(user)
        try:
            if p.get('domain_password'):
                if not user:
                    raise DirectoryError('domain_auth=kerberos with domain_password needs domain_username')
                name = gssapi.Name(user, gssapi.NameType.kerberos_principal)
                acquired = gssapi.raw.acquire_cred_with_password(name, p['domain_password'].encode('utf-8'),
                                                                 usage='initiate')
                return acquired.creds
            store = {}
            if p.get('domain_keytab'):
                store['client_keytab'] = p['domain_keytab']
                # Keep the ticket obtained from the keytab in this process only, in a cache of its own (a cache
                # holding another principal's ticket would make the acquisition fail).
                store['ccache'] = 'MEMORY:gmsa-farm-%s' % uuid.uuid4().hex
            elif p.get('domain_ccache'):
                store['ccache'] = p['domain_ccache']
            name = gssapi.Name(user, gssapi.NameType.kerberos_principal) if user else None
            creds = gssapi.Credentials(name=name, usage='initiate', store=store or None)
            creds.lifetime  # raises when the cache holds no valid TGT  # noqa: B018 pylint: disable=pointless-statement
            return creds
        except gssapi.exceptions.GSSError as e:
            source = ('password of %s' % user if p.get('domain_password') else
                      'keytab %s' % p['domain_keytab'] if p.get('domain_keytab') else
                      'ticket cache %s' % (p.get('domain_ccache') or os.environ.get('KRB5CCNAME') or '(default)'))
            raise DirectoryError('Kerberos: could not get a ticket from the %s: %s. Check the realm and KDC in '
                                 'krb5.conf (KRB5_CONFIG), the clock, and the credentials; with a ticket cache, '
                                 'run kinit first.' % (source, _gss_text(e)))

    def _krb5_config_for(self, principal):
        """Let a Kerberos bind work without editing the system krb5.conf: a small file naming the DCs of
        domain_server as the KDCs of the principal's realm, put first in KRB5_CONFIG (MIT krb5 reads the files in
        order; the earlier wins), so the system's configuration still applies to everything else."""
        realm = principal.split('@', 1)[1] if principal and '@' in principal else None
        if not realm:
            return
        hosts = kdcs_for_realm(realm, [_split_server(entry, None)[1] for entry in self.params.get('domain_server') or []])
        self._krb5_dir = tempfile.mkdtemp(prefix='gmsa-farm-krb5-')
        path = os.path.join(self._krb5_dir, 'krb5.conf')
        with open(path, 'w') as f:
            if hosts:
                f.write('[libdefaults]\n  default_realm = %s\n  rdns = false\n  dns_canonicalize_hostname = false\n'
                        '[realms]\n  %s = {\n%s  }\n' % (realm, realm, ''.join('    kdc = %s\n' % h for h in hosts)))
            else:   # the bind user's realm is another domain's: its own KDCs, found through DNS (or krb5.conf)
                f.write('[libdefaults]\n  default_realm = %s\n  rdns = false\n  dns_canonicalize_hostname = false\n'
                        '  dns_lookup_kdc = true\n' % realm)
        self._krb5_previous = os.environ.get('KRB5_CONFIG')
        os.environ['KRB5_CONFIG'] = '%s:%s' % (path, self._krb5_previous or '/etc/krb5.conf')

    def connect(self):
        self._validate_params()
        p = self.params
        # every entry's port and mode first: a mismatch is refused before any connection
        endpoints = [endpoint(entry, p.get('domain_tls'), p.get('domain_port')) for entry in p['domain_server']]
        failures = []
        for host, port, mode in endpoints:
            label = '%s:%d (%s)' % (host, port, mode)
            try:
                self._open(host, port, mode)
            except _Unreachable as e:
                failures.append('%s: %s' % (label, e))
                continue
            self.server_name, self.mode = host, mode
            self.not_reached = failures
            return self
        raise DirectoryError('Could not reach any domain controller. Tried: %s' % '; '.join(failures))

    def global_catalog(self):
        """The same DC's global catalog (3269 over LDAPS, 3268 with StartTLS), bound with the same credentials;
        opened once. It holds every domain's universal groups with their members (MS-ADTS 3.1.1.1.8)."""
        if self._gc is None:
            if self.dse_str('isGlobalCatalogReady') != 'TRUE':
                raise DirectoryError('%s is not a global catalog (isGlobalCatalogReady is not TRUE); give '
                                     'domain_server a DC that is one' % self.server_name)
            gc = Directory(self.params)
            port = 3269 if self.mode == 'ldaps' else 3268
            try:
                gc._open(self.server_name, port, 'ldaps' if self.mode == 'ldaps' else 'starttls')
            except _Unreachable as e:
                raise DirectoryError('the global catalog %s:%d did not answer: %s' % (self.server_name, port, e))
            gc.server_name, gc.mode = self.server_name, self.mode
            self._gc = gc
        return self._gc

    def _open(self, host, port, mode):
        p = self.params
        timeout = p.get('domain_timeout') or 10
        server = ldap3.Server(host, port=port, use_ssl=(mode == 'ldaps'), tls=self._tls(), get_info=ldap3.NONE,
                              connect_timeout=timeout)
        kwargs = dict(auto_bind=ldap3.AUTO_BIND_NONE, raise_exceptions=False, receive_timeout=timeout,
                      read_only=False, return_empty_attributes=False, auto_referrals=False)
        if p.get('domain_auth') == 'kerberos':
            creds = self._kerberos_credentials()
            kwargs.update(authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS,
                          sasl_credentials=(host, None, creds))
            self.bound_as = p.get('domain_username') or 'the Kerberos ticket cache principal'
        else:
            kwargs.update(authentication=ldap3.SIMPLE, user=p['domain_username'], password=p['domain_password'])
            self.bound_as = p['domain_username']
        conn = ldap3.Connection(server, **kwargs)
        where = '%s:%d' % (host, port)
        try:
            conn.open()
            if mode == 'starttls':
                if not conn.start_tls():
                    raise DirectoryError('StartTLS on %s failed: %s' % (where, _ldap_message(conn.result)))
        except ldap_exc.LDAPSocketOpenError as e:
            text = str(e)
            if _is_cert_error(text):
                raise _untrusted(where, text)
            raise _Unreachable(_short_socket(text))
        except ldap_exc.LDAPStartTLSError as e:
            text = str(e)
            if _is_cert_error(text):
                raise _untrusted(where, text)
            raise DirectoryError('StartTLS on %s failed: %s' % (where, text))
        except (ldap_exc.LDAPSocketReceiveError, ldap_exc.LDAPSessionTerminatedByServerError, socket.error) as e:
            raise _Unreachable(str(e))

        try:
            with warnings.catch_warnings():
                # cryptography warns about Samba's self-signed certificates (non-positive serial) while ldap3
                # computes the tls-server-end-point channel binding; the warning is noise for the user.
                warnings.simplefilter('ignore')
                ok = conn.bind()
        except ldap_exc.LDAPSocketReceiveError as e:
            raise _Unreachable('no answer to the bind within %ss (%s)' % (timeout, e))
        except ldap_exc.LDAPCommunicationError as e:
            raise DirectoryError('Bind to %s failed: %s' % (where, e))
        except Exception as e:  # gssapi errors during the SASL exchange
            if type(e).__module__.startswith('gssapi'):
                raise DirectoryError('Kerberos bind to %s as %s failed: %s. The domain controller must have the '
                                     'SPN ldap/%s; domain_server must be its DNS name, not an IP address.'
                                     % (where, self.bound_as, _gss_text(e), host))
            raise
        if not ok:
            r = conn.result or {}
            if r.get('result') == RC_INVALID_CREDENTIALS:
                raise DirectoryError('Bind to %s as %s was rejected: wrong user name or password, or the account '
                                     'is disabled, locked or expired (%s). Check domain_username and '
                                     'domain_password.' % (where, self.bound_as, _ldap_message(r)), result=r)
            if r.get('result') == RC_STRONGER_AUTH_REQUIRED:
                raise DirectoryError('Bind to %s was refused: the domain controller requires a stronger '
                                     'authentication (%s).' % (where, _ldap_message(r)), result=r)
            raise DirectoryError('Bind to %s as %s failed: %s' % (where, self.bound_as, _ldap_message(r)), result=r)
        self.conn = conn

    def close(self):
        if self._gc is not None:
            self._gc.close()
            self._gc = None
        if getattr(self, '_krb5_dir', None):
            shutil.rmtree(self._krb5_dir, ignore_errors=True)
            self._krb5_dir = None
            if self._krb5_previous is None:
                os.environ.pop('KRB5_CONFIG', None)
            else:
                os.environ['KRB5_CONFIG'] = self._krb5_previous
        if self.conn is not None:
            try:
                self.conn.unbind()
            except Exception:  # pylint: disable=broad-except
                pass
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ rootDSE
    @property
    def root_dse(self):
        if self._root_dse is None:
            entries = self.search('', '(objectClass=*)', ROOT_DSE_ATTRIBUTES, scope='base')
            if not entries:
                raise DirectoryError('the domain controller %s returned no rootDSE' % self.server_name)
            self._root_dse = entries[0]['attributes']
            self._token = [bytes(v) for v in (entries[0].get('raw') or {}).get('tokenGroups') or []]
        return self._root_dse

    @property
    def token_sids(self):
        """The SIDs of the bound account's token, from the rootDSE's tokenGroups (None when the DC gives none)."""
        from ansible_collections.gmsa.farm.plugins.module_utils._security import sid_to_str
        self.root_dse   # pylint: disable=pointless-statement
        return [sid_to_str(v) for v in self._token] or None

    def dse_str(self, name):
        v = self.root_dse.get(name)
        if isinstance(v, list):
            v = v[0] if v else None
        return v

    @property
    def default_nc(self):
        return self.dse_str('defaultNamingContext')

    @property
    def configuration_nc(self):
        return self.dse_str('configurationNamingContext')

    @property
    def schema_nc(self):
        return self.dse_str('schemaNamingContext')

    @property
    def root_domain_nc(self):
        return self.dse_str('rootDomainNamingContext')

    @property
    def dns_domain(self):
        return dn_to_dns(self.default_nc)

    # ------------------------------------------------------------------ requests
    def search(self, base, ldap_filter, attributes, scope='subtree', controls=None, paged=False, size_limit=0):
        """Return a list of ``{'dn':…, 'attributes': {...}, 'raw': {...}}`` (searchResEntry only)."""
        scope_v = {'base': ldap3.BASE, 'one': ldap3.LEVEL, 'subtree': ldap3.SUBTREE}[scope]
        out = []
        if paged:
            cookie = None
            while True:
                self.requests += 1
                self.conn.search(base, ldap_filter, search_scope=scope_v, attributes=attributes, controls=controls,
                                 paged_size=500, paged_cookie=cookie)
                self._check_search(base)
                out.extend(self._entries())
                cookie = (self.conn.result.get('controls') or {}).get(CTRL_PAGED_RESULTS, {}).get(
                    'value', {}).get('cookie')
                if not cookie:
                    break
            return out
        self.requests += 1
        self.conn.search(base, ldap_filter, search_scope=scope_v, attributes=attributes, controls=controls,
                         size_limit=size_limit)
        self._check_search(base)
        return self._entries()

    def _check_search(self, base):
        r = self.conn.result or {}
        rc = r.get('result')
        if rc in (0, 4):  # success, sizeLimitExceeded
            return
        if rc == RC_NO_SUCH_OBJECT:
            raise DirectoryError('the search base %s does not exist' % base, result=r)
        raise DirectoryError('search under %s failed: %s' % (base, _ldap_message(r)), result=r)

    def _entries(self):
        return [dict(dn=e['dn'], attributes=e['attributes'], raw=e['raw_attributes'])
                for e in (self.conn.response or []) if e.get('type') == 'searchResEntry']

    def add(self, dn, object_class, attributes):
        self.requests += 1
        self.conn.add(dn, object_class, attributes)
        self._check_write('create', dn, attributes)

    def modify(self, dn, changes, controls=None):
        self.requests += 1
        self.conn.modify(dn, changes, controls=controls)
        self._check_write('modify', dn, changes)

    def move(self, dn, new_rdn, new_superior=None):
        """Rename and/or move an object (modify DN)."""
        self.requests += 1
        self.conn.modify_dn(dn, new_rdn, new_superior=new_superior)
        self._check_write('move', dn, {})

    def delete(self, dn, controls=None):
        self.requests += 1
        self.conn.delete(dn, controls=controls)
        self._check_write('delete', dn, {})

    def _check_write(self, verb, dn, attributes):
        r = self.conn.result or {}
        if r.get('result') == RESULT_SUCCESS:
            return
        names = ', '.join(sorted(attributes)) if attributes else ''
        if r.get('result') == RC_INSUFFICIENT_ACCESS:
            raise DirectoryError('Insufficient rights: %s cannot %s %s%s (%s). Use an account with the right to '
                                 'do this, or delegate it.' % (self.bound_as, verb, dn,
                                                               (' (attributes: %s)' % names) if names else '',
                                                               _ldap_message(r)), result=r)
        raise DirectoryError('%s of %s failed: %s' % (verb, dn, _ldap_message(r)), result=r)


class _Unreachable(Exception):
    """This server could not be reached; the next one may be tried."""


def _untrusted(where, text):
    return DirectoryError(
        'TLS: the certificate of %s is not trusted (%s). Pass the CA certificate that issued the domain '
        'controller\'s certificate as domain_ca_cert (a PEM file), or install it in the system trust store; the name '
        'in domain_server must match the certificate. Only for a throw-away lab: domain_validate_certs=false.'
        % (where, _short_ssl(text)))


def _is_cert_error(text):
    return any(k in text for k in ('CERTIFICATE_VERIFY_FAILED', 'certificate verify failed', "doesn't match",
                                   'hostname mismatch'))


def _short_ssl(text):
    for key in ('certificate verify failed', 'CERTIFICATE_VERIFY_FAILED', 'hostname mismatch'):
        i = text.find(key)
        if i >= 0:
            end = text.find(' (_ssl', i)
            return text[i:end if end > 0 else None].strip()
    if "doesn't match" in text:
        return 'the certificate does not name this server: ' + text[text.find("doesn't match"):].strip()
    return text


def _short_socket(text):
    low = text.lower()
    if 'refused' in low:
        return 'connection refused'
    if 'timed out' in low or 'timeout' in low:
        return 'timed out'
    if ('name or service not known' in low or 'nodename nor servname' in low or 'no address' in low
            or 'invalid server address' in low):
        return 'name does not resolve'
    if 'unreachable' in low:
        return 'network unreachable'
    return text


def _gss_text(e):
    try:
        return e.gen_message()
    except Exception:  # pylint: disable=broad-except
        return str(e)


def kdcs_for_realm(realm, hosts):
    """The hosts of domain_server that may serve as KDCs of the bind user's ``realm``: a DC named in DNS serves the
    realm of its own domain only, so a user of another domain of the forest (an Enterprise Admin of the root
    binding to a child's DC) gets none and finds its realm's KDCs itself. Addresses and short names cannot tell,
    and are kept. Pure."""
    out = []
    for host in hosts:
        if host in out:
            continue
        labels = host.split('.')
        if len(labels) > 2 and not host.replace('.', '').isdigit() and ':' not in host:
            if '.'.join(labels[1:]).upper() != realm.upper():
                continue
        out.append(host)
    return out


def canonical_principal(user):
    """AD realms are the upper-case DNS domain; people write UPNs in lower case: user@example.com ->
    user@EXAMPLE.COM (the user part is kept as given)."""
    if not user or '@' not in user:
        return user
    name, realm = user.rsplit('@', 1)
    return '%s@%s' % (name, realm.upper())


def escape(value):
    """Escape a value for use inside an LDAP filter (RFC 4515)."""
    out = []
    for ch in value:
        if ch in '*()\\\x00':
            out.append('\\%02x' % ord(ch))
        else:
            out.append(ch)
    return ''.join(out)


def dn_to_dns(dn):
    if not dn:
        return None
    return '.'.join(part.split('=', 1)[1] for part in dn.split(',') if part.strip().upper().startswith('DC='))
