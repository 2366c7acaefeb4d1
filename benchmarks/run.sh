#!/usr/bin/env bash
# Runs the benchmark against a lab DC (started or reused): bash benchmarks/run.sh [--reps N] [--quick] ...
#   default: the shared lab DC (tests/lab/dc.sh; any GMSA_LAB_* setting in the environment picks another lab)
#   --own-dc: the benchmark's own DC (BENCHLAB.TEST on 127.0.0.13 in .lab-bench), for the large estates
#   --targets [--profile] [--versus DIR]: the large-estate targets on the own DCs -> benchmarks/results/targets.md
#     (GMSA_BENCH_LAB_ROOT=DIR reuses the estates kept in DIR/.lab-bench*)
# Stop the benchmark's own DC afterwards with:
#   GMSA_LAB_DIR=$PWD/.lab-bench GMSA_LAB_IP=127.0.0.13 GMSA_LAB_REALM=BENCHLAB.TEST bash tests/lab/dc.sh down
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
python -c 'import matplotlib' 2>/dev/null || python -m pip install -q -r benchmarks/requirements.txt 2>&1 \
  | grep -v '^WARNING: Location' || true
exec python benchmarks/run.py "$@"
