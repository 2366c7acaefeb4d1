# -*- coding: utf-8 -*-
# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""LDAP connection layer shared by every gmsa.farm directory module and the Linux member's keytab refresher.

PRIVATE: this file is an implementation detail of the gmsa.farm collection. It is not a public API and can
change at any time without notice.

Design:
* ``connection_argument_spec()`` declares the ``domain_*`` options (the doc fragment ``gmsa.farm.ldap_connection``
  documents exactly these options; ``meta/runtime.yml`` groups the modules as ``group/gmsa.farm.ldap``).
* ``ConnectionSettings.from_params()`` checks those options and parses ``domain_server`` once into endpoints
  (host, port, LDAPS or StartTLS); the module runner, the keytab module and the refresher all connect from it.
* ``Directory`` opens TLS (LDAPS or StartTLS) first and binds second, so no credential ever travels in
  clear. Servers are tried in order; the next one is used only when one cannot be reached. Bad credentials
  stop at once (trying the next DC would only lock the account sooner).
* rootDSE is read once per connection (one round trip) and reused.
* Every request goes through ``Directory.search/add/modify/move/delete`` so requests can be counted
  (``Directory.requests``) and errors are turned into messages a person can act on: a DC that stops answering
  (``domain_timeout``) or drops the connection is a ``DirectoryError`` too, with ``outcome_unknown`` set when it
  happened to a write (the DC may have applied it). A search the DC cuts short (sizeLimitExceeded) is asked
  again page by page, never taken as the whole answer.

Imports are relative (``from ._values``) so the refresher package ``gmsa_farm_keytab`` can carry this file
without Ansible; nothing here imports Ansible at the top.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import tempfile
import uuid
import warnings

from ._values import RESULT, escape, first, raw_first

try:
    import ldap3
    from ldap3.core import exceptions as ldap_exc
    HAS_LDAP3 = True
    LDAP3_IMPORT_ERROR = None
    # What ldap3 raises when the DC does not answer within the receive timeout or the connection is gone (its
    # sync strategy closes the socket first): LDAPSocketReceiveError / SendError / SessionTerminatedByServer
    # are LDAPCommunicationError; LDAPResponseTimeoutError is not.
    CONNECTION_LOST = (ldap_exc.LDAPCommunicationError, ldap_exc.LDAPResponseTimeoutError, socket.error)
except ImportError as e:  # pragma: no cover - exercised by the sanity import test
    HAS_LDAP3 = False
    LDAP3_IMPORT_ERROR = e
    CONNECTION_LOST = (socket.error,)


ENV_PREFIX = 'GMSA_DOMAIN_'
DEFAULT_TIMEOUT = 10
PAGE_SIZE = 500

CTRL_PAGED_RESULTS = '1.2.840.113556.1.4.319'

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
        domain_timeout=dict(type='int', default=DEFAULT_TIMEOUT, fallback=env('TIMEOUT')),
    )


class DirectoryError(Exception):
    """An error with a message meant for a person; ``result`` carries the LDAP result when there was one.
    ``outcome_unknown``: a write was sent and no answer came (timeout, connection lost) - the DC may or may not
    have applied it."""

    def __init__(self, msg, result=None, code=None, outcome_unknown=False):
        super(DirectoryError, self).__init__(msg)
        self.msg = msg
        self.result = result
        self.code = code if code is not None else (result or {}).get('result')
        self.outcome_unknown = outcome_unknown


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
    try:
        scheme, host, port = _split_server(entry, None)
    except ValueError:
        raise DirectoryError('domain_server %r is not a host name, host:port or ldaps://host[:port]' % entry)
    if port is not None and not 1 <= port <= 65535:
        raise DirectoryError('domain_server %r names port %s, which is not a TCP port (1..65535)' % (entry, port))
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


class Endpoint(object):
    """One domain controller to try: ``host``, ``port``, ``mode`` (``ldaps`` or ``starttls``), and the
    ``domain_server`` entry it came from (for messages)."""

    __slots__ = ('host', 'port', 'mode', 'entry')

    def __init__(self, host, port, mode, entry=None):
        self.host, self.port, self.mode, self.entry = host, port, mode, entry or host

    def __eq__(self, other):
        return isinstance(other, Endpoint) and self.key == other.key

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.key)

    @property
    def key(self):
        return (self.host.lower(), self.port, self.mode)

    def __repr__(self):
        return 'Endpoint(%r, %r, %r)' % (self.host, self.port, self.mode)

    @property
    def label(self):
        return '%s:%d (%s)' % (self.host, self.port, self.mode)

    def global_catalog(self):
        """The same DC's global catalog port in the same mode: 3269 over LDAPS, 3268 with StartTLS."""
        return Endpoint(self.host, 3269 if self.mode == 'ldaps' else 3268, self.mode)


class ConnectionSettings(object):
    """The ``domain_*`` options, checked and parsed once: ``servers`` (Endpoints, tried in order), ``auth``
    (``simple`` or ``kerberos``), ``username`` (as given), ``password``, ``keytab``, ``ccache``, ``ca_cert``,
    ``validate_certs``, ``timeout`` (seconds, for connecting and for every answer). Pure; no network."""

    FIELDS = ('servers', 'auth', 'username', 'password', 'keytab', 'ccache', 'ca_cert', 'validate_certs',
              'timeout')

    def __init__(self, servers, auth='simple', username=None, password=None, keytab=None, ccache=None,
                 ca_cert=None, validate_certs=True, timeout=DEFAULT_TIMEOUT):
        self.servers = list(servers)
        self.auth, self.username, self.password = auth, username, password
        self.keytab, self.ccache, self.ca_cert = keytab, ccache, ca_cert
        self.validate_certs, self.timeout = validate_certs, timeout

    def __repr__(self):   # never the password
        return 'ConnectionSettings(%r, auth=%r, username=%r)' % (self.servers, self.auth, self.username)

    def replace(self, **fields):
        values = dict((f, getattr(self, f)) for f in self.FIELDS)
        values.update(fields)
        return ConnectionSettings(**values)

    def only(self, server):
        """The same settings for one endpoint (the keytab code tries DCs one at a time)."""
        return self.replace(servers=[server])

    @classmethod
    def of(cls, settings_or_params):
        if isinstance(settings_or_params, ConnectionSettings):
            return settings_or_params
        return cls.from_params(settings_or_params)

    @classmethod
    def from_params(cls, p, extra_hosts=()):
        """Check the ``domain_*`` options (a module's params, or the refresher's configuration) and parse them;
        raises DirectoryError naming the option. ``extra_hosts``: DCs found otherwise (DNS SRV), reached in the
        mode of ``domain_tls`` on its default port, after those of domain_server."""
        _check_credentials(p)
        _check_files(p)
        if p.get('domain_port') is not None and not 1 <= p['domain_port'] <= 65535:
            raise DirectoryError('domain_port %s is not a TCP port (1..65535)' % p['domain_port'])
        timeout = p.get('domain_timeout')
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        if not 0 < timeout <= 3600:
            raise DirectoryError('domain_timeout must be a positive number of seconds, at most 3600')
        entries = list(p.get('domain_server') or [])
        if not entries and not extra_hosts:
            raise DirectoryError('domain_server is required (or the GMSA_DOMAIN_SERVER environment variable): the '
                                 'DNS name of one or more domain controllers, tried in order')
        # every entry's port and mode first: a mismatch is refused before any connection
        servers = [Endpoint(*endpoint(entry, p.get('domain_tls'), p.get('domain_port')), entry=entry)
                   for entry in entries]
        mode = p.get('domain_tls') or 'ldaps'
        servers += [Endpoint(host, 636 if mode == 'ldaps' else 389, mode) for host in extra_hosts]
        return cls(servers, auth=p.get('domain_auth') or 'simple', username=p.get('domain_username'),
                   password=p.get('domain_password'), keytab=p.get('domain_keytab'), ccache=p.get('domain_ccache'),
                   ca_cert=p.get('domain_ca_cert'), validate_certs=p.get('domain_validate_certs', True) is not False,
                   timeout=timeout)


def _check_credentials(p):
    if p.get('domain_tls') == 'none':
        raise DirectoryError(
            'domain_tls=none is refused: gmsa.farm never sends credentials or reads gMSA/KDS attributes over '
            'an unencrypted LDAP connection (AD also refuses confidential attributes and, since Windows Server '
            '2025, unsigned binds there). Use domain_tls=ldaps (port 636) or domain_tls=starttls (port 389).')
    if (p.get('domain_auth') or 'simple') == 'simple':
        if not p.get('domain_username') or p.get('domain_password') in (None, ''):
            raise DirectoryError('domain_auth=simple needs domain_username and domain_password (an empty '
                                 'password would be an anonymous bind)')
    if p.get('domain_password') and p.get('domain_keytab'):
        raise DirectoryError('domain_password and domain_keytab are mutually exclusive')


def _check_files(p):
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


def _ldap_message(result):
    """A short text from an ldap3 result dict: ``invalidCredentials (49): 80090308: ... data 52e``."""
    if not result:
        return 'no result'
    desc = result.get('description') or ''
    msg = (result.get('message') or '').strip().rstrip('\x00')
    return '%s (%s)%s' % (desc, result.get('result'), (': ' + msg) if msg else '')


@contextlib.contextmanager
def krb5_config_scope(path):
    """KRB5_CONFIG with ``path`` first while the block runs, then as it was.

    Why an environment variable at all: GSSAPI has no way to hand a krb5 configuration to one context. MIT krb5's
    credential store extensions (gss_acquire_cred_from) know only the keys ccache, client_keytab, keytab and rcache
    (src/lib/gssapi/krb5/gssapiP_krb5.h), and every GSSAPI call of the krb5 mechanism makes a fresh krb5 context
    with krb5_init_context (krb5_gss_init_context, src/lib/gssapi/krb5/gssapi_krb5.c), which reads the profile
    files named by KRB5_CONFIG at that moment. So the variable is set only around the calls that reach a KDC -
    acquiring the credentials and the SASL/GSSAPI bind - and put back right after: the rest of the process (and
    later tasks in the same Python) never sees it. MIT reads the files in order; the earlier wins, so the
    system's krb5.conf still applies to everything the small file does not name."""
    if path is None:
        yield
        return
    previous = os.environ.get('KRB5_CONFIG')
    os.environ['KRB5_CONFIG'] = '%s:%s' % (path, previous or '/etc/krb5.conf')
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop('KRB5_CONFIG', None)
        else:
            os.environ['KRB5_CONFIG'] = previous


def krb5_conf_text(realm, kdcs):
    """A krb5.conf naming ``kdcs`` as the KDCs of ``realm`` (none: found through DNS). Pure."""
    head = '[libdefaults]\n  default_realm = %s\n  rdns = false\n  dns_canonicalize_hostname = false\n' % realm
    if not kdcs:   # the bind user's realm is another domain's: its own KDCs, found through DNS (or krb5.conf)
        return head + '  dns_lookup_kdc = true\n'
    return head + '[realms]\n  %s = {\n%s  }\n' % (realm, ''.join('    kdc = %s\n' % h for h in kdcs))


def _kerberos_user(settings):
    """The bind principal, refused when it is a DOMAIN\\user name (GSSAPI reads the backslash as an escape:
    GMSALAB\\Administrator would become GMSALABAdministrator@...)."""
    user = settings.username or ''
    if '\\' in user:
        host = settings.servers[0].host if settings.servers else ''
        realm = host.split('.', 1)[1].upper() if '.' in host else 'EXAMPLE.COM'
        raise DirectoryError('domain_username %r is a DOMAIN\\user name, which Kerberos does not know: give the '
                             'principal, user@REALM (here probably %s@%s - usually the user\'s UPN), or use '
                             'domain_auth=simple' % (user, user.split('\\', 1)[1], realm))
    return canonical_principal(settings.username)


def _gssapi():
    try:
        import gssapi
        import gssapi.raw
    except ImportError as e:
        raise DirectoryError('domain_auth=kerberos needs the Python library gssapi (pip install gssapi; it '
                             'builds against MIT krb5: apt-get install libkrb5-dev): %s' % e)
    return gssapi


def kerberos_credentials(settings, user):
    """GSSAPI credentials: a password (ticket in memory), a keytab, or the ticket cache. Run inside
    ``krb5_config_scope``."""
    gssapi = _gssapi()
    try:
        if settings.password:
            if not user:
                raise DirectoryError('domain_auth=kerberos with domain_password needs domain_username')
            name = gssapi.Name(user, gssapi.NameType.kerberos_principal)
            return gssapi.raw.acquire_cred_with_password(name, settings.password.encode('utf-8'),
                                                         usage='initiate').creds
        store = {}
        if settings.keytab:
            store['client_keytab'] = settings.keytab
            # Keep the ticket obtained from the keytab in this process only, in a cache of its own (a cache
            # holding another principal's ticket would make the acquisition fail).
            store['ccache'] = 'MEMORY:gmsa-farm-%s' % uuid.uuid4().hex
        elif settings.ccache:
            store['ccache'] = settings.ccache
        name = gssapi.Name(user, gssapi.NameType.kerberos_principal) if user else None
        creds = gssapi.Credentials(name=name, usage='initiate', store=store or None)
        creds.lifetime  # raises when the cache holds no valid TGT  # noqa: B018 pylint: disable=pointless-statement
        return creds
    except gssapi.exceptions.GSSError as e:
        source = ('password of %s' % user if settings.password else
                  'keytab %s' % settings.keytab if settings.keytab else
                  'ticket cache %s' % (settings.ccache or os.environ.get('KRB5CCNAME') or '(default)'))
        raise DirectoryError('Kerberos: could not get a ticket from the %s: %s. Check the realm and KDC in '
                             'krb5.conf (KRB5_CONFIG), the clock, and the credentials; with a ticket cache, '
                             'run kinit first.' % (source, _gss_text(e)))


class Directory(object):
    """One bound LDAP connection to a domain controller, from ConnectionSettings (or the params they are parsed
    from)."""

    def __init__(self, settings):
        if not HAS_LDAP3:
            raise DirectoryError('the Python library ldap3 is required on the host that runs this module '
                                 '(pip install ldap3): %s' % LDAP3_IMPORT_ERROR)
        self.settings = ConnectionSettings.of(settings)
        self.conn = None
        self.server_name = None
        self.endpoint = None
        self.not_reached = []   # the domain_server entries tried before the one that answered, with why
        self.requests = 0
        self._root_dse = None
        self._token = []
        self.bound_as = None
        self.mode = None
        self._gc = None
        self._krb5_dir = None

    # ------------------------------------------------------------------ connection
    def _tls(self):
        s = self.settings
        validate = ssl.CERT_REQUIRED if s.validate_certs else ssl.CERT_NONE
        return ldap3.Tls(validate=validate, ca_certs_file=s.ca_cert,
                         version=ssl.PROTOCOL_TLS_CLIENT if validate == ssl.CERT_REQUIRED else ssl.PROTOCOL_TLS)

    def _krb5_config_for(self, principal):
        """A small krb5.conf naming the DCs of domain_server as the KDCs of the principal's realm, so a Kerberos
        bind works without editing the system krb5.conf (see ``krb5_config_scope`` for how it is used). Written
        once per Directory, removed by close(). Returns its path (None without a realm)."""
        realm = principal.split('@', 1)[1] if principal and '@' in principal else None
        if not realm:
            return None
        if self._krb5_dir is None:
            self._krb5_dir = tempfile.mkdtemp(prefix='gmsa-farm-krb5-')
            with open(os.path.join(self._krb5_dir, 'krb5.conf'), 'w') as f:
                f.write(krb5_conf_text(realm, kdcs_for_realm(realm, [e.host for e in self.settings.servers])))
        return os.path.join(self._krb5_dir, 'krb5.conf')

    def connect(self):
        """Bind to the first endpoint that answers; returns self. On failure nothing is left behind (no
        connection, no temporary krb5.conf)."""
        failures = []
        try:
            for server in self.settings.servers:
                try:
                    self._open(server)
                except _Unreachable as e:
                    failures.append('%s: %s' % (server.label, e))
                    continue
                self.not_reached = failures
                return self
            raise DirectoryError('Could not reach any domain controller. Tried: %s' % '; '.join(failures))
        except BaseException:
            self.close()
            raise

    def global_catalog(self):
        """The same DC's global catalog (3269 over LDAPS, 3268 with StartTLS), bound with the same credentials;
        opened once. It holds every domain's universal groups with their members (MS-ADTS 3.1.1.1.8)."""
        if self._gc is None:
            if self.dse_str('isGlobalCatalogReady') != 'TRUE':
                raise DirectoryError('%s is not a global catalog (isGlobalCatalogReady is not TRUE); give '
                                     'domain_server a DC that is one' % self.server_name)
            where = self.endpoint.global_catalog()
            gc = Directory(self.settings.only(where))
            try:
                gc._open(where)
            except _Unreachable as e:
                gc.close()
                raise DirectoryError('the global catalog %s:%d did not answer: %s' % (where.host, where.port, e))
            self._gc = gc
        return self._gc

    def _open(self, server):
        """Connect to one endpoint: TLS first, then the bind. Raises _Unreachable when the next DC may be tried."""
        s = self.settings
        ldap_server = ldap3.Server(server.host, port=server.port, use_ssl=(server.mode == 'ldaps'), tls=self._tls(),
                                   get_info=ldap3.NONE, connect_timeout=s.timeout)
        kwargs = dict(auto_bind=ldap3.AUTO_BIND_NONE, raise_exceptions=False, receive_timeout=s.timeout,
                      read_only=False, return_empty_attributes=False, auto_referrals=False)
        krb5_conf = None
        if s.auth == 'kerberos':
            user = _kerberos_user(s)
            krb5_conf = self._krb5_config_for(user)
            with krb5_config_scope(krb5_conf):
                creds = kerberos_credentials(s, user)
            kwargs.update(authentication=ldap3.SASL, sasl_mechanism=ldap3.KERBEROS,
                          sasl_credentials=(server.host, None, creds))
            self.bound_as = s.username or 'the Kerberos ticket cache principal'
        else:
            kwargs.update(authentication=ldap3.SIMPLE, user=s.username, password=s.password)
            self.bound_as = s.username
        conn = ldap3.Connection(ldap_server, **kwargs)
        where = '%s:%d' % (server.host, server.port)
        _open_tls(conn, server.mode, where)
        with krb5_config_scope(krb5_conf):
            ok = self._bind(conn, server, where)
        if not ok:
            raise _bind_refused(conn.result or {}, where, self.bound_as)
        self.conn = conn
        self.endpoint, self.server_name, self.mode = server, server.host, server.mode

    def _bind(self, conn, server, where):
        try:
            with warnings.catch_warnings():
                # cryptography warns about Samba's self-signed certificates (non-positive serial) while ldap3
                # computes the tls-server-end-point channel binding; the warning is noise for the user.
                warnings.simplefilter('ignore')
                return conn.bind()
        except ldap_exc.LDAPSocketReceiveError as e:
            raise _Unreachable('no answer to the bind within %ss (%s)' % (self.settings.timeout, e))
        except ldap_exc.LDAPCommunicationError as e:
            raise DirectoryError('Bind to %s failed: %s' % (where, e))
        except Exception as e:  # gssapi errors during the SASL exchange
            if type(e).__module__.startswith('gssapi'):
                raise DirectoryError('Kerberos bind to %s as %s failed: %s. The domain controller must have the '
                                     'SPN ldap/%s; domain_server must be its DNS name, not an IP address.'
                                     % (where, self.bound_as, _gss_text(e), server.host))
            raise

    def close(self):
        if self._gc is not None:
            self._gc.close()
            self._gc = None
        if self._krb5_dir is not None:
            shutil.rmtree(self._krb5_dir, ignore_errors=True)
            self._krb5_dir = None
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
        from ._security import sid_to_str   # not in the refresher package, which never asks
        self.root_dse   # pylint: disable=pointless-statement
        return [sid_to_str(v) for v in self._token] or None

    def own_sid(self):
        """The bound account's own SID: the LDAP "Who am I?" operation (RFC 4532; AD answers u:DOMAIN\\name) and
        one search for that sAMAccountName. Two requests, asked only when a rights verdict from the token would
        refuse (Samba's rootDSE tokenGroups holds the account's own SID, measured; Windows documents the groups).
        None when either answer is missing."""
        if getattr(self, '_own_sid', False) is False:
            self._own_sid = None
            self.requests += 1
            who = self.conn.extend.standard.who_am_i() or ''
            name = who[2:].split('\\')[-1] if who.startswith('u:') else ''
            if name:
                from ._security import sid_to_str
                found = self.search(self.default_nc, '(sAMAccountName=%s)' % escape(name), ['objectSid'])
                self._own_sid = sid_to_str(raw_first(found[0], 'objectSid')) if len(found) == 1 else None
        return self._own_sid

    def dse_str(self, name):
        return first(self.root_dse, name)

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
    def _send(self, what, call, write=False):
        """One request: counted, and a DC that stops answering or drops the connection turned into a
        DirectoryError (``outcome_unknown`` for a write: it may have been applied)."""
        self.requests += 1
        if self.conn is None or self.conn.closed:
            raise DirectoryError('the connection to %s was lost before %s could be sent; nothing more was sent'
                                 % (self.server_name, what))
        try:
            return call()
        except CONNECTION_LOST as e:
            raise self._lost(what, e, write)

    def _lost(self, what, error, write):
        text = str(error)
        if 'timed out' in text.lower() or isinstance(error, (socket.timeout, ldap_exc.LDAPResponseTimeoutError)):
            how = 'did not answer within domain_timeout (%ss)' % self.settings.timeout
        else:
            how = 'closed the connection (%s)' % (_short_socket(text) or type(error).__name__)
        if write:
            return DirectoryError('the domain controller %s %s after %s was sent' % (self.server_name, how, what),
                                  outcome_unknown=True)
        return DirectoryError('the domain controller %s %s during %s; nothing was written by it. Check the DC and '
                              'the network, or raise domain_timeout for a slow or busy DC'
                              % (self.server_name, how, what))

    def search(self, base, ldap_filter, attributes, scope='subtree', controls=None, paged=False):
        """Return a list of ``{'dn':…, 'attributes': {...}, 'raw': {...}}`` (searchResEntry only). A search the
        DC cuts short (sizeLimitExceeded: Windows' MaxPageSize, 1000 entries by default, applies to searches
        without the paged-results control) is sent again page by page."""
        if paged:
            return self._paged_search(base, ldap_filter, attributes, scope, controls)
        self._search_once(base, ldap_filter, attributes, scope, controls)
        if (self.conn.result or {}).get('result') == RESULT['sizeLimitExceeded']:
            return self._paged_search(base, ldap_filter, attributes, scope, controls)
        return self._entries()

    def _search_once(self, base, ldap_filter, attributes, scope, controls, **paging):
        scope_v = {'base': ldap3.BASE, 'one': ldap3.LEVEL, 'subtree': ldap3.SUBTREE}[scope]
        self._send('a search under %s' % (base or 'the rootDSE'), lambda: self.conn.search(
            base, ldap_filter, search_scope=scope_v, attributes=attributes, controls=controls, **paging))
        self._check_search(base, paged=bool(paging))

    def _paged_search(self, base, ldap_filter, attributes, scope, controls):
        out, cookie = [], None
        while True:
            self._search_once(base, ldap_filter, attributes, scope, controls, paged_size=PAGE_SIZE,
                              paged_cookie=cookie)
            out.extend(self._entries())
            cookie = (self.conn.result.get('controls') or {}).get(CTRL_PAGED_RESULTS, {}).get(
                'value', {}).get('cookie')
            if not cookie:
                return out

    def _check_search(self, base, paged):
        r = self.conn.result or {}
        rc = r.get('result')
        if rc == RESULT['success'] or (rc == RESULT['sizeLimitExceeded'] and not paged):
            return      # without paging: the caller asks again page by page
        if rc == RESULT['noSuchObject']:
            raise DirectoryError('the search base %s does not exist' % base, result=r)
        if rc == RESULT['sizeLimitExceeded']:
            raise DirectoryError('the domain controller %s cut the search under %s short (%s) even page by page, '
                                 'so its answer is incomplete and is not used. Check its LDAP policy '
                                 '(MaxPageSize, MaxResultSetSize).' % (self.server_name, base, _ldap_message(r)),
                                 result=r)
        raise DirectoryError('search under %s failed: %s' % (base, _ldap_message(r)), result=r)

    def _entries(self):
        return [dict(dn=e['dn'], attributes=e['attributes'], raw=e['raw_attributes'])
                for e in (self.conn.response or []) if e.get('type') == 'searchResEntry']

    def add(self, dn, object_class, attributes):
        self._write('create', dn, attributes, lambda: self.conn.add(dn, object_class, attributes))

    def modify(self, dn, changes, controls=None):
        self._write('modify', dn, changes, lambda: self.conn.modify(dn, changes, controls=controls))

    def move(self, dn, new_rdn, new_superior=None):
        """Rename and/or move an object (modify DN)."""
        self._write('move', dn, {}, lambda: self.conn.modify_dn(dn, new_rdn, new_superior=new_superior))

    def delete(self, dn, controls=None):
        self._write('delete', dn, {}, lambda: self.conn.delete(dn, controls=controls))

    def _write(self, verb, dn, attributes, call):
        self._send('the %s request for %s' % (verb, dn), call, write=True)
        self._check_write(verb, dn, attributes)

    def _check_write(self, verb, dn, attributes):
        r = self.conn.result or {}
        if r.get('result') == RESULT['success']:
            return
        names = ', '.join(sorted(attributes)) if attributes else ''
        if r.get('result') == RESULT['insufficientAccessRights']:
            raise DirectoryError('Insufficient rights: %s cannot %s %s%s (%s). Use an account with the right to '
                                 'do this, or delegate it.' % (self.bound_as, verb, dn,
                                                               (' (attributes: %s)' % names) if names else '',
                                                               _ldap_message(r)), result=r)
        raise DirectoryError('%s of %s failed: %s' % (verb, dn, _ldap_message(r)), result=r)


def _open_tls(conn, mode, where):
    """Open the socket (LDAPS) and, for StartTLS, start TLS; a certificate problem stops at once."""
    try:
        conn.open()
        if mode == 'starttls' and not conn.start_tls():
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


def _bind_refused(r, where, bound_as):
    if r.get('result') == RESULT['invalidCredentials']:
        return DirectoryError('Bind to %s as %s was rejected: wrong user name or password, or the account is '
                              'disabled, locked or expired (%s). Check domain_username and domain_password.'
                              % (where, bound_as, _ldap_message(r)), result=r)
    if r.get('result') == RESULT['strongerAuthRequired']:
        return DirectoryError('Bind to %s was refused: the domain controller requires a stronger authentication '
                              '(%s).' % (where, _ldap_message(r)), result=r)
    return DirectoryError('Bind to %s as %s failed: %s' % (where, bound_as, _ldap_message(r)), result=r)


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


def dn_to_dns(dn):
    if not dn:
        return None
    return '.'.join(part.split('=', 1)[1] for part in dn.split(',') if part.strip().upper().startswith('DC='))
