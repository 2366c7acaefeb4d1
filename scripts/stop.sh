#!/usr/bin/env bash
# Stops everything the project started: the lab Linux member's Apache, the lab DCs (the main lab, the KDS
# tests' lab, the rotation tests' lab under libfaketime and the benchmark's), and removes the loopback addresses and /etc/hosts lines they added. The lab directories stay, so the next start reuses them;
# 'bash tests/lab/dc.sh destroy' (and GMSA_LAB_DIR=.lab-kds ...) removes them too.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here" || exit 1
rc=0
# The lab Linux member web endpoint (Apache started by scripts/lab.sh) and the loopback addresses it and the
# Linux member tests use.
for d in "$here"/.lab-linux/*/apache; do
  [ -f "$d/httpd.pid" ] && { python3 tests/lab/apache_gssapi.py stop "$d" || rc=1; }
done
for ip in 127.0.0.21 127.0.0.23 127.0.0.24 127.0.0.31 127.0.0.32; do ip addr del "$ip/32" dev lo 2>/dev/null || true; done
bash tests/lab/dc.sh down || rc=1
GMSA_LAB_DIR="$here/.lab-kds" GMSA_LAB_IP=127.0.0.11 GMSA_LAB_REALM=KDSLAB.TEST GMSA_LAB_DOMAIN=KDSLAB \
  bash tests/lab/dc.sh down || rc=1
GMSA_LAB_DIR="$here/.lab-rot" GMSA_LAB_IP=127.0.0.12 GMSA_LAB_REALM=ROTLAB.TEST GMSA_LAB_DOMAIN=ROTLAB \
  bash tests/lab/dc.sh down || rc=1
# The benchmark's own DCs (benchmarks/run.sh --targets), each with its settings from its env file.
for d in "$here"/.lab-bench "$here"/.lab-bench-*; do
  [ -f "$d/lab.env" ] || continue
  # shellcheck disable=SC1091
  (. "$d/lab.env" && GMSA_LAB_DOMAIN="$GMSA_LAB_NETBIOS" bash tests/lab/dc.sh down) || rc=1
done
exit "$rc"
