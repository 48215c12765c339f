"""Sections 3 and 4: submit and query against a real cluster (``KUBECONFIG``).

Every run works in namespaces of its own (``k8sq-bench-...``), deleted at the end, and
creates its Jobs suspended (``benchmarks/templates-suspended``), so no pod runs and the
numbers are about the API path alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import render_bench
import workload

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SUSPENDED = HERE / "templates-suspended"
NAMESPACE_PREFIX = "k8sq-bench-"


class Unavailable(Exception):
    """A section cannot run here; the message says why (it becomes the row's note)."""


# -- what is there -------------------------------------------------------------------------


def kubeconfig() -> str:
    """The kubeconfig to use, or :class:`Unavailable`."""
    path = os.environ.get("KUBECONFIG")
    if not path:
        raise Unavailable("no cluster: KUBECONFIG not set")
    if not Path(path.split(os.pathsep)[0]).exists():
        raise Unavailable(f"no cluster: KUBECONFIG {path} does not exist")
    return path


def kubectl() -> str:
    """``$K8SQ_KUBECTL``, else the e2e cluster's own kubectl when built, else ``kubectl`` on PATH."""
    chosen = os.environ.get("K8SQ_KUBECTL")
    if chosen:
        return chosen
    build = REPO / "tests" / "e2e" / "cluster" / "build.sh"
    if build.exists():
        done = subprocess.run(["bash", str(build), "--dir"], capture_output=True, text=True, check=False)
        candidate = Path(done.stdout.strip()) / "kubectl"
        if done.returncode == 0 and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("kubectl")
    if not found:
        raise Unavailable("kubectl not found (set K8SQ_KUBECTL)")
    return found


def kubectl_version(binary: str) -> str:
    """``kubectl version --client`` as one line."""
    done = subprocess.run([binary, "version", "--client"], capture_output=True, text=True, check=False)
    return " ".join(done.stdout.split()) or done.stderr.strip()


def submit_api() -> Any:
    """The library's ``Client`` class, or :class:`Unavailable` when the submit API is not there."""
    import k8sq_render

    try:
        client = k8sq_render.Client
    except (AttributeError, ImportError) as exc:
        raise Unavailable(f"submit API not available ({exc})") from None
    if not hasattr(client, "submit") or not hasattr(client, "size"):
        raise Unavailable("submit API not available (Client has no submit/size)")
    return client


def api_client(config: str) -> Any:
    """A plain ``kubernetes`` client from the kubeconfig: what a user's own code would build."""
    from kubernetes import config as k8s_config

    return k8s_config.new_client_from_config(config_file=config.split(os.pathsep)[0])


def check_reachable(config: str) -> str:
    """The server's version, or :class:`Unavailable` when the cluster does not answer."""
    from kubernetes import client as k8s

    api = api_client(config)
    try:
        version = k8s.VersionApi(api).get_code(_request_timeout=10)
        return str(version.git_version)
    except Exception as exc:
        raise Unavailable(f"no cluster: {config} does not answer ({type(exc).__name__})") from None
    finally:
        api.close()


# -- namespaces ---------------------------------------------------------------------------


@contextmanager
def namespace(config: str, purpose: str) -> Iterator[str]:
    """A fresh namespace, deleted (and waited for, up to a limit) afterwards."""
    from kubernetes import client as k8s

    name = f"{NAMESPACE_PREFIX}{purpose}-{uuid.uuid4().hex[:6]}"
    api = api_client(config)
    core = k8s.CoreV1Api(api)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    try:
        yield name
    finally:
        try:
            core.delete_namespace(name, propagation_policy="Background")
        finally:
            api.close()


def wait_namespaces_gone(config: str, timeout: float = 300) -> list[str]:
    """Wait until no benchmark namespace is left; return those still there at the timeout."""
    from kubernetes import client as k8s

    api = api_client(config)
    core = k8s.CoreV1Api(api)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = [
                ns.metadata.name
                for ns in core.list_namespace().items
                if ns.metadata.name.startswith(NAMESPACE_PREFIX)
            ]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(2)
    finally:
        api.close()


# -- helpers ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds taken by ``fn()`` and its result."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_kubectl(binary: str, args: list[str], config: str) -> tuple[float, str]:
    """Run kubectl; return seconds and stdout (raises on failure)."""
    env = {**os.environ, "KUBECONFIG": config}
    start = time.perf_counter()
    done = subprocess.run([binary, *args], capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args[:3])} failed ({done.returncode}): {done.stderr.strip()[-1500:]}")
    return seconds, done.stdout


def count_jobs(config: str, ns: str) -> int:
    """How many Jobs the namespace holds."""
    from kubernetes import client as k8s

    api = api_client(config)
    try:
        total, token = 0, None
        while True:
            page = k8s.BatchV1Api(api).list_namespaced_job(ns, limit=500, _continue=token, _preload_content=False)
            data = json.loads(page.data)
            total += len(data.get("items") or ())
            token = data["metadata"].get("continue")
            if not token:
                return total
    finally:
        api.close()


def render_files(values: Path, out: Path) -> int:
    """``k8sq render VALUES -o OUT`` with the suspended template (not timed); return the file count."""
    out.mkdir(parents=True, exist_ok=True)
    argv = [*render_bench.k8sq_command(), "render", str(values), "-o", str(out), "--templates", str(SUSPENDED)]
    subprocess.run(argv, check=True, capture_output=True)
    return sum(1 for p in out.iterdir() if p.suffix in (".yaml", ".yml"))


# -- section 3 ------------------------------------------------------------------------------


def submit(count: int, work: Path, *, with_create: bool = True) -> dict[str, Any]:
    """Section 3: ``count`` Jobs via ``Client.submit`` against ``kubectl apply -f DIR``, each in a fresh namespace.

    ``Client.submit`` is timed from the values file (it validates and renders too);
    kubectl gets files rendered beforehand. ``kubectl create -f DIR`` is also timed,
    for reference (no last-applied annotation, no read before each write).
    """
    config = kubeconfig()
    client_cls = submit_api()
    binary = kubectl()
    server = check_reachable(config)
    result: dict[str, Any] = {"jobs": count, "server": server, "kubectl": kubectl_version(binary)}

    with namespace(config, "submit") as ns:
        values = workload.write_values(
            work / "submit-ours.yaml", workload.bulk_document(count, namespace=ns, priorities=False)
        )
        with client_cls(kubeconfig=config, namespace=ns) as client:
            seconds, results = timed(lambda: client.submit(values, template_dirs=[SUSPENDED]))
        outcomes = {r.outcome for r in results}
        if outcomes != {"created"} or len(results) != count:
            raise RuntimeError(f"submit gave outcomes {sorted(outcomes)} for {len(results)} Jobs")
        result["ours_seconds"] = seconds
        result["ours_workers"] = getattr(client, "workers", None)
        result["ours_jobs_on_server"] = count_jobs(config, ns)

    for verb in ("apply", "create") if with_create else ("apply",):
        with namespace(config, f"kubectl-{verb}") as ns:
            values = workload.write_values(
                work / f"submit-{verb}.yaml", workload.bulk_document(count, namespace=ns, priorities=False)
            )
            files = work / f"files-{verb}"
            if render_files(values, files) != count:
                raise RuntimeError(f"k8sq render did not write {count} Job files")
            seconds, _ = run_kubectl(binary, [verb, "-f", str(files)], config)
            result[f"kubectl_{verb}_seconds"] = seconds
            result[f"kubectl_{verb}_jobs_on_server"] = count_jobs(config, ns)
            shutil.rmtree(files, ignore_errors=True)

    result["ratio"] = result["kubectl_apply_seconds"] / result["ours_seconds"]
    result["left_over_namespaces"] = wait_namespaces_gone(config)
    return result


# -- section 4 ------------------------------------------------------------------------------


def _active(conditions: Any) -> bool:
    true = {c.type for c in conditions or () if c.status == "True"}
    return not (true & {"Failed", "FailureTarget", "Complete", "SuccessCriteriaMet"})


def query(per_queue: int, repeats: int, work: Path) -> dict[str, Any]:
    """Section 4: ``size()`` of one queue with ``per_queue`` Jobs, another queue alongside.

    Compared with the ``kubernetes`` client's ``list_namespaced_job`` (models, every
    page) and with ``kubectl get jobs -l ... -o json``. The Jobs are created once,
    suspended, with ``Client.submit`` and reused for every measurement.
    """
    from kubernetes import client as k8s

    from k8sq_render import _naming

    config = kubeconfig()
    client_cls = submit_api()
    binary = kubectl()
    server = check_reachable(config)
    result: dict[str, Any] = {"jobs_per_queue": per_queue, "repeats": repeats, "server": server}

    with namespace(config, "query") as ns:
        created = 0
        start = time.perf_counter()
        with client_cls(kubeconfig=config, namespace=ns, workers=32) as client:
            for name in (workload.QUEUE_NAME, workload.OTHER_QUEUE_NAME):
                doc = workload.bulk_document(per_queue, name=name, namespace=ns, priorities=False)
                results = client.submit(doc, template_dirs=[SUSPENDED])
                created += sum(1 for r in results if r.outcome == "created")
        result["setup_seconds"] = time.perf_counter() - start
        result["setup_jobs_created"] = created
        if created != 2 * per_queue:
            raise RuntimeError(f"created {created} of {2 * per_queue} Jobs")

        selector = _naming.selector(workload.QUEUE_NAME)
        with client_cls(kubeconfig=config, namespace=ns) as client:
            client.size(workload.QUEUE_NAME)  # warm the connection
            size_runs = [timed(lambda: client.size(workload.QUEUE_NAME)) for _ in range(repeats)]
        if any(n != per_queue for _, n in size_runs):
            raise RuntimeError(f"size() gave {[n for _, n in size_runs]}, expected {per_queue}")

        api = api_client(config)
        batch = k8s.BatchV1Api(api)

        def models() -> int:
            active, token = 0, None
            while True:
                page = batch.list_namespaced_job(ns, label_selector=selector, _continue=token)
                active += sum(1 for job in page.items if _active(job.status.conditions if job.status else None))
                token = page.metadata._continue
                if not token:
                    return active

        try:
            models()
            model_runs = [timed(models) for _ in range(repeats)]
        finally:
            api.close()
        if any(n != per_queue for _, n in model_runs):
            raise RuntimeError(f"the kubernetes client counted {[n for _, n in model_runs]}, expected {per_queue}")

        kubectl_runs = []
        for _ in range(repeats):
            seconds, out = run_kubectl(binary, ["get", "jobs", "-n", ns, "-l", selector, "-o", "json"], config)
            kubectl_runs.append(seconds)
            if len(json.loads(out)["items"]) != per_queue:
                raise RuntimeError("kubectl listed a different number of Jobs")

    result["size_seconds"] = render_bench.summary([s for s, _ in size_runs])
    result["client_models_seconds"] = render_bench.summary([s for s, _ in model_runs])
    result["kubectl_seconds"] = render_bench.summary(kubectl_runs)
    result["left_over_namespaces"] = wait_namespaces_gone(config)
    return result


def cleanup_work(work: Path) -> None:
    """Remove the scratch directory."""
    shutil.rmtree(work, ignore_errors=True)


def scratch() -> Path:
    """A scratch directory for values files and rendered Jobs."""
    return Path(tempfile.mkdtemp(prefix="k8sq-bench-"))
