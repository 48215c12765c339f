"""The fast path of rendering: the same Jobs and bytes as rendering each message in full.

Messages of one queue render to the same text but for the values in it. With every
value replaced by a placeholder (see ``_templates.render_traced``), that text -- the
skeleton -- repeats, so it is parsed once; each message then only fills in its values
(JSON in, JSON out, in C). Filling a placeholder with a value gives what parsing the
value's YAML would give, because every value is written as one quoted or JSON-style
YAML value. A template that writes a message's values only whole (see
``_templates.renders_once``) is even rendered once per queue: each message then only
resolves its slots. Anything unusual (a placeholder inside a longer string or as a key,
text that does not parse, a value the template cannot write) falls back to rendering
and parsing the message in full, which raises whatever is wrong.
"""

from __future__ import annotations

import json
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jinja2

from . import _templates, _yaml

if TYPE_CHECKING:
    from ._render import JobPlan


@dataclass(frozen=True)
class Filled:
    """A message's Job from the fast path: as data, as JSON text and (when planned) as YAML."""

    obj: dict[str, Any]
    json: str
    text: str | None


def render(template: jinja2.Template, job: JobPlan) -> Filled | None:
    """Render ``job`` the fast way; ``None`` when it must be rendered in full."""
    if not _traceable(template):
        return None
    return _render_once(template, job) or _render_fast(template, job.context())


@dataclass(frozen=True)
class _Skeleton:
    chunks: list[str]  # the document's JSON between its placeholders
    slots: list[int]  # the value each gap is filled with
    dump: _yaml.DumpPlan | None


_SKELETONS: dict[str, _Skeleton | None] = {}
_MAX_SKELETONS = 256
_TRACEABLE: weakref.WeakKeyDictionary[jinja2.Template, bool] = weakref.WeakKeyDictionary()
_SLOT = re.compile('"' + _templates.MARK + _templates.NONCE + r":(\d+)" + _templates.MARK + '"')
_TOKEN = re.compile(_templates.MARK + _templates.NONCE + r":(\d+)" + _templates.MARK)
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def to_json(obj: Any) -> str:
    """Compact JSON, as the fast path writes it."""
    return _JSON.encode(obj)


def _traceable(template: jinja2.Template) -> bool:
    if template not in _TRACEABLE:
        _TRACEABLE[template] = _templates.traceable(template)
    return _TRACEABLE[template]


_Baked = tuple["_Skeleton", list[_templates.Slot]]
_ONCE: weakref.WeakKeyDictionary[jinja2.Template, dict[tuple[str, tuple[str, ...]], _Baked | None]]
_ONCE = weakref.WeakKeyDictionary()
_RENDERS_ONCE: weakref.WeakKeyDictionary[jinja2.Template, bool] = weakref.WeakKeyDictionary()


def _render_once(template: jinja2.Template, job: JobPlan) -> Filled | None:
    """Fill this message's values into its queue's rendered skeleton, rendering it only once.

    ``None`` when the template does not allow it (see :func:`_templates.renders_once`)
    or something about this message is unusual; the caller then renders it.
    """
    if template not in _RENDERS_ONCE:
        _RENDERS_ONCE[template] = _templates.renders_once(template)
    if not _RENDERS_ONCE[template] or not job.queue_key:
        return None
    context = job.context()
    slots, shape = _slot_context(context)
    cache = _ONCE.setdefault(template, {})
    key = (job.queue_key, shape)
    if key not in cache:
        if len(cache) >= _MAX_SKELETONS:
            cache.clear()
        try:
            text, recorded = _templates.render_traced(template, slots)
        except Exception:
            cache[key] = None
        else:
            skeleton = _skeleton_of(text)
            cache[key] = None if skeleton is None else _bake(skeleton, recorded)
    entry = cache[key]
    if entry is None:
        return None
    skeleton, pending = entry
    env = template.environment
    values = []
    for slot in pending:
        value = slot.resolve(env, context)
        if isinstance(value, jinja2.Undefined) or not _templates.plain(value):
            return None
        values.append(value)
    return _filled(skeleton, values)


def _bake(skeleton: _Skeleton, recorded: list[Any]) -> _Baked:
    """Write the queue's own values into the skeleton once; leave gaps only for the message's."""
    slots: list[_templates.Slot] = []
    renumbered: dict[int, int] = {}

    def gap(index: int) -> int:
        if index not in renumbered:
            renumbered[index] = len(slots)
            slots.append(recorded[index])
        return renumbered[index]

    chunks, gaps = [skeleton.chunks[0]], []
    for index, chunk in zip(skeleton.slots, skeleton.chunks[1:], strict=True):
        if isinstance(recorded[index], _templates.Slot):
            gaps.append(gap(index))
            chunks.append(chunk)
        else:
            chunks[-1] += _JSON.encode(recorded[index]) + chunk
    plan: _yaml.DumpPlan | None = None
    if skeleton.dump is not None:
        plan = []
        for part in skeleton.dump:
            if not isinstance(part, str) and isinstance(recorded[part[0]], _templates.Slot):
                plan.append((gap(part[0]), *part[1:]))
                continue
            text = part if isinstance(part, str) else _yaml.run_dump([part], recorded)
            if plan and isinstance(plan[-1], str):
                plan[-1] += text
            else:
                plan.append(text)
    return _Skeleton(chunks=chunks, slots=gaps, dump=plan), slots


def _slot_context(context: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The context with a :class:`_templates.Slot` for each value of the message, and which are none."""
    message = {
        key: None if value is None else _templates.Slot(((False, "message"), (True, key)))
        for key, value in context["message"].items()
    }
    job = dict(context["job"])
    for key in _templates.PER_MESSAGE_JOB:
        job[key] = None if job[key] is None else _templates.Slot(((False, "job"), (True, key)))
    shape = tuple(sorted(k for k, v in message.items() if v is None)) + tuple(
        sorted("job." + k for k in _templates.PER_MESSAGE_JOB if job[k] is None)
    )
    return {**context, "message": message, "job": job}, shape


def _render_fast(template: jinja2.Template, context: dict[str, Any]) -> Filled | None:
    """Render one message through its queue's skeleton; ``None`` when the fast path does not apply."""
    text, values = _templates.render_traced(template, context)
    return _fill(text, values)


def _fill(text: str, values: list[Any]) -> Filled | None:
    """Parse the skeleton ``text`` (once) and fill in ``values``."""
    skeleton = _skeleton_of(text)
    return None if skeleton is None else _filled(skeleton, values)


def _skeleton_of(text: str) -> _Skeleton | None:
    if text not in _SKELETONS:
        if len(_SKELETONS) >= _MAX_SKELETONS:
            _SKELETONS.clear()
        _SKELETONS[text] = _skeleton(text)
    return _SKELETONS[text]


def _filled(skeleton: _Skeleton, values: list[Any]) -> Filled:
    encode = _JSON.encode
    pieces = [skeleton.chunks[0]]
    for index, chunk in zip(skeleton.slots, skeleton.chunks[1:], strict=True):
        pieces.append(encode(values[index]))
        pieces.append(chunk)
    document = "".join(pieces)
    dumped = _yaml.run_dump(skeleton.dump, values) if skeleton.dump is not None else None
    return Filled(obj=json.loads(document), json=document, text=dumped)


def _skeleton(text: str) -> _Skeleton | None:
    try:
        obj = _yaml.load(text)
    except _yaml.YamlError:
        return None
    if not isinstance(obj, dict) or not _placeholders_are_whole_values(obj):
        return None
    parts = _SLOT.split(_JSON.encode(obj))
    return _Skeleton(
        chunks=parts[0::2], slots=[int(index) for index in parts[1::2]], dump=_yaml.plan_dump(obj, _slot_of)
    )


def _slot_of(leaf: Any) -> int | None:
    match = _TOKEN.fullmatch(leaf) if isinstance(leaf, str) else None
    return int(match.group(1)) if match else None


def _placeholders_are_whole_values(value: Any) -> bool:
    if isinstance(value, str):
        return _templates.MARK not in value or _TOKEN.fullmatch(value) is not None
    if isinstance(value, dict):
        return all(_templates.MARK not in key and _placeholders_are_whole_values(v) for key, v in value.items())
    if isinstance(value, list):
        return all(_placeholders_are_whole_values(item) for item in value)
    return True
