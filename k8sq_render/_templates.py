"""The Jinja environment: template search path, sandbox, strict undefined, safe output.

* **Search path.** User directories first (in the order given), the packaged
  ``templates/`` last; the first directory holding a template wins. The packaged
  templates are also reachable as ``builtin/<version>/...``, so an override named
  ``v1/job.yaml.j2`` can ``{% extends "builtin/v1/job.yaml.j2" %}`` and replace a
  single block. A template can only read files inside its root (no ``..``, no symlink
  out of the root).
* **Sandbox.** An immutable sandbox: templates cannot reach Python internals or
  change the values they are given. Undefined names are errors, not empty strings.
* **Safe output.** Every ``{{ expression }}`` is written as one YAML flow value (a
  double-quoted string, a plain decimal number, a JSON-style list or mapping), so no
  value, whatever its text, can add a key, end a block or start a document.
"""

from __future__ import annotations

import functools
import math
import os
import secrets
import weakref
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import _resources, _yaml
from .errors import TemplateError, TemplateNotFoundError

BUILTIN_PREFIX = "builtin/"
JOB_TEMPLATE = "job.yaml.j2"


class SearchPathLoader(jinja2.BaseLoader):
    """Load templates from user directories first, then the packaged templates."""

    def __init__(self, user_dirs: Sequence[str | Path] = ()) -> None:
        self.builtin = _resources.data_dir("templates").resolve()
        for directory in user_dirs:
            # A mistyped --templates must not quietly fall back to the packaged templates.
            if not Path(directory).is_dir():
                raise TemplateNotFoundError(name=str(directory), searched=[], what="template directory")
        self.roots = [Path(d).resolve() for d in user_dirs] + [self.builtin]

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        if template.startswith(BUILTIN_PREFIX):
            roots, name = [self.builtin], template[len(BUILTIN_PREFIX) :]
        else:
            roots, name = self.roots, template
        parts = name.split("/")
        if not name or any(part in ("", ".", "..") for part in parts):
            raise TemplateNotFoundError(name=template, searched=[str(r) for r in roots])
        for root in roots:
            path = root.joinpath(*parts)
            if not path.is_file():
                continue
            real = path.resolve()
            if not real.is_relative_to(root):
                raise TemplateError(template=str(path), message=f"resolves outside its template root {root}")
            mtime = real.stat().st_mtime
            try:
                source = real.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise TemplateError(
                    template=str(path), message=f"not UTF-8 text ({exc.reason} at byte {exc.start})"
                ) from None
            return source, str(path), lambda real=real, mtime=mtime: real.stat().st_mtime == mtime
        raise TemplateNotFoundError(name=template, searched=[str(r) for r in roots])


# While a render is traced, _finalize writes a placeholder instead of each value and
# records the value (see render_traced). The nonce keeps template text from forging a
# placeholder; placeholders never reach any output.
_TRACE: ContextVar[list[Any] | None] = ContextVar("k8sq_trace", default=None)
MARK = "\ue000"
NONCE = secrets.token_hex(8)


def placeholder(index: int) -> str:
    """Return the text of the placeholder for the value recorded at ``index``."""
    return f"{MARK}{NONCE}:{index}{MARK}"


def _finalize(value: Any) -> markupsafe.Markup:
    # Template text (block and macro output, super()) arrives as Markup and is already
    # YAML; every other value is written as exactly one YAML value.
    if isinstance(value, markupsafe.Markup):
        return value
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()  # raises UndefinedError (or SecurityError in the sandbox)
    trace = _TRACE.get()
    if trace is not None and (isinstance(value, Slot) or plain(value)):
        trace.append(value)
        return markupsafe.Markup('"' + placeholder(len(trace) - 1) + '"')
    return markupsafe.Markup(_yaml.flow(value))


def plain(value: Any) -> bool:
    """True for JSON data whose flow text parses back to exactly itself (str keys, finite floats)."""
    if isinstance(value, (str, int, bool)) or value is None:
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(plain(item) for item in value)
    return False


# Filters that would hand a value to the output unquoted (by marking it safe or
# returning Markup): templates do not get them. `{{ value }}` is the one way out.
_RAW_FILTERS = ("safe", "escape", "e", "forceescape", "xmlattr", "urlize", "tojson")


@lru_cache(maxsize=32)
def environment(user_dirs: tuple[str, ...] = ()) -> jinja2.Environment:
    """Return the (cached) sandboxed environment for a template search path."""
    env = ImmutableSandboxedEnvironment(
        loader=SearchPathLoader(user_dirs),
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
        # Autoescape only to tell template text (Markup) from values; _finalize does the quoting.
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    for name in _RAW_FILTERS:
        env.filters.pop(name, None)
    return env


def job_template(version: str, user_dirs: Sequence[str | os.PathLike[str]] = ()) -> jinja2.Template:
    """Return the compiled Job template of ``version`` from the search path.

    Raises:
        TemplateNotFoundError: no directory holds ``<version>/job.yaml.j2``.
        TemplateError: the template (or one it extends) does not compile.
    """
    env = environment(tuple(os.fspath(d) for d in user_dirs))
    name = f"{version}/{JOB_TEMPLATE}"
    try:
        template = env.get_template(name)
        if template not in _CHECKED:
            _check_captured_text(template)
            _CHECKED[template] = True
        return template
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            template=exc.filename or exc.name or name, line=exc.lineno, message=exc.message or "syntax error"
        ) from None


_CAPTURING = (
    jinja2.nodes.Macro,
    jinja2.nodes.CallBlock,
    jinja2.nodes.FilterBlock,
    jinja2.nodes.AssignBlock,
    jinja2.nodes.Import,
    jinja2.nodes.FromImport,
)


_LINKS = (jinja2.nodes.Extends, jinja2.nodes.Include, jinja2.nodes.Import, jinja2.nodes.FromImport)


@functools.lru_cache(maxsize=256)
def _chain(template: jinja2.Template) -> tuple[tuple[str, jinja2.nodes.Template], ...]:
    """``(file, syntax tree)`` of ``template`` and of every template it extends, includes or imports.

    Raises:
        TemplateError: a template is named by an expression; it could not be checked
            before rendering, so it is refused.
    """
    env = template.environment
    pending, seen, chain = [template.name or ""], set(), []
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        source, found, _ = env.loader.get_source(env, name)  # type: ignore[union-attr]
        tree = env.parse(source)
        chain.append((str(found), tree))
        for node in tree.find_all(_LINKS):
            target = getattr(node, "template", None)
            if not isinstance(target, jinja2.nodes.Const):
                raise TemplateError(
                    template=str(found), line=node.lineno, message="templates must be named by a literal string"
                )
            pending.append(str(target.value))
    return tuple(chain)


def _trees(template: jinja2.Template) -> list[jinja2.nodes.Template]:
    return [tree for _file, tree in _chain(template)]


def traceable(template: jinja2.Template) -> bool:
    """True when tracing ``template`` gives exactly the text a plain render gives.

    Placeholders are safe wherever output goes straight to the document. They are not
    where a template captures rendered text and then looks at it (a macro, a ``set`` or
    ``filter`` block, or ``super()`` / ``self.block()`` used inside an expression), since
    it would see placeholders instead of values. Such templates, and any template they
    extend or include, are rendered without tracing.
    """
    for tree in _trees(template):
        if any(True for _ in tree.find_all(_CAPTURING)):
            return False
        direct = {id(out) for output in tree.find_all(jinja2.nodes.Output) for out in output.nodes}
        for call in tree.find_all(jinja2.nodes.Call):
            func = call.node
            captured = (isinstance(func, jinja2.nodes.Name) and func.name == "super") or (
                isinstance(func, jinja2.nodes.Getattr)
                and isinstance(func.node, jinja2.nodes.Name)
                and func.node.name == "self"
            )
            if captured and id(call) not in direct:
                return False
    return True


#: Context entries that differ from message to message (the rest is the queue's).
PER_MESSAGE_JOB = frozenset({"name", "annotations", "priorityClassName", "env"})
_NONE_TESTS = frozenset({"defined", "undefined", "none"})


def renders_once(template: jinja2.Template) -> bool:
    """True when ``template`` can be rendered once per queue, not once per message.

    That holds when, besides being :func:`traceable`, it uses a message's values
    (``message``, ``job.name``, ``job.annotations``, ``job.priorityClassName``,
    ``job.env``) only by writing them out whole (``{{ message.payload.user }}``) or by
    asking whether a top-level one is defined or none. Its output for any message is
    then the queue's skeleton with that message's values in place, so the skeleton is
    rendered once (see :class:`Slot`). Any other use (a filter, a comparison, a loop, an
    ``if`` on the value) makes the template render message by message.
    """
    if not traceable(template):
        return False
    for tree in _trees(template):
        parents = {id(child): node for node in tree.find_all(jinja2.nodes.Node) for child in node.iter_child_nodes()}
        for name in tree.find_all(jinja2.nodes.Name):
            if name.name not in ("message", "job"):
                continue
            if name.ctx != "load":
                return False
            top: jinja2.nodes.Node = name
            depth = 0
            while True:
                parent = parents.get(id(top))
                if isinstance(parent, jinja2.nodes.Getattr) or (
                    isinstance(parent, jinja2.nodes.Getitem)
                    and parent.node is top
                    and isinstance(parent.arg, jinja2.nodes.Const)
                ):
                    top, depth = parent, depth + 1
                    continue
                break
            if name.name == "message" and depth == 0:
                return False  # the whole message, a mapping of slots, cannot be written as one
            if name.name == "job":
                first = parents.get(id(name))
                if not isinstance(first, jinja2.nodes.Getattr):
                    return False
                if first.attr not in PER_MESSAGE_JOB:
                    continue
            user = parents.get(id(top))
            written = isinstance(user, jinja2.nodes.Output) and any(node is top for node in user.nodes)
            tested = (
                isinstance(user, jinja2.nodes.Test) and user.node is top and user.name in _NONE_TESTS and depth == 1
            )
            if not (written or tested):
                return False
    return True


class Slot:
    """Stands for one message's value while a queue's skeleton is rendered.

    It records how the template reached it (attribute and item steps from ``message``
    or ``job``); :meth:`resolve` takes the same steps in a real message's context.
    """

    __slots__ = ("steps",)

    def __init__(self, steps: tuple[tuple[bool, Any], ...]) -> None:
        self.steps = steps

    def __getattr__(self, name: str) -> Slot:
        if name.startswith("_"):
            raise AttributeError(name)
        return Slot((*self.steps, (True, name)))

    def __getitem__(self, key: Any) -> Slot:
        return Slot((*self.steps, (False, key)))

    def resolve(self, env: jinja2.Environment, context: dict[str, Any]) -> Any:
        """Return the value these steps reach in ``context`` (Undefined when they reach nothing)."""
        value: Any = context
        for is_attribute, key in self.steps:
            value = env.getattr(value, key) if is_attribute else env.getitem(value, key)
            if isinstance(value, jinja2.Undefined):
                break
        return value


_CHECKED: weakref.WeakKeyDictionary[jinja2.Template, bool] = weakref.WeakKeyDictionary()
_TAKEN_APART = (
    "rendered template text (super(), a block, a macro or a set block) may only be written out as it is, "
    "re-indented or tested for being empty: taken apart, a value in it could turn into YAML"
)
_GLOBAL_FUNCTIONS = frozenset({"range", "lipsum", "dict", "cycler", "joiner", "namespace", "loop"})


def _check_captured_text(template: jinja2.Template) -> None:
    """Refuse templates that take rendered template text apart.

    Rendered text (``super()``, ``self.block()``, a macro's or ``caller()``'s output, a
    ``set`` block) is trusted YAML in which every value is one quoted value. Sliced,
    searched, filtered or compared, a value's own text could come out as YAML, so it
    may only be written out as it is, re-indented (``| indent``), or tested for being
    empty (``{% if self.sidecars() %}``).

    Raises:
        TemplateError: naming the file and line of the first such use.
    """
    for filename, tree in _chain(template):
        parents = {id(child): node for node in tree.find_all(jinja2.nodes.Node) for child in node.iter_child_nodes()}
        captured_names = {
            target.name
            for node in tree.find_all((jinja2.nodes.AssignBlock, jinja2.nodes.Assign))
            if isinstance(node, jinja2.nodes.AssignBlock) or _is_captured(getattr(node, "node", None), set())
            for target in node.find_all(jinja2.nodes.Name)
            if target.ctx == "store"
        }
        for block in tree.find_all(jinja2.nodes.FilterBlock):
            if block.filter.name != "indent":
                raise TemplateError(template=filename, line=block.lineno, message=_TAKEN_APART)
        for node in tree.find_all((jinja2.nodes.Call, jinja2.nodes.Name)):
            if not _is_captured(node, captured_names):
                continue
            parent = parents.get(id(node))
            if isinstance(parent, jinja2.nodes.Filter) and parent.name == "indent" and parent.node is node:
                node, parent = parent, parents.get(id(parent))
            written = isinstance(parent, jinja2.nodes.Output) and any(child is node for child in parent.nodes)
            while isinstance(parent, jinja2.nodes.Not):  # {% if not self.sidecars() %}
                node, parent = parent, parents.get(id(parent))
            tested = isinstance(parent, jinja2.nodes.If) and parent.test is node
            stored = isinstance(parent, jinja2.nodes.Assign) and parent.node is node
            if not (written or tested or stored):
                raise TemplateError(template=filename, line=node.lineno, message=_TAKEN_APART)


def _is_captured(node: jinja2.nodes.Node | None, names: set[str]) -> bool:
    if isinstance(node, jinja2.nodes.Name):
        return node.ctx == "load" and node.name in names
    if not isinstance(node, jinja2.nodes.Call):
        return False
    func = node.node
    if isinstance(func, jinja2.nodes.Name):
        return func.name not in _GLOBAL_FUNCTIONS  # super(), caller() or a macro
    return (
        isinstance(func, jinja2.nodes.Getattr) and isinstance(func.node, jinja2.nodes.Name) and func.node.name == "self"
    )


def render_traced(template: jinja2.Template, context: dict[str, Any]) -> tuple[str, list[Any]]:
    """Render with a placeholder for every ``{{ }}`` value; return the text and the values.

    Replacing each placeholder of the text by the YAML of its value gives exactly what
    :func:`render` returns, so text that repeats across messages (the same template, the
    same queue) can be parsed and checked once. Raises what :func:`render` raises.
    """
    trace: list[Any] = []
    token = _TRACE.set(trace)
    try:
        return render(template, context), trace
    finally:
        _TRACE.reset(token)


def render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render ``template``; every failure becomes a :class:`TemplateError` naming file and line."""
    try:
        return template.render(context)
    except (TemplateError, TemplateNotFoundError):
        raise
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(
            template=exc.filename or exc.name or str(template.filename),
            line=exc.lineno,
            message=exc.message or "syntax error",
        ) from None
    except Exception as exc:
        filename, line = _template_frame(exc, template)
        kind = "refused by the sandbox" if isinstance(exc, jinja2.exceptions.SecurityError) else type(exc).__name__
        raise TemplateError(template=filename, line=line, message=f"{kind}: {exc}") from None


def _template_frame(exc: BaseException, template: jinja2.Template) -> tuple[str, int | None]:
    """Find the innermost template file and line in a traceback Jinja rewrote."""
    filename, line = str(template.filename), None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.endswith(".j2") or "template" in code.co_name:
            candidate = code.co_filename
            if os.path.exists(candidate):
                filename, line = candidate, tb.tb_lineno
        tb = tb.tb_next
    return filename, line


def describe(version: str, user_dirs: Sequence[str | os.PathLike[str]] = ()) -> tuple[str, list[str]]:
    """Return the file the Job template of ``version`` resolves to, and its block names in order."""
    template = job_template(version, user_dirs)
    names: list[str] = []
    current: jinja2.Template | None = template
    env = template.environment
    # An override's blocks come after the blocks of the template it extends.
    while current is not None:
        names[:0] = [name for name in current.blocks if name not in names]
        parent = _parent_name(current)
        current = env.get_template(parent) if parent else None
    return str(template.filename), names


def _parent_name(template: jinja2.Template) -> str | None:
    source = template.environment.loader.get_source(template.environment, template.name or "")[0]  # type: ignore[union-attr]
    for node in template.environment.parse(source).find_all(jinja2.nodes.Extends):
        if isinstance(node.template, jinja2.nodes.Const):
            return str(node.template.value)
    return None


def packaged_source(version: str) -> str:
    """Return the text of the packaged Job template of ``version`` (a starting point for overrides)."""
    path = _resources.data_dir("templates") / version / JOB_TEMPLATE
    if not path.is_file():
        raise TemplateNotFoundError(name=f"{version}/{JOB_TEMPLATE}", searched=[str(_resources.data_dir("templates"))])
    return path.read_text(encoding="utf-8")
