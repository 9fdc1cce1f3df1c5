#!/usr/bin/env bash
# CI for training/: venv, lint/format check, and the end-to-end smoke test on the committed
# fixture corpus (no download; about 1.5 minutes on 2 cores).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/setup.sh"
cd "$here"
.venv/bin/ruff format --check .
.venv/bin/ruff check .
cd "$here/.."
OPENBLAS_NUM_THREADS=1 training/.venv/bin/python -m pytest -q -p no:cacheprovider training/tests
