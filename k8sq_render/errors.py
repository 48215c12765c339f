"""Errors raised by k8sq-render.

Every error derives from :class:`K8sqError`. Mistakes a user can fix (a bad values
file, a broken template override, a message too large to run) derive from
:class:`UserError`; the command line prints those as one line per problem, without a
traceback. Each class takes structured, keyword-only fields and builds its own text.

This module imports only the standard library: worker code reading its message in a
pod imports it through :mod:`k8sq_render.envelope`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


class K8sqError(Exception):
    """Base class of every error k8sq-render raises on purpose."""


class UserError(K8sqError):
    """A mistake in the user's input: reported as text, never as a traceback."""

    def lines(self) -> list[str]:
        """Return the problem(s) as lines, one per problem (the CLI prints these)."""
        return str(self).splitlines() or [type(self).__name__]


@dataclass(frozen=True)
class Problem:
    """One problem in a values document, with where it is.

    Attributes:
        path: JSON pointer into the values document (``/queue/env/PORT``); ``""`` is the
            whole document.
        message: What is wrong, in words a user can act on.
        file: The values file, when the values came from one.
        line: 1-based line in ``file``, when known.
    """

    path: str
    message: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or "<values>"
        if self.line is not None:
            where += f":{self.line}"
        return f"{where}: {self.path or '/'}: {self.message}"


class ValuesError(UserError):
    """The values did not pass validation: carries every problem found, not just the first."""

    def __init__(self, *, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def lines(self) -> list[str]:
        """Return a summary line followed by one line per problem."""
        files = sorted({p.file or "<values>" for p in self.problems})
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        summary = f"{', '.join(files)}: {count} {noun} in the values"
        return [summary, *(str(p) for p in self.problems)]


class UnknownVersionError(UserError):
    """The values ask for a version that has no templates and schema."""

    def __init__(self, *, version: object, available: Sequence[str], file: str | None = None) -> None:
        self.version = version
        self.available = tuple(available)
        self.file = file
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.file or '<values>'}: /version: unknown version {self.version!r}; "
            f"versions that exist: {', '.join(self.available)}"
        )


class TemplateNotFoundError(UserError):
    """No directory of the template search path holds the template."""

    def __init__(self, *, name: str, searched: Sequence[str], what: str = "template") -> None:
        self.name = name
        self.searched = tuple(searched)
        self.what = what
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.searched:
            return f"{self.what} {self.name!r} not found (or not a directory)"
        return f"{self.what} {self.name!r} not found; searched: {', '.join(self.searched)}"


class TemplateError(UserError):
    """A template failed to compile or render (syntax, undefined name, sandbox refusal)."""

    def __init__(self, *, template: str, message: str, line: int | None = None) -> None:
        self.template = template
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.template if self.line is None else f"{self.template}:{self.line}"
        return f"{where}: {self.message}"


class ManifestError(UserError):
    """A rendered manifest is not a valid Job (bad YAML or fails the Kubernetes schema)."""

    def __init__(self, *, template: str, message: str, path: str = "", source: str | None = None) -> None:
        self.template = template
        self.path = path
        self.message = message
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        origin = f" (message from {self.source})" if self.source else ""
        return f"{self.template}: rendered Job {self.path or '/'}: {self.message}{origin}"


class MessageTooLargeError(UserError):
    """A message cannot travel in its pod: its envelope or its Job is over a hard limit."""

    def __init__(self, *, where: str, size: int, limit: int, what: str) -> None:
        self.where = where
        self.size = size
        self.limit = limit
        self.what = what
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.where}: {self.what} is {self.size} bytes, over the limit of {self.limit} bytes"


class OutputError(UserError):
    """The output directory cannot be written as asked."""

    def __init__(self, *, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EnvelopeError(K8sqError):
    """The message envelope in the pod's environment cannot be read."""


class EnvelopeMissingError(EnvelopeError):
    """The envelope variable is not set: the process does not run in a k8sq Job."""


class EnvelopeFormatError(EnvelopeError):
    """The envelope variable is not valid JSON."""


class EnvelopeShapeError(EnvelopeError):
    """The envelope is JSON but not a message: a field is missing or of the wrong type."""


class EnvelopeVersionError(EnvelopeError):
    """The envelope was written by a newer (or unknown) envelope format."""


class KubeconfigError(UserError):
    """No usable cluster configuration: the kubeconfig is missing or broken, or the context unknown."""

    def __init__(self, *, message: str, path: str | None = None, context: str | None = None) -> None:
        self.message = message
        self.path = path
        self.context = context
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.path or "kubeconfig"
        if self.context:
            where += f" (context {self.context!r})"
        return f"{where}: {self.message}"


class ClusterError(K8sqError):
    """Talking to the Kubernetes API failed; the subclasses say how."""


class ClusterUnreachable(ClusterError):
    """The API server could not be reached, or kept failing, within the retry budget."""

    def __init__(self, *, host: str, attempts: int, message: str) -> None:
        self.host = host
        self.attempts = attempts
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        tries = "1 attempt" if self.attempts == 1 else f"{self.attempts} attempts"
        return f"{self.host}: no answer after {tries}: {self.message}"


class ApiError(ClusterError):
    """The API server refused a request; carries its status code and its own message.

    Attributes:
        verb: What was asked (``create``, ``get``, ``list``, ``watch``, ``delete``).
        resource: The resource, as RBAC names it (``jobs``, ``priorityclasses``).
        status: The HTTP status code (0 when the request never got an answer).
        message: The API server's message (``Status.message``), or the HTTP reason.
        reason: The API server's machine-readable reason (``Invalid``, ``Forbidden``), if any.
        name: The object's name, when the request was about one object.
        namespace: The namespace, for namespaced resources.
    """

    def __init__(
        self,
        *,
        verb: str,
        resource: str,
        status: int,
        message: str,
        reason: str = "",
        name: str | None = None,
        namespace: str | None = None,
    ) -> None:
        self.verb = verb
        self.resource = resource
        self.status = status
        self.message = " ".join(message.split())
        self.reason = reason
        self.name = name
        self.namespace = namespace
        super().__init__(str(self))

    def _target(self) -> str:
        target = f"{self.verb} {self.resource}"
        if self.name:
            target += f"/{self.name}"
        if self.namespace:
            target += f" in namespace {self.namespace}"
        return target

    def __str__(self) -> str:
        code = f"{self.status} {self.reason}".rstrip()
        return f"{self._target()}: {code}: {self.message}"


class PermissionDenied(ApiError):
    """403: the credentials in use may not do this (see ``deploy/rbac.yaml``)."""

    def __str__(self) -> str:
        return (
            f"{self._target()}: permission denied: {self.message} "
            f"(grant '{self.verb}' on '{self.resource}'; deploy/rbac.yaml has the Role the submitter needs)"
        )


class NotFound(ApiError):
    """404: the object (or its namespace) does not exist."""


class Gone(ApiError):
    """410: a list continue token or watch resource version has expired."""


class ConflictError(ApiError):
    """409: the object exists already, or changed under us.

    When a Job of the same name belongs to another message, ``message_id`` is the
    message we tried to submit and ``existing_id`` the one the Job runs.
    """

    def __init__(
        self,
        *,
        verb: str,
        resource: str,
        message: str,
        name: str | None = None,
        namespace: str | None = None,
        reason: str = "Conflict",
        message_id: str | None = None,
        existing_id: str | None = None,
    ) -> None:
        self.message_id = message_id
        self.existing_id = existing_id
        super().__init__(
            verb=verb, resource=resource, status=409, message=message, reason=reason, name=name, namespace=namespace
        )

    def __str__(self) -> str:
        if self.message_id is None:
            return super().__str__()
        return (
            f"{self._target()}: a Job of this name already exists for message {self.existing_id!r}, "
            f"not for message {self.message_id!r}"
        )


class PriorityClassMissing(UserError):
    """A message names a PriorityClass the cluster does not have: its pods could never start."""

    def __init__(self, *, name: str, job: str, where: str | None = None) -> None:
        self.name = name
        self.job = job
        self.where = where
        super().__init__(str(self))

    def __str__(self) -> str:
        origin = f"{self.where}: " if self.where else ""
        return (
            f"{origin}PriorityClass {self.name!r} does not exist in the cluster; priority admission would refuse "
            f"every pod of Job {self.job}, so it was not created"
        )


class K8sqWarning(UserWarning):
    """Something the user should know that does not stop the work (the CLI prints it)."""
