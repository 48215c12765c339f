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
    from ._client import Client, jobs, retry, size, submit, wait
    from ._kube import RetryPolicy
    from ._query import JobInfo, JobState, RetryResult, WaitResult, job_state
    from ._render import GitOps, Manifest, iter_render, render
    from ._submit import SubmitResult
    from ._values import Values
    from ._values import load as validate

__all__ = [
    "Client",
    "GitOps",
    "JobInfo",
    "JobState",
    "K8sqError",
    "Manifest",
    "RetryPolicy",
    "RetryResult",
    "SubmitResult",
    "UserError",
    "Values",
    "WaitResult",
    "envelope",
    "errors",
    "iter_render",
    "job_state",
    "jobs",
    "render",
    "retry",
    "size",
    "submit",
    "validate",
    "wait",
]

_LAZY = {
    "GitOps": ("._render", "GitOps"),
    "Manifest": ("._render", "Manifest"),
    "iter_render": ("._render", "iter_render"),
    "render": ("._render", "render"),
    "Values": ("._values", "Values"),
    "validate": ("._values", "load"),
    "Client": ("._client", "Client"),
    "submit": ("._client", "submit"),
    "size": ("._client", "size"),
    "jobs": ("._client", "jobs"),
    "retry": ("._client", "retry"),
    "wait": ("._client", "wait"),
    "RetryPolicy": ("._kube", "RetryPolicy"),
    "JobInfo": ("._query", "JobInfo"),
    "JobState": ("._query", "JobState"),
    "RetryResult": ("._query", "RetryResult"),
    "WaitResult": ("._query", "WaitResult"),
    "job_state": ("._query", "job_state"),
    "SubmitResult": ("._submit", "SubmitResult"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(module, __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
