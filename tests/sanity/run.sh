#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection laid out as ansible_collections/gmsa/farm (ansible-test needs
# that path; the working tree is copied so uncommitted changes are tested too). Each sanity test gets its own
# virtual environment with ansible-test's pinned requirements (--venv), cached under the copy's parent.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
root=${GMSA_SANITY_ROOT:-/tmp/gmsa-farm-sanity}
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
mkdir -p ~/.ansible/test/cache
cp "$repo/tests/sanity/get_pip.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
if [ $# -gt 0 ]; then exec ansible-test sanity --venv --python "$py" --color no "$@"; fi
# validate-modules reads a PowerShell module's argspec by running it under pwsh, which cannot be installed on
# the CI machines (and crashes without it). So it runs on every file but the .ps1 modules; their docs are
# checked against their $spec by tests/unit/test_windows_modules.py instead. No ignore file is needed.
ansible-test sanity --venv --python "$py" --color no --skip-test validate-modules
mapfile -t ps_modules < <(cd "$repo" && git ls-files -co --exclude-standard 'plugins/modules/*.ps1' | sed 's/\.ps1$//')
mapfile -t targets < <(cd "$repo" && git ls-files -co --exclude-standard plugins | grep -v -F "${ps_modules[@]/#/-e}")
[ ${#targets[@]} -gt 0 ] || { echo "sanity: no validate-modules targets found" >&2; exit 1; }
ansible-test sanity --venv --python "$py" --color no --test validate-modules "${targets[@]}"
