"""The message envelope: how one queue message travels into its pod.

A rendered Job carries its message as compact JSON in the environment variable
:data:`ENV_VAR`::

    {"v":1,"id":"...","queue":"...","timestamp":1733232000,"attempt":1,"payload":{...}}

Worker code reads it with one call::

    from k8sq_render import envelope

    message = envelope.read()
    print(message.id, message.payload)

This module imports only the standard library, so a worker image needs nothing but
this package (no Jinja, no Kubernetes client) to read its message.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._numbers import plain_float
from .errors import (
    EnvelopeFormatError,
    EnvelopeMissingError,
    EnvelopeShapeError,
    EnvelopeVersionError,
)

__all__ = ["ENV_VAR", "MAX_ENV_BYTES", "VERSION", "Message", "decode", "encode", "read"]

#: The reserved environment variable that carries the envelope (users may not set it).
ENV_VAR = "K8SQ_MESSAGE"
#: The envelope format this module writes and understands.
VERSION = 1
#: Linux refuses any single environment string over MAX_ARG_STRLEN (32 pages = 128 KiB,
#: counted as ``NAME=value`` plus its terminating NUL) with E2BIG at exec: the container
#: would never start. This is the largest envelope (in UTF-8 bytes) that still fits.
MAX_ENV_BYTES = 128 * 1024 - len(ENV_VAR) - len("=") - 1


@dataclass(frozen=True)
class Message:
    """A queue message as the worker receives it.

    Attributes:
        id: The message id (given in the values, or derived from the message's content).
        queue: The queue name, exactly as written in the values.
        timestamp: Unix seconds when the message was produced, or ``None`` if not given.
        payload: The message body (a JSON object).
        attempt: 1 for the first run, 2 for the first retry, and so on.
    """

    id: str
    queue: str
    timestamp: int | None
    payload: dict[str, Any]
    attempt: int = 1


def encode(message: Message) -> str:
    """Return the envelope text for ``message`` (compact JSON, same input → same text).

    >>> encode(Message(id="m1", queue="mail", timestamp=None, payload={"to": "a@b"}))
    '{"v":1,"id":"m1","queue":"mail","timestamp":null,"attempt":1,"payload":{"to":"a@b"}}'
    """
    document = {
        "v": VERSION,
        "id": message.id,
        "queue": message.queue,
        "timestamp": message.timestamp,
        "attempt": message.attempt,
        "payload": message.payload,
    }
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # json writes large and small floats with an exponent (1e+16), which integer-typed
    # readers refuse; the rare payload with such a float is written the slow, plain way.
    if _EXPONENT.search(text) and _has_exponent_float(message.payload):
        text = _plain_json(document)
    return text


_EXPONENT = re.compile(r"[0-9][eE][-+]?[0-9]")


def _has_exponent_float(value: Any) -> bool:
    if isinstance(value, float):
        return "e" in repr(value)
    if isinstance(value, dict):
        return any(_has_exponent_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_exponent_float(item) for item in value)
    return False


def _plain_json(value: Any) -> str:
    if isinstance(value, dict):
        items = (json.dumps(key, ensure_ascii=False) + ":" + _plain_json(item) for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_plain_json(item) for item in value) + "]"
    if isinstance(value, float):
        return plain_float(value)
    return json.dumps(value, ensure_ascii=False)


def decode(text: str) -> Message:
    """Parse envelope text into a :class:`Message`.

    Raises:
        EnvelopeFormatError: ``text`` is not JSON.
        EnvelopeVersionError: the envelope version is not one this module reads.
        EnvelopeShapeError: a field is missing or has the wrong type.
    """
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise EnvelopeFormatError(f"{ENV_VAR} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise EnvelopeShapeError(f"{ENV_VAR} must hold a JSON object, not {_json_type(data)}")
    version = data.get("v")
    if version != VERSION:
        raise EnvelopeVersionError(
            f"{ENV_VAR} has envelope version {version!r}; this k8sq_render reads version {VERSION}"
            " (upgrade the package in the worker image)"
        )
    _expect(data, "id", str)
    _expect(data, "queue", str)
    _expect(data, "payload", dict)
    if data.get("timestamp") is not None:
        _expect(data, "timestamp", int)
    attempt = data.get("attempt", 1)
    if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
        raise EnvelopeShapeError(f"{ENV_VAR} field 'attempt' must be a positive integer, not {attempt!r}")
    return Message(
        id=data["id"],
        queue=data["queue"],
        timestamp=data.get("timestamp"),
        payload=data["payload"],
        attempt=attempt,
    )


def read(environ: Mapping[str, str] | None = None) -> Message:
    """Return the message this pod was started for.

    Args:
        environ: Where to look for :data:`ENV_VAR`; defaults to ``os.environ``.

    Raises:
        EnvelopeMissingError: the variable is not set (not running in a k8sq Job?).
        EnvelopeFormatError, EnvelopeShapeError, EnvelopeVersionError: see :func:`decode`.
    """
    env = os.environ if environ is None else environ
    text = env.get(ENV_VAR)
    if text is None:
        raise EnvelopeMissingError(
            f"environment variable {ENV_VAR} is not set: this process was not started by a k8sq-render Job"
        )
    return decode(text)


def _expect(data: dict[str, Any], field: str, kind: type) -> None:
    value = data.get(field)
    if field not in data:
        raise EnvelopeShapeError(f"{ENV_VAR} has no field {field!r}")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise EnvelopeShapeError(f"{ENV_VAR} field {field!r} must be {_json_type_name(kind)}, not {_json_type(value)}")


def _json_type_name(kind: type) -> str:
    return {str: "a string", int: "an integer", dict: "an object"}[kind]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
