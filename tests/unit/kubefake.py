"""A small fake Kubernetes API server for unit tests.

A real HTTP server on 127.0.0.1 speaking the few JSON endpoints the submitter uses
(Jobs: create, get, list with pages, watch, delete; PriorityClasses: get), so tests go
through the real ``kubernetes`` client and urllib3, not mocks of their methods.

Faults are scripted per request: ``fault("POST", "/jobs", status=429, headers=...)``
answers the next matching request with that status, ``fault(..., reset=True)`` closes
the connection without an answer.
"""

from __future__ import annotations

import copy
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kubernetes import client as k8s

from k8sq_render import Client, RetryPolicy
from k8sq_render._kube import close_api

JOBS = "/apis/batch/v1/namespaces/"
PRIORITY_CLASSES = "/apis/scheduling.k8s.io/v1/priorityclasses/"


@dataclass
class Fault:
    method: str
    path: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    reset: bool = False
    #: With ``reset``: carry the request out first, then drop the connection (the answer is lost).
    after: bool = False
    #: Only requests whose body names this object (``metadata.name``).
    name: str | None = None
    times: int = 1


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def condition(kind: str, status: str = "True", reason: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": "",
        "lastProbeTime": "2026-12-03T10:00:05Z",
        "lastTransitionTime": "2026-12-03T10:00:05Z",
    }


class FakeCluster:
    """The fake API server's state and its HTTP server; use as a context manager."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.priority_classes: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.faults: list[Fault] = []
        #: (name, propagationPolicy) of every Job deleted.
        self.deletions: list[tuple[str, str]] = []
        #: "created NAME" / "deleted NAME", in the order the server did them.
        self.log: list[str] = []
        self.connections = 0
        self.version = 100
        self.clock = 0
        #: Requests carrying a continue token that are answered 410 Gone (then the count goes down).
        self.expire_continue = 0
        #: Each watch request takes the next script: a list of events, a function returning one
        #: (run when the watch arrives, to change the world meanwhile), or an int HTTP status.
        self.watch_scripts: list[list[dict[str, Any]] | Callable[[], list[dict[str, Any]]] | int] = []
        #: Called (outside the lock) before a Job create is applied; tests line threads up here.
        self.before_create: Callable[[dict[str, Any]], None] | None = None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)

    @property
    def host(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FakeCluster:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def api_client(self, pool_size: int = 8) -> Any:
        configuration = k8s.Configuration()
        configuration.host = self.host
        configuration.connection_pool_maxsize = pool_size
        configuration.retries = False
        return k8s.ApiClient(configuration)

    # -- scripting --------------------------------------------------------------------

    def fault(self, method: str, path: str, **options: Any) -> None:
        with self.lock:
            self.faults.append(Fault(method, path, **options))

    def add_job(self, job: dict[str, Any]) -> dict[str, Any]:
        """Store a Job as the server would after a create (server fields filled in)."""
        with self.lock:
            return self._store(copy.deepcopy(job))

    def set_conditions(self, namespace: str, name: str, *conditions: dict[str, Any], **status: Any) -> None:
        with self.lock:
            job = self.jobs[(namespace, name)]
            job["status"] = {**status, "conditions": list(conditions)}
            self._bump(job)

    def count(self, method: str, path_part: str) -> int:
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method and path_part in p)

    # -- the server's side -------------------------------------------------------------

    def _bump(self, job: dict[str, Any]) -> None:
        self.version += 1
        job["metadata"]["resourceVersion"] = str(self.version)

    def _store(self, job: dict[str, Any]) -> dict[str, Any]:
        meta = job["metadata"]
        uid = str(uuid.UUID(int=len(self.jobs) + 1 + self.version))
        self.clock += 1
        meta.update(
            uid=uid,
            generation=1,
            creationTimestamp=f"2026-12-03T10:{self.clock // 60:02d}:{self.clock % 60:02d}Z",
            managedFields=[{"manager": "k8sq", "operation": "Update", "apiVersion": "batch/v1"}],
        )
        spec = job.setdefault("spec", {})
        spec.setdefault("completions", 1)
        spec.setdefault("parallelism", 1)
        spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        template_labels = spec.setdefault("template", {}).setdefault("metadata", {}).setdefault("labels", {})
        template_labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": meta["name"],
                "controller-uid": uid,
                "job-name": meta["name"],
            }
        )
        job.setdefault("status", {})
        self._bump(job)
        self.jobs[(meta["namespace"], meta["name"])] = job
        return job

    def _next_fault(self, method: str, path: str, body: Any) -> Fault | None:
        name = body.get("metadata", {}).get("name") if isinstance(body, dict) else None
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path in path and fault.name in (None, name):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        if path.startswith(PRIORITY_CLASSES) and method == "GET":
            name = path[len(PRIORITY_CLASSES) :]
            if name in self.priority_classes:
                return 200, {"kind": "PriorityClass", "metadata": {"name": name}, "value": 1000}
            return 404, status_body(404, "NotFound", f'priorityclasses.scheduling.k8s.io "{name}" not found')
        if not path.startswith(JOBS):
            return 404, status_body(404, "NotFound", "the server could not find the requested resource")
        namespace, _, rest = path[len(JOBS) :].partition("/")
        parts = rest.split("/")
        if parts == ["jobs"] and method == "POST":
            return self._create(namespace, body)
        if parts == ["jobs"] and method == "GET":
            return self._list(namespace, query)
        if len(parts) == 2 and parts[0] == "jobs":
            name = parts[1]
            with self.lock:
                job = self.jobs.get((namespace, name))
                if job is None:
                    return 404, status_body(404, "NotFound", f'jobs.batch "{name}" not found')
                if method == "GET":
                    return 200, copy.deepcopy(job)
                if method == "DELETE":
                    self.deletions.append((name, query.get("propagationPolicy", [""])[0]))
                    del self.jobs[(namespace, name)]
                    self.log.append(f"deleted {name}")
                    return 200, status_body(200, "", "") | {"status": "Success"}
        return 405, status_body(405, "MethodNotAllowed", f"{method} {path}")

    def _create(self, namespace: str, body: dict[str, Any]) -> tuple[int, Any]:
        if self.before_create is not None:
            self.before_create(body)
        name = body["metadata"]["name"]
        with self.lock:
            if (namespace, name) in self.jobs:
                return 409, status_body(409, "AlreadyExists", f'jobs.batch "{name}" already exists')
            for key in ("uid", "resourceVersion", "creationTimestamp", "selector"):
                if key in body["metadata"] or key in body.get("spec", {}):
                    return 422, status_body(422, "Invalid", f"Job.batch {name!r} is invalid: {key}: may not be set")
            self.log.append(f"created {name}")
            return 201, copy.deepcopy(self._store(copy.deepcopy(body)))

    def _list(self, namespace: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        labels = _pairs(query.get("labelSelector", [""])[0])
        fields = _pairs(query.get("fieldSelector", [""])[0])
        limit = int(query.get("limit", ["0"])[0])
        token = query.get("continue", [None])[0]
        with self.lock:
            if token and self.expire_continue > 0:
                self.expire_continue -= 1
                return 410, status_body(410, "Expired", "The provided continue parameter is too old")
            items = [
                copy.deepcopy(job)
                for (ns, name), job in sorted(self.jobs.items())
                if ns == namespace
                and all(job["metadata"].get("labels", {}).get(k) == v for k, v in labels.items())
                and all(name == v for k, v in fields.items() if k == "metadata.name")
            ]
            start = int(token) if token else 0
            end = start + limit if limit else len(items)
            meta: dict[str, Any] = {"resourceVersion": str(self.version)}
            if end < len(items):
                meta["continue"] = str(end)
            return 200, {"kind": "JobList", "apiVersion": "batch/v1", "metadata": meta, "items": items[start:end]}


def _pairs(selector: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in selector.split(",") if part)


def _handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            with cluster.lock:
                cluster.connections += 1

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            path, query = unquote(url.path), parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else {}
            with cluster.lock:
                cluster.requests.append((method, path, query))
            fault = cluster._next_fault(method, path, body)
            if fault is not None and fault.reset:
                if fault.after:
                    cluster.handle(method, path, query, body)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None:
                self._send(fault.status, fault.body or status_body(fault.status, "Fault", "injected"), fault.headers)
                return
            if method == "GET" and query.get("watch", ["false"])[0].lower() == "true":
                self._watch()
                return
            status, answer = cluster.handle(method, path, query, body)
            self._send(status, answer)

        def _send(self, status: int, answer: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _watch(self) -> None:
            with cluster.lock:
                script = cluster.watch_scripts.pop(0) if cluster.watch_scripts else []
            if callable(script):
                script = script()
            if isinstance(script, int):
                self._send(script, status_body(script, "Expired", "too old resource version"))
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            for event in script:
                self.wfile.write(json.dumps(event).encode() + b"\n")
                self.wfile.flush()
            self.close_connection = True

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler


class FakeClock:
    """Monotonic time that moves only when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def values(*messages: dict[str, Any], queue: str = "emails", **queue_options: Any) -> dict[str, Any]:
    """A values document for ``messages`` (in-memory, as a program would build it)."""
    return {
        "version": "v1",
        "queue": {"name": queue, "image": "registry.example/mailer:1.4", **queue_options},
        "messages": list(messages),
    }


@contextmanager
def connect(
    cluster: FakeCluster,
    *,
    clock: FakeClock | None = None,
    workers: int = 4,
    page_size: int = 500,
    attempts: int = 6,
    deadline: float = 60.0,
) -> Iterator[Client]:
    """A Client talking to ``cluster`` through the real kubernetes client, sleeping on a fake clock."""
    clock = clock or FakeClock()
    api = cluster.api_client(pool_size=workers + 2)
    policy = RetryPolicy(attempts=attempts, deadline=deadline, jitter=False, sleep=clock.sleep, clock=clock.clock)
    try:
        yield Client(api, namespace="default", workers=workers, page_size=page_size, retry=policy)
    finally:
        close_api(api)
