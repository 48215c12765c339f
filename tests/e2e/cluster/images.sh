# shellcheck shell=bash
# Image building for the e2e cluster. Sourced by cluster.sh; needs CACHE_ROOT,
# STATE, CTR (a function running ctr against our containerd) and log().
#
# There is no registry here, so both images the node needs are built locally as
# OCI layouts with umoci, converted to docker archives with skopeo and imported
# into containerd's k8s.io namespace:
#   localhost/k8sq-pause:dev   the pod sandbox image (our static Go pause program)
#   localhost/k8sq-worker:dev  Debian bookworm + python3 + this checkout's package
#                              + tests/e2e/worker/worker.py at /app/worker.py

PAUSE_IMAGE="localhost/k8sq-pause:dev"
WORKER_IMAGE="localhost/k8sq-worker:dev"

# Bump to rebuild the cached Debian base of the worker image.
WORKER_BASE_VERSION="bookworm-python3-v1"
WORKER_BASE_PACKAGES="python3,ca-certificates"

# Debian mirror for debootstrap: the one apt already uses on this machine, so
# the base comes from the same place as every other Debian package.
debian_mirror() {
  local uri
  uri="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)"
  [[ -n "${uri}" ]] || uri="$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  echo "${uri:-http://deb.debian.org/debian}"
}

# oci_to_archive LAYOUT TAG NAME OUT: an OCI layout tag -> docker archive named NAME.
oci_to_archive() {
  rm -f "$4"
  skopeo --insecure-policy copy --quiet "oci:$1:$2" "docker-archive:$4:$3"
}

# worker_base_layout: prints the path of the cached OCI layout holding the
# Debian base (tag "base"), building it first when missing. Building runs
# debootstrap (a few minutes); every later cluster-up reuses it.
worker_base_layout() {
  local dir="${CACHE_ROOT}/images/worker-base-${WORKER_BASE_VERSION}"
  if [[ -f "${dir}/ok" ]]; then
    echo "${dir}/oci"
    return
  fi
  local tmp="${CACHE_ROOT}/tmp/worker-base.$$" start=${SECONDS}
  log "building the worker base image (debootstrap ${WORKER_BASE_VERSION}, once per machine) ..."
  # Leftovers of an interrupted build (cluster.sh holds a lock, so none is running).
  unmount_under "${CACHE_ROOT}/tmp"
  rm -rf "${dir}" "${CACHE_ROOT}/tmp"/worker-base.*
  mkdir -p "${tmp}"
  if ! debootstrap --variant=minbase --include="${WORKER_BASE_PACKAGES}" bookworm "${tmp}/rootfs" "$(debian_mirror)" \
      >"${tmp}.debootstrap.log" 2>&1; then
    # debootstrap mounts /proc etc. inside the target: never leave them behind.
    unmount_under "${tmp}"
    tail -n 30 "${tmp}.debootstrap.log" >&2
    die "debootstrap failed (log: ${tmp}.debootstrap.log)"
  fi
  unmount_under "${tmp}"
  # Trim what a worker never reads: package indexes, docs, caches.
  rm -rf "${tmp}/rootfs"/var/cache/apt/* "${tmp}/rootfs"/var/lib/apt/lists/* \
         "${tmp}/rootfs"/usr/share/doc/* "${tmp}/rootfs"/usr/share/man/* "${tmp}/rootfs"/usr/share/info/*
  umoci init --layout "${tmp}/oci"
  umoci new --image "${tmp}/oci:base"
  umoci unpack --image "${tmp}/oci:base" "${tmp}/bundle" >/dev/null
  rm -rf "${tmp}/bundle/rootfs"
  mv "${tmp}/rootfs" "${tmp}/bundle/rootfs"
  umoci repack --image "${tmp}/oci:base" "${tmp}/bundle"
  umoci config --image "${tmp}/oci:base" \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env PYTHONUNBUFFERED=1 --config.env LANG=C.UTF-8
  mkdir -p "${dir}"
  mv "${tmp}/oci" "${dir}/oci"
  rm -rf "${tmp}" "${tmp}.debootstrap.log"
  touch "${dir}/ok"
  log "worker base image built in $((SECONDS - start))s"
  echo "${dir}/oci"
}

# stage_worker_files DIR: lays out what goes on top of the base image: the
# current checkout's package (with pip, as a user would install it) and the
# worker program.
stage_worker_files() {
  local stage="$1" site="$1/usr/local/lib/python3.11/dist-packages"
  mkdir -p "${site}" "${stage}/app"
  if [[ -f "${REPO_ROOT}/pyproject.toml" || -f "${REPO_ROOT}/setup.py" ]]; then
    # --no-deps: the worker side (k8sq_render.envelope) uses only the stdlib.
    # K8SQ_WORKER_DEPS=1 adds the package's runtime dependencies too (the host
    # Python must then be 3.11 on glibc, like the image, for compiled wheels).
    local deps=(--no-deps)
    [[ "${K8SQ_WORKER_DEPS:-0}" != 1 ]] || deps=()
    "${PYTHON:-python3}" -m pip install --quiet --disable-pip-version-check "${deps[@]}" --no-compile \
      --target "${site}" "${REPO_ROOT}" >"${STATE}/logs/worker-pip.log" 2>&1 \
      || { cat "${STATE}/logs/worker-pip.log" >&2; die "pip could not install ${REPO_ROOT} into the worker image"; }
  elif [[ -d "${REPO_ROOT}/k8sq_render" ]]; then
    # No packaging metadata yet: ship the package directory as it is.
    cp -r "${REPO_ROOT}/k8sq_render" "${site}/"
  else
    log "warning: no k8sq_render package in ${REPO_ROOT}; the worker image has the worker program only"
  fi
  cp "${REPO_ROOT}/tests/e2e/worker/worker.py" "${stage}/app/worker.py"
}

# build_worker_archive OUT: the base plus one layer with this checkout's files.
build_worker_archive() {
  local out="$1" base work
  base="$(worker_base_layout)"
  work="${STATE}/images/worker"
  rm -rf "${work}"
  mkdir -p "${work}/stage"
  cp -r "${base}" "${work}/oci"
  stage_worker_files "${work}/stage"
  umoci insert --image "${work}/oci:base" --tag dev "${work}/stage/usr/local/lib/python3.11/dist-packages" /usr/local/lib/python3.11/dist-packages
  umoci insert --image "${work}/oci:dev" "${work}/stage/app" /app
  umoci config --image "${work}/oci:dev" --config.workingdir /app \
    --config.entrypoint python3 --config.entrypoint /app/worker.py
  oci_to_archive "${work}/oci" dev "${WORKER_IMAGE}" "${out}"
}

# build_pause_archive PAUSE_BIN OUT: a one-file image holding the pause program.
build_pause_archive() {
  local bin="$1" out="$2" work="${STATE}/images/pause"
  rm -rf "${work}"
  mkdir -p "${work}"
  umoci init --layout "${work}/oci"
  umoci new --image "${work}/oci:dev"
  umoci insert --image "${work}/oci:dev" "${bin}" /pause
  umoci config --image "${work}/oci:dev" --config.entrypoint /pause
  oci_to_archive "${work}/oci" dev "${PAUSE_IMAGE}" "${out}"
}

# import_images PAUSE_BIN: builds both archives and imports them into containerd.
import_images() {
  local dir="${STATE}/images"
  mkdir -p "${dir}"
  build_pause_archive "$1" "${dir}/pause.tar"
  build_worker_archive "${dir}/worker.tar"
  CTR images import "${dir}/pause.tar" >/dev/null
  CTR images import "${dir}/worker.tar" >/dev/null
  rm -rf "${dir}/pause" "${dir}/worker" "${dir}/pause.tar" "${dir}/worker.tar"
}
