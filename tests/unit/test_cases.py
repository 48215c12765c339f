"""Inputs that broke tools like this one elsewhere (tests/unit/cases/, each says what to expect)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ruamel.yaml import YAML

from k8sq_render import _naming, envelope, errors, render

from .test_render import container_env, expand

CASES = Path(__file__).parent / "cases"


def rendered(name: str) -> dict:
    (manifest,) = render(CASES / name)
    first = yaml.safe_load(manifest.text)
    assert YAML(typ="safe", pure=True).load(manifest.text) == first == manifest.obj
    return first


def test_env_number_is_a_clear_error_telling_to_quote() -> None:
    with pytest.raises(errors.ValuesError) as caught:
        render(CASES / "env-number.yaml")
    (problem,) = caught.value.problems
    assert problem.path == "/queue/env/MAX_DAYS"
    assert 'quote it in the values file to keep it as text: "14"' in problem.message


def test_long_queue_name() -> None:
    job = rendered("long-queue-name.yaml")
    name = job["metadata"]["name"]
    assert len(name) <= 63 and _naming.DNS1123_LABEL.match(name)
    assert name == rendered("long-queue-name.yaml")["metadata"]["name"]
    queue = "stash-backup-persistentvolumeclaim-influxdb-data-influxdb-0-bmkd8"
    sibling = queue[:63] + "-other"
    assert _naming.job_name(sibling, "7f3c2a") != name
    assert _naming.label_value(sibling) != job["metadata"]["labels"]["k8sq.io/queue"]
    assert job["metadata"]["annotations"]["k8sq.io/queue-name"] == queue


def test_many_errors_are_all_reported() -> None:
    with pytest.raises(errors.ValuesError) as caught:
        render(CASES / "many-errors.yaml")
    assert [p.path for p in caught.value.problems] == ["/message/priority", "/queue/backoffLimit", "/queue/image"]


def test_newline_injection_adds_no_key() -> None:
    job = rendered("newline-injection.yaml")
    pod = job["spec"]["template"]["spec"]
    assert sorted(pod) == ["containers", "restartPolicy"]
    assert sorted(pod["containers"][0]) == ["env", "image", "name"]
    env = {k: expand(v, {}) for k, v in container_env(job).items()}
    assert env["NOTE"] == "x\n        securityContext:\n          privileged: true"
    assert envelope.decode(env[envelope.ENV_VAR]).payload == {"note": "line1\nline2"}


def test_truncation_leaves_no_dot() -> None:
    job = rendered("truncation-leaves-dot.yaml")
    values = [job["metadata"]["name"], *job["metadata"]["labels"].values()]
    for value in values:
        assert _naming.LABEL_VALUE.match(value) and len(value) <= 63, value
        assert not value.endswith((".", "_", "-"))


def test_unknown_version() -> None:
    with pytest.raises(errors.UnknownVersionError, match=r"unknown version 'v9'; versions that exist: v1"):
        render(CASES / "unknown-version.yaml")


def test_yaml_booleans_stay_strings() -> None:
    env = {k: expand(v, {}) for k, v in container_env(rendered("yaml-booleans.yaml")).items()}
    assert (env["FEATURE"], env["MODE"], env["FLAG"]) == ("yes", "on", "n")
    assert envelope.decode(env[envelope.ENV_VAR]).payload == {"enabled": "off"}


def test_yaml_indicators_arrive_exactly() -> None:
    container = rendered("yaml-indicators.yaml")["spec"]["template"]["spec"]["containers"][0]
    assert [expand(a, {}) for a in container["args"]] == ["*.csv", "&x", "@daily", "!tag", "%s: done"]
