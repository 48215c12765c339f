"""The wire to the Kubernetes API: connection, retries with backoff, error wrapping.

:class:`Kube` is the only place that calls the official ``kubernetes`` client. It
asks for raw responses (``_preload_content=False``) and parses them with the
standard ``json`` module, which is many times faster than the client's model
classes on long lists; callers get plain dicts. Every ``kubernetes``/``urllib3``
exception is turned into one of ours here (:mod:`k8sq_render.errors`), so none
leaks out of the public API.

Every request is safe to repeat: reads and deletes are idempotent, and a Job create
that is repeated after the first one went through meets 409 and is then recognised by
its message id (see :mod:`k8sq_render._submit`). So throttling (429), server errors
(5xx) and broken connections are retried, with exponential backoff, ``Retry-After``
honoured, and a cap on the total time.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from .errors import (
    ApiError,
    ClusterUnreachable,
    ConflictError,
    Gone,
    KubeconfigError,
    NotFound,
    PermissionDenied,
)

T = TypeVar("T")
R = TypeVar("R")

#: Where a pod finds the namespace of its service account.
SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
#: HTTP statuses worth another try: throttled, or the server (or a proxy) failing.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How requests are retried on 429, 5xx and broken connections.

    The n-th retry waits ``min(max_delay, backoff * 2**n)`` seconds, scaled by a random
    factor in [0.5, 1) when ``jitter`` is on, or exactly what the server's
    ``Retry-After`` asks. A request is given up when ``attempts`` are used or when the
    next wait would end after ``deadline`` seconds from the first try.

    Attributes:
        attempts: Tries per request, the first included. Default 6.
        backoff: The first wait, in seconds. Default 0.25.
        max_delay: The longest computed wait, in seconds (a ``Retry-After`` may ask
            for more, within ``deadline``). Default 8.
        deadline: Total seconds a request may take, waits included. Default 60.
        jitter: Randomise waits so that many clients do not retry in step. Default True.
        sleep: Waits (tests pass a fake). Default ``time.sleep``.
        clock: Monotonic seconds (tests pass a fake). Default ``time.monotonic``.
    """

    attempts: int = 6
    backoff: float = 0.25
    max_delay: float = 8.0
    deadline: float = 60.0
    jitter: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Return the wait before retry number ``retry`` (0-based)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        delay = min(self.max_delay, self.backoff * 2**retry)
        return float(delay * (0.5 + random.random() / 2) if self.jitter else delay)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Return the wait a ``Retry-After`` header asks for, in seconds (``None`` if absent or unreadable).

    >>> retry_after({"Retry-After": "3"})
    3.0
    >>> retry_after({}) is None
    True
    """
    if not headers:
        return None
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def default_namespace(kubeconfig: str | os.PathLike[str] | None = None, context: str | None = None) -> str:
    """Return the namespace kubectl would use: the context's, else the pod's service account's, else ``default``."""
    try:
        contexts, active = k8s_config.list_kube_config_contexts(config_file=_path(kubeconfig))
    except (ConfigException, OSError):
        contexts, active = [], None
    chosen = next((c for c in contexts if c.get("name") == context), None) if context else active
    if chosen and chosen.get("context", {}).get("namespace"):
        return str(chosen["context"]["namespace"])
    if not contexts:
        try:
            return Path(SERVICE_ACCOUNT_NAMESPACE).read_text(encoding="utf-8").strip() or "default"
        except OSError:
            pass
    return "default"


def api_client(
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    *,
    pool_size: int = 16,
    in_cluster: bool | None = None,
) -> Any:
    """Build a ``kubernetes.client.ApiClient`` from a kubeconfig or the pod's service account.

    Args:
        kubeconfig: Kubeconfig file; ``None`` means ``$KUBECONFIG`` or ``~/.kube/config``.
        context: Context to use; ``None`` means the kubeconfig's current context.
        pool_size: Connections kept open to the API server (at least the number of
            concurrent requests, or connections are opened and dropped for each one).
        in_cluster: ``True`` forces the in-cluster service account, ``False`` a kubeconfig;
            ``None`` uses a kubeconfig when one exists, else the service account.

    Raises:
        KubeconfigError: no configuration could be loaded.
    """
    configuration = k8s.Configuration()
    path = _path(kubeconfig)
    if in_cluster is None:
        default = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
        in_pod = "KUBERNETES_SERVICE_HOST" in os.environ
        in_cluster = path is None and context is None and not default.exists() and in_pod
    try:
        if in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            k8s_config.load_kube_config(config_file=path, context=context, client_configuration=configuration)
    except (ConfigException, OSError, ValueError, TypeError) as exc:
        raise KubeconfigError(
            message=" ".join(str(exc).split()) or type(exc).__name__,
            path=path or ("in-cluster service account" if in_cluster else None),
            context=context,
        ) from None
    configuration.connection_pool_maxsize = pool_size
    # Retries are ours (RetryPolicy): urllib3's own would multiply them and ignore Retry-After.
    configuration.retries = False
    return k8s.ApiClient(configuration)


def close_api(api: Any) -> None:
    """Close an ``ApiClient`` and its open connections (``ApiClient.close`` keeps the sockets)."""
    api.close()
    pool = getattr(getattr(api, "rest_client", None), "pool_manager", None)
    if pool is not None:
        pool.clear()


def _path(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


class Kube:
    """Raw, retried, error-wrapped calls to the few endpoints k8sq-render needs.

    Args:
        api: A ``kubernetes.client.ApiClient``.
        policy: The retry policy.
        request_timeout: Seconds to wait for one response (watches add their own time).
    """

    def __init__(self, api: Any, *, policy: RetryPolicy, request_timeout: float = 30.0) -> None:
        self.api = api
        self.policy = policy
        self.request_timeout = request_timeout
        self.batch = k8s.BatchV1Api(api)
        self.scheduling = k8s.SchedulingV1Api(api)

    @property
    def host(self) -> str:
        """The API server's address."""
        return str(self.api.configuration.host)

    # -- the endpoints -------------------------------------------------------------

    def create_job(self, namespace: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a Job; 409 raises :class:`ConflictError` (the caller decides what it means)."""
        name = body.get("metadata", {}).get("name")
        return self._json(
            "create",
            "jobs",
            lambda **kw: self.batch.create_namespaced_job(namespace, body, **kw),
            name=name,
            namespace=namespace,
        )

    def get_job(self, namespace: str, name: str) -> dict[str, Any]:
        """GET one Job."""
        return self._json(
            "get",
            "jobs",
            lambda **kw: self.batch.read_namespaced_job(name, namespace, **kw),
            name=name,
            namespace=namespace,
        )

    def delete_job(self, namespace: str, name: str) -> None:
        """DELETE one Job and, in the background, its pods."""
        self._json(
            "delete",
            "jobs",
            lambda **kw: self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background", **kw),
            name=name,
            namespace=namespace,
        )

    def list_jobs(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_: str | None = None,
    ) -> dict[str, Any]:
        """One page of a Job list (the caller follows ``metadata.continue``)."""
        options: dict[str, Any] = {}
        if label_selector:
            options["label_selector"] = label_selector
        if field_selector:
            options["field_selector"] = field_selector
        if limit:
            options["limit"] = limit
        if continue_:
            options["_continue"] = continue_
        return self._json(
            "list", "jobs", lambda **kw: self.batch.list_namespaced_job(namespace, **options, **kw), namespace=namespace
        )

    def watch_jobs(
        self, namespace: str, *, field_selector: str, resource_version: str, timeout: float
    ) -> Iterator[dict[str, Any]]:
        """Yield watch events (``{"type": ..., "object": ...}``) until the server ends the watch.

        The server ends it after ``timeout`` seconds (rounded up); a broken stream just
        ends the iteration, so the caller re-watches from the last resource version.
        """
        seconds = max(1, int(timeout + 0.999))

        def call(**kw: Any) -> Any:
            kw["_request_timeout"] = (self.request_timeout, seconds + self.request_timeout)
            return self.batch.list_namespaced_job(
                namespace,
                field_selector=field_selector,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=seconds,
                watch=True,
                **kw,
            )

        response = self._call("watch", "jobs", call, namespace=namespace)
        try:
            for line in _lines(response):
                event = json.loads(line)
                if isinstance(event, dict):
                    yield event
        except (urllib3.exceptions.HTTPError, OSError, ValueError):
            return
        finally:
            response.release_conn()

    def get_priority_class(self, name: str) -> dict[str, Any]:
        """GET one PriorityClass (cluster-scoped)."""
        return self._json(
            "get", "priorityclasses", lambda **kw: self.scheduling.read_priority_class(name, **kw), name=name
        )

    # -- retries and error wrapping -----------------------------------------------

    def _json(
        self,
        verb: str,
        resource: str,
        call: Callable[..., Any],
        *,
        name: str | None = None,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        response = self._call(verb, resource, call, name=name, namespace=namespace)
        try:
            data = response.data
        finally:
            response.release_conn()
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            raise ApiError(
                verb=verb,
                resource=resource,
                status=response.status,
                message="the answer is not JSON",
                name=name,
                namespace=namespace,
            ) from None
        return parsed if isinstance(parsed, dict) else {}

    def _call(
        self,
        verb: str,
        resource: str,
        call: Callable[..., Any],
        *,
        name: str | None = None,
        namespace: str | None = None,
    ) -> Any:
        """Run ``call`` (a raw client call) with retries; return the urllib3 response."""
        policy = self.policy
        start = policy.clock()
        attempt = 0
        while True:
            attempt += 1
            wait_hint: float | None = None
            try:
                options = {"_preload_content": False, "_request_timeout": self.request_timeout}
                return call(**options)
            except ApiException as exc:
                error = _wrap(exc, verb=verb, resource=resource, name=name, namespace=namespace)
                if exc.status not in RETRY_STATUSES:
                    raise error from None
                wait_hint = retry_after(exc.headers)
                failure: Exception = error
            except (urllib3.exceptions.HTTPError, ConnectionError) as exc:
                failure = ClusterUnreachable(host=self.host, attempts=attempt, message=_describe(exc))
            delay = policy.delay(attempt - 1, wait_hint)
            if attempt >= policy.attempts or policy.clock() + delay - start > policy.deadline:
                raise failure from None
            policy.sleep(delay)


def _wrap(exc: ApiException, *, verb: str, resource: str, name: str | None, namespace: str | None) -> ApiError:
    """Turn a client exception into our error, keeping the API server's own message."""
    status = int(exc.status or 0)
    body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
    message, reason = str(exc.reason or "no answer"), ""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("kind") == "Status":
        message = str(data.get("message") or message)
        reason = str(data.get("reason") or "")
    elif body.strip():
        message = body.strip()[:500]
    fields: dict[str, Any] = {
        "verb": verb,
        "resource": resource,
        "message": message,
        "name": name,
        "namespace": namespace,
    }
    if status == 409:
        return ConflictError(reason=reason or "Conflict", **fields)
    kind = {403: PermissionDenied, 404: NotFound, 410: Gone}.get(status, ApiError)
    return kind(status=status, reason=reason, **fields)


def _describe(exc: BaseException) -> str:
    # urllib3 wraps the socket error (MaxRetryError → NewConnectionError → ...): show the innermost.
    reason = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc)
    return " ".join(text.split()) or type(exc).__name__


def _lines(response: Any) -> Iterator[bytes]:
    """Split a streamed response into lines (a watch sends one JSON event per line)."""
    pending = b""
    for chunk in response.stream(64 * 1024, decode_content=True):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


def parallel(
    work: Callable[[T], R],
    items: Sequence[T],
    *,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> list[R]:
    """Run ``work`` on every item with at most ``workers`` threads; results in input order.

    ``progress(done, total)`` is called after each item (from the worker threads,
    under a lock, so calls never overlap).
    """
    total = len(items)
    done = [0]
    lock = threading.Lock()

    def run(item: T) -> R:
        result = work(item)
        if progress is not None:
            with lock:
                done[0] += 1
                progress(done[0], total)
        return result

    if total <= 1 or workers <= 1:
        return [run(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, total), thread_name_prefix="k8sq")
    try:
        return list(pool.map(run, items))
    finally:
        # On Ctrl-C (or a bug) start nothing new; requests in flight finish.
        pool.shutdown(wait=True, cancel_futures=True)
