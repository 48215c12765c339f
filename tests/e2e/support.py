"""Helpers for the end-to-end tests: values for the worker image, waits, pods and their logs.

Everything here talks to the cluster as the admin of the kubeconfig; the tests talk
to it through the library (``k8sq_render.Client``) and use these helpers to look at
what really happened (Jobs, pods, logs, termination messages).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

import k8sq_render
from k8sq_render import _render, _values, envelope

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
#: The worker image `make cluster-up` imports (nothing is ever pulled).
IMAGE = "localhost/k8sq-worker:dev"
#: Every object the e2e tests create carries this label.
PART_OF = {"app.kubernetes.io/part-of": "k8sq-render-e2e"}
#: The line the worker prints: ``k8sq-worker: <json>``.
WORKER_PREFIX = "k8sq-worker: "
#: The value of the PriorityClass the ``priority_class`` fixture makes.
PRIORITY = 4321
#: How long a Job of the worker image may take to finish: 2-5 s on an idle node, much more when
#: someone else loads the cluster (the Job controller then lags behind).
JOB_TIMEOUT = 120.0


def unique(prefix: str) -> str:
    """Return ``prefix`` with a random suffix: a fresh queue or object name per test and run."""
    return f"{prefix}-{secrets.token_hex(3)}"


def values(namespace: str, queue: str, messages: Iterable[Mapping[str, Any]], **queue_options: Any) -> dict[str, Any]:
    """Return a values document for the worker image in ``namespace`` (labelled, short TTL).

    ``queue_options`` are added to (or replace) the queue's fields.
    """
    spec = {
        "name": queue,
        "namespace": namespace,
        "image": IMAGE,
        "imagePullPolicy": "Never",
        "ttlSecondsAfterFinished": 120,
        "labels": dict(PART_OF),
        **queue_options,
    }
    return {"version": "v1", "queue": spec, "messages": [dict(m) for m in messages]}


def render(document: Mapping[str, Any], *, template_dirs: Iterable[Path] = ()) -> list[k8sq_render.Manifest]:
    """Validate and render a values document with the library (no cluster involved)."""
    return _render.render_values(_values.validate(document), template_dirs=tuple(template_dirs))


def example(path: Path, namespace: str, **queue_options: Any) -> dict[str, Any]:
    """Read an example values file and point it at the worker image in ``namespace``."""
    document = _values.read_document(path)
    document["queue"].update(image=IMAGE, imagePullPolicy="Never", namespace=namespace, **queue_options)
    document["queue"].setdefault("labels", {}).update(PART_OF)
    return document


def poll(check: Callable[[], T | None], *, timeout: float, interval: float = 0.25, what: str) -> T:
    """Call ``check`` until it returns something other than ``None``/``False``; fail after ``timeout`` s."""
    end = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def true_conditions(job: Mapping[str, Any]) -> set[str]:
    """Return the types of a Job's conditions whose status is ``"True"``."""
    conditions = (job.get("status") or {}).get("conditions") or ()
    return {c["type"] for c in conditions if c.get("status") == "True"}


def job_envelope(job: Mapping[str, Any]) -> envelope.Message:
    """Return the message a Job carries in its worker's ``K8SQ_MESSAGE`` (``$$`` undone)."""
    for container in job["spec"]["template"]["spec"]["containers"]:
        for env in container.get("env") or ():
            if env["name"] == envelope.ENV_VAR:
                return envelope.decode(env["value"].replace("$$", "$"))
    raise AssertionError(f"Job {job['metadata']['name']} has no {envelope.ENV_VAR}")


@dataclass
class Cluster:
    """The admin's view of the test namespace."""

    api: Any
    namespace: str
    core: Any = field(init=False)
    batch: Any = field(init=False)

    def __post_init__(self) -> None:
        self.core = k8s.CoreV1Api(self.api)
        self.batch = k8s.BatchV1Api(self.api)

    def get_job(self, name: str) -> dict[str, Any] | None:
        """Return a Job as plain data, ``None`` when it does not exist."""
        try:
            response = self.batch.read_namespaced_job(name, self.namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(response.data)

    def list_jobs(self, selector: str) -> list[dict[str, Any]]:
        """Return the Jobs matching a label selector, as plain data."""
        response = self.batch.list_namespaced_job(self.namespace, label_selector=selector, _preload_content=False)
        return json.loads(response.data)["items"]

    def pods(self, job: str) -> list[dict[str, Any]]:
        """Return the pods of a Job, oldest first, as plain data."""
        response = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"batch.kubernetes.io/job-name={job}", _preload_content=False
        )
        items = json.loads(response.data)["items"]
        return sorted(items, key=lambda pod: (pod["metadata"]["creationTimestamp"], pod["metadata"]["name"]))

    def log(self, pod: str, container: str = "worker") -> str:
        """Return a container's log (stdout and stderr)."""
        return str(self.core.read_namespaced_pod_log(pod, self.namespace, container=container))

    def worker_lines(self, job: str) -> list[dict[str, Any]]:
        """Return what each pod of a Job printed on its ``k8sq-worker:`` line, oldest pod first."""
        lines = []
        for pod in self.pods(job):
            log = self.log(pod["metadata"]["name"])
            found = [line[len(WORKER_PREFIX) :] for line in log.splitlines() if line.startswith(WORKER_PREFIX)]
            assert len(found) == 1, f"pod {pod['metadata']['name']}: expected one worker line, log was:\n{log}"
            lines.append(json.loads(found[0]))
        return lines

    def termination_messages(self, job: str) -> list[dict[str, Any]]:
        """Return the termination message of each pod's worker container, as JSON."""
        messages = []
        for pod in self.pods(job):
            statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or ()}
            terminated = statuses["worker"]["state"].get("terminated")
            assert terminated, f"pod {pod['metadata']['name']}: worker not terminated: {statuses['worker']}"
            messages.append(json.loads(terminated["message"]))
        return messages

    def describe(self, job: str) -> str:
        """Return a short account of a Job and its pods, for failure messages."""
        data = self.get_job(job)
        if data is None:
            return f"Job {job}: does not exist"
        lines = [f"Job {job}: status {json.dumps(data.get('status') or {}, sort_keys=True)}"]
        for pod in self.pods(job):
            status = pod.get("status") or {}
            containers = [(s["name"], s.get("state")) for s in (status.get("containerStatuses") or ())]
            lines.append(f"  pod {pod['metadata']['name']}: {status.get('phase')} {containers}")
        return "\n".join(lines)

    def wait_gone(self, name: str, *, timeout: float = 30.0) -> None:
        """Wait until a Job no longer exists."""
        poll(lambda: self.get_job(name) is None, timeout=timeout, what=f"Job {name} to be deleted")


def wait_finished(client: k8sq_render.Client, cluster: Cluster, name: str, *, timeout: float = JOB_TIMEOUT) -> Any:
    """Wait for a Job with the library's ``wait``; fail with the Job's and pods' state on a timeout."""
    result = client.wait(name, timeout=timeout)
    assert not result.timed_out, f"Job {name} did not finish within {timeout:.0f}s\n{cluster.describe(name)}"
    return result


@dataclass(frozen=True)
class KubeconfigParts:
    """What a hand-built client needs from an (admin) kubeconfig, written to files."""

    server: str
    ca_file: str
    cert_file: str | None
    key_file: str | None

    @classmethod
    def load(cls, path: Path, directory: Path) -> KubeconfigParts:
        """Read the current context of the kubeconfig at ``path``; inline data goes to files in ``directory``."""
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        return cls(
            server=cluster["server"],
            ca_file=_file(cluster, "certificate-authority", directory),
            cert_file=_file(user, "client-certificate", directory) if _has(user, "client-certificate") else None,
            key_file=_file(user, "client-key", directory) if _has(user, "client-key") else None,
        )


def _has(section: Mapping[str, Any], key: str) -> bool:
    return key in section or f"{key}-data" in section


def _file(section: Mapping[str, Any], key: str, directory: Path) -> str:
    """Return a file holding ``key`` (given as a path, or inline as ``<key>-data``)."""
    if key in section:
        return str(section[key])
    path = directory / f"{key}.pem"
    path.write_bytes(base64.b64decode(section[f"{key}-data"]))
    return str(path)


def token_client(parts: KubeconfigParts, token: str) -> Any:
    """Return a ``kubernetes`` ApiClient that authenticates with a bearer token only."""
    configuration = k8s.Configuration()
    configuration.host = parts.server
    configuration.ssl_ca_cert = parts.ca_file
    configuration.api_key = {"authorization": token}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    configuration.retries = False
    return k8s.ApiClient(configuration)
