#!/usr/bin/env bash
# Builds the collection's documentation site (module pages from the plugins' own docs, and the guides in
# docs/docsite/) with antsibull-docs and Sphinx, after linting the docs. Output: .docs/build/html/index.html
# (GMSA_DOCS_DIR to change). Usage: bash scripts/docs.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
out=${GMSA_DOCS_DIR:-$here/.docs}
(cd .collections/ansible_collections/gmsa/farm && antsibull-docs lint-collection-docs --plugin-docs .)
rm -rf "$out"
mkdir -p "$out"
antsibull-docs sphinx-init --use-current --dest-dir "$out" --lenient --fail-on-error gmsa.farm >/dev/null
# No network here: no intersphinx inventories to fetch.
echo 'intersphinx_mapping = {}' >> "$out/conf.py"
# build.sh regenerates the RST from the installed collection, then runs sphinx-build. Links to pages outside
# this site (Ansible's common return values, other collections' modules) cannot resolve offline; any other
# warning fails the build.
(cd "$out" && bash build.sh >"$out/build.log" 2>&1) || { cat "$out/build.log"; echo "docs: build failed" >&2; exit 1; }
external="undefined label: '(common_return_values|action_plugins|ansible_configuration_settings|ansible_collections\.(ansible|community|microsoft)\.[a-z_.]+)'"
if grep -E 'WARNING|ERROR' "$out/build.log" | grep -vE "$external"; then
  echo "docs: the warnings above must be fixed (full log: $out/build.log)" >&2
  exit 1
fi
echo "docs: $out/build/html/index.html ($(find "$out/build/html" -name '*.html' | wc -l) pages)"
