#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/gmsa/farm (ansible-test needs
# that path; the working tree is copied so uncommitted changes are tested too). Each sanity test gets its own
# virtual environment with ansible-test's pinned requirements (--venv). Everything - the copy, the venvs and
# ansible-test's cache (its HOME) - lives in a per-run temporary folder, removed afterwards, so two checkouts can
# test at once and nothing in the real home directory is touched. Output: one line per sanity test, and the
# errors; the full log is printed when a test fails.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
root=${GMSA_SANITY_ROOT:-$(mktemp -d -t gmsa-farm-sanity.XXXXXX)}
[ -n "${GMSA_SANITY_ROOT:-}" ] || trap 'rm -rf "$root"' EXIT
dest="$root/ansible_collections/gmsa/farm"
rm -rf "$dest"
mkdir -p "$dest"
(cd "$repo" && git ls-files -co --exclude-standard -z) | rsync -a --from0 --files-from=- "$repo/" "$dest/"
cd "$dest"
py=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# ansible-test bootstraps pip in each venv with a get-pip script from a host CI cannot reach; it uses a cached
# copy first. Put our stand-in (ensurepip + the package index) there for the pip version it pins.
pip_version=$(grep -A30 'def get_venv_packages' "$(python3 -c 'import ansible_test, os; print(os.path.dirname(ansible_test.__file__))')/_internal/python_requirements.py" \
  | sed -n "s/.*pip='\([0-9.]*\)'.*/\1/p" | head -1)
[ -n "$pip_version" ] || { echo "sanity: cannot find the pip version ansible-test pins" >&2; exit 1; }
export HOME="$root/home"
mkdir -p "$HOME/.ansible/test/cache"
cp "$repo/tests/sanity/get_pip.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
# ansible-test warns once per run that it uses C.UTF-8 instead of en_US.UTF-8; the tests here do not depend on it.
log="$root/sanity.log"
sanity() {
  if ansible-test sanity --venv --python "$py" --color no "$@" >"$log" 2>&1; then
    grep -E '^Running sanity test' "$log" | sed 's/^Running sanity test /  /; s/"//g' | sort | uniq | tr '\n' ' '; echo
  else
    grep -vE '^\s*(Requirement already|Collecting|Downloading|Installing|Successfully|Attempting|Found existing|Uninstalling|Using cached|Obtaining|Preparing|Building|Created wheel|Stored in|━)|WARNING: (Using locale|Reviewing previous)' "$log"
    return 1
  fi
}
if [ $# -gt 0 ]; then sanity "$@"; exit; fi
# validate-modules reads a PowerShell module's argspec by running it under pwsh, which cannot be installed on
# the CI machines (and crashes without it). So it runs on every file but the .ps1 modules; their docs are
# checked against their $spec by tests/unit/plugins/modules/test_windows_modules.py instead. No ignore file is needed.
sanity --skip-test validate-modules
mapfile -t ps_modules < <(cd "$repo" && git ls-files -co --exclude-standard 'plugins/modules/*.ps1' | sed 's/\.ps1$//')
mapfile -t targets < <(cd "$repo" && git ls-files -co --exclude-standard plugins | grep -v -F "${ps_modules[@]/#/-e}")
[ ${#targets[@]} -gt 0 ] || { echo "sanity: no validate-modules targets found" >&2; exit 1; }
sanity --test validate-modules "${targets[@]}"
