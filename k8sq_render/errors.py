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

    def __init__(self, *, name: str, searched: Sequence[str]) -> None:
        self.name = name
        self.searched = tuple(searched)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"template {self.name!r} not found; searched: {', '.join(self.searched)}"


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
