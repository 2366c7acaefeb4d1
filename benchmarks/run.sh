#!/usr/bin/env bash
# Runs the benchmark against the lab DC (started or reused): bash benchmarks/run.sh [--reps N] [--quick]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"
# shellcheck source=scripts/bootstrap.sh
. scripts/bootstrap.sh
python -c 'import matplotlib' 2>/dev/null || python -m pip install -q -r benchmarks/requirements.txt 2>&1 \
  | grep -v '^WARNING: Location' || true
exec python benchmarks/run.py "$@"
