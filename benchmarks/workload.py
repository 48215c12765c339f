"""The benchmark workload: one queue and N deterministic messages, as documents and files.

The same messages feed k8sq-render and the Helm chart. Every mapping is built with its
keys in sorted order and the env names sorted, because Helm writes maps sorted by key:
that way both sides produce the same Job data (see README, "The Helm chart").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

QUEUE_NAME = "emails"
OTHER_QUEUE_NAME = "reports"
BASE_TIMESTAMP = 1733232000


def queue(name: str = QUEUE_NAME, namespace: str = "bench", *, priorities: bool = True) -> dict[str, Any]:
    """A realistic queue: env, labels, annotations, resources, an image pull policy."""
    spec: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "image": "registry.example.com/mailer:1.4",
        "imagePullPolicy": "IfNotPresent",
        "env": {"LOG_LEVEL": "info", "REGION": "eu-west-1", "SMTP_URL": "smtp://mail.example.com:587"},
        "labels": {"team": "growth"},
        "annotations": {"owner": "growth@example.com"},
        "resources": {"limits": {"memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}},
    }
    if priorities:
        spec["priorityClasses"] = {"high": "k8sq-high", "low": "k8sq-low"}
    return spec


def message(i: int, *, priorities: bool = True) -> dict[str, Any]:
    """Message ``i``: an id, a timestamp, every tenth a priority, a small nested payload."""
    msg: dict[str, Any] = {
        "id": f"welcome-{i:06d}",
        "timestamp": BASE_TIMESTAMP + i,
        "payload": {
            "locale": "en-GB" if i % 2 else "de-DE",
            "note": f"voucher worth ${i % 50} for order #{i}",
            "tags": ["onboarding", f"cohort-{i % 7}"],
            "template": "welcome",
            "to": f"user{i}@example.com",
            "vars": {"first": "Ada", "plan": "pro" if i % 3 else "free", "seats": i % 9 + 1},
        },
    }
    if priorities and i % 10 == 0:
        msg["priority"] = "high"
    return msg


def single_documents(count: int, *, priorities: bool = True) -> list[dict[str, Any]]:
    """One values document per message (``message:``), as a per-message submit sees them."""
    q = queue(priorities=priorities)
    return [{"version": "v1", "queue": q, "message": message(i, priorities=priorities)} for i in range(count)]


def bulk_document(
    count: int, *, name: str = QUEUE_NAME, namespace: str = "bench", priorities: bool = True, start: int = 0
) -> dict[str, Any]:
    """One values document with ``count`` messages (``messages:``)."""
    return {
        "version": "v1",
        "queue": queue(name, namespace, priorities=priorities),
        "messages": [message(i, priorities=priorities) for i in range(start, start + count)],
    }


def write_values(path: Path, document: dict[str, Any]) -> Path:
    """Write a values document as YAML (block style; strings quoted where YAML needs it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        yaml.safe_dump(document, out, sort_keys=False, allow_unicode=True, width=1000)
    return path


def write_values_streaming(path: Path, count: int, *, priorities: bool = True, start: int = 0) -> Path:
    """Write a large values file message by message, without building it in memory first.

    Each message is written as one line of JSON (valid YAML flow), so a 100 000-message
    file takes seconds to write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"version": "v1", "queue": queue(priorities=priorities)}
    with path.open("w", encoding="utf-8") as out:
        yaml.safe_dump(head, out, sort_keys=False, width=1000)
        out.write("messages:\n")
        for i in range(start, start + count):
            out.write("  - ")
            out.write(json.dumps(message(i, priorities=priorities), ensure_ascii=False, separators=(", ", ": ")))
            out.write("\n")
    return path
