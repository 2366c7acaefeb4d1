#!/usr/bin/env bash
# Execution environments, without a container engine:
#  1. a consumer EE - an organisation's definition that lists gmsa.farm (the built tarball) among its collections -
#     gets gmsa.farm's Python and system requirements: ansible-builder create writes the context, then the
#     galaxy stage (ansible-galaxy collection install -r the context's requirements.yml) and the builder stage
#     (the context's own introspect.py, as the Containerfile runs it) are run here on the context's files;
#  2. the shipped EE definition (examples/execution_environment) produces a context holding the tarball.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "EE: $*" >&2; exit 1; }
version=$(sed -n 's/^version: *//p' "$repo/galaxy.yml")
ansible-galaxy collection build --force --output-path "$work" "$repo" >/dev/null
tarball="gmsa-farm-$version.tar.gz"

# 1. the consumer EE
mkdir -p "$work/consumer"
cp "$work/$tarball" "$work/consumer/"
cat > "$work/consumer/execution-environment.yml" <<YML
version: 3
images:
  base_image:
    name: registry.example.com/org/ee-base:latest
dependencies:
  python: [requests]
  galaxy:
    collections:
      - name: vendor/$tarball
        type: file
additional_build_files:
  - src: $tarball
    dest: vendor
YML
(cd "$work/consumer" && ansible-builder create -c "$work/cctx" >/dev/null)
file="$work/cctx/Containerfile"; [ -f "$file" ] || file="$work/cctx/Dockerfile"
grep -q 'introspect.py introspect' "$file" || fail "the consumer's build does not introspect collections"
grep -qF "vendor/$tarball" "$work/cctx/_build/requirements.yml" || fail "the consumer's requirements.yml lacks gmsa.farm"
[ -f "$work/cctx/_build/vendor/$tarball" ] || fail "the tarball is not in the consumer's context"
# the galaxy stage: WORKDIR /build (the context's _build), install -r requirements.yml (no Galaxy server here:
# --no-deps; the Windows collections would come from Galaxy in a real build)
(cd "$work/cctx/_build" && ANSIBLE_COLLECTIONS_PATH="$work/usr/share/ansible/collections" \
   ansible-galaxy collection install --no-deps --force -r requirements.yml \
   -p "$work/usr/share/ansible/collections" >/dev/null)
# the builder stage: the context's introspect.py over the installed collections
python "$work/cctx/_build/scripts/introspect.py" introspect --sanitize \
  --write-pip="$work/pip.txt" --write-bindep="$work/bindep.txt" "$work/usr/share/ansible/collections" >/dev/null
for want in 'ldap3>=2.9.1,<3' 'gssapi>=1.8' 'winacl>=0.1.9' 'pywinrm[kerberos,credssp]>=0.5.0' 'pypsrp>=0.8'; do
  grep -qF "$want" "$work/pip.txt" || fail "the consumer EE lacks gmsa.farm's Python requirement '$want': $(cat "$work/pip.txt")"
done
for want in 'krb5-devel' 'krb5-workstation' 'gcc'; do
  grep -q "^$want .*# from collection gmsa.farm" "$work/bindep.txt" || grep -q "^$want" "$work/bindep.txt" \
    || fail "the consumer EE lacks gmsa.farm's system requirement '$want': $(cat "$work/bindep.txt")"
done
grep -q '# from collection gmsa.farm' "$work/pip.txt" || fail "introspection did not attribute the requirements to gmsa.farm"

# 2. the shipped EE definition
cp -r "$repo/examples/execution_environment" "$work/ee"
cp "$work/$tarball" "$work/ee/"
(cd "$work/ee" && ansible-builder create -c "$work/ectx" >/dev/null) \
  || fail "examples/execution_environment does not name the tarball of version $version"
file="$work/ectx/Containerfile"; [ -f "$file" ] || file="$work/ectx/Dockerfile"
for want in 'ansible-core' 'ansible-runner' 'introspect.py introspect'; do
  grep -qF "$want" "$file" || fail "'$want' missing from the shipped EE's $(basename "$file")"
done
[ -f "$work/ectx/_build/collection/$tarball" ] || fail "collection tarball missing from the shipped EE's context"
echo "EE: a consumer EE listing gmsa.farm gets its $(grep -c 'from collection gmsa.farm' "$work/pip.txt") Python and" \
  "$(grep -c 'from collection gmsa.farm' "$work/bindep.txt") system requirements; the shipped EE's context holds the tarball"
