#!/usr/bin/env bash
# The README's main command: install what is missing, start (or reuse) the embedded lab DC, and run the lab
# playbook against it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
env_file=$(bash tests/lab/dc.sh up)
# shellcheck disable=SC1090
. "$env_file"
exec ansible-playbook gmsa.farm.lab_smoke "$@"
