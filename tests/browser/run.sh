#!/usr/bin/env bash
# The HTML audit report in a real browser: installs Debian's chromium when missing (only for this step; the
# browser test skips, saying why, when it cannot be installed), then runs tests/browser.
# Usage: bash tests/browser/run.sh [pytest args...]
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "browser: installing Debian's chromium (headless, about a minute)" >&2
    { DEBIAN_FRONTEND=noninteractive apt-get update -q && \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core; } \
      >/dev/null 2>&1 || echo "browser: could not install chromium; the browser test will be skipped" >&2
  else
    echo "browser: chromium is missing and cannot be installed here (needs root and apt-get)" >&2
  fi
fi
cd "$repo" && python -m pytest -p no:cacheprovider -q -rs tests/browser "$@"
