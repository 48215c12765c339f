#!/usr/bin/env bash
# Proves a running e2e cluster does what the tests need: a worker Job completes
# and logs its line, a failing one gets the Failed condition, a pod with an
# existing priorityClassName runs, and the TTL controller deletes a finished Job.
#
#   bash tests/e2e/cluster/smoke.sh      (after `make cluster-up`)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="${K8SQ_E2E_STATE:-/tmp/k8sq-e2e}"
export KUBECONFIG="${STATE}/kubeconfig"
BIN="$(bash "${HERE}/build.sh")"
NS="k8sq-smoke-$$"
IMAGE="localhost/k8sq-worker:dev"
TIMEOUT=120s

k() { "${BIN}/kubectl" -n "${NS}" "$@"; }
say() { echo "[smoke $(date +%T)] $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
cleanup() {
  "${BIN}/kubectl" delete priorityclass k8sq-smoke-high --ignore-not-found >/dev/null 2>&1 || true
  "${BIN}/kubectl" delete namespace "${NS}" --wait=false >/dev/null 2>&1 || true
}
trap cleanup EXIT

# job NAME PAYLOAD_JSON [EXTRA_JOB_SPEC_LINE]: a worker Job (backoffLimit 0)
# for one message.
job() {
  local name="$1" payload="$2" extra="${3:-}"
  k apply -f - >/dev/null <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: ${name}
spec:
  backoffLimit: 0
${extra}
  template:
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      containers:
      - name: worker
        image: ${IMAGE}
        imagePullPolicy: Never
        env:
        - name: K8SQ_MESSAGE
          value: '{"v":1,"id":"${name}","queue":"q","timestamp":null,"payload":${payload},"attempt":1}'
YAML
}

"${BIN}/kubectl" create namespace "${NS}" >/dev/null
# Pods are only admitted once the namespace's default service account exists.
until k get serviceaccount default >/dev/null 2>&1; do sleep 0.5; done

say "a worker Job runs to Complete"
job ok '{"x":1}'
k wait --for=condition=Complete job/ok --timeout="${TIMEOUT}" >/dev/null
logs="$(k logs job/ok)"
echo "${logs}"
grep -q '^k8sq-worker: .*"id": "ok"' <<<"${logs}" || fail "no worker line in the log"
pod="$(k get pods -l job-name=ok -o jsonpath='{.items[0].metadata.name}')"
message="$(k get pod "${pod}" -o jsonpath='{.status.containerStatuses[0].state.terminated.message}')"
[[ "${message}" == *'"queue": "q"'* ]] || fail "termination message is '${message}'"

say "a Job whose payload says fail gets the Failed condition"
job fails '{"fail":true}'
k wait --for=condition=Failed job/fails --timeout="${TIMEOUT}" >/dev/null

say "a pod with an existing priorityClassName runs"
"${BIN}/kubectl" apply -f - >/dev/null <<YAML
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: k8sq-smoke-high
value: 1000
YAML
k apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: prio
spec:
  priorityClassName: k8sq-smoke-high
  restartPolicy: Never
  containers:
  - name: worker
    image: ${IMAGE}
    imagePullPolicy: Never
    env:
    - name: K8SQ_MESSAGE
      value: '{"v":1,"id":"prio","queue":"q","payload":{},"attempt":1}'
YAML
k wait --for=jsonpath='{.status.phase}'=Succeeded pod/prio --timeout="${TIMEOUT}" >/dev/null
[[ "$(k get pod prio -o jsonpath='{.spec.priority}')" == 1000 ]] || fail "the pod's priority was not resolved"

say "the TTL controller deletes a finished Job (ttlSecondsAfterFinished: 2)"
job ttl '{}' '  ttlSecondsAfterFinished: 2'
k wait --for=condition=Complete job/ttl --timeout="${TIMEOUT}" >/dev/null
k wait --for=delete job/ttl --timeout=60s >/dev/null

say "all smoke checks passed"
