"""submit(): idempotent creates, retries on throttling and failures, per-message results, PriorityClasses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8sq_render import _naming, envelope
from k8sq_render._render import render
from k8sq_render._submit import with_generated_ids
from k8sq_render._values import validate
from k8sq_render.errors import (
    ApiError,
    ClusterUnreachable,
    ConflictError,
    PermissionDenied,
    PriorityClassMissing,
    ValuesError,
)

from .kubefake import FakeClock, FakeCluster, connect, status_body, values


@pytest.fixture
def fake() -> Iterator[FakeCluster]:
    with FakeCluster() as cluster:
        yield cluster


def name(message_id: str, queue: str = "emails", attempt: int = 1) -> str:
    return _naming.job_name(queue, message_id, attempt)


def test_creates_one_job_per_message_as_rendered(fake: FakeCluster) -> None:
    doc = values({"id": "m1", "timestamp": 1733232000, "payload": {"to": "a@example.com"}}, {"id": "m2", "payload": {}})
    with connect(fake) as client:
        results = client.submit(doc)
    assert [(r.name, r.namespace, r.message_id, r.outcome, r.error) for r in results] == [
        (name("m1"), "default", "m1", "created", None),
        (name("m2"), "default", "m2", "created", None),
    ]
    stored = fake.jobs[("default", name("m1"))]
    # The Job the server received is exactly what `k8sq render` prints for the same values.
    expected = next(m.obj for m in render(validate(doc)) if m.message_id == "m1")
    assert stored["spec"]["template"]["spec"]["containers"] == expected["spec"]["template"]["spec"]["containers"]
    assert stored["metadata"]["annotations"][_naming.MESSAGE_ID_ANNOTATION] == "m1"
    assert stored["metadata"]["annotations"][_naming.TIMESTAMP_ANNOTATION] == "1733232000"
    assert fake.count("POST", "/jobs") == 2


def test_submitting_again_finds_the_jobs_already_there(fake: FakeCluster) -> None:
    doc = values({"id": "m1", "payload": {}}, {"id": "m2", "payload": {}})
    with connect(fake) as client:
        client.submit(doc)
        again = client.submit(doc)
    assert [(r.name, r.outcome, r.error) for r in again] == [
        (name("m1"), "existed", None),
        (name("m2"), "existed", None),
    ]
    assert len(fake.jobs) == 2
    # Each second create met 409, then read the Job to compare its message id.
    assert fake.count("POST", "/jobs") == 4
    assert fake.count("GET", f"/jobs/{name('m1')}") == 1


def test_a_job_of_the_same_name_for_another_message_is_a_conflict(fake: FakeCluster) -> None:
    fake.add_job(
        {
            "metadata": {
                "name": name("m1"),
                "namespace": "default",
                "annotations": {_naming.MESSAGE_ID_ANNOTATION: "x9"},
            },
            "spec": {"template": {"spec": {"containers": []}}},
        }
    )
    with connect(fake) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "failed"
    assert isinstance(result.error, ConflictError)
    assert (result.error.message_id, result.error.existing_id) == ("m1", "x9")
    assert str(result.error) == (
        f"create jobs/{name('m1')} in namespace default: a Job of this name already exists for message 'x9', "
        "not for message 'm1'"
    )
    # The other message's Job is untouched.
    assert fake.jobs[("default", name("m1"))]["metadata"]["annotations"][_naming.MESSAGE_ID_ANNOTATION] == "x9"


def test_a_failure_in_the_middle_leaves_every_other_result_known(fake: FakeCluster) -> None:
    ids = [f"m{i}" for i in range(7)]
    invalid = 'Job.batch "x" is invalid: spec.template.spec.containers[0].image: Required value'
    fake.fault("POST", "/jobs", name=name("m3"), status=422, body=status_body(422, "Invalid", invalid))
    with connect(fake, workers=4) as client:
        results = client.submit(values(*({"id": i, "payload": {}} for i in ids)))
    assert [r.message_id for r in results] == ids
    assert [r.outcome for r in results] == ["created"] * 3 + ["failed"] + ["created"] * 3
    error = results[3].error
    assert isinstance(error, ApiError) and error.status == 422 and error.reason == "Invalid"
    assert "spec.template.spec.containers[0].image: Required value" in str(error)
    assert sorted(n for _, n in fake.jobs) == sorted(name(i) for i in ids if i != "m3")
    # A validation error is the server's final word: not retried.
    assert fake.count("POST", "/jobs") == 7


def test_retry_after_is_honoured_on_429(fake: FakeCluster) -> None:
    fake.fault(
        "POST",
        "/jobs",
        status=429,
        headers={"Retry-After": "3"},
        body=status_body(429, "TooManyRequests", "too many requests, please try again later"),
    )
    clock = FakeClock()
    with connect(fake, clock=clock) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "created"
    assert clock.sleeps == [3.0]
    assert fake.count("POST", "/jobs") == 2


def test_server_errors_back_off_exponentially(fake: FakeCluster) -> None:
    fake.fault("POST", "/jobs", status=503, times=3)
    clock = FakeClock()
    with connect(fake, clock=clock) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "created"
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_retries_are_bounded_by_attempts(fake: FakeCluster) -> None:
    fake.fault(
        "POST", "/jobs", status=500, times=100, body=status_body(500, "InternalError", "etcdserver: request timed out")
    )
    clock = FakeClock()
    with connect(fake, clock=clock, attempts=4) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "failed"
    assert isinstance(result.error, ApiError) and result.error.status == 500
    assert "etcdserver: request timed out" in str(result.error)
    assert fake.count("POST", "/jobs") == 4
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_retries_are_bounded_by_the_deadline(fake: FakeCluster) -> None:
    # The server asks for a wait longer than the whole budget: give up now rather than sleep past it.
    fake.fault("POST", "/jobs", status=429, headers={"Retry-After": "120"})
    clock = FakeClock()
    with connect(fake, clock=clock, deadline=60.0) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "failed"
    assert isinstance(result.error, ApiError) and result.error.status == 429
    assert clock.sleeps == []
    assert fake.jobs == {}


def test_a_reset_connection_is_retried(fake: FakeCluster) -> None:
    fake.fault("POST", "/jobs", reset=True)
    clock = FakeClock()
    with connect(fake, clock=clock) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "created"
    assert clock.sleeps == [0.25]
    assert list(fake.jobs) == [("default", name("m1"))]


def test_a_create_whose_answer_was_lost_is_found_on_retry(fake: FakeCluster) -> None:
    # The server created the Job but the connection broke before the answer: the retry meets 409
    # and recognises its own message.
    fake.fault("POST", "/jobs", reset=True, after=True)
    with connect(fake) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert (result.outcome, result.error) == ("existed", None)
    assert len(fake.jobs) == 1


def test_an_unreachable_server_is_reported_per_message() -> None:
    with FakeCluster() as cluster:
        pass  # started and stopped: nothing listens on its port any more
    clock = FakeClock()
    with connect(cluster, clock=clock, attempts=3) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert result.outcome == "failed"
    assert isinstance(result.error, ClusterUnreachable)
    assert result.error.attempts == 3 and str(result.error).startswith(f"{cluster.host}: no answer after 3 attempts: ")
    assert clock.sleeps == [0.25, 0.5]


def test_permission_denied_names_verb_and_resource(fake: FakeCluster) -> None:
    fake.fault(
        "POST",
        "/jobs",
        status=403,
        body=status_body(
            403,
            "Forbidden",
            'jobs.batch is forbidden: User "system:serviceaccount:mail:k8sq" cannot create resource "jobs" '
            'in API group "batch" in the namespace "default"',
        ),
    )
    with connect(fake) as client:
        [result] = client.submit(values({"id": "m1", "payload": {}}))
    assert isinstance(result.error, PermissionDenied)
    text = str(result.error)
    assert text.startswith(f"create jobs/{name('m1')} in namespace default: permission denied: jobs.batch is forbidden")
    assert "grant 'create' on 'jobs'" in text and "deploy/rbac.yaml" in text


def test_bulk_submit_reuses_connections(fake: FakeCluster) -> None:
    with connect(fake, workers=4) as client:
        results = client.submit(values(*({"id": f"m{i}", "payload": {"n": i}} for i in range(60))))
    assert [r.outcome for r in results] == ["created"] * 60
    assert len(fake.jobs) == 60
    # 60 creates over at most workers + 2 pooled connections, not one connection per Job.
    assert fake.connections <= 6


def test_progress_is_reported_for_every_message(fake: FakeCluster) -> None:
    seen: list[tuple[int, int]] = []
    with connect(fake, workers=3) as client:
        doc = values(*({"id": f"m{i}", "payload": {}} for i in range(5)))
        client.submit(doc, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]


def test_invalid_values_create_nothing(fake: FakeCluster) -> None:
    doc = values({"id": "m1", "payload": {}, "priority": "urgent"})
    with connect(fake) as client, pytest.raises(ValuesError) as caught:
        client.submit(doc)
    assert "/messages/0/priority: unknown priority 'urgent'" in str(caught.value)
    assert fake.requests == []


def test_a_missing_priority_class_creates_no_job(fake: FakeCluster) -> None:
    doc = values(
        {"id": "m1", "payload": {}},
        {"id": "m2", "payload": {}, "priority": "high"},
        priorityClasses={"high": "batch-high"},
    )
    with connect(fake) as client, pytest.raises(PriorityClassMissing) as caught:
        client.submit(doc)
    assert caught.value.name == "batch-high" and caught.value.job == name("m2")
    assert "PriorityClass 'batch-high' does not exist" in str(caught.value)
    assert fake.count("POST", "/jobs") == 0 and fake.jobs == {}


def test_priority_classes_are_checked_once_per_call(fake: FakeCluster) -> None:
    fake.priority_classes.add("batch-high")
    doc = values(
        *({"id": f"m{i}", "payload": {}, "priority": "high"} for i in range(4)), priorityClasses={"high": "batch-high"}
    )
    with connect(fake) as client:
        results = client.submit(doc)
    assert [r.outcome for r in results] == ["created"] * 4
    assert fake.count("GET", "/priorityclasses/batch-high") == 1
    assert fake.jobs[("default", name("m0"))]["spec"]["template"]["spec"]["priorityClassName"] == "batch-high"


def test_a_message_built_in_code_gets_an_id_and_a_timestamp(fake: FakeCluster) -> None:
    doc = values({"payload": {"to": "a@example.com"}})
    with connect(fake) as client:
        first = client.submit(doc)
        second = client.submit(doc)
    # A message pushed from code is a new message each time: two Jobs, two uuid-based ids.
    ids = [first[0].message_id, second[0].message_id]
    assert ids[0] != ids[1] and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [first[0].outcome, second[0].outcome] == ["created", "created"]
    job = fake.jobs[("default", first[0].name)]
    assert int(job["metadata"]["annotations"][_naming.TIMESTAMP_ANNOTATION]) > 1_700_000_000
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    message = envelope.decode(next(e["value"] for e in env if e["name"] == envelope.ENV_VAR))
    assert (message.id, message.payload, message.attempt) == (ids[0], {"to": "a@example.com"}, 1)
    # The caller's document is not changed.
    assert doc["messages"] == [{"payload": {"to": "a@example.com"}}]


def test_generated_ids_keep_what_is_given() -> None:
    doc = {"messages": [{"id": "given", "payload": {}}, {"timestamp": 5, "payload": {}}, "not-a-message"]}
    out = with_generated_ids(doc, now=lambda: 1733232000.7, new_id=lambda: "fresh")
    assert out["messages"] == [
        {"id": "given", "payload": {}, "timestamp": 1733232000},
        {"timestamp": 5, "payload": {}, "id": "fresh"},
        "not-a-message",
    ]


def test_a_values_file_is_submitted_as_rendered(fake: FakeCluster, tmp_path: Path) -> None:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values({"payload": {"n": 1}})), encoding="utf-8")
    with connect(fake) as client:
        first = client.submit(path)
        second = client.submit([str(path)])
    # A file's message without id gets the content id, as `k8sq render` gives it: resubmitting creates nothing.
    assert [first[0].outcome, second[0].outcome] == ["created", "existed"]
    assert first[0].message_id == second[0].message_id == render(path)[0].message_id
    annotations = fake.jobs[("default", first[0].name)]["metadata"]["annotations"]
    assert _naming.TIMESTAMP_ANNOTATION not in annotations
