# Copyright: gmsa.farm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PRIVATE to the collection: Windows account names and status codes, as the host-side action plugins see them.

Pure functions, no I/O. Every rule names the fact it follows in docs/windows-facts.md (W<n>).
"""
from __future__ import annotations

import re


class HostTaskError(Exception):
    """A host-side task failed. ``changed`` says whether anything was written on the host before the failure."""

    def __init__(self, msg, changed=False, **result):
        super().__init__(msg)
        self.msg = msg
        self.changed = changed
        self.result = result


# MSA_INFO_STATE (W1).
MSA_STATES = {0: 'Unknown', 1: 'NotExist', 2: 'NotService', 3: 'CannotInstall', 4: 'CanInstall', 5: 'Installed'}
NOT_EXIST, NOT_SERVICE, CANNOT_INSTALL, CAN_INSTALL, INSTALLED = 1, 2, 3, 4, 5

# NTSTATUS values the netapi32 service-account calls return (W1-W4), by name.
NTSTATUS = {
    0x00000000: 'STATUS_SUCCESS',
    0xC0000022: 'STATUS_ACCESS_DENIED',
    0xC0000034: 'STATUS_OBJECT_NAME_NOT_FOUND',
    0xC00000BB: 'STATUS_NOT_SUPPORTED',
    0xC00000DF: 'STATUS_NO_SUCH_DOMAIN',
    0xC0000064: 'STATUS_NO_SUCH_USER',
    0xC000005E: 'STATUS_NO_LOGON_SERVERS',
    0xC0000001: 'STATUS_UNSUCCESSFUL',
}
STATUS_SUCCESS = 0
STATUS_NO_SUCH_DOMAIN = 0xC00000DF

# Win32 errors a service start reports (W8, W9).
WIN32_ERRORS = {
    1069: 'ERROR_SERVICE_LOGON_FAILED: the service did not start due to a logon failure (the account lacks '
          '"Log on as a service", or this host cannot retrieve the gMSA password)',
    1079: 'ERROR_DIFFERENT_SERVICE_ACCOUNT: the service shares its process with services that run under another '
          'account',
    1314: 'ERROR_PRIVILEGE_NOT_HELD: the account does not hold a privilege the service requires',
    1058: 'ERROR_SERVICE_DISABLED: the service is disabled',
}

SERVICE_LOGON_RIGHT = 'SeServiceLogonRight'
BATCH_LOGON_RIGHT = 'SeBatchLogonRight'
IIS_IUSRS_SID = 'S-1-5-32-568'        # BUILTIN\IIS_IUSRS: IIS adds a pool's identity to it at worker start (W12)

# sAMAccountName characters Windows refuses, and the 15-character limit of the host tooling (W1, facts §3).
_BAD_CHARS = re.compile(r'["/\\\[\]:;|=,+*?<>@\s]')


def status_name(code):
    """An NTSTATUS as 'NAME (0x........)'."""
    code = int(code) & 0xFFFFFFFF
    return '%s (0x%08X)' % (NTSTATUS.get(code, 'NTSTATUS'), code)


def win32_error_text(code):
    if not code:
        return ''
    return 'Windows error %d%s' % (code, (' ' + WIN32_ERRORS[code]) if code in WIN32_ERRORS else '')


def split_account(text):
    """'DOMAIN\\name$', 'name$@dns.domain', 'name$' or 'name' -> (domain or None, name without '$', had_dollar)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError('is empty')
    t = text.strip()
    domain = None
    if '\\' in t:
        domain, t = t.split('\\', 1)
        if not domain:
            raise ValueError("has an empty domain part before '\\'")
    elif '@' in t:
        t, domain = t.split('@', 1)
        if not domain:
            raise ValueError("has an empty domain part after '@'")
    dollar = t.endswith('$')
    if dollar:
        t = t[:-1]
    return domain, t, dollar


def msa_name(text):
    """The name the Net*ServiceAccount calls take: no domain, no trailing '$' (W1-W4)."""
    try:
        domain, name, _dollar = split_account(text)
    except ValueError as e:
        raise ValueError("'%s' %s" % (text, e)) from None
    if not name:
        raise ValueError("'%s' does not name a managed service account" % text)
    if len(name) > 15:
        raise ValueError("'%s': managed service account names are at most 15 characters before the trailing '$' "
                         "(this one has %d)" % (text, len(name)))
    bad = _BAD_CHARS.search(name)
    if bad:
        raise ValueError("'%s' contains %r, which account names cannot contain" % (text, bad.group(0)))
    return domain, name


# Built-in accounts: the spelling each target takes (W20, W13). The SCM takes 'LocalSystem' and the
# 'NT AUTHORITY\...' names; LSA (scheduled tasks) cannot translate 'LocalSystem', so tasks use SYSTEM etc.
_BUILTIN = {
    'system': ('S-1-5-18', 'LocalSystem', 'SYSTEM', 'LocalSystem'),
    'local service': ('S-1-5-19', 'NT AUTHORITY\\LocalService', 'LOCAL SERVICE', 'LocalService'),
    'network service': ('S-1-5-20', 'NT AUTHORITY\\NetworkService', 'NETWORK SERVICE', 'NetworkService'),
}
_BUILTIN_ALIASES = {
    'localsystem': 'system', '.\\localsystem': 'system', 'system': 'system', 'nt authority\\system': 'system',
    's-1-5-18': 'system',
    'localservice': 'local service', 'local service': 'local service', 'nt authority\\localservice': 'local service',
    'nt authority\\local service': 'local service', 's-1-5-19': 'local service',
    'networkservice': 'network service', 'network service': 'network service',
    'nt authority\\networkservice': 'network service', 'nt authority\\network service': 'network service',
    's-1-5-20': 'network service',
}
_TARGET_INDEX = {'service': 1, 'scheduled_task': 2, 'iis_app_pool': 3, 'biztalk_host_instance': 1}


class Identity:
    """An account as windows_service_identity handles it.

    kind: 'gmsa' (a managed service account, DOMAIN\\name$), 'builtin' (SYSTEM, LOCAL SERVICE, NETWORK SERVICE),
    'virtual' (NT SERVICE\\x, services only), 'app_pool_identity' (IIS ApplicationPoolIdentity), or 'user' (an
    ordinary account: it needs a password, so it is never set by this collection, only recognised as a
    previous identity).
    """

    def __init__(self, kind, key, domain=None, name=None):
        self.kind = kind
        self.key = key          # builtin key, 'NT SERVICE\\x', or the bare account name
        self.domain = domain
        self.name = name

    @property
    def needs_password(self):
        return self.kind == 'user'

    def spelled_for(self, target):
        """The account string the target's module takes (W13, W19, W20)."""
        if self.kind == 'builtin':
            return _BUILTIN[self.key][_TARGET_INDEX[target]]
        if self.kind == 'virtual':
            return self.key
        if self.kind == 'app_pool_identity':
            return 'ApplicationPoolIdentity'
        return '%s\\%s' % ((self.domain or '.').upper(), self.name + ('$' if self.kind == 'gmsa' else ''))

    def same_as(self, other, facts=None):
        return bool(same_identity(self, other, facts or {}))

    def __repr__(self):
        return 'Identity(%s, %s)' % (self.kind, self.spelled_for('service') if self.kind != 'user' or self.domain
                                     else self.name)


def _domain_key(domain, facts):
    """A domain spelling as the computer's domain ('') when it is its NetBIOS or DNS name, else as written. The
    NetBIOS name need not be the first DNS label (CONTOSO / corp.contoso.com, W6)."""
    if not domain:
        return ''
    low = domain.lower()
    mine = {str(facts.get(k) or '').lower() for k in ('domain_netbios', 'domain_dns')} - {''}
    return '' if low in mine or low == '.' else low


def same_identity(a, b, facts):
    """Whether two identities are one account: True, False, or None when only their SIDs can tell (same name in
    two domain spellings that the computer's own domain names do not explain). ``facts`` gives the computer's
    domain names, the wanted account's SID (account_sid) and, once read, the previous one's (previous_sid)."""
    if a is None or b is None or a.kind != b.kind and not {a.kind, b.kind} <= {'gmsa', 'user'}:
        return False
    if a.kind in ('builtin', 'virtual', 'app_pool_identity'):
        return a.key.lower() == b.key.lower()
    if a.kind != b.kind or a.name.lower() != b.name.lower():
        return False
    if _domain_key(a.domain, facts) == _domain_key(b.domain, facts):
        return True
    if facts.get('account_sid') and facts.get('previous_sid'):
        return facts['account_sid'].upper() == facts['previous_sid'].upper()
    return None


def policy_lists(accounts, identity, facts, also=()):
    """Whether a Group Policy right's account list (RSoP AccountList: names or '*S-1-...' SIDs, W11) holds the
    identity, by SID or by any spelling of its name, or one of the SIDs in ``also``."""
    sids = {str(facts.get('account_sid') or '').upper()} | {s.upper() for s in also}
    sids.discard('')
    for entry in accounts:
        text = str(entry).strip()
        if text.startswith('*'):
            text = text[1:]
        if text.upper().startswith('S-1-'):
            if text.upper() in sids:
                return True
            continue
        try:
            other = classify_identity(text, facts.get('domain_netbios'), wanted=False)
        except ValueError:
            continue
        if other is not None and other.kind == identity.kind and same_identity(identity, other, facts):
            return True
    return False


def task_folder(path):
    """A task folder as the Task Scheduler API names it: a leading '\\' and no '\\' after the last folder name
    (win_scheduled_task strips one itself, W14); the root is '\\'."""
    p = (path or '\\').strip()
    if not p.startswith('\\'):
        p = '\\' + p
    return p.rstrip('\\') or '\\'


def classify_identity(text, computer_domain=None, wanted=True):
    """Classify an account string. ``wanted``: the account to set (user accounts are refused); otherwise a
    previous identity read from the host (user accounts are recognised, for the rollback decision)."""
    if text is None or not str(text).strip():
        if wanted:
            raise ValueError('is empty')
        return None
    t = str(text).strip()
    low = t.lower()
    if low in _BUILTIN_ALIASES:
        return Identity('builtin', _BUILTIN_ALIASES[low])
    if low.startswith('nt service\\'):
        return Identity('virtual', 'NT SERVICE\\' + t[11:])
    if low in ('applicationpoolidentity', 'iis apppool\\applicationpoolidentity'):
        return Identity('app_pool_identity', 'ApplicationPoolIdentity')
    try:
        domain, name, dollar = split_account(t)
    except ValueError as e:
        raise ValueError("'%s' %s" % (t, e)) from None
    domain = domain or computer_domain
    if dollar:
        msa_name(name + '$')
        if not domain:
            raise ValueError("'%s': cannot tell its domain; give it as DOMAIN\\%s$" % (t, name))
        return Identity('gmsa', name, domain, name)
    if wanted:
        raise ValueError(
            "'%s' is not a managed service account (no trailing '$'), a built-in account (SYSTEM, LOCAL SERVICE, "
            "NETWORK SERVICE) or a virtual account (NT SERVICE\\name). Accounts with passwords are not set by this "
            "module: they could not be rolled back to automatically" % t)
    return Identity('user', name, domain, name)


def sql_server_service(name):
    """Whether a service is a SQL Server Database Engine or Agent service (W15)."""
    n = name.lower()
    return n in ('mssqlserver', 'sqlserveragent') or n.startswith('mssql$') or n.startswith('sqlagent$')
