"""Submit: render through the one pipeline, then create the Jobs, idempotently.

The submitter never renders by itself: values go through the same stages as
``k8sq render`` (validate → plan → render → check). Only a values document given as a
mapping (a message built in code) gets an id and a timestamp generated for the messages
that have none, because a message pushed from code is a new message each time; a
values *file* is submitted exactly as ``k8sq render`` renders it, so submitting the same
file twice creates nothing new.

Creating is idempotent: the Job name is derived from the queue, the message id and the
attempt, so a create that meets 409 reads the Job that exists and compares its
``k8sq.io/message-id`` annotation: the same message means "already submitted", another
one is a :class:`~k8sq_render.errors.ConflictError`.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import _naming, _render, _values
from ._kube import Kube, parallel
from .errors import ConflictError, K8sqError, NotFound, PriorityClassMissing

#: What became of one message: a Job was created, one for the same message existed, or it failed.
Outcome = Literal["created", "existed", "failed"]
#: What :func:`submit` takes: values files, validated values, or values documents built in code.
Source = str | os.PathLike[str] | _values.Values | Mapping[str, Any]


@dataclass(frozen=True)
class SubmitResult:
    """What became of one message.

    Attributes:
        name: The Job's name.
        namespace: The Job's namespace.
        message_id: The message's id (generated, for a mapping without one).
        outcome: ``created``, ``existed`` (a Job for this message was there already) or ``failed``.
        error: Why it failed (``None`` unless ``outcome`` is ``failed``).
    """

    name: str
    namespace: str
    message_id: str
    outcome: Outcome
    error: K8sqError | None = None

    @property
    def ok(self) -> bool:
        """True unless the message failed."""
        return self.outcome != "failed"


def with_generated_ids(
    document: Mapping[str, Any],
    *,
    now: Callable[[], float] = time.time,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> dict[str, Any]:
    """Return a copy of a values document where every message has an id and a timestamp.

    Messages that give them keep theirs; anything that is not a message mapping is
    left for validation to report.

    >>> doc = with_generated_ids({"message": {"payload": {}}}, now=lambda: 1.5, new_id=lambda: "m1")
    >>> doc["message"]
    {'payload': {}, 'id': 'm1', 'timestamp': 1}
    """
    result = copy.deepcopy(dict(document))
    messages = [result["message"]] if "message" in result else result.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, dict):
            message.setdefault("id", new_id())
            message.setdefault("timestamp", int(now()))
    return result


def manifests(
    sources: Source | Iterable[Source],
    *,
    template_dirs: _render.TemplateDirs = (),
    now: Callable[[], float] = time.time,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> list[_render.Manifest]:
    """Render ``sources`` exactly as ``k8sq render`` does (see :func:`submit` for what they may be)."""
    single = isinstance(sources, (str, os.PathLike, _values.Values, Mapping))
    items: list[Source] = [sources] if single else list(sources)  # type: ignore[list-item,arg-type]
    prepared: list[str | Path | _values.Values] = []
    for item in items:
        if isinstance(item, Mapping):
            prepared.append(_values.validate(with_generated_ids(item, now=now, new_id=new_id)))
        elif isinstance(item, _values.Values):
            prepared.append(item)
        else:
            prepared.append(Path(item))
    return _render.render(prepared, template_dirs=template_dirs)


def priority_class(job: Mapping[str, Any]) -> str | None:
    """Return the PriorityClass a Job's pods name, if any."""
    name = job.get("spec", {}).get("template", {}).get("spec", {}).get("priorityClassName")
    return name if isinstance(name, str) and name else None


def check_priority_classes(
    kube: Kube, jobs: Iterable[tuple[Mapping[str, Any], str | None]], known: dict[str, bool] | None = None
) -> None:
    """Check that every PriorityClass the Jobs' pods name exists (each class is read once).

    Args:
        kube: The connection.
        jobs: ``(job, where)`` pairs; ``where`` names the message in errors.
        known: A cache shared by the caller (class name → exists).

    Raises:
        PriorityClassMissing: a class does not exist (the first such Job is named).
    """
    cache = {} if known is None else known
    for job, where in jobs:
        name = priority_class(job)
        if name is None:
            continue
        if name not in cache:
            try:
                kube.get_priority_class(name)
                cache[name] = True
            except NotFound:
                cache[name] = False
        if not cache[name]:
            raise PriorityClassMissing(name=name, job=job["metadata"]["name"], where=where)


def create_job(kube: Kube, job: Mapping[str, Any], message_id: str) -> tuple[Outcome, dict[str, Any]]:
    """Create a Job, or find the one that already runs this message.

    Returns:
        ``("created", job)`` or ``("existed", job)`` with the Job as the server has it.

    Raises:
        ConflictError: a Job of that name runs another message.
        ApiError, ClusterUnreachable: the server refused or could not be reached.
    """
    namespace = job["metadata"]["namespace"]
    name = job["metadata"]["name"]
    # A Job deleted between our 409 and our read (its TTL ran out) is created again;
    # a name that keeps flipping between existing and not is a conflict, not a loop.
    for _ in range(3):
        try:
            return "created", kube.create_job(namespace, job)
        except ConflictError:
            pass
        try:
            existing = kube.get_job(namespace, name)
        except NotFound:
            continue
        existing_id = (existing.get("metadata", {}).get("annotations") or {}).get(_naming.MESSAGE_ID_ANNOTATION)
        if existing_id == message_id:
            return "existed", existing
        raise ConflictError(
            verb="create",
            resource="jobs",
            name=name,
            namespace=namespace,
            reason="AlreadyExists",
            message="exists for another message",
            message_id=message_id,
            existing_id=existing_id,
        )
    raise ConflictError(
        verb="create",
        resource="jobs",
        name=name,
        namespace=namespace,
        reason="AlreadyExists",
        message="the Job was deleted and recreated by someone else while we tried to create it",
    )


def submit(
    kube: Kube,
    sources: Source | Iterable[Source],
    *,
    template_dirs: _render.TemplateDirs = (),
    workers: int = 16,
    progress: Callable[[int, int], None] | None = None,
    now: Callable[[], float] = time.time,
    new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
) -> list[SubmitResult]:
    """Render ``sources`` and create one Job per message (see :meth:`k8sq_render.Client.submit`)."""
    rendered = manifests(sources, template_dirs=template_dirs, now=now, new_id=new_id)
    check_priority_classes(kube, ((m.obj, f"message {m.message_id!r}") for m in rendered))

    def create(manifest: _render.Manifest) -> SubmitResult:
        try:
            outcome, _ = create_job(kube, manifest.obj, manifest.message_id)
        except K8sqError as exc:
            return SubmitResult(manifest.name, manifest.namespace, manifest.message_id, "failed", exc)
        return SubmitResult(manifest.name, manifest.namespace, manifest.message_id, outcome)

    return parallel(create, rendered, workers=workers, progress=progress)


def summary(results: Sequence[SubmitResult]) -> str:
    """Return ``"3 created, 1 existed, 0 failed"`` for a list of results."""
    counts = {outcome: 0 for outcome in ("created", "existed", "failed")}
    for result in results:
        counts[result.outcome] += 1
    return ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
