"""Values → Job manifests: plan each message, render the template, check the result.

:func:`plan` decides everything about a Job that is not template text (name, labels,
annotations, the envelope, escaping) exactly once; the template only lays it out;
:func:`render_plan` parses what the template wrote, checks it against the bundled
Kubernetes Job schema and against the plan, and serialises it canonically. The same
values always give the same bytes: nothing here reads a clock or a random source.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2

from . import _fastpath, _naming, _schema, _templates, _values, _yaml
from .envelope import ENV_VAR, Message, encode
from .errors import K8sqWarning, ManifestError, MessageTooLargeError, Problem, ValuesError

#: etcd refuses objects over ~1.5 MiB and the API server requests over 3 MiB; a Job
#: also becomes pods of about the same size, so stay well below.
MAX_MANIFEST_BYTES = 1024 * 1024

TemplateDirs = Sequence[str | os.PathLike[str]]

ARGOCD_HOOKS = ("PreSync", "Sync", "PostSync", "SyncFail")


@dataclass(frozen=True)
class GitOps:
    """Output meant to be committed and applied by Argo CD or Flux.

    * A digest of the Job spec is part of each Job name: a changed Job is a new
      object, never an update the API server refuses (``spec.template`` is immutable).
    * ``ttlSecondsAfterFinished`` is left out: a Job deleted by its TTL would show as
      missing and be created again on the next sync.

    Attributes:
        argocd_hook: When set (``PreSync``, ``Sync``, ``PostSync``, ``SyncFail``), the Jobs
            become Argo CD hooks of that phase, replaced at each sync.
    """

    argocd_hook: str | None = None

    def __post_init__(self) -> None:
        if self.argocd_hook is not None and self.argocd_hook not in ARGOCD_HOOKS:
            raise ValueError(f"argocd_hook must be one of {', '.join(ARGOCD_HOOKS)}")


@dataclass(frozen=True)
class JobPlan:
    """Everything decided about one Job before its template runs."""

    version: str
    queue: Mapping[str, Any]
    message: _values.MessageSpec
    attempt: int
    name: str
    namespace: str
    labels: dict[str, str]
    annotations: dict[str, str]
    pod_labels: dict[str, str]
    pod_annotations: dict[str, str]
    priority_class: str | None
    envelope: str
    env: list[dict[str, str]]
    command: list[str] | None
    args: list[str] | None
    source: str | None
    gitops: GitOps | None = None
    queue_key: str = ""  # identifies everything in the context that is the queue's, not the message's

    @property
    def where(self) -> str:
        """The message's place, for error texts (``values.yaml /messages/3``)."""
        return f"{self.source or '<values>'} {self.message.pointer}"

    def context(self) -> dict[str, Any]:
        """Return the template context (plain data only)."""
        return {
            "version": self.version,
            "queue": self.queue,
            "message": {
                "id": self.message.id,
                "timestamp": self.message.timestamp,
                "priority": self.message.priority,
                "payload": self.message.payload,
                "attempt": self.attempt,
            },
            "job": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": self.labels,
                "annotations": self.annotations,
                "podLabels": self.pod_labels,
                "podAnnotations": self.pod_annotations,
                "priorityClassName": self.priority_class,
                "env": self.env,
                "command": self.command,
                "args": self.args,
            },
        }


@dataclass(frozen=True)
class Manifest:
    """One rendered, checked Job.

    Attributes:
        name: ``metadata.name``.
        namespace: ``metadata.namespace``.
        message_id: The id of the message it runs.
        obj: The Job as plain data (what the API server receives).
        text: The Job as YAML (what ``k8sq render`` writes).
    """

    name: str
    namespace: str
    message_id: str
    obj: dict[str, Any]
    text: str


def k8s_literal(text: str) -> str:
    """Escape ``text`` so Kubernetes' ``$(VAR)`` expansion gives it back unchanged.

    Kubernetes turns ``$$`` into ``$`` and ``$(NAME)`` into a variable's value in env
    values, ``command`` and ``args``; doubling every ``$`` makes both a no-op.

    >>> k8s_literal("cost: $(PRICE) $$")
    'cost: $$(PRICE) $$$$'
    """
    return text.replace("$", "$$")


class Planner:
    """Plans the Jobs of one queue: what is the same for every message is decided once."""

    def __init__(self, values: _values.Values, *, attempt: int = 1, gitops: GitOps | None = None) -> None:
        queue = dict(values.queue)
        extra_annotations: dict[str, str] = {}
        if gitops is not None:
            queue.pop("ttlSecondsAfterFinished", None)
            warnings.warn(
                "GitOps output leaves out ttlSecondsAfterFinished: a Job deleted by its TTL would show as "
                "missing and be created again at the next sync",
                K8sqWarning,
                stacklevel=3,
            )
            if gitops.argocd_hook:
                extra_annotations = {
                    "argocd.argoproj.io/hook": gitops.argocd_hook,
                    "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
                }
        self.values = values
        self.queue = queue
        self.attempt = attempt
        self.gitops = gitops
        self.name = queue["name"]
        self.user_annotations = {**extra_annotations, **queue.get("annotations", {})}
        self.pod_annotations = dict(queue.get("annotations", {}))
        self.labels = {**_naming.queue_labels(self.name, values.version), **queue.get("labels", {})}
        self.user_env = [{"name": k, "value": k8s_literal(v)} for k, v in queue.get("env", {}).items()]
        self.command = [k8s_literal(part) for part in queue["command"]] if "command" in queue else None
        self.args = [k8s_literal(part) for part in queue["args"]] if "args" in queue else None
        self.classes = queue.get("priorityClasses", {})
        self.key = repr(
            (values.version, queue, self.labels, self.pod_annotations, self.command, self.args, self.user_env)
        )

    def plan(self, spec: _values.MessageSpec) -> JobPlan:
        """Plan the Job of one message."""
        envelope = encode(
            Message(id=spec.id, queue=self.name, timestamp=spec.timestamp, payload=spec.payload, attempt=self.attempt)
        )
        annotations = {
            _naming.QUEUE_ANNOTATION: self.name,
            _naming.MESSAGE_ID_ANNOTATION: spec.id,
            _naming.VERSION_ANNOTATION: self.values.version,
            _naming.ATTEMPT_ANNOTATION: str(self.attempt),
        }
        if spec.timestamp is not None:
            annotations[_naming.TIMESTAMP_ANNOTATION] = str(spec.timestamp)
        if spec.priority is not None:
            annotations[_naming.PRIORITY_ANNOTATION] = spec.priority
        annotations.update(self.user_annotations)
        return JobPlan(
            version=self.values.version,
            queue=self.queue,
            message=spec,
            attempt=self.attempt,
            name=_naming.job_name(self.name, spec.id, self.attempt),
            namespace=self.queue["namespace"],
            labels=self.labels,
            annotations=annotations,
            pod_labels=self.labels,
            pod_annotations=self.pod_annotations,
            priority_class=self.classes[spec.priority] if spec.priority is not None else None,
            envelope=envelope,
            env=[*self.user_env, {"name": ENV_VAR, "value": k8s_literal(envelope)}],
            command=self.command,
            args=self.args,
            source=self.values.source,
            gitops=self.gitops,
            queue_key=self.key,
        )


def plan(values: _values.Values, *, attempt: int = 1, gitops: GitOps | None = None) -> list[JobPlan]:
    """Plan one Job per message of validated ``values`` (see :class:`GitOps` for what it changes)."""
    planner = Planner(values, attempt=attempt, gitops=gitops)
    return [planner.plan(spec) for spec in values.messages]


def render_plan(job: JobPlan, template: jinja2.Template) -> Manifest:
    """Render one planned Job and check it.

    Raises:
        TemplateError: the template failed (file and line named).
        ManifestError: the output is not YAML, not a valid Job, or drops what the plan
            decided (name, namespace, labels, envelope).
        MessageTooLargeError: the Job is too large to store.
    """
    filename = str(template.filename)
    filled = _fastpath.render(template, job)
    if filled is not None:
        obj: Any = filled.obj
    else:
        text = _templates.render(template, job.context())
        try:
            obj = _yaml.load(text)
        except _yaml.YamlError as exc:
            line = f" at rendered line {exc.line}" if exc.line else ""
            raise ManifestError(
                template=filename, message=f"not valid YAML{line}: {exc.message}", source=job.where
            ) from None
    if not isinstance(obj, dict):
        raise ManifestError(template=filename, message="must render one YAML mapping (a Job)", source=job.where)
    problems = _schema.check_job(obj, filled.json if filled is not None else None) or _plan_kept(job, obj)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ManifestError(template=filename, path=first.path, message=first.message + more, source=job.where)
    size = len((filled.json if filled is not None else _fastpath.to_json(obj)).encode("utf-8"))
    if size > MAX_MANIFEST_BYTES:
        raise MessageTooLargeError(where=job.where, size=size, limit=MAX_MANIFEST_BYTES, what="the rendered Job")
    name = job.name
    dumped = filled.text if filled is not None else None
    if job.gitops is not None:
        spec = json.dumps(obj["spec"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        name = _naming.job_name(job.queue["name"], job.message.id, job.attempt, variant=spec)
        obj["metadata"]["name"] = name
        dumped = None
    return Manifest(
        name=name,
        namespace=job.namespace,
        message_id=job.message.id,
        obj=obj,
        text=dumped if dumped is not None else _yaml.dump(obj),
    )


def _plan_kept(job: JobPlan, obj: dict[str, Any]) -> list[Problem]:
    """The submitter and the queries rely on these; an override must not drop them."""
    meta = obj["metadata"]
    problems = []
    if meta.get("name") != job.name:
        problems.append(Problem("/metadata/name", "must be {{ job.name }} (submit and retry find Jobs by it)"))
    if meta.get("namespace") != job.namespace:
        problems.append(Problem("/metadata/namespace", "must be {{ job.namespace }}"))
    for key, value in job.labels.items():
        if meta.get("labels", {}).get(key) != value:
            problems.append(Problem("/metadata/labels", f"must keep label {key}={value} (queries select by it)"))
    envs = [
        env.get("value")
        for container in obj["spec"]["template"]["spec"].get("containers", [])
        for env in container.get("env", [])
        if env.get("name") == ENV_VAR
    ]
    if k8s_literal(job.envelope) not in envs:
        problems.append(
            Problem("/spec/template/spec/containers", f"a container must receive {ENV_VAR} from {{{{ job.env }}}}")
        )
    return problems


def render_values(
    values: _values.Values, *, template_dirs: TemplateDirs = (), attempt: int = 1, gitops: GitOps | None = None
) -> list[Manifest]:
    """Render every message of validated values (see :func:`render`)."""
    template = _templates.job_template(values.version, template_dirs)
    return [render_plan(job, template) for job in plan(values, attempt=attempt, gitops=gitops)]


Sources = Iterable[str | os.PathLike[str] | _values.Values] | str | os.PathLike[str] | _values.Values


def render(sources: Sources, *, template_dirs: TemplateDirs = (), gitops: GitOps | None = None) -> list[Manifest]:
    """Render values files (or validated :class:`Values`) into Job manifests.

    All sources are validated before anything is rendered, and every problem of every
    file is reported together.

    Args:
        sources: One or more values files or :class:`Values`.
        template_dirs: Directories searched before the packaged templates.
        gitops: Render for Argo CD / Flux (see :class:`GitOps`); ``None`` for plain Jobs.

    Returns:
        One manifest per message, in file and document order.

    Raises:
        UnknownVersionError, ValuesError: the values are not valid (nothing is rendered).
        TemplateNotFoundError, TemplateError, ManifestError, MessageTooLargeError:
            rendering failed; the error names the template and the manifest path.
    """
    return list(iter_render(sources, template_dirs=template_dirs, gitops=gitops))


def iter_render(
    sources: Sources, *, template_dirs: TemplateDirs = (), gitops: GitOps | None = None
) -> Iterator[Manifest]:
    """Like :func:`render`, one manifest at a time: memory stays flat for any number of messages.

    Every source is validated (all problems reported together) before the first manifest.
    """
    opened = check_all(sources)
    # Within one file, distinct message ids give distinct names; across files, remember them.
    seen: set[tuple[str, str]] | None = set() if len(opened) > 1 else None
    for source in opened:
        if isinstance(source, _values.Values):
            values, specs = source, iter(source.messages)
        else:
            values, specs = source.values(), source.specs()
        template = _templates.job_template(values.version, template_dirs)
        planner = Planner(values, gitops=gitops)
        for spec in specs:
            manifest = render_plan(planner.plan(spec), template)
            key = (manifest.namespace, manifest.name)
            if seen is None:
                yield manifest
                continue
            if key in seen:
                problem = Problem(
                    spec.pointer,
                    f"message {manifest.message_id!r} of this queue is also in another values file "
                    f"(Job {manifest.name})",
                    file=values.source,
                )
                raise ValuesError(problems=[problem])
            seen.add(key)
            yield manifest


def check_all(sources: Sources) -> list[_values.ValuesFile | _values.Values]:
    """Open and check every source; raise one error listing every problem of every file."""
    if isinstance(sources, (str, os.PathLike, _values.Values)):
        sources = [sources]
    opened: list[_values.ValuesFile | _values.Values] = []
    problems: list[Problem] = []
    for source in sources:
        if isinstance(source, _values.Values):
            opened.append(source)
            continue
        try:
            values_file = _values.open_values(source)
            problems += values_file.check()
            opened.append(values_file)
        except ValuesError as exc:
            problems.extend(exc.problems)
    if not problems and len(opened) > 1:
        problems = _across_files(opened)
    if problems:
        raise ValuesError(problems=problems)
    return opened


def _across_files(opened: list[_values.ValuesFile | _values.Values]) -> list[Problem]:
    """Messages of one queue given in more than one values file (or the same file twice)."""
    first: dict[tuple[str, str, str], tuple[int, str]] = {}
    problems = []
    for index, source in enumerate(opened):
        values = source if isinstance(source, _values.Values) else source.values()
        specs = values.messages if isinstance(source, _values.Values) else source.specs()
        for spec in specs:
            key = (values.queue["namespace"], values.queue["name"], spec.id)
            where = f"{values.source or '<values>'} {spec.pointer}"
            seen_in, seen_at = first.setdefault(key, (index, where))
            if seen_in != index:
                twice = " (the same file is given twice)" if seen_at == where else ""
                text = f"message {spec.id!r} of this queue is also at {seen_at}{twice}"
                problems.append(Problem(spec.pointer, text, file=values.source))
    return problems
