#!/usr/bin/env bash
# Installs what gmsa.farm needs on a Debian 12 machine (as root): Debian packages, a virtual environment in
# .venv with requirements-dev.txt, and .collections/ansible_collections/gmsa/farm pointing at this checkout so
# the collection imports as ansible_collections.gmsa.farm. Idempotent and quick when nothing changed.
# Source it to get the environment: . scripts/bootstrap.sh
GMSA_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GMSA_REPO
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
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
}

command -v dpkg-query >/dev/null || { echo "bootstrap: not a Debian-like system (no dpkg); install bindep.txt's packages yourself" >&2; exit 1; }
# Build deps of gssapi (no Linux wheels), Kerberos client tools, the C# compiler for the Windows util check.
_gmsa_apt libkrb5-dev krb5-user gcc mono-mcs iproute2 git rsync shellcheck

PY=${GMSA_PYTHON:-python3}
VENV="$GMSA_REPO/.venv"
stamp="$VENV/.gmsa-reqs"
want=$(cat "$GMSA_REPO/requirements.txt" "$GMSA_REPO/requirements-dev.txt" | sha256sum | cut -c1-16)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: creating $VENV and installing requirements-dev.txt" >&2
  "$PY" -m venv "$VENV"
  log="$VENV/pip-install.log"
  if ! { "$VENV/bin/python" -m pip install -q --upgrade pip && \
         "$VENV/bin/python" -m pip install -q -r "$GMSA_REPO/requirements-dev.txt"; } >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2; echo "bootstrap: pip install failed (log: $log)" >&2; exit 1
  fi
  echo "$want" > "$stamp"
fi

mkdir -p "$GMSA_REPO/.collections/ansible_collections/gmsa"
ln -sfn ../../.. "$GMSA_REPO/.collections/ansible_collections/gmsa/farm"
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
export ANSIBLE_CONFIG="$GMSA_REPO/tests/ansible.cfg"
