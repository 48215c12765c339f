"""Validation: every problem reported, each with its JSON path; defaults from the schema."""

from __future__ import annotations

import pytest

from k8sq_render import _values, errors

BASE = "version: v1\nqueue:\n  name: q\n  image: img:1\n"


def problems(text: str, values_file) -> list[str]:
    with pytest.raises(errors.ValuesError) as caught:
        _values.load(values_file(text))
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_defaults_come_from_the_schema(values_file) -> None:
    values = _values.load(values_file(BASE + "message: {}\n"))
    assert values.queue["namespace"] == "default"
    assert values.queue["backoffLimit"] == 0
    assert values.queue["ttlSecondsAfterFinished"] == 86400
    assert values.messages[0].payload == {}
    assert values.messages[0].timestamp is None


def test_every_error_is_reported_with_its_path(values_file) -> None:
    text = (
        "version: v1\nqueue:\n  name: q\n  namespace: Not_A_Namespace\n  backoffLimit: -1\n"
        "  env: {PORT: 8080, 'bad name': x}\n  extra: 1\n  imagePullPolicy: Sometimes\n"
        "messages:\n  - {payload: [], priority: high}\n  - {id: 5, timestamp: yes}\n"
    )
    found = problems(text, values_file)
    assert found == [
        "/messages/0/payload: expected object, got a list",
        "/messages/0/priority: unknown priority 'high' (known: none: /queue/priorityClasses is empty or missing)",
        '/messages/1/id: expected string, got a number; quote it in the values file to keep it as text: "5"',
        "/messages/1/timestamp: expected integer, got a string",
        "/messages/1/timestamp: plain value yes is read differently by YAML 1.1 and YAML 1.2 (as a boolean, "
        'an octal or hex number, ...); write it in quotes: "yes"',
        "/queue/backoffLimit: -1 is less than the minimum of 0",
        '/queue/env/PORT: expected string, got a number; quote it in the values file to keep it as text: "8080"',
        "/queue/env/bad name: key \"bad name\" is not an environment variable name (letters, digits, '_', '-', '.'; "
        "not starting with a digit)",
        "/queue/extra: unknown key (allowed here: activeDeadlineSeconds, annotations, args, backoffLimit, command, "
        "env, "
        "image, imagePullPolicy, labels, name, namespace, nodeSelector, priorityClasses, resources, "
        "serviceAccountName, tolerations, ttlSecondsAfterFinished)",
        "/queue/image: is required",
        '/queue/imagePullPolicy: "Sometimes" is not one of "Always", "IfNotPresent", "Never"',
        "/queue/namespace: \"Not_A_Namespace\" is not a DNS-1123 label (lowercase letters, digits and '-', "
        "at most 63 characters)",
    ]


def test_error_text_names_file_and_line(values_file) -> None:
    path = values_file(BASE + "  env: {A: on}\nmessage: {}\n")
    with pytest.raises(errors.ValuesError) as caught:
        _values.load(path)
    lines = caught.value.lines()
    assert lines[0] == f"{path}: 1 problem in the values"
    assert lines[1].startswith(f"{path}:5: /queue/env/A: plain value on is read differently")


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("", ": give exactly one of 'message' or 'messages' (found neither)"),
        ("message: {}\nmessages: [{}]\n", ": give exactly one of 'message' or 'messages' (found both)"),
        (
            "  env: {K8SQ_MESSAGE: x}\nmessage: {}\n",
            "/queue/env/K8SQ_MESSAGE: this name is reserved for the message envelope",
        ),
        (
            "  labels: {k8sq.io/queue: x}\nmessage: {}\n",
            "/queue/labels/k8sq.io~1queue: this key is set by k8sq-render itself",
        ),
        (
            "  annotations: {app.kubernetes.io/managed-by: me}\nmessage: {}\n",
            "/queue/annotations/app.kubernetes.io~1managed-by: this key is set by k8sq-render itself",
        ),
        ("messages: [{id: a}, {id: a}]\n", "/messages/1: same id 'a' as /messages/0; give each message its own id"),
        (
            "messages: [{payload: {x: 1}}, {payload: {x: 1}}]\n",
            "/messages/1: same content (the id derived from it) as /messages/0; give each message its own id",
        ),
    ],
)
def test_rules_beyond_the_schema(values_file, tail: str, expected: str) -> None:
    assert problems(BASE + tail, values_file) == [expected]


def test_unknown_version_lists_versions(values_file) -> None:
    with pytest.raises(errors.UnknownVersionError) as caught:
        _values.load(values_file("version: v9\nqueue: {}\n"))
    assert str(caught.value).endswith("/version: unknown version 'v9'; versions that exist: v1")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("v.json", '{"version": "v1", "a": 1, "a": 2}', "invalid JSON: duplicate key 'a'"),
        ("v.json", '{"version": "v1", "x": NaN}', "invalid JSON: NaN is not a JSON number"),
        ("v.json", '{"version": ', "invalid JSON: Expecting value"),
        ("v.yaml", "version: v1\nversion: v1\n", "invalid YAML: duplicate key 'version'"),
        ("v.yaml", "- just\n- a list\n", "a values document must be a mapping"),
    ],
)
def test_unreadable_documents(values_file, name: str, text: str, expected: str) -> None:
    with pytest.raises(errors.ValuesError) as caught:
        _values.load(values_file(text, name))
    assert caught.value.problems[0].message == expected


def test_missing_file_and_bad_encoding(tmp_path) -> None:
    with pytest.raises(errors.ValuesError, match="file not found"):
        _values.load(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"version: v1\nqueue: {name: caf\xe9}\n")
    with pytest.raises(errors.ValuesError, match="not UTF-8"):
        _values.load(bad)


def test_json_values_are_equivalent(values_file) -> None:
    text = '{"version": "v1", "queue": {"name": "q", "image": "img:1", "env": {"A": "yes"}}, "message": {"id": "1"}}'
    values = _values.load(values_file(text, "v.json"))
    assert values.queue["env"] == {"A": "yes"}


def test_json_non_finite_and_surrogates_are_refused(values_file) -> None:
    text = '{"version": "v1", "queue": {"name": "q\\ud800", "image": "i"}, "message": {"payload": {"x": 1e999}}}'
    found = problems(text, lambda t: values_file(t, "v.json"))
    assert found == [
        "/message/payload/x: inf is not a finite number",
        "/queue/name: contains an unpaired UTF-16 surrogate, which is not valid Unicode",
    ]


def test_alias_bombs_are_refused_quickly(values_file) -> None:
    lines = [
        "version: v1",
        "queue: {name: q, image: i}",
        "message:",
        "  payload:",
        "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]",
    ]
    for i in range(1, 10):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(errors.ValuesError) as caught:
        _values.load(values_file("\n".join(lines) + "\n"))
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("/message", "holds more than 1000000 values (nested YAML aliases?)")
    ]


def test_cached_queue_checks_tell_quoted_from_plain(values_file) -> None:
    quoted = _values.validate(_values.parse(BASE + '  env: {A: "yes"}\nmessage: {}\n'))
    assert quoted.queue["env"] == {"A": "yes"}
    with pytest.raises(errors.ValuesError, match="/queue/env/A: plain value yes"):
        _values.validate(_values.parse(BASE + "  env: {A: yes}\nmessage: {}\n"))
    again = _values.validate(_values.parse(BASE + '  env: {A: "yes"}\nmessages: [{id: a}, {id: b}]\n'))
    assert [m.id for m in again.messages] == ["a", "b"]
    with pytest.raises(errors.ValuesError, match="same id 'a'"):
        _values.validate(_values.parse(BASE + '  env: {A: "yes"}\nmessages: [{id: a}, {id: a}]\n'))


@pytest.mark.parametrize("order", ["queue first", "messages first"])
def test_streamed_files_report_the_same_problems_in_any_order(values_file, order: str) -> None:
    head = "version: v1\nqueue: {name: q, image: i, priorityClasses: {high: p}}\n"
    body = "messages:\n  - {id: a}\n  - {id: b, priority: low}\n  - {id: a}\n  - {id: c, timestamp: on}\n"
    path = values_file(head + body if order == "queue first" else body + head)
    with pytest.raises(errors.ValuesError) as caught:
        _values.load(path)
    assert [(p.path, p.message[:30]) for p in caught.value.problems] == [
        ("/messages/1/priority", "unknown priority 'low' (known:"),
        ("/messages/2", "same id 'a' as /messages/0; gi"),
        ("/messages/3/timestamp", "expected integer, got a string"),
        ("/messages/3/timestamp", "plain value on is read differe"),
    ]
    good = values_file(
        (head + body if order == "queue first" else body + head)
        .replace("low", "high")
        .replace("{id: a}\n  - {id: c, timestamp: on}", "{id: d}\n  - {id: c, timestamp: 5}")
    )
    assert [m.id for m in _values.load(good).messages] == ["a", "b", "d", "c"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "deep.yaml",
            "version: v1\nqueue: {name: q, image: i}\nmessage:\n  payload:\n"
            + "".join("  " * (i + 2) + "a:\n" for i in range(150))
            + "  " * 152
            + "b: 1\n",
            "invalid YAML: values are nested more than 100 levels deep",
        ),
        (
            "deepflow.yaml",
            "version: v1\nqueue: {name: q, image: i}\nmessage: {payload: " + "{a: " * 2000 + "1" + "}" * 2000 + "}\n",
            "invalid YAML: values are nested more than 100 levels deep",
        ),
        (
            "deep.json",
            '{"version": "v1", "message": {"payload": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}}",
            "values are nested more than 100 levels deep",
        ),
        (
            "deeplist.json",
            '{"version": "v1", "x": ' + "[" * 900 + "]" * 900 + "}",
            "values are nested more than 100 levels deep",
        ),
        (
            "merge.yaml",
            "version: v1\nqueue: {name: q, image: i}\nmessage:\n  payload:\n    <<: {x: 1}\n    x: 2\n",
            "invalid YAML: merge keys (<<) are read differently by YAML 1.1 and 1.2; write the keys out",
        ),
    ],
)
def test_inputs_that_would_crash_or_mislead_are_clear_errors(values_file, name: str, text: str, expected: str) -> None:
    with pytest.raises(errors.ValuesError) as caught:
        _values.load(values_file(text, name))
    assert caught.value.problems[0].message == expected


def test_a_quoted_merge_key_is_just_a_key(values_file) -> None:
    values = _values.load(values_file(BASE + 'message:\n  payload: {"<<": 1}\n'))
    assert values.messages[0].payload == {"<<": 1}


def test_nul_cannot_reach_exec(values_file) -> None:
    text = BASE + '  env: {A: "x\\0y"}\n  command: ["a\\0"]\n  args: ["b\\0"]\nmessage: {payload: {n: "\\0"}}\n'
    assert problems(text, values_file) == [
        "/queue/args/0: contains a NUL character, which no environment string or argument can carry",
        "/queue/command/0: contains a NUL character, which no environment string or argument can carry",
        "/queue/env/A: contains a NUL character, which no environment string or argument can carry",
    ]


def test_json_with_a_byte_order_mark(values_file) -> None:
    text = '\ufeff{"version": "v1", "queue": {"name": "q", "image": "i"}, "message": {"id": "1"}}'
    assert _values.load(values_file(text, "bom.json")).messages[0].id == "1"
