"""Queries over a queue's Jobs: state, list, size, retry, wait.

A Job's state is read from its conditions only (:func:`job_state`): pod counters do
not say whether a Job is finished (a Job retrying its pod under ``backoffLimit`` has
failed pods and is still running). Lists select by the queue's label selector and
follow ``continue`` tokens to the end, starting over when a token expires (410).
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from . import _naming, envelope
from ._kube import Kube, parallel
from ._submit import check_priority_classes, create_job
from .errors import ApiError, EnvelopeError, EnvelopeMissingError, Gone, K8sqError, NotFound

#: A list is started over at most this many times when its continue token expires.
MAX_LIST_RESTARTS = 5
#: Metadata fields a new Job keeps from the Job it is built from; the rest is the server's.
KEPT_METADATA = ("name", "namespace", "labels", "annotations")
#: Annotations that describe the old object, not the Job we create from it.
DROPPED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)


class JobState(StrEnum):
    """Where a Job is in its life."""

    ACTIVE = "active"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    #: Not on the cluster any more and never seen finished (``wait`` only): deleted before
    #: it finished, or already reaped by its TTL (or never created) when the wait began.
    GONE = "gone"


def job_state(job: Mapping[str, Any]) -> JobState:
    """Return a Job's state from its conditions (status ``"True"``), never from pod counters.

    ``Failed`` or ``FailureTarget`` is failed, ``Complete`` or ``SuccessCriteriaMet`` is
    succeeded (the ``*Target``/``*Met`` conditions come first, while pods still
    terminate); anything else is active.

    >>> job_state({"status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}})
    <JobState.FAILED: 'failed'>
    >>> job_state({"status": {"failed": 2, "active": 1}})
    <JobState.ACTIVE: 'active'>
    """
    conditions = (job.get("status") or {}).get("conditions") or ()
    true = {c.get("type") for c in conditions if isinstance(c, Mapping) and c.get("status") == "True"}
    if true & {"Failed", "FailureTarget"}:
        return JobState.FAILED
    if true & {"Complete", "SuccessCriteriaMet"}:
        return JobState.SUCCEEDED
    return JobState.ACTIVE


@dataclass(frozen=True)
class JobInfo:
    """One Job of a queue, as listed.

    Attributes:
        name: The Job's name.
        namespace: Its namespace.
        state: From its conditions.
        message_id: The ``k8sq.io/message-id`` annotation (``None`` if missing).
        attempt: The ``k8sq.io/attempt`` annotation (1 if missing or unreadable).
        created: ``metadata.creationTimestamp`` (UTC; ``None`` if missing).
    """

    name: str
    namespace: str
    state: JobState
    message_id: str | None
    attempt: int
    created: datetime | None


def _info(job: Mapping[str, Any]) -> JobInfo:
    meta = job.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    attempt = str(annotations.get(_naming.ATTEMPT_ANNOTATION, "1"))
    stamp = meta.get("creationTimestamp")
    try:
        created = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        created = None
    return JobInfo(
        name=str(meta.get("name", "")),
        namespace=str(meta.get("namespace", "")),
        state=job_state(job),
        message_id=annotations.get(_naming.MESSAGE_ID_ANNOTATION),
        attempt=int(attempt) if attempt.isdigit() else 1,
        created=created,
    )


def _slim(job: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only what queries read, so a long list does not hold every Job whole."""
    meta = job.get("metadata") or {}
    return {
        "metadata": {key: meta.get(key) for key in ("name", "namespace", "annotations", "creationTimestamp")},
        "status": {"conditions": (job.get("status") or {}).get("conditions")},
    }


def list_jobs(kube: Kube, namespace: str, queue: str, *, page_size: int = 500) -> list[dict[str, Any]]:
    """Return every Job of ``queue`` (slimmed to metadata and conditions), all pages followed.

    Raises:
        Gone: the list kept expiring (more than :data:`MAX_LIST_RESTARTS` times).
        ApiError, ClusterUnreachable: see :class:`~k8sq_render._kube.Kube`.
    """
    selector = _naming.selector(queue)
    for restart in range(MAX_LIST_RESTARTS + 1):
        items: list[dict[str, Any]] = []
        token: str | None = None
        try:
            while True:
                page = kube.list_jobs(namespace, label_selector=selector, limit=page_size, continue_=token)
                items.extend(_slim(job) for job in page.get("items") or ())
                token = (page.get("metadata") or {}).get("continue") or None
                if token is None:
                    return items
        except Gone:
            # The continue token expired (the list took too long); only a fresh list is consistent.
            if restart == MAX_LIST_RESTARTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def jobs(
    kube: Kube, namespace: str, queue: str, *, state: JobState | str | None = None, page_size: int = 500
) -> list[JobInfo]:
    """Return the Jobs of ``queue``, oldest first (see :meth:`k8sq_render.Client.jobs`)."""
    wanted = JobState(state) if state is not None else None
    infos = (_info(job) for job in list_jobs(kube, namespace, queue, page_size=page_size))
    selected = [info for info in infos if wanted is None or info.state is wanted]
    return sorted(selected, key=_age_key)


def _age_key(info: JobInfo) -> tuple[str, str]:
    return (info.created.isoformat() if info.created else "", info.name)


def size(kube: Kube, namespace: str, queue: str, *, failed: bool = False, page_size: int = 500) -> int:
    """Count the queue's unfinished Jobs, or with ``failed`` its failed ones."""
    wanted = JobState.FAILED if failed else JobState.ACTIVE
    return sum(1 for job in list_jobs(kube, namespace, queue, page_size=page_size) if job_state(job) is wanted)


# -- retry ------------------------------------------------------------------------

RetryOutcome = Literal["retried", "already-retried", "gone", "failed"]


@dataclass(frozen=True)
class RetryResult:
    """What became of one failed Job.

    Attributes:
        name: The failed Job.
        namespace: Its namespace.
        outcome: ``retried`` (a new Job was created and the failed one deleted),
            ``already-retried`` (the new Job existed: another retry got there first),
            ``gone`` (the failed Job vanished meanwhile, e.g. its TTL ran out) or ``failed``.
        new_name: The Job created for the next attempt (``None`` when gone, or failed before).
        message_id: The message's id (``None`` when it could not be read).
        attempt: The new attempt number (``None`` when not known).
        error: Why it failed (``None`` unless ``outcome`` is ``failed``).
    """

    name: str
    namespace: str
    outcome: RetryOutcome
    new_name: str | None = None
    message_id: str | None = None
    attempt: int | None = None
    error: K8sqError | None = None

    @property
    def ok(self) -> bool:
        """True unless the retry failed."""
        return self.outcome != "failed"


def k8s_unliteral(text: str) -> str:
    """Undo :func:`k8sq_render._render.k8s_literal` (every ``$`` was doubled).

    >>> k8s_unliteral("cost: $$(PRICE) $$$$")
    'cost: $(PRICE) $$'
    """
    return text.replace("$$", "$")


def _envelope_env(job: Mapping[str, Any]) -> dict[str, Any]:
    for container in job["spec"]["template"]["spec"].get("containers", []):
        for env in container.get("env") or []:
            if env.get("name") == envelope.ENV_VAR and isinstance(env.get("value"), str):
                return dict(env)
    raise _NoEnvelope


class _NoEnvelope(Exception):
    pass


def read_message(job: Mapping[str, Any]) -> envelope.Message:
    """Return the message a Job carries (its ``K8SQ_MESSAGE`` env, unescaped and decoded).

    Raises:
        EnvelopeError: no container carries the envelope, or it cannot be decoded.
    """
    try:
        env = _envelope_env(job)
    except (_NoEnvelope, KeyError, TypeError, AttributeError):
        raise _envelope_missing(job) from None
    return envelope.decode(k8s_unliteral(env["value"]))


def _envelope_missing(job: Mapping[str, Any]) -> EnvelopeError:
    name = (job.get("metadata") or {}).get("name")
    return EnvelopeMissingError(f"Job {name}: no container has the {envelope.ENV_VAR} variable")


def next_attempt(job: Mapping[str, Any]) -> tuple[dict[str, Any], envelope.Message]:
    """Build the Job for the next attempt of a failed Job's message, from the failed Job itself.

    The new Job keeps the old one's spec (so a template override used at submit time
    still applies) without what the server set (status, uid, resourceVersion,
    creationTimestamp, managedFields, generation, the selector, the controller's labels);
    its name, ``k8sq.io/attempt`` annotation and envelope carry the next attempt number.

    Returns:
        The new Job and the message it runs.

    Raises:
        EnvelopeError: the old Job carries no readable message.
    """
    message = read_message(job)
    following = envelope.Message(
        id=message.id,
        queue=message.queue,
        timestamp=message.timestamp,
        payload=message.payload,
        attempt=message.attempt + 1,
    )
    old_meta = job.get("metadata") or {}
    meta = {key: copy.deepcopy(old_meta[key]) for key in KEPT_METADATA if key in old_meta}
    meta["name"] = _naming.job_name(message.queue, message.id, following.attempt)
    meta["labels"] = {k: v for k, v in (meta.get("labels") or {}).items() if not _naming.is_server_label(k)}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k not in DROPPED_ANNOTATIONS}
    annotations[_naming.ATTEMPT_ANNOTATION] = str(following.attempt)
    meta["annotations"] = annotations

    spec = copy.deepcopy(job["spec"])
    if not spec.get("manualSelector"):
        # The server generates the selector from the new Job's uid; the old one would match no pod.
        spec.pop("selector", None)
        spec.pop("manualSelector", None)
    template_meta = spec["template"].setdefault("metadata", {})
    template_meta.pop("creationTimestamp", None)
    labels = {k: v for k, v in (template_meta.get("labels") or {}).items() if not _naming.is_server_label(k)}
    if labels:
        template_meta["labels"] = labels
    else:
        template_meta.pop("labels", None)
    from ._render import k8s_literal

    escaped = k8s_literal(envelope.encode(following))
    for container in spec["template"]["spec"].get("containers", []):
        for env in container.get("env") or []:
            if env.get("name") == envelope.ENV_VAR:
                env["value"] = escaped
    kind = {"apiVersion": job.get("apiVersion", "batch/v1"), "kind": job.get("kind", "Job")}
    return {**kind, "metadata": meta, "spec": spec}, following


def retry(
    kube: Kube,
    namespace: str,
    queue: str,
    *,
    limit: int | None = None,
    page_size: int = 500,
    workers: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[RetryResult]:
    """Re-run the queue's failed Jobs, oldest first (see :meth:`k8sq_render.Client.retry`)."""
    failed = jobs(kube, namespace, queue, state=JobState.FAILED, page_size=page_size)
    if limit is not None:
        failed = failed[: max(0, limit)]
    classes: dict[str, bool] = {}
    return parallel(lambda info: _retry_one(kube, info, classes), failed, workers=workers, progress=progress)


def _retry_one(kube: Kube, info: JobInfo, classes: dict[str, bool]) -> RetryResult:
    result = RetryResult(name=info.name, namespace=info.namespace, outcome="failed", message_id=info.message_id)
    try:
        # Read the Job whole (the list kept only a summary); this also finds Jobs deleted meanwhile.
        job = kube.get_job(info.namespace, info.name)
    except NotFound:
        return replace(result, outcome="gone")
    except K8sqError as exc:
        return replace(result, error=exc)
    try:
        body, message = next_attempt(job)
    except EnvelopeError as exc:
        return replace(result, error=exc)
    result = replace(result, message_id=message.id, new_name=body["metadata"]["name"], attempt=message.attempt)
    try:
        check_priority_classes(kube, [(body, f"message {message.id!r}")], classes)
        # Create first, delete after: a crash in between leaves the message in two Jobs, never in none.
        outcome, _ = create_job(kube, body, message.id)
        with contextlib.suppress(NotFound):
            kube.delete_job(info.namespace, info.name)
    except K8sqError as exc:
        return replace(result, error=exc)
    return replace(result, outcome="retried" if outcome == "created" else "already-retried")


# -- wait -------------------------------------------------------------------------


@dataclass(frozen=True)
class WaitResult:
    """How a Job ended, as :func:`wait` saw it.

    Attributes:
        name: The Job.
        namespace: Its namespace.
        state: ``succeeded`` or ``failed``; ``gone`` when it was deleted before it was
            seen finished; ``active`` when the wait timed out.
        deleted: The Job was deleted (e.g. by ``ttlSecondsAfterFinished``) while waiting.
        timed_out: The timeout passed before the Job finished (``state`` is ``active``).
    """

    name: str
    namespace: str
    state: JobState
    deleted: bool = False
    timed_out: bool = False
    job: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)


def wait(
    kube: Kube,
    namespace: str,
    name: str,
    *,
    timeout: float | None = None,
    clock: Callable[[], float] | None = None,
) -> WaitResult:
    """Wait until a Job finishes (see :meth:`k8sq_render.Client.wait`)."""
    now = clock or kube.policy.clock
    end = None if timeout is None else now() + timeout
    selector = _naming.name_selector(name)
    seen = False
    quiet = 0
    last: Mapping[str, Any] | None = None

    def result(state: JobState, **flags: bool) -> WaitResult:
        return WaitResult(name=name, namespace=namespace, state=state, job=last, **flags)

    while True:
        # List, then watch from the list's resourceVersion: no change between the two is missed.
        page = kube.list_jobs(namespace, field_selector=selector)
        items = page.get("items") or []
        if items:
            seen, last = True, items[0]
            if job_state(items[0]) is not JobState.ACTIVE:
                return result(job_state(items[0]))
        else:
            # Seen and then deleted, or not there at all: a Job reaped by its TTL looks
            # exactly like one never created, so neither is an exception.
            return result(JobState.GONE, deleted=seen)
        version = str((page.get("metadata") or {}).get("resourceVersion") or "")
        while True:
            remaining = None if end is None else end - now()
            if remaining is not None and remaining <= 0:
                return result(JobState.ACTIVE, timed_out=True)
            events = kube.watch_jobs(
                namespace,
                field_selector=selector,
                resource_version=version,
                timeout=300.0 if remaining is None else min(300.0, remaining),
            )
            try:
                outcome, version, count = _follow(events, version)
            except Gone:
                outcome, count = "relist", 1
            if outcome == "relist":
                break
            # A watch that ends at once, again and again (a proxy cutting it?), must not spin.
            quiet = 0 if count else quiet + 1
            if quiet:
                kube.policy.sleep(kube.policy.delay(quiet - 1, None))
            if isinstance(outcome, tuple):
                kind, obj = outcome
                last = obj
                state = job_state(obj)
                if kind == "DELETED":
                    return result(state if state is not JobState.ACTIVE else JobState.GONE, deleted=True)
                return result(state)


def _follow(events: Iterator[dict[str, Any]], version: str) -> tuple[Any, str, int]:
    """Read watch events until the Job finishes, is deleted, or the watch must start over.

    Returns ``((type, job), version, n)`` for a finished or deleted Job, ``("relist", version, n)``
    when the resource version expired, and ``(None, version, n)`` when the stream just
    ended; ``n`` counts the events read.
    """
    count = 0
    for event in events:
        count += 1
        kind = event.get("type")
        obj = event.get("object") or {}
        if kind == "ERROR":
            code = obj.get("code")
            if code == 410:
                return "relist", version, count
            raise ApiError(
                verb="watch",
                resource="jobs",
                status=int(code or 0),
                reason=str(obj.get("reason") or ""),
                message=str(obj.get("message") or json.dumps(obj)),
            )
        version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
        if kind == "BOOKMARK":
            continue
        if kind == "DELETED" or job_state(obj) is not JobState.ACTIVE:
            return (kind, obj), version, count
    return None, version, count
