#!/usr/bin/env bash
# Lab Active Directory domain controller for gmsa.farm: a real Samba >= 4.21 AD DC on a loopback address.
#
#   tests/lab/dc.sh up      install Samba if missing, provision (first time), start, wait, write env files
#   tests/lab/dc.sh down    stop the DC by the pid in its pid file; remove its loopback address and hosts line
#   tests/lab/dc.sh env     print the env file (source it: eval "$(tests/lab/dc.sh env)")
#   tests/lab/dc.sh status  exit 0 when the DC answers LDAPS and Kerberos
#   tests/lab/dc.sh destroy stop and remove the lab directory (a new domain next time)
#
# Settings (environment): GMSA_LAB_DIR (default: <repo>/.lab), GMSA_LAB_IP (default 127.0.0.10),
# GMSA_LAB_REALM (default GMSALAB.TEST), GMSA_LAB_DOMAIN (default GMSALAB).
# GMSA_LAB_FAKETIME=1 runs Samba under libfaketime (Debian 'faketime'): its clock is the real one moved by the offset
# in <lab dir>/faketime (libfaketime's FAKETIME_TIMESTAMP_FILE, e.g. "+72000" seconds), read again on every clock
# call, so a test moves the DC's clock (and a gMSA through its password rotation) without restarting Samba.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
LAB_DIR=${GMSA_LAB_DIR:-$repo/.lab}
LAB_IP=${GMSA_LAB_IP:-127.0.0.10}
REALM=${GMSA_LAB_REALM:-GMSALAB.TEST}
DOMAIN=${GMSA_LAB_DOMAIN:-GMSALAB}
realm_lower=$(echo "$REALM" | tr '[:upper:]' '[:lower:]')
DC_HOST=dc1
DC_FQDN="$DC_HOST.$realm_lower"
SMB_CONF="$LAB_DIR/etc/smb.conf"
FAKETIME=${GMSA_LAB_FAKETIME:-}
FAKETIME_FILE="$LAB_DIR/faketime"
LIBFAKETIME=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
PID_FILE="$LAB_DIR/run/samba.pid"
ENV_FILE="$LAB_DIR/lab.env"
KRB5_CONF="$LAB_DIR/krb5.conf"

die() { echo "dc.sh: $*" >&2; exit 1; }
log() { echo "dc.sh: $*" >&2; }

check_platform() {
  [ "$(id -u)" = 0 ] || die "must run as root (Samba's AD DC needs root to bind ports 88/389/636 and to add $LAB_IP to lo)"
  [ -r /etc/os-release ] || die "not a Debian-like system (no /etc/os-release); the lab needs Debian 12 with bookworm-backports"
  # shellcheck disable=SC1091
  . /etc/os-release
  case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "*) ;;
    *) die "not a Debian-like system (ID=${ID:-?}); the lab installs Samba from Debian bookworm-backports" ;;
  esac
  case "$LAB_IP" in
    127.0.0.1|127.0.0.2) die "GMSA_LAB_IP=$LAB_IP is reserved; choose another 127.x.y.z address" ;;
    127.*) ;;
    *) die "GMSA_LAB_IP=$LAB_IP is not a loopback address (127.0.0.0/8)" ;;
  esac
}

samba_ok() {
  command -v samba >/dev/null 2>&1 || return 1
  local v
  v=$(samba --version 2>/dev/null | sed -n 's/^Version \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
  [ -n "$v" ] || return 1
  local major=${v% *} minor=${v#* }
  [ "$major" -gt 4 ] || { [ "$major" -eq 4 ] && [ "$minor" -ge 21 ]; }
}

install_samba() {
  samba_ok && command -v kinit >/dev/null && command -v ldapsearch >/dev/null && return 0
  log "installing Samba >= 4.21 from bookworm-backports (samba-ad-dc, krb5-user, ldap-utils; about a minute)"
  . /etc/os-release
  [ "${VERSION_CODENAME:-}" = bookworm ] || die "Samba >= 4.21 is needed; automatic install is for Debian 12 (bookworm) only, found ${VERSION_CODENAME:-unknown}: install samba-ad-dc >= 4.21 yourself"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q -t bookworm-backports samba-ad-dc samba krb5-user ldap-utils winbind >/dev/null
  samba_ok || die "installed Samba is older than 4.21: $(samba --version)"
}

install_faketime() {
  [ -n "$FAKETIME" ] || return 0
  LIBFAKETIME=$(dpkg -L libfaketime 2>/dev/null | grep '/libfaketime\.so\.1$' | head -1 || true)
  if [ -z "$LIBFAKETIME" ]; then
    log "installing libfaketime (Debian faketime) for a DC with a movable clock"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q faketime >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q faketime >/dev/null; }
    LIBFAKETIME=$(dpkg -L libfaketime | grep '/libfaketime\.so\.1$' | head -1)
  fi
  [ -f "$FAKETIME_FILE" ] || echo '+0' > "$FAKETIME_FILE"
}

# samba, started under libfaketime when GMSA_LAB_FAKETIME is set. The monotonic clock stays real (faking it hangs
# timed waits); FAKETIME_NO_CACHE makes every clock call read the offset file again.
start_samba() {
  if [ -n "$FAKETIME" ]; then
    LD_PRELOAD="$LIBFAKETIME" FAKETIME_TIMESTAMP_FILE="$FAKETIME_FILE" FAKETIME_NO_CACHE=1 \
      FAKETIME_DONT_FAKE_MONOTONIC=1 samba -s "$SMB_CONF" -D 9>&-
  else
    samba -s "$SMB_CONF" -D 9>&-  # the daemon must not inherit, and so hold forever, the 'up' lock
  fi
}

# Samba's packaging starts daemons on install; the lab runs its own instance only.
stop_packaged_services() {
  for s in samba-ad-dc smbd nmbd winbind; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$s" 2>/dev/null; then systemctl stop "$s" || true; fi
  done
}

ensure_ip() {
  # Not 'ip … | grep -q': with pipefail, grep's early exit can kill ip with SIGPIPE and fail the test.
  local addrs
  addrs=$(ip -4 addr show dev lo)
  case "$addrs" in
    *"inet $LAB_IP/"*) ;;
    *) ip addr add "$LAB_IP/8" dev lo ;;
  esac
}

ensure_hosts() {
  # The DC's certificate and Kerberos SPN name dc1.<realm>; make that name (only the FQDN: each lab has its own
  # realm, so two labs never map one name to two addresses) resolve to the lab address.
  local line="$LAB_IP $DC_FQDN # gmsa.farm lab"
  if ! grep -qxF "$line" /etc/hosts; then
    remove_hosts
    echo "$line" >> /etc/hosts
  fi
}

remove_hosts() {
  grep -v " $DC_FQDN .*# gmsa.farm lab$" /etc/hosts > /etc/hosts.gmsa-lab.tmp || true
  cat /etc/hosts.gmsa-lab.tmp > /etc/hosts && rm -f /etc/hosts.gmsa-lab.tmp
}

remove_ip() {
  local addrs
  addrs=$(ip -4 addr show dev lo 2>/dev/null || true)
  case "$addrs" in
    *"inet $LAB_IP/"*) ip addr del "$LAB_IP/8" dev lo 2>/dev/null || true ;;
  esac
}

running() {
  [ -s "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

# Whether the running DC has the clock this 'up' asks for (under libfaketime or not).
clock_as_asked() {
  local faked=no
  if grep -q libfaketime "/proc/$(cat "$PID_FILE")/maps" 2>/dev/null; then
    faked=yes
  fi
  if [ -n "$FAKETIME" ]; then [ "$faked" = yes ]; else [ "$faked" = no ]; fi
}

provision() {
  [ -f "$SMB_CONF" ] && return 0
  log "provisioning realm $REALM on $LAB_IP in $LAB_DIR"
  rm -rf "$LAB_DIR"
  mkdir -p "$LAB_DIR/var" "$LAB_DIR/run"
  chmod 700 "$LAB_DIR"
  local pass
  # Random, meets AD complexity (upper, lower, digit, symbol).
  pass="Lab-$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)9a"
  samba-tool domain provision --realm="$REALM" --domain="$DOMAIN" --server-role=dc --dns-backend=NONE \
    --base-schema=2019 --adminpass="$pass" --host-name="$DC_HOST" --targetdir="$LAB_DIR" \
    --option="interfaces=$LAB_IP" --option="bind interfaces only=yes" \
    --option="server services = rpc, ldap, cldap, kdc, drepl, winbindd, ntp_signd, kcc" \
    --option="pid directory = $LAB_DIR/run" \
    --option="log file = $LAB_DIR/var/log.%m" \
    --option="winbindd socket directory = $LAB_DIR/run/winbindd" \
    --option="ntp signd socket directory = $LAB_DIR/run/ntp_signd" \
    --option="ldap server require strong auth = yes" >"$LAB_DIR/provision.log" 2>&1 \
    || { cat "$LAB_DIR/provision.log" >&2; rm -f "$SMB_CONF"; die "samba-tool domain provision failed"; }
  # With --dns-backend=NONE samba_spnupdate never registers the DC's ldap/ SPNs, and Samba's KDC (unlike
  # Windows) does not map ldap/ to HOST/: add them so Kerberos binds (SASL GSSAPI) to the DC work.
  local spn
  for spn in "ldap/$DC_FQDN" "ldap/$DC_HOST" "ldap/$DC_FQDN/$realm_lower" "ldap/$DC_FQDN/$DOMAIN"; do
    samba-tool spn add "$spn" "${DC_HOST^^}\$" -s "$SMB_CONF" >>"$LAB_DIR/provision.log" 2>&1 \
      || die "could not add SPN $spn to the DC account (see $LAB_DIR/provision.log)"
  done
  umask 077
  printf '%s\n' "$pass" > "$LAB_DIR/admin.pass"
  cat > "$KRB5_CONF" <<KRB
[libdefaults]
    default_realm = $REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    rdns = false
    dns_canonicalize_hostname = false
    udp_preference_limit = 1
[realms]
    $REALM = {
        kdc = $LAB_IP
        admin_server = $LAB_IP
    }
[domain_realm]
    .$realm_lower = $REALM
    $realm_lower = $REALM
KRB
  write_env
}

write_env() {
  local pass base_dn
  pass=$(cat "$LAB_DIR/admin.pass")
  base_dn=$(echo "$realm_lower" | sed 's/^/DC=/; s/\./,DC=/g')
  umask 077
  cat > "$ENV_FILE" <<ENV
GMSA_LAB_DIR='$LAB_DIR'
GMSA_LAB_IP='$LAB_IP'
GMSA_LAB_REALM='$REALM'
GMSA_LAB_NETBIOS='$DOMAIN'
GMSA_LAB_BASE_DN='$base_dn'
GMSA_LAB_DC_FQDN='$DC_FQDN'
GMSA_LAB_SMB_CONF='$SMB_CONF'
GMSA_LAB_ADMIN_PASSWORD='$pass'
GMSA_DOMAIN_SERVER='$DC_FQDN'
GMSA_DOMAIN_PORT='636'
GMSA_DOMAIN_TLS='ldaps'
GMSA_DOMAIN_AUTH='simple'
GMSA_DOMAIN_USERNAME='Administrator@$REALM'
GMSA_DOMAIN_PASSWORD='$pass'
GMSA_DOMAIN_CA_CERT='$LAB_DIR/private/tls/ca.pem'
KRB5_CONFIG='$KRB5_CONF'
GMSA_LAB_FAKETIME_FILE='$( [ -n "$FAKETIME" ] && echo "$FAKETIME_FILE" )'
GMSA_LAB_LIBFAKETIME='$( [ -n "$FAKETIME" ] && echo "$LIBFAKETIME" )'
GMSA_LAB_SAMBA_TOOL_ARGS='-H ldaps://$DC_FQDN -U Administrator@$REALM%$pass --option=tlscafile=$LAB_DIR/private/tls/ca.pem --option=tlsverifypeer=ca_and_name'
ENV
  sed -i 's/^\([A-Z0-9_]*\)=/export \1=/' "$ENV_FILE"
  # The same settings as JSON, for playbooks (Molecule) that read them with lookup('file') | from_json.
  ( set -a; . "$ENV_FILE"; python3 -c 'import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith(("GMSA_", "KRB5_CONFIG"))}))' ) > "$LAB_DIR/lab.json"
}

wait_ready() {
  local i
  for i in $(seq 1 120); do
    if status_quiet; then return 0; fi
    [ "$i" -lt 10 ] || running || { tail -30 "$LAB_DIR/var/log.samba" 2>/dev/null >&2 || true; die "samba exited during start-up (see $LAB_DIR/var/)"; }
    sleep 0.5
  done
  die "the DC did not answer LDAPS on $LAB_IP:636 and Kerberos on $LAB_IP:88 within 60 s"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$LAB_IP/$1" 2>/dev/null; }

status_quiet() {
  port_open 636 && port_open 88 || return 1
  LDAPTLS_CACERT="$LAB_DIR/private/tls/ca.pem" timeout 10 ldapsearch -LLL -x -H "ldaps://$DC_FQDN" -s base -b '' \
    defaultNamingContext >/dev/null 2>&1
}

up() {
  check_platform
  # One 'up' at a time per lab (parallel test workers all call it).
  mkdir -p "$(dirname "$LAB_DIR")"
  exec 9>"$LAB_DIR.lock"
  flock 9
  install_samba
  stop_packaged_services
  ensure_ip
  ensure_hosts
  provision
  install_faketime
  if running && status_quiet && clock_as_asked; then
    log "lab DC already running (pid $(cat "$PID_FILE")), reusing it"
  else
    running && { log "lab DC process is not answering or has another clock, restarting it"; down_quiet; }
    mkdir -p "$LAB_DIR/run"
    log "starting samba"
    start_samba
    wait_ready
    log "lab DC ready on $DC_FQDN ($LAB_IP): LDAPS 636, Kerberos 88"
  fi
  write_env
  echo "$ENV_FILE"
}

down_quiet() {
  if [ -s "$PID_FILE" ]; then
    local pid; pid=$(cat "$PID_FILE")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$PID_FILE"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down_quiet; remove_hosts; remove_ip; log "lab DC stopped; $LAB_IP and $DC_FQDN removed from lo and /etc/hosts" ;;
  destroy) down_quiet; remove_hosts; remove_ip; rm -rf "$LAB_DIR"; log "lab removed" ;;
  env) [ -f "$ENV_FILE" ] || die "no lab yet: run '$0 up'"; cat "$ENV_FILE" ;;
  status) if status_quiet; then echo "running"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|env|status|destroy" >&2; exit 2 ;;
esac
