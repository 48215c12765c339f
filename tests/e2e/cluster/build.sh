#!/usr/bin/env bash
# Builds the e2e cluster's binaries from the pinned Go modules in src/ and
# caches them, so only the first run on a machine pays for the build.
#
#   bash tests/e2e/cluster/build.sh         # builds if needed, prints the directory holding the binaries
#   bash tests/e2e/cluster/build.sh --dir   # only prints that directory
#
# Layout of the result (BIN_DIR):
#   kube                      multi-call binary (see build/kube/main.go)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl -> kube
#   etcd                      the etcd server (no etcdctl: the cluster does not need it)
#   pause                     the pod sandbox program (src/pause), static
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_ROOT="${K8SQ_CACHE:-${HOME}/.cache/k8sq-render}"

# Go state lives under our cache, so builds never touch the user's own Go dirs
# and a warm cache is one directory to keep or delete.
export GOMODCACHE="${CACHE_ROOT}/go/mod"
export GOCACHE="${CACHE_ROOT}/go/cache"
export GOPATH="${CACHE_ROOT}/go/path"
# Never fetch a different Go toolchain: build with the one installed.
export GOTOOLCHAIN=local
export GOFLAGS="-buildvcs=false -mod=readonly"
# Static binaries, as the upstream release builds them: no C toolchain needed.
export CGO_ENABLED=0

# Bump when the way binaries are built changes without any source change.
RECIPE=4

# The versions are read from the wrapper go.mod files: they are the only pins.
module_version() {
  awk -v m="$2" '$1 == "require" { $1 = ""; $0 = $0 } $1 == m && $2 ~ /^v/ { print $2; exit }' "${HERE}/src/$1/go.mod"
}
k8s_version() { module_version kube k8s.io/kubernetes; }
etcd_version() { module_version etcd go.etcd.io/etcd/server/v3; }

# The cache key names both versions and hashes every wrapper source, so an edit
# to go.mod/go.sum/main.go always produces a fresh build.
bin_dir() {
  local sum
  sum="$( (echo "recipe ${RECIPE}"; cd "${HERE}/src" && cat kube/go.mod kube/go.sum kube/main.go \
            etcd/go.mod etcd/go.sum etcd/main.go pause/go.mod pause/main.go) | sha256sum | cut -c1-12)"
  echo "${CACHE_ROOT}/bin/$(k8s_version)-etcd$(etcd_version)-${sum}"
}

# go_build MODULE OUT LDFLAGS: builds src/MODULE; the compiler's output goes to
# a log, shown only when the build fails.
go_build() {
  local log="${CACHE_ROOT}/build-$1.log"
  if ! (cd "${HERE}/src/$1" && go build -trimpath -ldflags "$3" -o "$2" .) >"${log}" 2>&1; then
    grep -v '^go: downloading' "${log}" | tail -n 40 >&2
    echo "build.sh: building src/$1 failed (full log: ${log})" >&2
    exit 1
  fi
}

build() {
  local out="$1" tmp kv major minor date ld
  tmp="${out}.tmp.$$"
  rm -rf "${tmp}"
  mkdir -p "${tmp}"
  # shellcheck disable=SC2064 # expand now: tmp is local to this function
  trap "rm -rf '${tmp}'" EXIT
  kv="$(k8s_version)"
  major="${kv#v}"; major="${major%%.*}"
  minor="${kv#v*.}"; minor="${minor%%.*}"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  # The same version variables the upstream build sets (hack/lib/version.sh),
  # in both packages, so `kubectl version` and /version report the release.
  ld="-s -w"
  local pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X ${pkg}.gitVersion=${kv} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor}"
    ld+=" -X ${pkg}.gitCommit=module-${kv} -X ${pkg}.gitTreeState=archive -X ${pkg}.buildDate=${date}"
  done

  echo "building Kubernetes ${kv} (one multi-call binary; about 6 minutes on 2 cores with empty caches) ..." >&2
  go_build kube "${tmp}/kube" "${ld}"
  echo "building etcd $(etcd_version) and pause ..." >&2
  go_build etcd "${tmp}/etcd" "-s -w"
  go_build pause "${tmp}/pause" "-s -w"
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl; do
    ln -s kube "${tmp}/${c}"
  done
  rm -rf "${out}"
  mv "${tmp}" "${out}"
  # Older builds are never used again: keep only this one.
  find "${CACHE_ROOT}/bin" -mindepth 1 -maxdepth 1 -type d ! -path "${out}" -exec rm -rf {} +
}

main() {
  local out
  out="$(bin_dir)"
  if [[ "${1:-}" == --dir ]]; then
    # Where the binaries are (or would be), without building.
    echo "${out}"
    return
  fi
  command -v go >/dev/null || { echo "build.sh: Go is not installed (need Go >= 1.24 on PATH)" >&2; exit 1; }
  if [[ ! -x "${out}/kube" || ! -x "${out}/etcd" || ! -x "${out}/pause" ]]; then
    local start=${SECONDS}
    build "${out}"
    echo "built into ${out} in $((SECONDS - start))s" >&2
  fi
  echo "${out}"
}

main "$@"
