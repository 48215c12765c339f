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
from collections.abc import Callable, Iterator
from json.encoder import encode_basestring as _json_string
from typing import IO, Any

import yaml

from ._numbers import plain_float

_Parser: Any
try:  # libyaml's parser when available; everything above the events is ours either way
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import Loader as _Parser  # the pure-Python reader and parser


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


#: Deeper nesting is refused: no queue message needs it, and every later stage (checks,
#: JSON, YAML output) may then walk values recursively without hitting Python's limit.
MAX_DEPTH = 100


class Ambiguous(str):
    """A plain scalar that YAML 1.1 and YAML 1.2 read differently; must be quoted.

    It is a ``str`` (its text as written) so the document still loads; validation
    reports it with its line and column.
    """

    line: int
    column: int

    def __repr__(self) -> str:
        # Distinct from a quoted string with the same text (validation caches by repr).
        return f"Ambiguous({str.__repr__(self)})"


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


def _scalar(event: Any) -> Any:
    text, tag = event.value, event.tag
    if tag is None or tag == "!":
        tag = _resolve_plain(text) if event.implicit[0] else _STR
    elif tag.startswith("!!"):
        tag = "tag:yaml.org,2002:" + tag[2:]
    if tag == _STR:
        return text
    if tag == _NULL and text in _NULL_WORDS:
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
        marker.line = event.start_mark.line + 1
        marker.column = event.start_mark.column + 1
        return marker
    if tag in (_NULL, _BOOL, _INT, _FLOAT):
        raise _error(f"cannot read {text!r} as {tag}", event)
    raise _error(f"tag {event.tag!r} is not supported (values are plain JSON data)", event)


def _error(message: str, event: yaml.Event) -> YamlError:
    return YamlError(message, event.start_mark.line + 1 if event.start_mark else None)


class _Reader:
    """Builds plain data straight from parser events, by the rules in the module docstring.

    There is no node graph, so memory stays proportional to the data kept.
    """

    def __init__(self, source: str | IO[bytes]) -> None:
        self.parser = _Parser(source)
        self.anchors: dict[str, Any] = {}
        self.building: set[str] = set()  # anchors whose collections are not finished yet
        self.depth = 0

    def next(self) -> Any:
        try:
            return self.parser.get_event()
        except yaml.reader.ReaderError as exc:
            what = "not UTF-8 text" if "utf" in str(exc.reason).lower() else "unacceptable character"
            raise YamlError(f"{what} ({exc.reason} at byte {exc.position})") from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
            raise YamlError(message or "invalid YAML", mark.line + 1 if mark else None) from None
        except yaml.YAMLError as exc:
            raise YamlError(str(exc).strip().splitlines()[0]) from None
        except UnicodeDecodeError as exc:  # the pure-Python reader decodes in Python
            raise YamlError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None

    def value(self, event: Any) -> Any:
        """Build the value that starts with ``event``."""
        if isinstance(event, yaml.AliasEvent):
            if event.anchor in self.building:
                raise _error(f"alias {event.anchor!r} is recursive (refers to a value containing it)", event)
            if event.anchor not in self.anchors:
                raise _error(f"found undefined alias {event.anchor!r}", event)
            return self.anchors[event.anchor]
        if isinstance(event, yaml.ScalarEvent):
            result = _scalar(event)
            self._anchor(event, result)
            return result
        self._deeper(event)
        if isinstance(event, yaml.SequenceStartEvent):
            self._known_tag(event, _SEQ)
            items: list[Any] = []
            self._anchor(event, items, building=True)
            while not isinstance(item := self.next(), yaml.SequenceEndEvent):
                items.append(self.value(item))
            self.building.discard(event.anchor)
            self.depth -= 1
            return items
        if isinstance(event, yaml.MappingStartEvent):
            self._known_tag(event, _MAP)
            mapping: dict[str, Any] = {}
            self._anchor(event, mapping, building=True)
            for key, first in self.entries():
                mapping[key] = self.value(first)
            self.building.discard(event.anchor)
            self.depth -= 1
            return mapping
        raise _error(f"unexpected {type(event).__name__}", event)  # pragma: no cover

    def entries(self) -> Iterator[tuple[str, Any]]:
        """Yield ``(key, first event of its value)`` of the mapping being read.

        The caller consumes each value (with :meth:`value` or :meth:`skip`) before asking
        for the next.
        """
        keys: set[str] = set()
        while not isinstance(event := self.next(), yaml.MappingEndEvent):
            if not isinstance(event, yaml.ScalarEvent):
                raise _error("mapping keys must be plain text", event)
            key = str(event.value)
            if key == "<<" and event.implicit[0]:
                raise _error("merge keys (<<) are read differently by YAML 1.1 and 1.2; write the keys out", event)
            if key in keys:
                raise _error(f"duplicate key {key!r}", event)
            keys.add(key)
            yield key, self.next()

    def skip(self, event: Any) -> None:
        """Consume the value starting with ``event`` without keeping it.

        Anchored parts are still built, since an alias may name them later.
        """
        if isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)) or event.anchor is not None:
            self.value(event)
            return
        self._deeper(event)
        if isinstance(event, yaml.MappingStartEvent):
            for _key, first in self.entries():
                self.skip(first)
        else:
            while not isinstance(item := self.next(), yaml.SequenceEndEvent):
                self.skip(item)
        self.depth -= 1

    def _deeper(self, event: Any) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(f"values are nested more than {MAX_DEPTH} levels deep", event)

    def _anchor(self, event: Any, value: Any, *, building: bool = False) -> None:
        if event.anchor is not None:
            self.anchors[event.anchor] = value
            if building:
                self.building.add(event.anchor)

    @staticmethod
    def _known_tag(event: Any, tag: str) -> None:
        if event.tag not in (None, "!", tag, "!!" + tag.rsplit(":", 1)[1]):
            raise _error(f"tag {event.tag!r} is not supported (values are plain JSON data)", event)

    def root(self) -> Any:
        """Consume the stream and document starts; return the root value's first event."""
        self.next()  # StreamStartEvent
        event = self.next()
        if isinstance(event, yaml.StreamEndEvent):
            raise YamlError("the document is empty", None)
        return self.next()

    def end(self) -> None:
        """Consume the document end; refuse a second document."""
        self.next()  # DocumentEndEvent
        event = self.next()
        if not isinstance(event, yaml.StreamEndEvent):
            raise _error("expected a single document in the stream, found another document", event)


def load(text: str) -> Any:
    """Load one YAML document strictly (see the module docstring).

    Raises:
        YamlError: syntax errors, more than one document, duplicate keys, unknown tags.
    """
    reader = _Reader(text)
    value = reader.value(reader.root())
    reader.end()
    return value


class SequenceSkipped:
    """Stands for a top-level sequence :func:`load_without` left out (its length is kept)."""

    def __init__(self, length: int) -> None:
        self.length = length


def load_without(
    text: str | IO[bytes],
    key: str,
    *,
    on_items: Callable[[dict[str, Any]], Callable[[int, Any], None] | None] | None = None,
) -> Any:
    """Load a document whose top-level ``key`` holds a long sequence, leaving that sequence out.

    The sequence is replaced by :class:`SequenceSkipped` (with its length); read its
    items one at a time with :func:`iter_items`. Other top-level values load as usual.
    ``on_items``, given the top-level values read before the sequence, may return a
    function that then gets each item (with its index) as it is read.
    """
    reader = _Reader(text)
    root = reader.root()
    if not isinstance(root, yaml.MappingStartEvent) or root.anchor is not None:
        value = reader.value(root)
        reader.end()
        return value
    result: dict[str, Any] = {}
    for name, first in reader.entries():
        if name == key and isinstance(first, yaml.SequenceStartEvent) and first.anchor is None:
            reader._known_tag(first, _SEQ)
            handle = on_items(result) if on_items is not None else None
            length = 0
            while not isinstance(item := reader.next(), yaml.SequenceEndEvent):
                if handle is None:
                    reader.skip(item)
                else:
                    handle(length, reader.value(item))
                length += 1
            result[name] = SequenceSkipped(length)
        else:
            result[name] = reader.value(first)
    reader.end()
    return result


def iter_items(text: str | IO[bytes], key: str) -> Iterator[Any]:
    """Yield the items of the sequence under top-level ``key`` one by one (see :func:`load_without`).

    Call it only on text :func:`load_without` has read without error.
    """
    reader = _Reader(text)
    root = reader.root()
    if not isinstance(root, yaml.MappingStartEvent):
        return
    for name, first in reader.entries():
        if name == key and isinstance(first, yaml.SequenceStartEvent):
            while not isinstance(item := reader.next(), yaml.SequenceEndEvent):
                yield reader.value(item)
        else:
            reader.skip(first)


# ---------------------------------------------------------------------------- writing

# JSON escapes control characters, but not these, which YAML 1.1 either refuses raw
# (C1 controls, DEL, non-characters) or reads as line breaks inside quotes (NEL, LS, PS).
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_KEY_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def quote(text: str) -> str:
    r"""Return ``text`` as a double-quoted scalar that every YAML and JSON parser reads back exactly.

    >>> quote('yes')
    '"yes"'
    >>> quote('a\nb: c')
    '"a\\nb: c"'
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
