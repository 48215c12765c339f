"""Names, labels, annotations and selectors: every such rule in one pure module.

Limits come from Kubernetes' own validation (``k8s.io/apimachinery/pkg/util/validation``):

* a Job name must be a DNS-1123 label of at most 63 characters, because the Job
  controller copies it into the pod label ``batch.kubernetes.io/job-name``;
* a label value is at most 63 characters of ``[A-Za-z0-9_.-]``, starting and ending
  alphanumeric (or empty).

Queue names and message ids are free text, so they are sanitised into these alphabets.
Sanitising loses information (``Emails`` and ``emails`` both become ``emails``), so a
short hash of the raw input is added whenever it changed anything: two different raw
inputs never share a name or a label value. Job names always carry the hash, because
joining two clean parts is ambiguous too (queue ``a-b`` + id ``c`` vs ``a`` + ``b-c``).
Raw values are kept in annotations, which take any text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY = "k8sq-render"
PREFIX = "k8sq.io/"
QUEUE_LABEL = PREFIX + "queue"
VERSION_LABEL = PREFIX + "template-version"
QUEUE_ANNOTATION = PREFIX + "queue-name"
MESSAGE_ID_ANNOTATION = PREFIX + "message-id"
TIMESTAMP_ANNOTATION = PREFIX + "timestamp"
VERSION_ANNOTATION = PREFIX + "template-version"
ATTEMPT_ANNOTATION = PREFIX + "attempt"
PRIORITY_ANNOTATION = PREFIX + "priority"

MAX_NAME = 63
MAX_LABEL_VALUE = 63
HASH_LENGTH = 8

DNS1123_LABEL = re.compile(r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NOT_DNS = re.compile(r"[^a-z0-9]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


def short_hash(*parts: str) -> str:
    """Return an 8-character lowercase base32 digest of ``parts`` (unambiguously joined).

    >>> short_hash("emails") != short_hash("Emails")
    True
    >>> short_hash("a-b", "c") != short_hash("a", "b-c")
    True
    """
    digest = hashlib.sha256()
    for part in parts:
        raw = part.encode("utf-8", "surrogatepass")
        digest.update(len(raw).to_bytes(8, "big"))
        digest.update(raw)
    return base64.b32encode(digest.digest()).decode("ascii").lower()[:HASH_LENGTH]


def _dns_part(text: str) -> str:
    return _NOT_DNS.sub("-", text.lower()).strip("-")


def _cut(text: str, length: int, trailing: str) -> str:
    return text[:length].rstrip(trailing) if length > 0 else ""


def job_name(queue: str, message_id: str, attempt: int = 1, variant: str = "") -> str:
    """Return the Job name for one attempt of a message: ``<queue>-<id>[-r<attempt>]-<hash>``.

    Always a DNS-1123 label of at most 63 characters, the same for the same input, and
    different for different ``(queue, message_id, attempt)``: the readable part is cut
    to fit (at most 20 characters of the id), the hash keeps it unique. ``variant``
    (GitOps output passes a digest of the Job spec) goes into the hash only.

    >>> job_name("emails", "welcome-42")
    'emails-welcome-42-pvc325nt'
    >>> job_name("emails", "welcome-42", attempt=2).startswith("emails-welcome-42-r2-")
    True
    >>> len(job_name("q" * 100, "x" * 100))
    63
    """
    digest = short_hash(queue, message_id, str(attempt), *([variant] if variant else []))
    tail = (f"-r{attempt}" if attempt > 1 else "") + "-" + digest
    room = MAX_NAME - len(tail)
    msg = _cut(_dns_part(message_id), 20, "-")
    head = _cut(_dns_part(queue), room - len(msg) - 1, "-")
    stem = "-".join(part for part in (head, msg) if part)
    return f"{stem}{tail}" if stem else tail.lstrip("-")


def label_value(text: str) -> str:
    """Return ``text`` as a valid label value, unchanged when it already is one.

    >>> label_value("emails"), label_value("Emails")
    ('emails', 'Emails')
    >>> LABEL_VALUE.match(label_value("orders." + "x" * 80)) is not None
    True
    """
    if len(text) <= MAX_LABEL_VALUE and LABEL_VALUE.match(text):
        return text
    digest = short_hash(text)
    clean = _NOT_LABEL.sub("-", text)
    # Strip to an alphanumeric start and end, cutting first so no '.', '_' or '-' is left dangling.
    clean = clean[: MAX_LABEL_VALUE - HASH_LENGTH - 1].strip("-_.")
    return f"{clean}-{digest}" if clean else digest


def queue_labels(queue: str, version: str) -> dict[str, str]:
    """Return the labels that identify a queue's Jobs and pods."""
    return {MANAGED_BY_KEY: MANAGED_BY, QUEUE_LABEL: label_value(queue), VERSION_LABEL: version}


def selector(queue: str) -> str:
    """Return the label selector for every Job of ``queue`` (any template version).

    >>> selector("emails")
    'app.kubernetes.io/managed-by=k8sq-render,k8sq.io/queue=emails'
    """
    return f"{MANAGED_BY_KEY}={MANAGED_BY},{QUEUE_LABEL}={label_value(queue)}"


def is_reserved_key(key: str) -> bool:
    """Return True for label/annotation keys that k8sq-render sets itself."""
    return key.startswith(PREFIX) or key == MANAGED_BY_KEY


def content_id(payload: Mapping[str, Any], timestamp: int | None, priority: str | None) -> str:
    """Return a message id derived from the message's content (16 hex characters).

    >>> content_id({"a": 1}, None, None) == content_id({"a": 1}, None, None)
    True
    """
    canonical = json.dumps(
        {"payload": payload, "timestamp": timestamp, "priority": priority},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


#: Labels the API server and the Job controller add to a Job and its pod template
#: (``spec.template.metadata.labels``); a Job built from another Job's spec must drop
#: them, or its pods would match the old Job's selector.
SERVER_LABELS = ("controller-uid", "job-name")
SERVER_LABEL_PREFIX = "batch.kubernetes.io/"


def is_server_label(key: str) -> bool:
    """Return True for labels the Job controller sets from the Job's uid and name.

    >>> is_server_label("batch.kubernetes.io/controller-uid"), is_server_label(QUEUE_LABEL)
    (True, False)
    """
    return key in SERVER_LABELS or key.startswith(SERVER_LABEL_PREFIX)


def name_selector(name: str) -> str:
    """Return the field selector for one object by name (watches select this way).

    >>> name_selector("emails-welcome-42-pvc325nt")
    'metadata.name=emails-welcome-42-pvc325nt'
    """
    return f"metadata.name={name}"
