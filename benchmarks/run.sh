#!/usr/bin/env bash
# Benchmarks (used by `make bench`): prepare a venv with this checkout and the
# benchmark requirements, then run benchmarks/bench.py with the given flags.
#
#   bash benchmarks/run.sh                  # every section; submit/query need KUBECONFIG
#   bash benchmarks/run.sh --render-only    # sections 1-2, no cluster
#   bash benchmarks/run.sh --quick          # small sizes, to try the harness
#   bash benchmarks/run.sh --help           # all flags
#
# Environment: BENCH_VENV (default benchmarks/.venv; e.g. BENCH_VENV=.venv to reuse the
# project venv), K8SQ_BENCH_SECTIONS (like --sections), K8SQ_KUBECTL (the kubectl to
# compare with), KUBECONFIG (the cluster of sections 3-4).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${BENCH_VENV:-benchmarks/.venv}"
PYTHON="${PYTHON:-python3}"

if [[ ! -x "${VENV}/bin/python" ]]; then
  "${PYTHON}" -m venv "${VENV}"
  "${VENV}/bin/pip" install --quiet --upgrade pip
fi
# Every run: the package as it is in this checkout (its dependencies may have changed).
"${VENV}/bin/pip" install --quiet --disable-pip-version-check -e . -r benchmarks/requirements.txt

exec "${VENV}/bin/python" benchmarks/bench.py "$@"
