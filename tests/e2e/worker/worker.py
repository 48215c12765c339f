"""Placeholder worker for the e2e cluster's worker image (/app/worker.py).

Contract, as the e2e tests rely on it:
- the message envelope (JSON) arrives in the K8SQ_MESSAGE environment variable;
  it is read with ``k8sq_render.envelope.read()`` when the package in the image
  provides it, else parsed here with ``json``;
- one line ``k8sq-worker: {"id": ..., "queue": ..., "payload": ..., "attempt": ...}``
  goes to stdout, and the same JSON to /dev/termination-log;
- exit status 1 when ``payload["fail"]`` is true or when
  ``int(payload["fail_attempts"]) >= attempt`` (attempt defaults to 1), else 0.
"""

import json
import os
import sys

TERMINATION_LOG = "/dev/termination-log"


def _field(msg, name, default=None):
    if isinstance(msg, dict):
        return msg.get(name, default)
    return getattr(msg, name, default)


def read_message():
    try:
        from k8sq_render import envelope
    except ImportError as exc:
        # stderr, so stdout keeps its one-line contract.
        print(f"k8sq-worker: k8sq_render.envelope not importable ({exc}); parsing K8SQ_MESSAGE as JSON",
              file=sys.stderr)
        return json.loads(os.environ["K8SQ_MESSAGE"])
    return envelope.read()


def summary(msg):
    payload = _field(msg, "payload") or {}
    attempt = _field(msg, "attempt") or 1
    return {
        "id": _field(msg, "id"),
        "queue": _field(msg, "queue"),
        "payload": payload,
        "attempt": int(attempt),
    }


def should_fail(info):
    payload = info["payload"] if isinstance(info["payload"], dict) else {}
    if payload.get("fail"):
        return True
    return int(payload.get("fail_attempts", 0)) >= info["attempt"]


def main():
    info = summary(read_message())
    line = json.dumps(info, sort_keys=True)
    print("k8sq-worker: " + line, flush=True)
    try:
        with open(TERMINATION_LOG, "w") as f:
            f.write(line)
    except OSError:
        pass  # not running in a pod: stdout is enough
    return 1 if should_fail(info) else 0


if __name__ == "__main__":
    sys.exit(main())
