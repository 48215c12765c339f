"""JSON Schemas: the values schema of each version and the bundled Kubernetes Job schema.

Validators are compiled once per process. Validation collects *every* error and turns
each into a :class:`~k8sq_render.errors.Problem` with a JSON pointer and a sentence a
user can act on; ``jsonschema`` exceptions never leave this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from typing import Any, cast

import fastjsonschema
import jsonschema
from jsonschema.exceptions import ValidationError

from . import _resources
from .errors import Problem

#: The Kubernetes release whose batch/v1 Job schema is bundled (schema/kubernetes/<version>).
KUBERNETES_VERSION = "v1.34.4"


def pointer(parts: Any) -> str:
    """Return the JSON pointer (RFC 6901) for a sequence of keys and indexes.

    >>> pointer(["queue", "env", "A/B"])
    '/queue/env/A~1B'
    """
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


@cache
def values_schema(version: str) -> dict[str, Any]:
    """Return the values schema of ``version`` (``schema/<version>/values.schema.json``)."""
    path = _resources.data_dir("schema") / version / "values.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


# JSON Schema counts 1.0 as an integer; Kubernetes (Go's JSON decoder) refuses it for
# int32/int64 fields, so "integer" here means a whole number written without a dot.
_STRICT_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
)
_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, type_checker=_STRICT_TYPES
)


class _Checker:
    """A schema with a fast validator and a thorough one.

    The compiled one answers "valid?" fast; ``jsonschema`` has the last word and lists
    every error with its path.

    The compiled validator (fastjsonschema) is only trusted to say "valid", and only
    for documents without whole-number floats such as ``1.0``, which it counts as
    integers; otherwise ``jsonschema`` decides and explains.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self.full = _Validator(schema)
        # fastjsonschema reads draft-07; the keywords used here mean the same in both drafts.
        self.fast = fastjsonschema.compile({**schema, "$schema": "http://json-schema.org/draft-07/schema#"})

    def problems(self, instance: Any, as_json: str | None = None) -> list[Problem]:
        """Every problem of ``instance``; ``as_json``, its JSON text if at hand, saves a walk."""
        try:
            self.fast(instance)
        except Exception:
            pass
        else:
            # In JSON text a whole float is digits, ".0...", then no digit, or has an exponent
            # (strings may match too: then the walk decides).
            if as_json is not None and not _WHOLE_FLOAT_JSON.search(as_json):
                return []
            if not _whole_floats(instance):
                return []
        return [problem for error in self.full.iter_errors(instance) for problem in _explain(error)]


_WHOLE_FLOAT_JSON = re.compile(r"[0-9]\.0+(?![0-9])|[0-9][eE]")


def _whole_floats(value: Any) -> bool:
    """True if ``value`` holds a float with no fractional part (``1.0``) anywhere."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and item.is_integer():
            return True
    return False


@cache
def _values_checker(version: str) -> _Checker:
    return _Checker(values_schema(version))


@cache
def job_schema() -> dict[str, Any]:
    """Return the bundled Kubernetes Job schema (``schema/kubernetes/<version>/job.json``)."""
    path = _resources.data_dir("schema") / "kubernetes" / KUBERNETES_VERSION / "job.json"
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@cache
def _job_checker() -> _Checker:
    return _Checker(job_schema())


@cache
def _message_checker(version: str) -> _Checker:
    schema = values_schema(version)
    return _Checker({"$ref": "#/$defs/message", "$defs": schema["$defs"]})


def check_message(message: Any, version: str) -> list[Problem]:
    """Return every schema problem of one message (paths relative to the message)."""
    return _message_checker(version).problems(message)


def check_values(document: Any, version: str) -> list[Problem]:
    """Return every schema problem of a values document (empty when valid)."""
    return _values_checker(version).problems(document)


def check_job(manifest: Any, as_json: str | None = None) -> list[Problem]:
    """Return every problem of a rendered manifest against the Kubernetes Job schema."""
    return _job_checker().problems(manifest, as_json)


def apply_defaults(document: Any, version: str) -> Any:
    """Return a copy of a *valid* values document with the schema's defaults filled in."""
    schema = values_schema(version)
    return _with_defaults(document, schema, schema)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        # Sibling keywords of "$ref" (such as "default") still apply.
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _with_defaults(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> Any:
    schema = _resolve(schema, root)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out = {key: _with_defaults(item, props.get(key, {}), root) for key, item in value.items()}
        for key, sub in props.items():
            sub = _resolve(sub, root)
            if key not in out and "default" in sub:
                out[key] = json.loads(json.dumps(sub["default"]))
        return out
    if isinstance(value, list) and "items" in schema:
        return [_with_defaults(item, schema["items"], root) for item in value]
    return value


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


def _yaml_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _explain(error: ValidationError) -> Iterator[Problem]:
    """Turn one jsonschema error into problems with paths and plain words."""
    path = pointer(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind, instance, rule_value = error.validator, error.instance, cast(Any, error.validator_value)
    hint = schema.get("x-hint")
    if kind == "required":
        for name in rule_value:
            if isinstance(instance, dict) and name not in instance:
                yield Problem(path + pointer([name]), "is required")
    elif kind == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in schema.get("properties", {}):
                yield Problem(path + pointer([key]), f"unknown key (allowed here: {', '.join(allowed)})")
    elif kind == "type":
        expected = rule_value
        text = (
            f"expected {expected if isinstance(expected, str) else ' or '.join(expected)}, got {_json_kind(instance)}"
        )
        if expected == "string" and not isinstance(instance, (dict, list)):
            text += f"; quote it in the values file to keep it as text: {json.dumps(_yaml_text(instance))}"
        yield Problem(path, text)
    elif "propertyNames" in error.relative_schema_path:
        # A bad key: jsonschema reports the key itself as the instance, at the mapping's path.
        rule = hint or error.message.replace(repr(instance), "").strip()
        yield Problem(path + pointer([instance]), f"key {json.dumps(instance, ensure_ascii=False)} is not {rule}")
    elif kind == "pattern" and hint:
        yield Problem(path, f"{json.dumps(instance, ensure_ascii=False)} is not {hint}")
    elif kind == "enum":
        options = ", ".join(json.dumps(option) for option in rule_value)
        yield Problem(path, f"{json.dumps(instance, ensure_ascii=False)} is not one of {options}")
    elif kind == "const":
        yield Problem(path, f"must be {json.dumps(rule_value)}")
    else:
        yield Problem(path, error.message)
