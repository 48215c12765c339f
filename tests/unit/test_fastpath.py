"""The fast paths give exactly what the plain paths give: same Jobs, same bytes, same verdicts."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from k8sq_render import _fastpath, _schema, _templates, errors, render

from ..conftest import EXAMPLES
from .test_yaml import TRICKY

EXECUTABLE = [v for v in TRICKY if "\x00" not in v]  # exec strings cannot carry NUL
OVERRIDES = sorted(p for p in (EXAMPLES / "overrides").iterdir() if p.is_dir())


def both_ways(monkeypatch, *args, **kwargs) -> tuple[list, list]:
    _fastpath._SKELETONS.clear()
    _fastpath._ONCE.clear()
    fast = render(*args, **kwargs)
    with monkeypatch.context() as patch:
        patch.setattr(_fastpath, "_traceable", lambda template: False)
        slow = render(*args, **kwargs)
    return fast, slow


def same(fast: list, slow: list) -> None:
    assert [m.text for m in fast] == [m.text for m in slow]
    assert [m.obj for m in fast] == [m.obj for m in slow]
    assert [m.name for m in fast] == [m.name for m in slow]


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_examples_render_the_same_bytes_both_ways(monkeypatch, example: Path) -> None:
    same(*both_ways(monkeypatch, example))


@pytest.mark.parametrize("example", OVERRIDES, ids=lambda p: p.name)
def test_override_examples_render_the_same_both_ways(monkeypatch, example: Path) -> None:
    same(*both_ways(monkeypatch, example / "values.yaml", template_dirs=[example / "templates"]))


def test_tricky_values_render_the_same_both_ways(monkeypatch, tmp_path: Path) -> None:
    messages = [
        {"id": f"m{i}", "payload": {"v": value, value: [value, 1.5, 10**20, None, True]}}
        for i, value in enumerate(TRICKY)
    ]
    document = {
        "version": "v1",
        "queue": {"name": "q", "image": "i", "env": {f"E{i}": v for i, v in enumerate(EXECUTABLE)}, "args": EXECUTABLE},
        "messages": messages,
    }
    path = tmp_path / "v.json"
    path.write_text(json.dumps(document))
    fast, slow = both_ways(monkeypatch, path)
    same(fast, slow)
    assert len(_fastpath._SKELETONS) == 1  # one queue, one skeleton


def test_the_skeleton_is_parsed_once_per_queue(monkeypatch) -> None:
    _fastpath._SKELETONS.clear()
    calls = []
    original = _fastpath._skeleton
    monkeypatch.setattr(_fastpath, "_skeleton", lambda text: calls.append(1) or original(text))
    manifests = render(EXAMPLES / "many-messages.yaml")
    assert len(manifests) == 24
    assert len(calls) == 1


@pytest.mark.parametrize(
    "body",
    [
        # A value inside a longer plain scalar, a comment, a key: placeholders are not whole values.
        "{% block job_spec_extra %}  parallelism: 1\n{% endblock %}{% block pod_metadata %}{{ super() }}"
        "      annotations: {note: prefix {{ message.id }} }\n{% endblock %}",
        "{% block job_spec_extra %}  completions: 1 # {{ message.id }}\n{% endblock %}",
        "{% block pod_metadata %}{{ super() }}      annotations: {{ {message.id: 'x'} }}\n{% endblock %}",
    ],
)
def test_unusual_templates_fall_back_and_still_match(monkeypatch, tmp_path: Path, body: str) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "job.yaml.j2").write_text('{% extends "builtin/v1/job.yaml.j2" %}' + body)
    same(*both_ways(monkeypatch, EXAMPLES / "priority.yaml", template_dirs=[tmp_path]))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}{{ super() }}{% endblock %}', True),
        ('{% extends "builtin/v1/job.yaml.j2" %}{% macro m(x) %}{{ x }}{% endmacro %}', False),
        (
            '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}{% set x %}a{% endset %}{% endblock %}',
            False,
        ),
        (
            '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}{% if self.sidecars() %}{% endif %}'
            "{% endblock %}",
            False,  # allowed, but rendered message by message
        ),
        (
            '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}{% filter indent(2) %}x{% endfilter %}'
            "{% endblock %}",
            False,
        ),
    ],
)
def test_only_templates_that_write_values_directly_are_traced(tmp_path: Path, body: str, expected: bool) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "job.yaml.j2").write_text(body)
    assert _templates.traceable(_templates.job_template("v1", [tmp_path])) is expected


def test_a_template_testing_block_text_for_emptiness_renders_correctly(monkeypatch, tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "job.yaml.j2").write_text(
        '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}'
        "{% if not self.sidecars() %}  parallelism: 1\n{% endif %}{% endblock %}"
    )
    fast, slow = both_ways(monkeypatch, EXAMPLES / "minimal.yaml", template_dirs=[tmp_path])
    same(fast, slow)
    assert fast[0].obj["spec"]["parallelism"] == 1


def _mutations(job: dict, rng: random.Random, count: int) -> list[dict]:
    """Random edits: drop keys, change types, add unknown keys, at random depths."""
    out = []
    replacements = [None, 1, -1, 1.0, 1.5, "x", "", True, [], {}, ["x"], {"x": 1}, 2**40]
    for _ in range(count):
        mutated = copy.deepcopy(job)
        for _ in range(rng.randint(1, 3)):
            node, path = mutated, []
            while isinstance(node, (dict, list)) and node and rng.random() < 0.8:
                key = rng.choice(list(node) if isinstance(node, dict) else range(len(node)))
                parent, path = node, [*path, key]
                node = node[key]
            if not path:
                continue
            action = rng.random()
            if action < 0.3 and isinstance(parent, dict):
                del parent[path[-1]]
            elif action < 0.45 and isinstance(node, dict):
                node["unknownField"] = 1
            else:
                parent[path[-1]] = rng.choice(replacements)
        out.append(mutated)
    return out


def test_the_fast_checker_agrees_with_jsonschema() -> None:
    checker = _schema._job_checker()
    rng = random.Random(20261203)
    jobs = [m.obj for example in sorted(EXAMPLES.glob("*.yaml")) for m in render(example)]
    valid = invalid = 0
    for mutated in (m for job in jobs for m in _mutations(job, rng, 60)):
        full = [p for e in checker.full.iter_errors(mutated) for p in _schema._explain(e)]
        assert checker.problems(mutated) == full
        valid, invalid = valid + (not full), invalid + bool(full)
    assert valid > 50 and invalid > 500


@pytest.mark.parametrize("number", [1.0, 1e16, 3.0e2, 2.5])
def test_the_json_shortcut_never_hides_a_whole_float(number: float) -> None:
    (job,) = render(EXAMPLES / "minimal.yaml")
    obj = copy.deepcopy(job.obj)
    obj["spec"]["backoffLimit"] = number
    text = json.dumps(obj)
    expected = _schema.check_job(obj)
    assert expected  # a float is never an integer here
    assert _schema.check_job(obj, text) == expected


def test_a_float_is_not_an_integer(values_file) -> None:
    with pytest.raises(errors.ValuesError) as caught:
        render(values_file("version: v1\nqueue: {name: q, image: i, backoffLimit: 1.0}\nmessage: {}\n"))
    assert [f"{p.path}: {p.message}" for p in caught.value.problems] == [
        "/queue/backoffLimit: expected integer, got a number"
    ]


def test_a_queue_is_rendered_once_not_once_per_message(monkeypatch) -> None:
    _fastpath._ONCE.clear()
    calls = []
    original = _templates.render_traced
    monkeypatch.setattr(_templates, "render_traced", lambda t, c: calls.append(1) or original(t, c))
    manifests = render(EXAMPLES / "many-messages.yaml")
    assert len(manifests) == 24
    assert len(calls) == 2  # ids given or derived: timestamp present or none, two shapes


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("  completions: {{ message.payload.n }}\n", True),
        ("{% if message.timestamp is none %}  completions: 1\n{% endif %}", True),
        ("  completions: {{ message.payload.n | int }}\n", False),
        ("{% if message.payload.n is defined %}  completions: 1\n{% endif %}", False),
        ("{% if message.priority == 'high' %}  completions: 1\n{% endif %}", False),
        ("{% if message.payload %}  completions: 1\n{% endif %}", False),
        ("{% for e in job.env %}{% endfor %}", False),
        ("  x: {{ message }}\n", False),
        ("  x: {{ job.labels }}\n", True),
        ("  x: {{ [job.name] }}\n", False),
        ("  x: {{ job.name ~ '-x' }}\n", False),
    ],
)
def test_which_templates_render_once_per_queue(tmp_path: Path, block: str, expected: bool) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "job.yaml.j2").write_text(
        '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}' + block + "{% endblock %}"
    )
    assert _templates.renders_once(_templates.job_template("v1", [tmp_path])) is expected


def test_once_per_queue_with_message_fields_matches_and_fails_like_the_plain_path(
    monkeypatch, tmp_path: Path, values_file
) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "job.yaml.j2").write_text(
        '{% extends "builtin/v1/job.yaml.j2" %}{% block pod_metadata %}{{ super() }}'
        '      annotations: {"user": {{ message.payload.user }}, "n": {{ message.payload[\'n\'] }}}\n'
        "{% endblock %}"
    )
    text = "version: v1\nqueue: {name: q, image: i}\nmessages:\n" + "".join(
        f"  - {{id: m{i}, payload: {{user: u{i}, n: '{i}'}}}}\n" for i in range(6)
    )
    fast, slow = both_ways(monkeypatch, values_file(text), template_dirs=[tmp_path])
    same(fast, slow)
    assert fast[4].obj["spec"]["template"]["metadata"]["annotations"] == {"user": "u4", "n": "4"}
    broken = values_file(text.replace("user: u5, ", ""), "broken.yaml")
    with pytest.raises(errors.TemplateError, match="UndefinedError: 'dict object' has no attribute 'user'"):
        render(broken, template_dirs=[tmp_path])
