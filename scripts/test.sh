#!/usr/bin/env bash
# The whole test suite (unit, API, live server, browser), exactly as CI runs it.
# Extra arguments go to pytest, e.g. `scripts/test.sh tests/unit -m "not slow"`.
# Any non-zero pytest status fails, including 5 ("no tests collected").
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
