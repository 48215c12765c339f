"""Values documents: loading (YAML or JSON) and the typed, validated model.

Stages, each testable alone: :func:`read_document` (text → data, no silent type
changes) → :func:`validate` (version, data checks, schema, rules a schema cannot say;
every problem collected) → :class:`Values` (defaults applied, one :class:`MessageSpec`
per message, ids derived where not given).
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _naming, _resources, _schema, _yaml, envelope
from .envelope import ENV_VAR
from .errors import Problem, UnknownVersionError, ValuesError

#: A document with more values than this (after YAML aliases are expanded) is refused,
#: so a few lines of nested aliases cannot make validation run for ever.
MAX_VALUES = 1_000_000
TOO_MANY_VALUES = f"holds more than {MAX_VALUES} values (nested YAML aliases?)"
#: Linux's limit for one argument or environment string, its NUL included (32 pages).
MAX_ARG_STRLEN = 32 * 4096


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
    """Read a values file whole: JSON when it ends in ``.json``, YAML otherwise.

    Raises:
        ValuesError: the file cannot be read or parsed (with file and line).
    """
    name = str(path)
    return parse(_read_text(path), source=name, as_json=name.endswith(".json"))


def parse(text: str, *, source: str | None = None, as_json: bool = False) -> Any:
    """Parse values text (see :func:`read_document`)."""
    if as_json:
        try:
            document = json.loads(
                text.removeprefix("\ufeff"), object_pairs_hook=_unique_keys, parse_constant=_no_constant
            )
        except RecursionError:
            raise ValuesError(
                problems=[Problem("", f"values are nested more than {_yaml.MAX_DEPTH} levels deep", file=source)]
            ) from None
        except json.JSONDecodeError as exc:
            raise ValuesError(
                problems=[Problem("", f"invalid JSON: {exc.msg}", file=source, line=exc.lineno)]
            ) from None
        except ValueError as exc:
            raise ValuesError(problems=[Problem("", str(exc), file=source)]) from None
        too_deep = _deepest(document) > _yaml.MAX_DEPTH
        if too_deep:
            raise ValuesError(
                problems=[Problem("", f"values are nested more than {_yaml.MAX_DEPTH} levels deep", file=source)]
            )
        return document
    try:
        return _yaml.load(text)
    except _yaml.YamlError as exc:
        raise ValuesError(problems=[Problem("", f"invalid YAML: {exc.message}", file=source, line=exc.line)]) from None


def _deepest(value: Any) -> int:
    """How deeply ``value`` nests lists and mappings (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in item)
    return deepest


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
            reserved names, duplicate message ids, messages too large to run), each with
            its JSON path.
    """
    header = _header(document, source)
    messages = list(_messages(document))
    problems, check = _checked_header(header, len(messages) if "messages" in document else None)
    for pointer, message in messages:
        problems += check(pointer, message)
    _raise(problems, source)
    return Values(
        version=header["version"],
        queue=check.queue,
        messages=tuple(check.spec(pointer, message) for pointer, message in messages),
        source=source,
    )


def load(path: str | Path) -> Values:
    """Read and validate one values file."""
    return open_values(path).values(with_messages=True)


class ValuesFile:
    """A values file read for streaming: the queue in memory, its messages one at a time.

    A YAML file with a long ``messages`` list is parsed without keeping the list; its
    messages are read again, one by one, by :meth:`specs`. Memory stays flat however many
    messages there are. JSON files are read whole.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.source = str(path)
        self._path = path
        # When version and queue come before the messages (the usual order), the
        # messages are checked during this first read instead of in a second one.
        self._early: tuple[_MessageCheck, list[Problem]] | None = None
        if self.source.endswith(".json"):
            self._document = parse(_read_text(path), source=self.source, as_json=True)
        else:
            self._document = _parse_yaml(
                self.source,
                lambda: _with_file(path, lambda f: _yaml.load_without(f, "messages", on_items=self._check_early)),
            )
        self._header = _header(self._document, self.source)
        self._checked: _MessageCheck | None = None

    def _check_early(self, before: dict[str, Any]) -> Callable[[int, Any], None] | None:
        if before.get("version") not in _resources.versions() or "queue" not in before:
            return None
        check = _MessageCheck({"version": before["version"], "queue": before["queue"]})
        problems: list[Problem] = []
        self._early = (check, problems)
        return lambda index, item: problems.extend(check(f"/messages/{index}", item))

    def _raw_messages(self) -> Iterator[tuple[str, Any]]:
        listed = self._document.get("messages")
        if isinstance(listed, _yaml.SequenceSkipped):
            return self._stream()
        return _messages(self._document)

    def _stream(self) -> Iterator[tuple[str, Any]]:
        # The file is read again, as bytes (libyaml decodes it), so its text is never all in memory.
        try:
            with open(self._path, "rb") as handle:
                for index, item in enumerate(_yaml.iter_items(handle, "messages")):
                    yield f"/messages/{index}", item
        except _yaml.YamlError as exc:
            raise ValuesError(
                problems=[Problem("", f"invalid YAML: {exc.message}", file=self.source, line=exc.line)]
            ) from None
        except OSError as exc:
            raise ValuesError(problems=[Problem("", f"cannot read: {exc.strerror}", file=self.source)]) from None

    def check(self) -> list[Problem]:
        """Return every problem of the file."""
        listed = self._document.get("messages")
        count = listed.length if isinstance(listed, _yaml.SequenceSkipped) else None
        if isinstance(listed, list):
            count = len(listed)
        problems = _check_header(self._header, count)
        if self._early is not None and isinstance(listed, _yaml.SequenceSkipped):
            check, early = self._early
            problems += early
        else:
            check = _MessageCheck(self._header)
            for pointer, message in self._raw_messages():
                problems += check(pointer, message)
        if not problems:
            self._checked = check
        return [_located(p, self.source) for p in _sorted(problems)]

    def values(self, *, with_messages: bool = False) -> Values:
        """Return the validated model (messages only when asked: they are all kept in memory).

        Raises:
            ValuesError: the file has problems (all of them are listed).
        """
        if self._checked is None:
            _raise(self.check(), self.source)
        assert self._checked is not None
        specs = tuple(self.specs()) if with_messages else ()
        return Values(version=self._header["version"], queue=self._checked.queue, messages=specs, source=self.source)

    def specs(self) -> Iterator[MessageSpec]:
        """Yield the messages of a checked file, one at a time."""
        if self._checked is None:
            _raise(self.check(), self.source)
        assert self._checked is not None
        for pointer, message in self._raw_messages():
            yield self._checked.spec(pointer, message)


def open_values(path: str | os.PathLike[str]) -> ValuesFile:
    """Open a values file for streaming (see :class:`ValuesFile`).

    Raises:
        ValuesError: the file cannot be read or parsed.
        UnknownVersionError: its version is unknown.
    """
    return ValuesFile(path)


def _with_file(path: str | os.PathLike[str], read: Callable[[Any], Any]) -> Any:
    """Call ``read`` with the file opened as bytes (clear errors for missing or unreadable files)."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            return read(handle)
    except FileNotFoundError:
        raise ValuesError(problems=[Problem("", "file not found", file=name)]) from None
    except OSError as exc:
        raise ValuesError(problems=[Problem("", f"cannot read: {exc.strerror}", file=name)]) from None


def _read_text(path: str | os.PathLike[str]) -> str:
    name = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValuesError(problems=[Problem("", "file not found", file=name)]) from None
    except UnicodeDecodeError as exc:
        raise ValuesError(
            problems=[Problem("", f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=name)]
        ) from None
    except OSError as exc:
        raise ValuesError(problems=[Problem("", f"cannot read: {exc.strerror}", file=name)]) from None


def _parse_yaml(source: str, read: Any) -> Any:
    try:
        return read()
    except _yaml.YamlError as exc:
        raise ValuesError(problems=[Problem("", f"invalid YAML: {exc.message}", file=source, line=exc.line)]) from None


def _header(document: Any, source: str | None) -> dict[str, Any]:
    """The document without its messages, after the version check."""
    if not isinstance(document, dict):
        raise ValuesError(problems=[Problem("", "a values document must be a mapping", file=source)])
    version = document.get("version")
    if version is None:
        raise ValuesError(
            problems=[Problem("/version", f"is required (one of: {', '.join(_resources.versions())})", file=source)]
        )
    if version not in _resources.versions():
        raise UnknownVersionError(version=version, available=_resources.versions(), file=source)
    header = dict(document)
    header.pop("message", None)
    if isinstance(header.get("messages"), (list, _yaml.SequenceSkipped)):
        header["messages"] = ...  # present; checked message by message
    header["_has_message"] = "message" in document
    return header


def _check_header(header: dict[str, Any], count: int | None) -> list[Problem]:
    has_message = header["_has_message"]
    document = {k: v for k, v in header.items() if k != "_has_message" and v is not ...}
    problems = list(_scan(document, ""))
    if any(p.message == TOO_MANY_VALUES for p in problems):
        return problems  # walking it again (schema checks) would take for ever
    problems += _schema.check_values(document, header["version"])
    if ("messages" in header) == has_message:
        which = "both" if has_message else "neither"
        problems.append(Problem("", f"give exactly one of 'message' or 'messages' (found {which})"))
    if count == 0:
        problems.append(Problem("/messages", "must hold at least one message"))
    problems += _queue_rules(document.get("queue"))
    return problems


# Programmatic callers validate one message at a time against the same queue: the
# queue's checks and defaults are kept for the last few distinct queues.
_HEADERS: dict[str, tuple[list[Problem], _MessageCheck]] = {}
_MAX_HEADERS = 64


def _checked_header(header: dict[str, Any], count: int | None) -> tuple[list[Problem], _MessageCheck]:
    """Problems of the header and a fresh message checker for it (cached by content)."""
    key = repr((header, count == 0))
    if key not in _HEADERS:
        if len(_HEADERS) >= _MAX_HEADERS:
            _HEADERS.clear()
        _HEADERS[key] = (_check_header(header, count), _MessageCheck(header))
    problems, check = _HEADERS[key]
    return list(problems), check.fresh()


class _MessageCheck:
    """Checks messages one at a time against the queue; builds their specs."""

    def __init__(self, header: dict[str, Any]) -> None:
        self.version: str = header["version"]
        raw_queue = header.get("queue")
        self.raw_queue = raw_queue if isinstance(raw_queue, dict) else {}
        self.queue: dict[str, Any] = _schema.apply_defaults(
            {"version": self.version, "queue": self.raw_queue}, self.version
        )["queue"]
        classes = self.raw_queue.get("priorityClasses")
        self.known = sorted(classes) if isinstance(classes, dict) else []
        self.ids: dict[str, str] = {}  # message id -> pointer of its first message
        name = self.raw_queue.get("name")
        self.queue_name: str = name if isinstance(name, str) else ""

    def fresh(self) -> _MessageCheck:
        """A checker for another document of the same queue (no message ids seen yet)."""
        other = copy.copy(self)
        other.ids = {}
        return other

    def __call__(self, pointer: str, message: Any) -> list[Problem]:
        problems = list(_scan(message, pointer))
        if any(p.message == TOO_MANY_VALUES for p in problems):
            return problems
        problems += [
            Problem(pointer + p.path, p.message, line=p.line) for p in _schema.check_message(message, self.version)
        ]
        if not isinstance(message, dict):
            return problems
        priority = message.get("priority")
        if isinstance(priority, str) and priority not in self.known:
            choices = ", ".join(self.known) if self.known else "none: /queue/priorityClasses is empty or missing"
            problems.append(Problem(f"{pointer}/priority", f"unknown priority {priority!r} (known: {choices})"))
        if problems:
            return problems
        spec = self.spec(pointer, message)
        first = self.ids.setdefault(spec.id, pointer)
        if first != pointer:
            why = f"id {spec.id!r}" if spec.id_given else "content (the id derived from it)"
            problems.append(Problem(pointer, f"same {why} as {first}; give each message its own id"))
        size = len(envelope.encode(_message(spec, self.queue_name)).encode("utf-8"))
        if size > envelope.MAX_ENV_BYTES:
            problems.append(
                Problem(
                    pointer,
                    f"the message envelope is {size} bytes, over the {envelope.MAX_ENV_BYTES} bytes Linux allows in "
                    "one environment variable (the container could never start); pass large data by reference",
                )
            )
        return problems

    def spec(self, pointer: str, message: dict[str, Any]) -> MessageSpec:
        payload = message.get("payload", {})
        timestamp = message.get("timestamp")
        priority = message.get("priority")
        given = message.get("id")
        return MessageSpec(
            pointer=pointer,
            id=given if given is not None else _naming.content_id(payload, timestamp, priority),
            id_given=given is not None,
            timestamp=timestamp,
            priority=priority,
            payload=payload,
        )


def _message(spec: MessageSpec, queue: str) -> envelope.Message:
    return envelope.Message(id=spec.id, queue=queue, timestamp=spec.timestamp, payload=spec.payload)


def _sorted(problems: list[Problem]) -> list[Problem]:
    unique = {(p.path, p.message): p for p in problems}
    return sorted(unique.values(), key=lambda p: (_path_key(p.path), p.message))


def _path_key(path: str) -> list[tuple[int, int | str]]:
    # /messages/10 sorts after /messages/9.
    return [(0, int(part)) if part.isdigit() else (1, part) for part in path.split("/")]


def _raise(problems: list[Problem], source: str | None) -> None:
    if problems:
        raise ValuesError(problems=[_located(p, source) for p in _sorted(problems)])


def _located(problem: Problem, source: str | None) -> Problem:
    return Problem(problem.path, problem.message, file=source, line=problem.line)


def _scan(document: Any, prefix: str) -> Iterator[Problem]:
    """Walk every value: scalars to quote, numbers JSON cannot carry, broken Unicode."""
    budget = MAX_VALUES
    # Entries are (parent entry, key, value): a value's path is only spelled out when it has a problem.
    root: tuple[Any, Any, Any] = (None, None, document)
    stack = [root]

    def path(entry: tuple[Any, Any, Any]) -> str:
        keys = []
        while entry[0] is not None:
            keys.append(entry[1])
            entry = entry[0]
        return prefix + _schema.pointer(reversed(keys))

    while stack:
        entry = stack.pop()
        value = entry[2]
        budget -= 1
        if budget < 0:
            yield Problem(prefix, TOO_MANY_VALUES)
            return
        if isinstance(value, str):
            if isinstance(value, _yaml.Ambiguous):
                yield Problem(
                    path(entry),
                    f"plain value {value} is read differently by YAML 1.1 and YAML 1.2 "
                    f"(as a boolean, an octal or hex number, ...); write it in quotes: {json.dumps(str(value))}",
                    line=value.line,
                )
            elif not _utf8(value):
                yield Problem(path(entry), "contains an unpaired UTF-16 surrogate, which is not valid Unicode")
        elif isinstance(value, dict):
            if not all(_utf8(key) for key in value):
                yield Problem(path(entry), "a key contains an unpaired UTF-16 surrogate")
            stack.extend((entry, k, v) for k, v in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((entry, i, v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, float) and not math.isfinite(value):
            yield Problem(path(entry), f"{value} is not a finite number")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _messages(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if "message" in document:
        yield "/message", document["message"]
    items = document.get("messages")
    if isinstance(items, list):
        yield from ((f"/messages/{i}", m) for i, m in enumerate(items))


def _queue_rules(queue: Any) -> Iterator[Problem]:
    """Rules on the queue the schema cannot express, checked only where the types allow."""
    if not isinstance(queue, dict):
        return
    env = queue.get("env")
    if isinstance(env, dict) and ENV_VAR in env:
        yield Problem(f"/queue/env/{ENV_VAR}", "this name is reserved for the message envelope")
    for field_name in ("labels", "annotations"):
        entries = queue.get(field_name)
        if isinstance(entries, dict):
            for key in entries:
                if _naming.is_reserved_key(key):
                    yield Problem(
                        f"/queue/{field_name}" + _schema.pointer([key]), "this key is set by k8sq-render itself"
                    )
    # Linux refuses one argument or environment string over MAX_ARG_STRLEN at exec (E2BIG).
    strings = (
        [(f"/queue/env/{k}", f"{k}={v}") for k, v in env.items() if isinstance(v, str)] if isinstance(env, dict) else []
    )
    for field_name in ("command", "args"):
        parts = queue.get(field_name)
        if isinstance(parts, list):
            strings += [(f"/queue/{field_name}/{i}", arg) for i, arg in enumerate(parts) if isinstance(arg, str)]
    for where, text in strings:
        if "\x00" in text:
            yield Problem(where, "contains a NUL character, which no environment string or argument can carry")
        size = len(text.encode("utf-8", "surrogatepass")) + 1
        if size > MAX_ARG_STRLEN:
            yield Problem(
                where,
                f"is {size} bytes, over the {MAX_ARG_STRLEN} bytes Linux allows in one argument or "
                "environment string (the container could never start)",
            )
