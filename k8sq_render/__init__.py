"""k8sq-render: turn queue messages into Kubernetes Jobs, the declarative way.

Render Jobs from a values file::

    import k8sq_render

    for job in k8sq_render.render("values.yaml"):
        print(job.text)

Read the message inside a worker pod (imports only the standard library)::

    from k8sq_render import envelope

    message = envelope.read()

Heavy modules (Jinja, jsonschema, the Kubernetes client) load on first use, so worker
code that only reads its envelope starts fast in a small image.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import envelope, errors
from .errors import K8sqError, UserError

if TYPE_CHECKING:
    from ._render import Manifest, render
    from ._values import Values, load as validate

__all__ = ["K8sqError", "Manifest", "UserError", "Values", "envelope", "errors", "render", "validate"]

_LAZY = {
    "Manifest": ("._render", "Manifest"),
    "render": ("._render", "render"),
    "Values": ("._values", "Values"),
    "validate": ("._values", "load"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module, __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
