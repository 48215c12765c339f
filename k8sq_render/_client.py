"""The public face of the submitter: :class:`Client` and module-level shortcuts.

    import k8sq_render

    results = k8sq_render.submit("values.yaml")
    print(k8sq_render.size("emails"), "Jobs still to run")

A :class:`Client` holds one connection pool; the shortcuts build a default client
(kubeconfig, else the pod's service account) for one call and close it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from . import _kube, _query, _submit
from ._kube import RetryPolicy
from ._query import JobInfo, JobState, RetryResult, WaitResult
from ._render import TemplateDirs
from ._submit import Source, SubmitResult

Progress = Callable[[int, int], None]


class Client:
    """A connection to one cluster for submitting and querying a queue's Jobs.

    Args:
        api_client: A ``kubernetes.client.ApiClient`` to use (the caller keeps owning
            it: :meth:`close` leaves it open; give its ``Configuration`` a
            ``connection_pool_maxsize`` of at least ``workers``, and ``retries = False``
            so that only :class:`RetryPolicy` retries). Default ``None``: build one from
            ``kubeconfig``/``context``, or from the pod's service account when there is
            no kubeconfig.
        kubeconfig: Kubeconfig file. Default ``None``: ``$KUBECONFIG``, else ``~/.kube/config``.
        context: Kubeconfig context. Default ``None``: the current context.
        namespace: Namespace of :meth:`size`, :meth:`jobs`, :meth:`retry` and :meth:`wait`
            (:meth:`submit` uses each queue's own). Default ``None``: the context's
            namespace, else the service account's, else ``"default"``.
        workers: Requests in flight at once for bulk submit and retry; the connection
            pool is sized to match. Default 16.
        page_size: Jobs per list page (lists always read every page). Default 500.
        request_timeout: Seconds to wait for one response. Default 30.
        retry: How 429, 5xx and broken connections are retried. Default :class:`RetryPolicy`
            with its defaults (6 attempts, exponential backoff from 0.25 s, ``Retry-After``
            honoured, at most 60 s per request).
    """

    def __init__(
        self,
        api_client: Any = None,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
        workers: int = 16,
        page_size: int = 500,
        request_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._owned = api_client is None
        if api_client is None:
            api_client = _kube.api_client(kubeconfig, context, pool_size=workers + 2)
            self.namespace = namespace or _kube.default_namespace(kubeconfig, context)
        else:
            self.namespace = namespace or "default"
        self.workers = max(1, workers)
        self.page_size = page_size
        self._kube = _kube.Kube(api_client, policy=retry or RetryPolicy(), request_timeout=request_timeout)

    def close(self) -> None:
        """Close the connection pool (only when this client built it)."""
        if self._owned:
            _kube.close_api(self._kube.api)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def submit(
        self,
        values: Source | Iterable[Source],
        *,
        template_dirs: TemplateDirs = (),
        progress: Progress | None = None,
    ) -> list[SubmitResult]:
        """Render values and create one Job per message; a Job already there for a message is kept.

        Everything is validated and rendered, and every PriorityClass the Jobs name is
        checked, before the first Job is created. After that, each message gets its own
        result, so one failure never hides what was created.

        Args:
            values: Values files, :class:`~k8sq_render.Values`, or values documents as
                mappings (a message built in code, e.g.
                ``{"version": "v1", "queue": {...}, "message": {"payload": {...}}}``; its
                messages without ``id``/``timestamp`` get a random id and the current time).
                Each Job goes to its queue's namespace.
            template_dirs: Template directories searched before the packaged templates.
            progress: Called as ``progress(done, total)`` after each message.

        Returns:
            One result per message, in order: ``created``, ``existed`` or ``failed``.

        Raises:
            ValuesError, UnknownVersionError, TemplateError, ManifestError, ...: the values
                cannot be rendered (nothing was created).
            PriorityClassMissing: a message names a PriorityClass the cluster lacks
                (nothing was created).
            ApiError, ClusterUnreachable: reading a PriorityClass failed.
        """
        return _submit.submit(self._kube, values, template_dirs=template_dirs, workers=self.workers, progress=progress)

    def jobs(self, queue: str, *, state: JobState | str | None = None) -> list[JobInfo]:
        """Return the queue's Jobs (every page), oldest first, optionally only those in ``state``.

        Raises:
            ValueError: ``state`` is not one of active, succeeded, failed.
            ApiError, ClusterUnreachable: the list failed.
        """
        return _query.jobs(self._kube, self.namespace, queue, state=state, page_size=self.page_size)

    def size(self, queue: str, *, failed: bool = False) -> int:
        """Count the queue's Jobs not finished yet or, with ``failed=True``, those that failed.

        State comes from Job conditions only: a Job retrying its pod is not failed.

        Raises:
            ApiError, ClusterUnreachable: the list failed.
        """
        return _query.size(self._kube, self.namespace, queue, failed=failed, page_size=self.page_size)

    def retry(self, queue: str, *, limit: int | None = None, progress: Progress | None = None) -> list[RetryResult]:
        """Run the queue's failed Jobs again, oldest first, at most ``limit`` of them.

        Each new Job is the failed Job's own spec with the next attempt number (name,
        ``k8sq.io/attempt``, envelope); it is created before the failed Job is deleted.
        Two retries running at once create one new Job per message (the second sees
        ``already-retried``); a Job deleted meanwhile is reported ``gone``.

        Returns:
            One result per failed Job.

        Raises:
            ApiError, ClusterUnreachable: listing the failed Jobs failed.
        """
        return _query.retry(
            self._kube,
            self.namespace,
            queue,
            limit=limit,
            page_size=self.page_size,
            workers=self.workers,
            progress=progress,
        )

    def wait(self, name: str, *, timeout: float | None = None) -> WaitResult:
        """Wait until the Job ``name`` finishes and return how it ended.

        A timeout is not an error: the result then has ``state`` active and
        ``timed_out=True``. A Job deleted while waiting (e.g. by its TTL) gives
        ``deleted=True`` with the last state seen, or ``gone`` if never seen finished.
        A Job not on the cluster when the wait begins (already reaped by its TTL, or
        never created: the API cannot tell the two apart) gives ``gone`` with
        ``deleted=False``.

        Args:
            name: The Job's name.
            timeout: Seconds to wait. Default ``None``: no limit.

        Raises:
            ApiError, ClusterUnreachable: the API failed.
        """
        return _query.wait(self._kube, self.namespace, name, timeout=timeout)


def submit(
    values: Source | Iterable[Source], *, client: Client | None = None, template_dirs: TemplateDirs = ()
) -> list[SubmitResult]:
    """Shortcut for :meth:`Client.submit` (with a default :class:`Client` unless one is given)."""
    with _using(client) as c:
        return c.submit(values, template_dirs=template_dirs)


def jobs(queue: str, *, state: JobState | str | None = None, client: Client | None = None) -> list[JobInfo]:
    """Shortcut for :meth:`Client.jobs`."""
    with _using(client) as c:
        return c.jobs(queue, state=state)


def size(queue: str, *, failed: bool = False, client: Client | None = None) -> int:
    """Shortcut for :meth:`Client.size`."""
    with _using(client) as c:
        return c.size(queue, failed=failed)


def retry(queue: str, *, limit: int | None = None, client: Client | None = None) -> list[RetryResult]:
    """Shortcut for :meth:`Client.retry`."""
    with _using(client) as c:
        return c.retry(queue, limit=limit)


def wait(name: str, *, timeout: float | None = None, client: Client | None = None) -> WaitResult:
    """Shortcut for :meth:`Client.wait`."""
    with _using(client) as c:
        return c.wait(name, timeout=timeout)


class _using:
    """Use the given client as is, or a default one closed afterwards."""

    def __init__(self, client: Client | None) -> None:
        self.client = client
        self.owned = client is None

    def __enter__(self) -> Client:
        if self.client is None:
            self.client = Client()
        return self.client

    def __exit__(self, *exc: object) -> None:
        if self.owned and self.client is not None:
            self.client.close()
