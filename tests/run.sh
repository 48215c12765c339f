#!/usr/bin/env bash
# The whole test suite: unit, snapshot and e2e. Called by `make test` (after install); arguments go to pytest.
#
# When KUBECONFIG is set, the e2e tests run against that cluster. Otherwise this script
# builds (cached) and starts the local single-node cluster of tests/e2e/cluster/, and
# stops it again when the tests end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"

if [[ -z "${KUBECONFIG:-}" ]]; then
  trap 'bash tests/e2e/cluster/cluster.sh down || echo "cluster-down failed" >&2' EXIT
  bash tests/e2e/cluster/cluster.sh up
  eval "$(bash tests/e2e/cluster/cluster.sh env)"
fi
export KUBECONFIG

status=0
"${VENV}/bin/pytest" "$@" || status=$?
if [[ ${status} -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "${status}"
