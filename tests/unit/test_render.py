"""Rendering rules: exact values, no structure injection, Job schema, determinism, limits."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from k8sq_render import _values, envelope, errors, render
from k8sq_render._render import k8s_literal

from .test_yaml import TRICKY


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/expansion)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == "$" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                end = text.find(")", i + 2)
                if end != -1:
                    name = text[i + 2 : end]
                    out.append(env.get(name, text[i : end + 1]))
                    i = end + 1
                    continue
        out.append(text[i])
        i += 1
    return "".join(out)


def both_parsers(text: str) -> dict:
    first = yaml.safe_load(text)
    assert YAML(typ="safe", pure=True).load(text) == first
    return first


def write_values(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def container_env(job: dict) -> dict[str, str]:
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}


@pytest.mark.parametrize("value", [v for v in TRICKY if "\x00" not in v])
def test_every_value_reaches_the_container_exactly(tmp_path: Path, value: str) -> None:
    document = {
        "version": "v1",
        "queue": {
            "name": value or "q",
            "image": "img:1",
            "command": [value],
            "args": [value, "--x=" + value],
            "env": {"TRICKY": value, "HOME_REF": "$(TRICKY)" + value},
            "annotations": {"example.com/note": value},
        },
        "message": {"id": value or "id", "payload": {"text": value, value: [value]}},
    }
    (manifest,) = render(write_values(tmp_path, document))
    job = both_parsers(manifest.text)
    assert job == manifest.obj
    env = container_env(job)
    container = job["spec"]["template"]["spec"]["containers"][0]
    # What the kubelet hands the process after its own $(VAR) expansion:
    seen = {name: expand(raw, {}) for name, raw in env.items()}
    assert seen["TRICKY"] == value
    assert seen["HOME_REF"] == "$(TRICKY)" + value
    assert [expand(c, seen) for c in container["command"]] == [value]
    assert [expand(a, seen) for a in container["args"]] == [value, "--x=" + value]
    message = envelope.read({envelope.ENV_VAR: seen[envelope.ENV_VAR]})
    assert message.payload == {"text": value, value: [value]}
    assert message.queue == (value or "q")
    assert job["metadata"]["annotations"]["example.com/note"] == value
    assert job["metadata"]["annotations"]["k8sq.io/queue-name"] == (value or "q")
    # No value added structure: the container has exactly the keys the template writes.
    assert sorted(container) == ["args", "command", "env", "image", "name"]
    assert sorted(job["spec"]["template"]["spec"]) == ["containers", "restartPolicy"]


def test_numbers_are_never_written_in_exponent_form(tmp_path: Path) -> None:
    document = {
        "version": "v1",
        "queue": {
            "name": "q",
            "image": "i",
            "activeDeadlineSeconds": 12000000,
            "resources": {"requests": {"cpu": 0.5, "memory": 12000000}, "limits": {"memory": 1.2e7}},
        },
        "message": {"payload": {"big": 1.2e7, "tiny": 1e-7}},
    }
    (manifest,) = render(write_values(tmp_path, document))
    assert not re.search(r"[0-9][eE][-+]?[0-9]", manifest.text)
    job = both_parsers(manifest.text)
    assert job["spec"]["activeDeadlineSeconds"] == 12000000
    resources = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {"requests": {"cpu": 0.5, "memory": 12000000}, "limits": {"memory": 12000000.0}}


def test_output_is_byte_identical_across_processes(tmp_path: Path) -> None:
    path = Path(__file__).resolve().parents[2] / "examples" / "all-options.yaml"
    code = "import sys, k8sq_render; sys.stdout.write(''.join(m.text for m in k8sq_render.render(sys.argv[1])))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code, str(path)],
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outputs) == 1
    assert outputs.pop() == "".join(m.text for m in render(path))


def test_k8s_literal_undoes_kubernetes_expansion() -> None:
    for text in ["$", "$$", "$(A)", "$$(A)", "a$b", "$(", "$()", "x$"]:
        assert expand(k8s_literal(text), {"A": "expanded"}) == text


def test_priority_maps_to_the_priority_class(tmp_path: Path) -> None:
    document = {
        "version": "v1",
        "queue": {"name": "q", "image": "i", "priorityClasses": {"high": "k8sq-high"}},
        "messages": [{"id": "a", "priority": "high"}, {"id": "b"}],
    }
    high, plain = render(write_values(tmp_path, document))
    assert high.obj["spec"]["template"]["spec"]["priorityClassName"] == "k8sq-high"
    assert high.obj["metadata"]["annotations"]["k8sq.io/priority"] == "high"
    assert "priorityClassName" not in plain.obj["spec"]["template"]["spec"]


def test_labels_annotations_and_defaults(tmp_path: Path) -> None:
    document = {
        "version": "v1",
        "queue": {"name": "Emails", "image": "i", "labels": {"team": "mail"}, "annotations": {"a.io/b": "c"}},
        "message": {"id": "m1", "timestamp": 1733232000, "payload": {}},
    }
    (manifest,) = render(write_values(tmp_path, document))
    meta = manifest.obj["metadata"]
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "k8sq-render",
        "k8sq.io/queue": "Emails",
        "k8sq.io/template-version": "v1",
        "team": "mail",
    }
    assert meta["annotations"] == {
        "k8sq.io/queue-name": "Emails",
        "k8sq.io/message-id": "m1",
        "k8sq.io/template-version": "v1",
        "k8sq.io/attempt": "1",
        "k8sq.io/timestamp": "1733232000",
        "a.io/b": "c",
    }
    pod = manifest.obj["spec"]["template"]["metadata"]
    assert pod == {"labels": meta["labels"], "annotations": {"a.io/b": "c"}}
    assert manifest.obj["spec"]["backoffLimit"] == 0
    assert manifest.obj["spec"]["ttlSecondsAfterFinished"] == 86400
    assert manifest.obj["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_no_timestamp_is_invented(tmp_path: Path) -> None:
    (manifest,) = render(write_values(tmp_path, {"version": "v1", "queue": {"name": "q", "image": "i"}, "message": {}}))
    assert "k8sq.io/timestamp" not in manifest.obj["metadata"]["annotations"]
    seen = expand(container_env(manifest.obj)[envelope.ENV_VAR], {})
    assert envelope.decode(seen).timestamp is None


def test_too_large_envelope_is_refused_naming_the_message(tmp_path: Path) -> None:
    document = {
        "version": "v1",
        "queue": {"name": "q", "image": "i"},
        "messages": [{"id": "small"}, {"id": "big", "payload": {"blob": "x" * envelope.MAX_ENV_BYTES}}],
    }
    with pytest.raises(errors.ValuesError) as caught:
        render(write_values(tmp_path, document))
    (problem,) = caught.value.problems
    assert problem.path == "/messages/1"
    assert f"over the {envelope.MAX_ENV_BYTES} bytes" in problem.message


def test_envelope_just_under_the_limit_renders(tmp_path: Path) -> None:
    base = envelope.encode(envelope.Message(id="edge", queue="q", timestamp=None, payload={"blob": ""}))
    blob = "x" * (envelope.MAX_ENV_BYTES - len(base.encode()))
    document = {
        "version": "v1",
        "queue": {"name": "q", "image": "i"},
        "message": {"id": "edge", "payload": {"blob": blob}},
    }
    (manifest,) = render(write_values(tmp_path, document))
    assert len(expand(container_env(manifest.obj)[envelope.ENV_VAR], {}).encode()) == envelope.MAX_ENV_BYTES


def test_env_value_over_exec_limit_is_refused(tmp_path: Path) -> None:
    document = {"version": "v1", "queue": {"name": "q", "image": "i", "env": {"BIG": "x" * 131072}}, "message": {}}
    with pytest.raises(errors.ValuesError) as caught:
        render(write_values(tmp_path, document))
    assert caught.value.problems[0].path == "/queue/env/BIG"


def test_job_too_large_to_store_is_refused(tmp_path: Path) -> None:
    env = {f"V{i}": "x" * 100_000 for i in range(12)}
    document = {"version": "v1", "queue": {"name": "q", "image": "i", "env": env}, "message": {"id": "m"}}
    with pytest.raises(errors.MessageTooLargeError, match=r"the rendered Job is .* over the limit of 1048576 bytes"):
        render(write_values(tmp_path, document))


def test_values_object_can_be_rendered_directly() -> None:
    values = _values.validate({"version": "v1", "queue": {"name": "q", "image": "i"}, "message": {"id": "m"}})
    (manifest,) = render(values)
    assert manifest.message_id == "m"
    assert manifest.namespace == "default"
