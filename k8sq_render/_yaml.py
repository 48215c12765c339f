"""YAML in and out, without silent changes of type or text.

Reading: YAML 1.1 (PyYAML, Helm, many tools) and YAML 1.2 disagree on plain scalars
such as ``yes``, ``on``, ``n``, ``0755``, ``0x1F``, ``1_000`` or ``.inf``. A values file
must mean one thing, so our loader takes from plain scalars only what both versions and
JSON agree on (``true``/``false``, ``null``/``~``, decimal integers, plain decimal
floats); every other plain scalar is a string, except the ambiguous ones above, which
come back as :class:`Ambiguous` so validation can ask the user to quote them. Mapping
keys are always their text; duplicate keys and unknown tags are errors.

Writing: :func:`dump` emits block YAML in which every string is double-quoted with JSON
escapes (plus the characters YAML 1.1 treats as line breaks or refuses raw), and numbers
are written in plain decimal notation, so YAML 1.1 parsers, YAML 1.2 parsers and the
API server all read back exactly the same values. :func:`flow` emits one value on one
line in the same way; the template engine uses it for every ``{{ }}`` output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from json.encoder import encode_basestring as _json_string  # type: ignore[attr-defined]
from typing import Any

import yaml
from yaml.constructor import BaseConstructor, ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from ._numbers import plain_float

try:  # libyaml's parser when available; the constructor is ours either way
    from yaml.cyaml import CParser as _Parser

    _C_PARSER = True
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml.composer import Composer
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    _C_PARSER = False

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"
_AMBIGUOUS = "tag:k8sq-render,2024:ambiguous"

_INT_RE = re.compile(r"^-?(?:0|[1-9][0-9]*)$")
# YAML 1.1 needs a dot in a float and a sign in its exponent; YAML 1.2 and JSON accept
# those forms too, so only they are floats here.
_FLOAT_RE = re.compile(r"^-?(?:0|[1-9][0-9]*)\.[0-9]+(?:[eE][-+][0-9]+)?$")
# Plain scalars that YAML 1.1 reads as something other than YAML 1.2/JSON would.
_AMBIGUOUS_RE = re.compile(
    r"""^(?:
        [yYnN] | [yY]es | YES | [nN]o | NO | [oO]n | ON | [oO]ff | OFF      # 1.1 booleans
      | [-+]?0[0-9_]+                                                     # leading zero: 1.1 octal
      | [-+]?0[xXoObB][0-9a-fA-F_]*                                       # hex / octal / binary
      | \+[0-9.][0-9_.]* | -?[0-9][0-9_]*_[0-9_.]*                        # '+1', '1_000'
      | [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?                  # sexagesimal 1:30
      | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)                        # infinities, NaN
      | -?[0-9]+\. | -?\.[0-9]+(?:[eE][-+]?[0-9]+)?                       # '1.', '.5'
      | -?[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+                             # '1e3', '1.5e3', '1e+3'
      | =                                                                 # 1.1 value key
    )$""",
    re.VERBOSE,
)
_NULL_WORDS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


class Ambiguous(str):
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently; must be quoted.

    It is a ``str`` (its text as written) so the document still loads; validation
    reports it with its line and column.
    """

    line: int
    column: int


class YamlError(ValueError):
    """The text is not YAML this loader accepts (syntax, duplicate key, unknown tag)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def _resolve_plain(value: str) -> str:
    if value in _NULL_WORDS:
        return _NULL
    if value in _TRUE or value in _FALSE:
        return _BOOL
    if _INT_RE.match(value):
        return _INT
    if _FLOAT_RE.match(value):
        return _FLOAT
    if _AMBIGUOUS_RE.match(value):
        return _AMBIGUOUS
    return _STR


class _Resolver(BaseResolver):
    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is ScalarNode:
            return _resolve_plain(value) if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


class _Constructor(BaseConstructor):
    def construct_object(self, node: Node, deep: bool = False) -> Any:  # noqa: FBT001, FBT002
        # Values files are trees; building eagerly (deep) keeps the constructor simple.
        return super().construct_object(node, deep=True)

    def _scalar(self, node: Node) -> Any:
        assert isinstance(node, ScalarNode)
        tag, text = node.tag, node.value
        try:
            if tag == _STR:
                return text
            if tag == _NULL:
                return None
            if tag == _BOOL and (text in _TRUE or text in _FALSE):
                return text in _TRUE
            if tag == _INT and _INT_RE.match(text):
                return int(text)
            if tag == _FLOAT and _FLOAT_RE.match(text):
                number = float(text)
                if math.isfinite(number):
                    return number
            if tag == _AMBIGUOUS:
                marker = Ambiguous(text)
                marker.line = node.start_mark.line + 1
                marker.column = node.start_mark.column + 1
                return marker
        except ValueError:
            pass
        raise ConstructorError(None, None, f"cannot read {text!r} as {tag}", node.start_mark)

    def _sequence(self, node: Node) -> list[Any]:
        assert isinstance(node, SequenceNode)
        return [self.construct_object(child) for child in node.value]

    def _mapping(self, node: Node) -> dict[str, Any]:
        assert isinstance(node, MappingNode)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise ConstructorError(None, None, "mapping keys must be plain text", key_node.start_mark)
            key = key_node.value
            if key in result:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            result[key] = self.construct_object(value_node)
        return result

    def _unknown(self, node: Node) -> Any:
        raise ConstructorError(
            None, None, f"tag {node.tag!r} is not supported (values are plain JSON data)", node.start_mark
        )


for _tag in (_STR, _NULL, _BOOL, _INT, _FLOAT, _AMBIGUOUS):
    _Constructor.add_constructor(_tag, _Constructor._scalar)
_Constructor.add_constructor(_SEQ, _Constructor._sequence)
_Constructor.add_constructor(_MAP, _Constructor._mapping)
_Constructor.add_constructor(None, _Constructor._unknown)


if _C_PARSER:

    class _Loader(_Parser, _Constructor, _Resolver):
        def __init__(self, stream: str) -> None:
            _Parser.__init__(self, stream)
            _Constructor.__init__(self)
            _Resolver.__init__(self)

else:  # pragma: no cover

    class _Loader(Reader, Scanner, Parser, Composer, _Constructor, _Resolver):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            _Constructor.__init__(self)
            _Resolver.__init__(self)


def load(text: str) -> Any:
    """Load one YAML document strictly (see the module docstring).

    Raises:
        YamlError: syntax errors, more than one document, duplicate keys, unknown tags.
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise YamlError(message or "invalid YAML", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc).strip().splitlines()[0]) from None
    finally:
        loader.dispose()


# ---------------------------------------------------------------------------- writing

# JSON escapes control characters, but not these, which YAML 1.1 either refuses raw
# (C1 controls, DEL, non-characters) or reads as line breaks inside quotes (NEL, LS, PS).
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_KEY_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def quote(text: str) -> str:
    """Return ``text`` as a double-quoted scalar that every YAML and JSON parser reads back exactly.

    >>> quote('yes')
    '"yes"'
    >>> quote('a\\nb: c')
    '"a\\\\nb: c"'
    """
    quoted: str = _json_string(text)
    if _YAML_UNSAFE.search(quoted):
        quoted = _YAML_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
    return quoted


def scalar(value: Any) -> str:
    """Return the YAML text of one scalar value (string, number, boolean or null)."""
    if isinstance(value, str):
        return quote(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return plain_float(value)
    raise TypeError(f"cannot write a {type(value).__name__} into a manifest")


def flow(value: Any) -> str:
    """Return ``value`` as one line of flow YAML (JSON syntax with :func:`quote` strings)."""
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{quote(str(k))}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(item) for item in value) + "]"
    return scalar(value)


def _key(key: str) -> str:
    if _PLAIN_KEY.match(key) and key.lower() not in _KEY_WORDS:
        return key
    return quote(key)


def _mapping_value(head: str, item: Any, indent: int, out: list[str]) -> None:
    """Write ``item`` after ``head`` (``<pad><key>:``) of a block mapping at ``indent``."""
    if isinstance(item, (dict, list, tuple)) and item:
        out.append(head + "\n")
        _block(item, indent + 2, out)
    else:
        out.append(f"{head} {flow(item)}\n")


def _sequence_item(item: Any, indent: int, out: list[str]) -> None:
    """Write ``item`` as an entry of a block sequence at ``indent``."""
    if isinstance(item, (dict, list, tuple)) and item:
        # Write the item two deeper, then put the dash in place of its first line's pad.
        inner: list[str] = []
        _block(item, indent + 2, inner)
        inner[0] = " " * indent + "- " + inner[0][indent + 2 :]
        out.extend(inner)
    else:
        out.append(f"{' ' * indent}- {flow(item)}\n")


def _block(value: Any, indent: int, out: list[str]) -> None:
    if isinstance(value, dict):
        pad = " " * indent
        for key, item in value.items():
            _mapping_value(f"{pad}{_key(str(key))}:", item, indent, out)
    else:
        for item in value:
            _sequence_item(item, indent, out)


def dump(document: dict[str, Any]) -> str:
    """Return ``document`` as block YAML, deterministically (key order kept)."""
    out: list[str] = []
    _block(document, 0, out)
    return "".join(out)


# A dump plan: the text of a document whose leaves are partly unknown (slots), as literal
# pieces and (slot, kind, indent, head) entries. run_dump(plan, values) writes exactly
# what dump() writes for the document with the values in its slots.
DumpPlan = list[str | tuple[int, bool, int, str]]


def plan_dump(document: dict[str, Any], slot: Callable[[Any], int | None]) -> DumpPlan | None:
    """Plan the dump of ``document``; ``slot(leaf)`` names the slot a leaf stands for, or None.

    Returns None where a slot would start a nested sequence entry (rare; dump() then).
    """
    out: DumpPlan = []
    return out if _plan_block(document, 0, out, slot) else None


def _plan_block(value: Any, indent: int, out: DumpPlan, slot: Callable[[Any], int | None]) -> bool:
    if isinstance(value, dict):
        pad = " " * indent
        for key, item in value.items():
            head = f"{pad}{_key(str(key))}:"
            index = slot(item)
            if index is not None:
                out.append((index, True, indent, head))
            elif isinstance(item, (dict, list)) and item:
                out.append(head + "\n")
                if not _plan_block(item, indent + 2, out, slot):
                    return False
            else:
                out.append(f"{head} {flow(item)}\n")
        return True
    for item in value:
        index = slot(item)
        if index is not None:
            out.append((index, False, indent, ""))
        elif isinstance(item, (dict, list)) and item:
            inner: DumpPlan = []
            if not _plan_block(item, indent + 2, inner, slot) or not isinstance(inner[0], str):
                return False
            inner[0] = " " * indent + "- " + inner[0][indent + 2 :]
            out.extend(inner)
        else:
            out.append(f"{' ' * indent}- {flow(item)}\n")
    return True


def run_dump(plan: DumpPlan, values: list[Any]) -> str:
    """Write a planned dump with ``values`` in its slots."""
    out: list[str] = []
    for part in plan:
        if isinstance(part, str):
            out.append(part)
        else:
            index, in_mapping, indent, head = part
            if in_mapping:
                _mapping_value(head, values[index], indent, out)
            else:
                _sequence_item(values[index], indent, out)
    return "".join(out)
