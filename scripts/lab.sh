#!/usr/bin/env bash
# The README's main command: install what is missing, start (or reuse) the embedded lab DC, deploy a farm on it
# (deploy_farm's directory side; lab member hosts are computer accounts, one of them a Linux member that gets the
# gMSA's keytab), prove every member can retrieve the gMSA password and that the Linux member's web endpoint answers
# a Kerberos request, and write the audit report (.lab/reports/ by default, or GMSA_FARM_AUDIT_DIR) with the lab
# farm's container credential spec (Docker JSON and Kubernetes manifest) next to it.
# Stop everything the project started with: bash scripts/stop.sh
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
export ANSIBLE_CONFIG="$here/tests/ansible.cfg"   # this run's settings (bootstrap.sh leaves yours alone)
env_file=$(bash tests/lab/dc.sh up)
# shellcheck disable=SC1090
. "$env_file"
log="$here/.lab/lab-run.log"
echo "lab: deploying the lab farm on $GMSA_LAB_DC_FQDN, proving retrieval, writing the audit (log: $log)"
if ! ansible-playbook -i tests/lab/inventory.yml tests/lab/lab_farm.yml \
    -e gmsa_farm_audit_dir="${GMSA_FARM_AUDIT_DIR:-$here/.lab/reports}" "$@" >"$log" 2>&1; then
  cat "$log"
  echo "lab: FAILED (the playbook output is above and in $log)" >&2
  exit 1
fi
# One screen: the warnings, what was proven, where the report is, and the recap.
grep -E '^\[WARNING\]' "$log" | sort -u || true
sed -n 's/^ *"msg": "\(Proven: .*\)"$/lab: \1/p; s/^ *"\(Reports: .*\)",$/lab: \1/p; s/^ *"\(Privileged: .*\)",$/lab: \1/p; s/^ *"\(Unbounded retrievers: .*\)",\{0,1\}$/lab: \1/p; s/^ *"\(Credential specs: .*\)"$/lab: \1/p' "$log"
sed -n '/^PLAY RECAP/,$p' "$log" | grep 'ok=' | sed 's/  */ /g; s/^/lab: /'
