#!/usr/bin/env bash
# A real single-node Kubernetes for the e2e tests, built from source, no Docker.
#
#   cluster.sh up      build (cached), start etcd, the control plane, containerd and
#                      a kubelet; import the pause and worker images; wait until the
#                      node is Ready. Tears down a stale previous run first.
#   cluster.sh down    stop exactly what `up` started and remove its state.
#   cluster.sh env     print `export KUBECONFIG=...` (and PATH for our kubectl)
#   cluster.sh status  show the components' pids and the node.
#
# Everything runs as plain background processes (there is no init system to
# rely on); pids are kept in $STATE/pids, logs in $STATE/logs/<component>.log.
# Must run as root: the kubelet and containerd manage cgroups, mounts and
# network namespaces.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${HERE}/../../.." && pwd)"
STATE="${K8SQ_E2E_STATE:-/tmp/k8sq-e2e}"
CACHE_ROOT="${K8SQ_CACHE:-${HOME}/.cache/k8sq-render}"
export K8SQ_CACHE="${CACHE_ROOT}"

NODE_NAME="k8sq-node"
# The node's address lives on the pod bridge we create: the kubelet refuses a
# loopback node IP, and this keeps all node traffic on an interface we own.
BRIDGE="k8sq0"
POD_CIDR="10.88.0.0/16"
NODE_IP="10.88.0.1"
SERVICE_CIDR="10.96.0.0/12"
SERVICE_IP="10.96.0.1"
APISERVER_PORT="${K8SQ_APISERVER_PORT:-6443}"
ETCD_CLIENT_PORT="${K8SQ_ETCD_PORT:-12379}"
ETCD_PEER_PORT="$((ETCD_CLIENT_PORT + 1))"
# Ports the components bind; checked free before starting.
KUBELET_PORT=10250
KUBELET_HEALTHZ_PORT=10248
CONTROLLER_MANAGER_PORT=10257
SCHEDULER_PORT=10259

CONTAINERD_SOCK="${STATE}/run/containerd.sock"
# Stopped in this order by `down` (reverse of start).
COMPONENTS=(kubelet kube-scheduler kube-controller-manager kube-apiserver containerd etcd)
# The kubelet rewrites these on start; `down` puts the machine's values back.
KERNEL_TUNABLES=(vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops)
UP_TIMEOUT="${K8SQ_UP_TIMEOUT:-180}"

log() { echo "[cluster $(date +%T)] $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

source "${HERE}/pki.sh"
source "${HERE}/images.sh"

# ---------------------------------------------------------------- preflight

# Debian packages the node needs, by the command each provides.
declare -A PACKAGE_OF=(
  [containerd]=containerd [runc]=runc [umoci]=umoci [skopeo]=skopeo [debootstrap]=debootstrap
  [openssl]=openssl [ip]=iproute2 [iptables]=iptables [mount]=mount [nsenter]=util-linux
  [conntrack]=conntrack [socat]=socat [base64]=coreutils [curl]=curl [ss]=iproute2 [pkill]=procps
  [flock]=util-linux [find]=findutils
)

install_packages() {
  local missing=() cmd
  for cmd in "${!PACKAGE_OF[@]}"; do
    command -v "${cmd}" >/dev/null || missing+=("${PACKAGE_OF[${cmd}]}")
  done
  # CNI plugins are not on PATH: check the files.
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] \
    || missing+=(containernetworking-plugins)
  [[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
  ((${#missing[@]} == 0)) && return
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  # --no-install-recommends: containerd recommends docker-related bits we do not want.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

preflight() {
  local problems=()
  ((EUID == 0)) || problems+=("must run as root (the kubelet and containerd manage cgroups, mounts, netns)")
  local built=0
  [[ -x "$(bash "${HERE}/build.sh" --dir)/kube" ]] && built=1
  ((built)) || command -v go >/dev/null \
    || problems+=("Go is not installed (Go >= 1.24 must be on PATH to build Kubernetes)")
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null \
    || problems+=("the kernel has no overlay filesystem (containerd's overlayfs snapshotter needs it)")
  local c
  for c in cpu cpuacct cpuset memory pids devices freezer; do
    [[ -d "/sys/fs/cgroup/${c}" ]] || grep -qw "${c}" /sys/fs/cgroup/cgroup.controllers 2>/dev/null \
      || problems+=("cgroup controller '${c}' is not mounted")
  done
  # A cold build needs room for ~1 GiB of modules and ~3.5 GiB of build cache.
  local need_gb=6 free_gb
  mkdir -p "${CACHE_ROOT}" "$(dirname "${STATE}")"
  ((built)) && need_gb=1
  for d in "${CACHE_ROOT}" "$(dirname "${STATE}")"; do
    free_gb=$(($(df -Pk "${d}" | awk 'NR==2 {print $4}') / 1024 / 1024))
    ((free_gb >= need_gb)) || problems+=("only ${free_gb} GiB free under ${d}, need ${need_gb} GiB")
  done
  for p in "${APISERVER_PORT}" "${ETCD_CLIENT_PORT}" "${ETCD_PEER_PORT}" "${KUBELET_PORT}" \
           "${KUBELET_HEALTHZ_PORT}" "${CONTROLLER_MANAGER_PORT}" "${SCHEDULER_PORT}"; do
    ! port_busy "${p}" || problems+=("TCP port ${p} is already in use (another cluster running?)")
  done
  if ip -4 route show | grep -v "dev ${BRIDGE}" | grep -q '^10\.88\.'; then
    problems+=("the pod network ${POD_CIDR} is already routed on this machine")
  fi
  if ((${#problems[@]})); then
    log "preflight failed:"
    printf '  - %s\n' "${problems[@]}" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------- processes

# start NAME CMD...: run CMD in its own session, logging to logs/NAME.log.
start() {
  local name="$1"
  shift
  # 9>&-: the component must not inherit (and so hold) our lock.
  setsid "$@" </dev/null >"${STATE}/logs/${name}.log" 2>&1 9>&- &
  echo $! > "${STATE}/pids/${name}"
}

# our_pid NAME: the pid recorded for NAME if that process is still the one we
# started (its command line names our state dir or our binary), else nothing.
our_pid() {
  local f="${STATE}/pids/$1" pid
  [[ -f "${f}" ]] || return 0
  pid="$(cat "${f}")"
  [[ -r "/proc/${pid}/cmdline" ]] || return 0
  if tr '\0' ' ' 2>/dev/null < "/proc/${pid}/cmdline" | grep -qF -e "${STATE}" -e "${CACHE_ROOT}/bin/"; then
    echo "${pid}"
  fi
}

# any_alive PID...: true while one of them runs. A zombie counts as gone: when
# `up` fails, the components are still children of this shell.
any_alive() {
  local pid state
  for pid in "$@"; do
    state="$(awk '{print $3}' "/proc/${pid}/stat" 2>/dev/null || true)"
    [[ -z "${state}" || "${state}" == Z ]] || return 0
  done
  return 1
}

# stop NAME...: SIGTERM to each, then SIGKILL to any still alive a second later.
# A short grace is enough: every byte of state is deleted right after, and a
# graceful apiserver/etcd shutdown takes several seconds for nothing.
stop() {
  local name pid pids=() i
  for name in "$@"; do
    pid="$(our_pid "${name}")"
    [[ -z "${pid}" ]] || pids+=("${pid}")
  done
  if ((${#pids[@]})); then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    for ((i = 0; i < 10; i++)); do
      any_alive "${pids[@]}" || break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null || true
  fi
  for name in "$@"; do
    rm -f "${STATE}/pids/${name}"
  done
}

CTR() { ctr --address "${CONTAINERD_SOCK}" -n k8s.io "$@"; }
KUBECTL() { "${BIN}/kubectl" --kubeconfig "${STATE}/kubeconfig" "$@"; }

# wait_for WHAT CMD...: retry CMD until it succeeds or UP_TIMEOUT passes.
wait_for() {
  local what="$1" deadline=$((SECONDS + UP_TIMEOUT))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${UP_TIMEOUT}s waiting for ${what}"
    check_alive
    sleep 0.5
  done
}

# check_alive: fail fast when a started component has died.
check_alive() {
  local name
  for name in "${COMPONENTS[@]}"; do
    [[ -f "${STATE}/pids/${name}" ]] || continue
    [[ -n "$(our_pid "${name}")" ]] || fail "${name} exited (see ${STATE}/logs/${name}.log)"
  done
}

# fail MESSAGE: show every component's log tail, tear down, exit non-zero.
fail() {
  log "ERROR: $*"
  if [[ -n "${IMAGES_JOB:-}" ]]; then
    # The image build still running in the background (our own child).
    pkill -TERM -P "${IMAGES_JOB}" 2>/dev/null || true
    kill -TERM "${IMAGES_JOB}" 2>/dev/null || true
  fi
  local f
  for f in "${STATE}"/logs/*.log; do
    [[ -f "${f}" ]] || continue
    echo "----- last lines of ${f} -----" >&2
    tail -n 25 "${f}" >&2
  done
  if [[ "${K8SQ_KEEP_ON_FAILURE:-0}" == 1 ]]; then
    log "K8SQ_KEEP_ON_FAILURE=1: leaving the cluster as it is; run 'make cluster-down' to clean up"
  else
    log "tearing down (set K8SQ_KEEP_ON_FAILURE=1 to keep the state for debugging)"
    down >&2 || true
  fi
  exit 1
}

# ---------------------------------------------------------------- node network

setup_network() {
  # The bridge exists before the kubelet starts because the node IP lives on it;
  # the CNI bridge plugin finds it and attaches pods to it.
  ip link add "${BRIDGE}" type bridge 2>/dev/null || true
  ip addr replace "${NODE_IP}/16" dev "${BRIDGE}"
  ip link set "${BRIDGE}" up
  mkdir -p "${STATE}/cni/net.d" "${STATE}/cni/ipam"
  # No ipMasq: pods only talk to the node, never outside, so no NAT rules.
  cat > "${STATE}/cni/net.d/10-k8sq.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "k8sq-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "${BRIDGE}",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "${STATE}/cni/ipam",
        "ranges": [[{"subnet": "${POD_CIDR}", "gateway": "${NODE_IP}"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
}

# ---------------------------------------------------------------- components

start_etcd() {
  # --unsafe-no-fsync: the data is thrown away at `down`; skipping fsync keeps
  # the apiserver fast on slow disks.
  start etcd "${BIN}/etcd" --name k8sq --data-dir "${STATE}/etcd" \
    --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --listen-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER_PORT}" \
    --initial-cluster "k8sq=http://127.0.0.1:${ETCD_PEER_PORT}" \
    --unsafe-no-fsync --log-level warn
}

write_containerd_config() {
  mkdir -p "${STATE}/containerd" "${STATE}/run"
  # A private containerd: own root/state/socket under $STATE, so it never
  # clashes with a containerd the machine may already run, and `down` can wipe
  # it. Only the settings that differ from `containerd config default`.
  cat > "${STATE}/containerd/config.toml" <<EOF
version = 2
root = "${STATE}/containerd/root"
state = "${STATE}/containerd/state"

[grpc]
  address = "${CONTAINERD_SOCK}"

[ttrpc]
  address = "${CONTAINERD_SOCK}.ttrpc"

[debug]
  address = "${CONTAINERD_SOCK}.debug"

[plugins."io.containerd.internal.v1.opt"]
  path = "${STATE}/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  # Negative oom_score_adj writes fail on this kind of machine: clamp to our own.
  restrict_oom_score_adj = true
  # hugetlb is not a mounted cgroup controller here.
  disable_hugetlb_controller = true
  # Keep netns bind mounts under our state dir instead of /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${STATE}/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    # Debian installs the CNI plugins here, not in /opt/cni/bin.
    bin_dir = "/usr/lib/cni"
    conf_dir = "${STATE}/cni/net.d"
    max_conf_num = 1
EOF
}

start_containerd() {
  write_containerd_config
  start containerd containerd --config "${STATE}/containerd/config.toml" --log-level warn
}

start_apiserver() {
  # Default admission plugins stay on (Priority, ServiceAccount, ...).
  start kube-apiserver "${BIN}/kube-apiserver" \
    --bind-address=127.0.0.1 --secure-port="${APISERVER_PORT}" \
    --advertise-address="${NODE_IP}" \
    --etcd-servers="http://127.0.0.1:${ETCD_CLIENT_PORT}" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --authorization-mode=Node,RBAC \
    --anonymous-auth=false \
    --allow-privileged=true \
    --client-ca-file="${PKI}/ca.crt" \
    --tls-cert-file="${PKI}/apiserver.crt" --tls-private-key-file="${PKI}/apiserver.key" \
    --kubelet-client-certificate="${PKI}/apiserver-kubelet-client.crt" \
    --kubelet-client-key="${PKI}/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="${PKI}/ca.crt" \
    --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="${PKI}/sa.pub" \
    --service-account-signing-key-file="${PKI}/sa.key" \
    --api-audiences=https://kubernetes.default.svc.cluster.local \
    --enable-priority-and-fairness=false \
    --profiling=false
}

start_controller_manager() {
  start kube-controller-manager "${BIN}/kube-controller-manager" \
    --kubeconfig="${PKI}/controller-manager.kubeconfig" \
    --authentication-kubeconfig="${PKI}/controller-manager.kubeconfig" \
    --authorization-kubeconfig="${PKI}/controller-manager.kubeconfig" \
    --authentication-skip-lookup=true \
    --bind-address=127.0.0.1 --secure-port="${CONTROLLER_MANAGER_PORT}" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --root-ca-file="${PKI}/ca.crt" \
    --service-account-private-key-file="${PKI}/sa.key" \
    --service-cluster-ip-range="${SERVICE_CIDR}" \
    --controllers='*' \
    --profiling=false
}

start_scheduler() {
  start kube-scheduler "${BIN}/kube-scheduler" \
    --kubeconfig="${PKI}/scheduler.kubeconfig" \
    --authentication-kubeconfig="${PKI}/scheduler.kubeconfig" \
    --authorization-kubeconfig="${PKI}/scheduler.kubeconfig" \
    --authentication-skip-lookup=true \
    --bind-address=127.0.0.1 --secure-port="${SCHEDULER_PORT}" \
    --leader-elect=false \
    --profiling=false
}

write_kubelet_config() {
  mkdir -p "${STATE}/kubelet" "${STATE}/pod-logs"
  cat > "${STATE}/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: ${NODE_IP}
port: ${KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${KUBELET_HEALTHZ_PORT}
tlsCertFile: ${PKI}/kubelet-serving.crt
tlsPrivateKeyFile: ${PKI}/kubelet-serving.key
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: ${PKI}/ca.crt
authorization:
  mode: Webhook
containerRuntimeEndpoint: unix://${CONTAINERD_SOCK}
cgroupDriver: cgroupfs
# This machine has cgroup v1 only; kubelet 1.34 still supports it.
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: ${STATE}/pod-logs
# Images are imported locally and cannot be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
# A test node on a shared disk: only evict in real emergencies.
evictionHard:
  memory.available: 100Mi
  nodefs.available: 1%
  imagefs.available: 1%
  nodefs.inodesFree: 1%
serializeImagePulls: false
registerNode: true
# Report status often, so tests see pod and node changes quickly.
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
EOF
}

start_kubelet() {
  write_kubelet_config
  local t
  for t in "${KERNEL_TUNABLES[@]}"; do
    echo "${t} $(cat "/proc/sys/${t}")" >> "${STATE}/kernel-tunables"
  done
  start kubelet "${BIN}/kubelet" \
    --config="${STATE}/kubelet/config.yaml" \
    --kubeconfig="${PKI}/kubelet.kubeconfig" \
    --root-dir="${STATE}/kubelet" \
    --cert-dir="${STATE}/kubelet/pki" \
    --hostname-override="${NODE_NAME}" \
    --node-ip="${NODE_IP}"
}

# ---------------------------------------------------------------- readiness

node_ready() {
  [[ "$(KUBECTL get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]]
}

images_present() {
  local list
  list="$(CTR images ls -q)"
  grep -qx "${PAUSE_IMAGE}" <<<"${list}" && grep -qx "${WORKER_IMAGE}" <<<"${list}"
}

# ---------------------------------------------------------------- up / down

up() {
  local start_time=${SECONDS}
  ((EUID == 0)) || die "cluster.sh up must run as root (the kubelet and containerd manage cgroups, mounts, netns)"
  install_packages
  if [[ -d "${STATE}" ]]; then
    log "found state from a previous run in ${STATE}: tearing it down first"
    down
  fi
  preflight
  BIN="$(bash "${HERE}/build.sh")"
  log "binaries: ${BIN}"

  mkdir -p "${STATE}/pids" "${STATE}/logs"
  make_pki
  setup_network
  start_etcd
  start_containerd

  # Images are built and imported while the control plane comes up.
  (
    import_images "${BIN}/pause"
    touch "${STATE}/images.ok"
  ) >"${STATE}/logs/images.log" 2>&1 &
  IMAGES_JOB=$!

  wait_for "etcd" curl -fsS "http://127.0.0.1:${ETCD_CLIENT_PORT}/health"
  start_apiserver
  wait_for "kube-apiserver /readyz" KUBECTL get --raw /readyz
  start_controller_manager
  start_scheduler

  wait "${IMAGES_JOB}" || true
  IMAGES_JOB=""
  [[ -f "${STATE}/images.ok" ]] || fail "building or importing the images failed (see ${STATE}/logs/images.log)"
  wait_for "the pause and worker images in containerd" images_present

  start_kubelet
  wait_for "node ${NODE_NAME} to be Ready" node_ready
  wait_for "serviceaccount/default" KUBECTL -n default get serviceaccount default
  log "cluster is up in $((SECONDS - start_time))s: node ${NODE_NAME} Ready, images ${WORKER_IMAGE} ${PAUSE_IMAGE}"
  echo "export KUBECONFIG=${STATE}/kubeconfig"
}

# unmount_under DIR: unmounts every mount point below DIR, deepest first.
unmount_under() {
  local dir="$1" m
  [[ -n "${dir}" && "${dir}" != / ]] || return 0
  # /proc/mounts escapes spaces as \040; our paths have none.
  awk -v d="${dir%/}/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
    umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
  done
}

# kill_pods: stop every container our containerd runs, through containerd
# itself, while it is still up.
kill_pods() {
  [[ -S "${CONTAINERD_SOCK}" && -n "$(our_pid containerd)" ]] || return 0
  local id
  for id in $(CTR tasks ls -q 2>/dev/null); do
    CTR tasks kill -s SIGKILL "${id}" >/dev/null 2>&1 || true
  done
  for id in $(CTR tasks ls -q 2>/dev/null); do
    CTR tasks delete -f "${id}" >/dev/null 2>&1 || true
  done
}

# kill_shims: containerd-shim processes serving our containerd (they name its
# socket on their command line) that outlived it, e.g. after a crash. A killed
# shim leaves its socket in the fixed dir /run/containerd/s, named (as
# containerd 1.6 names it) by sha256("<containerd socket>/<namespace>/<id>").
kill_shims() {
  local f pid args ns id
  for f in /proc/[0-9]*/cmdline; do
    args="$(tr '\0' ' ' 2>/dev/null < "${f}" || true)"
    [[ "${args}" == *containerd-shim-runc-v2*" -address ${CONTAINERD_SOCK} "* ]] || continue
    pid="${f#/proc/}"
    kill -KILL "${pid%/cmdline}" 2>/dev/null || true
    ns="$(sed -E 's/.* -namespace ([^ ]+) .*/\1/' <<<"${args}")"
    id="$(sed -E 's/.* -id ([^ ]+) .*/\1/' <<<"${args}")"
    rm -f "/run/containerd/s/$(printf '%s' "${CONTAINERD_SOCK}/${ns}/${id}" | sha256sum | cut -c1-64)"
  done
}

# kill_pod_processes: whatever still runs in the kubepods cgroups our kubelet
# made (containers whose shim died do not die with it).
kill_pod_processes() {
  local root="/sys/fs/cgroup/pids/kubepods" procs i
  [[ -d "${root}" ]] || root="/sys/fs/cgroup/memory/kubepods"
  [[ -d "${root}" ]] || return 0
  for ((i = 0; i < 20; i++)); do
    procs="$(find "${root}" -name cgroup.procs -exec cat {} + 2>/dev/null || true)"
    [[ -n "${procs}" ]] || return 0
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL ${procs} 2>/dev/null || true
    sleep 0.1
  done
}

# remove_cgroups: the kubepods hierarchy the kubelet created, deepest first.
remove_cgroups() {
  local root
  for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/unified/kubepods; do
    [[ -d "${root}" ]] || continue
    find "${root}" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# remove_iptables_chains: the chains the kubelet adds on start (it has no
# setting to leave iptables alone), with the jumps into them.
remove_iptables_chains() {
  local cmd table chain builtin
  for cmd in iptables ip6tables; do
    command -v "${cmd}" >/dev/null || continue
    for table in filter nat mangle; do
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "${cmd}" -w -t "${table}" -n -L "${chain}" >/dev/null 2>&1 || continue
        for builtin in INPUT OUTPUT FORWARD PREROUTING POSTROUTING; do
          while "${cmd}" -w -t "${table}" -D "${builtin}" -j "${chain}" 2>/dev/null; do :; done
        done
        "${cmd}" -w -t "${table}" -F "${chain}" 2>/dev/null || true
        "${cmd}" -w -t "${table}" -X "${chain}" 2>/dev/null || true
      done
    done
  done
}

# remove_log_links: the kubelet links every container log into the fixed dir
# /var/log/containers; links into our state would dangle (and make the next
# kubelet ask containerd about containers that no longer exist).
remove_log_links() {
  local link
  for link in /var/log/containers/*.log; do
    [[ -L "${link}" && "$(readlink "${link}")" == "${STATE}/"* ]] && rm -f "${link}"
  done
  return 0
}

restore_kernel_tunables() {
  [[ -f "${STATE}/kernel-tunables" ]] || return 0
  local t v
  while read -r t v; do
    echo "${v}" > "/proc/sys/${t}" 2>/dev/null || true
  done < <(awk '!seen[$1]++' "${STATE}/kernel-tunables")
}

down() {
  local start_time=${SECONDS}
  [[ -d "${STATE}" ]] || { log "nothing to tear down (${STATE} does not exist)"; return 0; }
  # Kubelet first, so nothing restarts pods while they are stopped.
  stop kubelet
  kill_pods
  stop "${COMPONENTS[@]}"
  kill_shims
  kill_pod_processes
  unmount_under "${STATE}"
  if ip link show "${BRIDGE}" >/dev/null 2>&1; then
    ip link delete "${BRIDGE}" || true
  fi
  remove_cgroups
  remove_log_links
  # Only a kubelet we started leaves these behind.
  [[ ! -f "${STATE}/kernel-tunables" ]] || remove_iptables_chains
  restore_kernel_tunables
  rm -rf "${STATE}" 2>/dev/null || { sleep 1; unmount_under "${STATE}"; rm -rf "${STATE}"; }
  log "cluster is down ($((SECONDS - start_time))s)"
}

status() {
  local name pid
  for name in etcd containerd kube-apiserver kube-controller-manager kube-scheduler kubelet; do
    pid="$(our_pid "${name}")"
    printf '%-24s %s\n' "${name}" "${pid:-not running}"
  done
  if [[ -f "${STATE}/kubeconfig" ]]; then
    BIN="$(bash "${HERE}/build.sh")"
    KUBECTL get nodes -o wide || true
  fi
}

# env_lines: shell lines pointing a shell at the cluster (and at its kubectl, once built).
env_lines() {
  echo "export KUBECONFIG=${STATE}/kubeconfig"
  local bin
  bin="$(bash "${HERE}/build.sh" --dir)"
  [[ ! -x "${bin}/kubectl" ]] || echo "export PATH=${bin}:\${PATH}"
}

# lock: one cluster per machine (fixed ports, one bridge), so up/down never overlap.
lock() {
  exec 9>"${STATE%/}.lock"
  flock -n 9 || die "another cluster.sh up/down is running (lock ${STATE%/}.lock)"
}

main() {
  case "${1:-}" in
    up) lock; up ;;
    down) lock; down ;;
    env) env_lines ;;
    status) status ;;
    *) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
  esac
}

main "$@"
