"""Regenerate the bundled Kubernetes Job schema from the Kubernetes source module.

The Kubernetes repository publishes its OpenAPI v3 documents under
``api/openapi-spec/v3/``. This script takes ``apis__batch__v1_openapi.json`` of one
release, keeps only the definitions a ``batch/v1`` Job reaches, turns OpenAPI
references into JSON Schema ``$defs`` and closes every object that declares its
properties (``additionalProperties: false``), so a misspelt field in a template is an
error rather than something the API server silently drops.

Usage (the Go toolchain fetches the module from the Go module proxy)::

    GOFLAGS=-mod=mod go mod download -json k8s.io/kubernetes@v1.34.4   # prints "Dir"
    python schema/kubernetes/refresh.py DIR/api/openapi-spec/v3/apis__batch__v1_openapi.json v1.34.4

It writes ``schema/kubernetes/<version>/job.json``; point ``KUBERNETES_VERSION`` in
``k8sq_render/_kubeschema.py`` at the new folder and re-run the tests.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = "io.k8s.api.batch.v1.Job"
REF_PREFIX = "#/components/schemas/"
# Annotations that carry no validation meaning; dropping them keeps the file small.
DROPPED_KEYS = {"description", "default", "example", "externalDocs"}


def _convert(node: Any, reached: set[str]) -> Any:
    if isinstance(node, list):
        return [_convert(item, reached) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED_KEYS or key.startswith("x-"):
            continue
        if key == "$ref":
            name = value.removeprefix(REF_PREFIX)
            reached.add(name)
            out[key] = "#/$defs/" + name
        else:
            out[key] = _convert(value, reached)
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def build(openapi: dict[str, Any], version: str) -> dict[str, Any]:
    """Return a self-contained JSON Schema (draft 2020-12) for a batch/v1 Job."""
    components = openapi["components"]["schemas"]
    defs: dict[str, Any] = {}
    pending = [ROOT]
    while pending:
        name = pending.pop()
        if name in defs:
            continue
        reached: set[str] = set()
        defs[name] = _convert(components[name], reached)
        pending.extend(sorted(reached - defs.keys()))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"k8sq-render:kubernetes/{version}/job.json",
        "title": f"batch/v1 Job, Kubernetes {version}",
        "allOf": [
            {"$ref": "#/$defs/" + ROOT},
            {
                # What the API server demands of a Job we create, beyond the OpenAPI shape.
                "required": ["apiVersion", "kind", "metadata", "spec"],
                "properties": {
                    "apiVersion": {"const": "batch/v1"},
                    "kind": {"const": "Job"},
                    "metadata": {"required": ["name"]},
                    "spec": {"required": ["template"]},
                },
            },
        ],
        "$defs": dict(sorted(defs.items())),
    }


def main(argv: list[str]) -> int:
    source, version = Path(argv[1]), argv[2]
    schema = build(json.loads(source.read_text(encoding="utf-8")), version)
    target = Path(__file__).parent / version / "job.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {target} ({len(schema['$defs'])} definitions)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
