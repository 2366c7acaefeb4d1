#!/usr/bin/env bash
# The support matrix: the unit tests (tests/unit) on each ansible-core release line the collection supports, and
# ansible-test sanity on the oldest and the newest, each in its own virtual environment with that ansible-core,
# the collection's requirements.txt and the test tools. The venvs are kept in .cache/matrix/ (quick on reruns).
#   bash tests/matrix/run.sh unit [2.16 2.17 ...]     default: every line from 2.16 to the newest on the index
#   bash tests/matrix/run.sh sanity [2.16 ...]        default: the oldest and the newest
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo" || exit 1
kind=${1:?usage: tests/matrix/run.sh unit|sanity [ansible-core versions]}; shift
PY=${GMSA_PYTHON:-python3}
lines() {   # every ansible-core release line from 2.16 up to the newest the package index has
  "$repo/.venv/bin/python" -m pip index versions ansible-core 2>/dev/null | sed -n 's/^Available versions: //p' \
    | tr ',' '\n' | sed 's/ //g' | grep -E '^2\.[0-9]+\.[0-9]+$' | cut -d. -f1,2 | sort -uV \
    | awk -F. '$2 >= 16'
}
mapfile -t versions < <(if [ $# -gt 0 ]; then printf '%s\n' "$@"; else lines; fi)
[ ${#versions[@]} -gt 0 ] || { echo "matrix: no ansible-core versions found" >&2; exit 1; }
if [ "$kind" = sanity ] && [ $# -eq 0 ]; then versions=("${versions[0]}" "${versions[-1]}"); fi
# the unit tests' tools, as requirements-dev.txt pins them
tools=(pytest "$(grep -m1 '^pycryptodome' requirements-dev.txt | cut -d' ' -f1)" pyyaml
       "$(grep -m1 '^tree-sitter>' requirements-dev.txt)" "$(grep -m1 '^tree-sitter-powershell' requirements-dev.txt)")
venv_for() {
  local v=$1 venv="$repo/.cache/matrix/core-$1"
  local want
  want=$(printf '%s\n' "$v" "${tools[@]}" "$(grep -v '^ansible-core' "$repo/requirements.txt")" | sha256sum | cut -c1-16)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$venv"
    "$PY" -m venv "$venv" || return 1
    # requirements.txt without its ansible-core line (the matrix chooses it), plus the unit tests' tools
    grep -v '^ansible-core' "$repo/requirements.txt" > "$venv/requirements.txt"
    "$venv/bin/python" -m pip install -q "ansible-core==$v.*" -r "$venv/requirements.txt" "${tools[@]}" \
      >"$venv/pip.log" 2>&1 || { grep -v '^WARNING: Location' "$venv/pip.log" >&2; return 1; }
    echo "$want" > "$venv/.stamp"
  fi
  echo "$venv"
}
failed=()
for v in "${versions[@]}"; do
  venv=$(venv_for "$v") || { failed+=("$v"); continue; }
  core=$("$venv/bin/python" -c 'import ansible; print(ansible.__version__)')
  t0=$SECONDS
  if [ "$kind" = unit ]; then
    PATH="$venv/bin:$PATH" "$venv/bin/python" -m pytest -p no:cacheprovider -q tests/unit >"$venv/unit.log" 2>&1
  else
    PATH="$venv/bin:$PATH" bash tests/sanity/run.sh >"$venv/sanity.log" 2>&1
  fi
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "matrix: $kind on ansible-core $core: ok ($(tail -1 "$venv/$kind.log" | sed 's/=//g; s/^ *//'); $((SECONDS - t0)) s)"
  else
    tail -40 "$venv/$kind.log"; echo "matrix: $kind on ansible-core $core: FAILED" >&2; failed+=("$v")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "matrix: $kind failed on ansible-core ${failed[*]}" >&2; exit 1; }
