"""Values documents: loading (YAML or JSON) and the typed, validated model.

Stages, each testable alone: :func:`read_document` (text → data, no silent type
changes) → :func:`validate` (version, data checks, schema, rules a schema cannot say;
every problem collected) → :class:`Values` (defaults applied, one :class:`MessageSpec`
per message, ids derived where not given).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _naming, _schema, _yaml
from . import _resources
from .envelope import ENV_VAR
from .errors import Problem, UnknownVersionError, ValuesError

#: A document with more values than this (after YAML aliases are expanded) is refused,
#: so a few lines of nested aliases cannot make validation run for ever.
MAX_VALUES = 1_000_000


@dataclass(frozen=True)
class MessageSpec:
    """One message of a values document, ready to plan.

    Attributes:
        pointer: Where it is in the document (``/message`` or ``/messages/3``).
        id: The given id, or one derived from the content.
        id_given: False when ``id`` was derived.
        timestamp: Unix seconds, or ``None`` (never invented).
        priority: A key of ``queue.priorityClasses``, or ``None``.
        payload: The message body.
    """

    pointer: str
    id: str
    id_given: bool
    timestamp: int | None
    priority: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Values:
    """A validated values document with defaults applied.

    Attributes:
        version: The template/schema version (``v1``).
        queue: The ``queue`` mapping, defaults filled in.
        messages: One spec per message, in document order.
        source: The file it came from (``None`` for in-memory values).
    """

    version: str
    queue: Mapping[str, Any]
    messages: tuple[MessageSpec, ...]
    source: str | None = field(default=None)


def read_document(path: str | Path) -> Any:
    """Read a values file: JSON when it ends in ``.json``, YAML otherwise.

    Raises:
        ValuesError: the file cannot be read or parsed (with file and line).
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValuesError(problems=[Problem("", "file not found", file=name)]) from None
    except UnicodeDecodeError as exc:
        raise ValuesError(problems=[Problem("", f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=name)]) from None
    except OSError as exc:
        raise ValuesError(problems=[Problem("", f"cannot read: {exc.strerror}", file=name)]) from None
    return parse(text, source=name, as_json=name.endswith(".json"))


def parse(text: str, *, source: str | None = None, as_json: bool = False) -> Any:
    """Parse values text (see :func:`read_document`)."""
    if as_json:
        try:
            return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ValuesError(problems=[Problem("", f"invalid JSON: {exc.msg}", file=source, line=exc.lineno)]) from None
        except ValueError as exc:
            raise ValuesError(problems=[Problem("", str(exc), file=source)]) from None
    try:
        return _yaml.load(text)
    except _yaml.YamlError as exc:
        raise ValuesError(problems=[Problem("", f"invalid YAML: {exc.message}", file=source, line=exc.line)]) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"invalid JSON: duplicate key {key!r}")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON: {name} is not a JSON number")


def validate(document: Any, *, source: str | None = None) -> Values:
    """Validate a values document and return the typed model.

    Raises:
        UnknownVersionError: ``version`` names no packaged version.
        ValuesError: every problem found (scalars to quote, schema errors, bad priorities,
            reserved names, duplicate message ids), each with its JSON path.
    """
    if not isinstance(document, dict):
        raise ValuesError(problems=[Problem("", "a values document must be a mapping", file=source)])
    version = document.get("version")
    if version is None:
        raise ValuesError(problems=[Problem("/version", f"is required (one of: {', '.join(_resources.versions())})", file=source)])
    if version not in _resources.versions():
        raise UnknownVersionError(version=version, available=_resources.versions(), file=source)

    problems = list(_scan(document))
    problems += _schema.check_values(document, version)
    problems += _rules(document)
    if problems:
        unique = {(p.path, p.message): p for p in problems}
        ordered = sorted(unique.values(), key=lambda p: (p.path, p.message))
        raise ValuesError(problems=[_located(p, source) for p in ordered])

    full = _schema.apply_defaults(document, version)
    specs = tuple(_specs(full))
    problems = _duplicate_ids(specs)
    if problems:
        raise ValuesError(problems=[_located(p, source) for p in problems])
    return Values(version=version, queue=full["queue"], messages=specs, source=source)


def load(path: str | Path) -> Values:
    """Read and validate one values file."""
    return validate(read_document(path), source=str(path))


def _located(problem: Problem, source: str | None) -> Problem:
    return Problem(problem.path, problem.message, file=source, line=problem.line)


def _scan(document: Any) -> Iterator[Problem]:
    """Walk every value: scalars to quote, numbers JSON cannot carry, broken Unicode."""
    budget = [MAX_VALUES]
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            yield Problem("", f"the document holds more than {MAX_VALUES} values (nested YAML aliases?)")
            return
        if isinstance(value, _yaml.Ambiguous):
            yield Problem(
                path,
                f"plain value {value} is read differently by YAML 1.1 and YAML 1.2 "
                f"(as a boolean, an octal or hex number, ...); write it in quotes: {json.dumps(str(value))}",
                line=value.line,
            )
        elif isinstance(value, str):
            if any("\ud800" <= ch <= "\udfff" for ch in value):
                yield Problem(path, "contains an unpaired UTF-16 surrogate, which is not valid Unicode")
        elif isinstance(value, float) and not math.isfinite(value):
            yield Problem(path, f"{value} is not a finite number")
        elif isinstance(value, dict):
            for key in value:
                if any("\ud800" <= ch <= "\udfff" for ch in key):
                    yield Problem(path, "a key contains an unpaired UTF-16 surrogate")
            stack.extend((path + _schema.pointer([k]), v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((path + _schema.pointer([i]), v) for i, v in reversed(list(enumerate(value))))


def _messages(document: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if "message" in document:
        return [("/message", document["message"])]
    items = document.get("messages")
    return [(f"/messages/{i}", m) for i, m in enumerate(items)] if isinstance(items, list) else []


def _rules(document: Mapping[str, Any]) -> Iterator[Problem]:
    """Rules the schema cannot express, checked only where the types allow."""
    if ("message" in document) == ("messages" in document):
        which = "both" if "message" in document else "neither"
        yield Problem("", f"give exactly one of 'message' or 'messages' (found {which})")
    queue = document.get("queue")
    queue = queue if isinstance(queue, dict) else {}
    env = queue.get("env")
    if isinstance(env, dict) and ENV_VAR in env:
        yield Problem(f"/queue/env/{ENV_VAR}", "this name is reserved for the message envelope")
    for field_name in ("labels", "annotations"):
        entries = queue.get(field_name)
        if isinstance(entries, dict):
            for key in entries:
                if _naming.is_reserved_key(key):
                    yield Problem(f"/queue/{field_name}" + _schema.pointer([key]), "this key is set by k8sq-render itself")
    classes = queue.get("priorityClasses")
    known = sorted(classes) if isinstance(classes, dict) else []
    for where, message in _messages(document):
        priority = message.get("priority") if isinstance(message, dict) else None
        if isinstance(priority, str) and priority not in known:
            choices = ", ".join(known) if known else "none: /queue/priorityClasses is empty or missing"
            yield Problem(f"{where}/priority", f"unknown priority {priority!r} (known: {choices})")


def _specs(document: Mapping[str, Any]) -> Iterator[MessageSpec]:
    for where, message in _messages(document):
        payload = message["payload"]
        timestamp = message.get("timestamp")
        priority = message.get("priority")
        given = message.get("id")
        yield MessageSpec(
            pointer=where,
            id=given if given is not None else _naming.content_id(payload, timestamp, priority),
            id_given=given is not None,
            timestamp=timestamp,
            priority=priority,
            payload=payload,
        )


def _duplicate_ids(specs: tuple[MessageSpec, ...]) -> list[Problem]:
    seen: dict[str, MessageSpec] = {}
    problems = []
    for spec in specs:
        first = seen.setdefault(spec.id, spec)
        if first is not spec:
            why = f"id {spec.id!r}" if spec.id_given else "content (the id derived from it)"
            problems.append(Problem(spec.pointer, f"same {why} as {first.pointer}; give each message its own id"))
    return problems
