#!/usr/bin/env bash
# The README's main command: install what is missing, start (or reuse) the embedded lab DC, deploy a farm on it
# (deploy_farm's directory side; lab member hosts are computer accounts), prove every member can retrieve the
# gMSA password, and write the audit report (playbooks/reports/ by default, or GMSA_FARM_AUDIT_DIR).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
env_file=$(bash tests/lab/dc.sh up)
# shellcheck disable=SC1090
. "$env_file"
exec ansible-playbook -i tests/lab/inventory.yml tests/lab/lab_farm.yml \
  -e gmsa_farm_audit_dir="${GMSA_FARM_AUDIT_DIR:-$here/.lab/reports}" "$@"
