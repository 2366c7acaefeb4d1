#!/usr/bin/env bash
# The execution environment definition produces a build context (no container engine needed): the collection
# tarball it installs, its Python and system dependencies, ansible-core.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx" "$repo"/gmsa-farm-*.tar.gz' EXIT
ansible-galaxy collection build --force --output-path "$repo" "$repo" >/dev/null
ansible-builder create -f "$repo/meta/execution-environment.yml" -c "$ctx" >/dev/null
file="$ctx/Containerfile"; [ -f "$file" ] || file="$ctx/Dockerfile"
for want in 'ansible-galaxy collection install /tmp/collection/gmsa-farm-' 'ansible-core' 'ansible-runner'; do
  grep -qF "$want" "$file" || { echo "EE: '$want' missing from $file" >&2; exit 1; }
done
grep -qx 'ldap3>=2.9.1,<3' "$ctx/_build/requirements.txt" || { echo "EE: python requirements missing" >&2; exit 1; }
grep -q 'krb5-devel' "$ctx/_build/bindep.txt" || { echo "EE: bindep missing" >&2; exit 1; }
ls "$ctx"/_build/collection/gmsa-farm-*.tar.gz >/dev/null 2>&1 || { echo "EE: collection tarball missing from the context" >&2; exit 1; }
echo "EE build context ok: $(basename "$file"), requirements, bindep, collection tarball"
