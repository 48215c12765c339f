"""jobs/size (pagination, 410), retry (the next attempt's Job, races, vanished Jobs) and wait (watch, TTL)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from k8sq_render import JobState, _naming, envelope
from k8sq_render._query import next_attempt, read_message
from k8sq_render.errors import EnvelopeMissingError, Gone

from .kubefake import FakeClock, FakeCluster, condition, connect, values


@pytest.fixture
def fake() -> Iterator[FakeCluster]:
    with FakeCluster() as cluster:
        yield cluster


def submit(fake: FakeCluster, *messages: dict[str, Any], **queue: Any) -> list[str]:
    # One at a time, so the Jobs are created (and timestamped) in message order.
    with connect(fake, workers=1) as client:
        results = client.submit(values(*messages, **queue))
    assert all(r.outcome == "created" for r in results)
    return [r.name for r in results]


def fail(fake: FakeCluster, name: str) -> None:
    fake.set_conditions(
        "default",
        name,
        condition("FailureTarget", reason="BackoffLimitExceeded"),
        condition("Failed", reason="BackoffLimitExceeded"),
        failed=1,
    )


# -- jobs / size ----------------------------------------------------------------------


def test_lists_follow_every_page(fake: FakeCluster) -> None:
    names = submit(fake, *({"id": f"m{i:02}", "payload": {}} for i in range(7)))
    submit(fake, {"id": "other", "payload": {}}, queue="invoices")
    with connect(fake, page_size=3) as client:
        listed = client.jobs("emails")
    assert sorted(j.name for j in listed) == sorted(names)
    lists = [q for m, p, q in fake.requests if m == "GET" and p.endswith("/jobs")]
    # Three pages of at most 3, each asking for the queue's selector; pages 2 and 3 carry the token.
    assert [q.get("limit") for q in lists] == [["3"]] * 3
    assert [q.get("continue") for q in lists] == [None, ["3"], ["6"]]
    assert {q["labelSelector"][0] for q in lists} == {_naming.selector("emails")}


def test_an_expired_continue_token_restarts_the_list(fake: FakeCluster) -> None:
    names = submit(fake, *({"id": f"m{i:02}", "payload": {}} for i in range(7)))
    fake.expire_continue = 1  # page 2 answers 410 Gone once
    with connect(fake, page_size=3) as client:
        listed = client.jobs("emails")
    # Nothing counted twice, nothing lost: the restarted list is the whole list.
    assert sorted(j.name for j in listed) == sorted(names)
    tokens = [q.get("continue") for m, p, q in fake.requests if m == "GET" and p.endswith("/jobs")]
    assert tokens == [None, ["3"], None, ["3"], ["6"]]


def test_a_page_that_fails_once_is_fetched_again(fake: FakeCluster) -> None:
    names = submit(fake, *({"id": f"m{i:02}", "payload": {}} for i in range(5)))
    fake.fault("GET", "/jobs", status=503, times=1)
    fake.fault("GET", "/jobs", reset=True, times=1)
    clock = FakeClock()
    with connect(fake, page_size=2, clock=clock) as client:
        listed = client.jobs("emails")
    assert sorted(j.name for j in listed) == sorted(names)
    assert clock.sleeps == [0.25, 0.5]


def test_a_list_that_keeps_expiring_gives_up(fake: FakeCluster) -> None:
    submit(fake, *({"id": f"m{i}", "payload": {}} for i in range(4)))
    fake.expire_continue = 100
    with connect(fake, page_size=2) as client, pytest.raises(Gone) as caught:
        client.size("emails")
    assert caught.value.status == 410 and "continue parameter is too old" in str(caught.value)
    assert fake.count("GET", "/jobs") == 12  # 6 tries of 2 requests each


def test_size_and_state_filters_use_conditions(fake: FakeCluster) -> None:
    a, b, c, d = submit(fake, *({"id": f"m{i}", "payload": {}} for i in range(4)))
    fail(fake, a)
    fake.set_conditions("default", b, condition("SuccessCriteriaMet"), condition("Complete"), succeeded=1)
    # Retrying under backoffLimit: failed pods, no Failed condition: still active.
    fake.set_conditions("default", c, active=1, failed=2)
    with connect(fake, page_size=2) as client:
        assert client.size("emails") == 2
        assert client.size("emails", failed=True) == 1
        assert [j.name for j in client.jobs("emails", state="failed")] == [a]
        assert [j.name for j in client.jobs("emails", state=JobState.SUCCEEDED)] == [b]
        assert [j.name for j in client.jobs("emails", state="active")] == [c, d]  # oldest first
        assert client.size("invoices") == 0


# -- retry ---------------------------------------------------------------------------


def test_next_attempt_builds_the_retry_from_the_failed_job(fake: FakeCluster) -> None:
    payload = {"body": "pay $5 via $(BANK) or $$HOME", "n": 1}
    [old_name] = submit(
        fake,
        {"id": "m1", "timestamp": 1733232000, "payload": payload},
        env={"GREETING": "hi $(USER)"},
        labels={"team": "mail"},
    )
    old = copy.deepcopy(fake.jobs[("default", old_name)])
    fail(fake, old_name)
    new, message = next_attempt(fake.jobs[("default", old_name)])

    assert message == envelope.Message(id="m1", queue="emails", timestamp=1733232000, payload=payload, attempt=2)
    assert read_message(old).attempt == 1 and read_message(old).payload == payload
    assert new["metadata"]["name"] == _naming.job_name("emails", "m1", 2)
    assert new["metadata"]["annotations"][_naming.ATTEMPT_ANNOTATION] == "2"
    assert new["metadata"]["annotations"][_naming.MESSAGE_ID_ANNOTATION] == "m1"
    assert new["metadata"]["labels"] == {**_naming.queue_labels("emails", "v1"), "team": "mail"}
    # Nothing the server set survives.
    assert set(new) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(new["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert "selector" not in new["spec"]
    assert new["spec"]["template"]["metadata"]["labels"] == _naming.queue_labels("emails", "v1") | {"team": "mail"}
    # The envelope carries attempt 2, escaped again for $(VAR) expansion; other env values are untouched.
    env = {e["name"]: e["value"] for e in new["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GREETING"] == "hi $$(USER)"
    assert env[envelope.ENV_VAR] == envelope.encode(message).replace("$", "$$")
    assert "$$$$HOME" in env[envelope.ENV_VAR] and "$$(BANK)" in env[envelope.ENV_VAR]
    # Everything else in the spec is the failed Job's own.
    old_spec = copy.deepcopy(old["spec"])
    for spec in (old_spec, copy.deepcopy(new["spec"])):
        spec.pop("selector", None)
        spec["template"]["metadata"]["labels"] = {}
        for item in spec["template"]["spec"]["containers"][0]["env"]:
            item["value"] = "" if item["name"] == envelope.ENV_VAR else item["value"]
    assert {k: v for k, v in new["spec"].items() if k != "template"} == {
        k: v for k, v in old_spec.items() if k not in ("template", "selector")
    }


def test_next_attempt_counts_on_from_the_envelope(fake: FakeCluster) -> None:
    [first] = submit(fake, {"id": "m1", "payload": {}})
    second, _ = next_attempt(fake.jobs[("default", first)])
    third, message = next_attempt(fake.add_job(second))
    assert message.attempt == 3
    assert third["metadata"]["name"] == _naming.job_name("emails", "m1", 3)


def test_a_job_without_envelope_cannot_be_retried() -> None:
    job = {"metadata": {"name": "x"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "env": []}]}}}}
    with pytest.raises(EnvelopeMissingError, match="Job x: no container has the K8SQ_MESSAGE variable"):
        read_message(job)


def test_retry_creates_then_deletes(fake: FakeCluster) -> None:
    a, b, c = submit(fake, *({"id": f"m{i}", "payload": {"n": i}} for i in range(3)))
    fail(fake, a)
    fail(fake, c)
    with connect(fake) as client:
        results = client.retry("emails")
    assert [(r.name, r.outcome, r.new_name, r.message_id, r.attempt, r.error) for r in results] == [
        (a, "retried", _naming.job_name("emails", "m0", 2), "m0", 2, None),
        (c, "retried", _naming.job_name("emails", "m2", 2), "m2", 2, None),
    ]
    assert sorted(n for _, n in fake.jobs) == sorted([b, results[0].new_name, results[1].new_name])
    assert sorted(fake.deletions) == sorted([(a, "Background"), (c, "Background")])
    # Each new Job exists before its failed Job is deleted.
    for result in results:
        assert fake.log.index(f"created {result.new_name}") < fake.log.index(f"deleted {result.name}")
    with connect(fake) as client:
        assert client.size("emails", failed=True) == 0
        assert client.size("emails") == 3


def test_retry_takes_the_oldest_first_up_to_the_limit(fake: FakeCluster) -> None:
    names = submit(fake, *({"id": f"z{9 - i}", "payload": {}} for i in range(4)))
    for job_name in names:
        fail(fake, job_name)
    with connect(fake) as client:
        results = client.retry("emails", limit=2)
    # Creation order, not name order.
    assert [r.name for r in results] == names[:2]
    assert fake.count("POST", "/jobs") == 4 + 2


def test_retry_skips_a_job_that_vanished(fake: FakeCluster) -> None:
    a, b = submit(fake, {"id": "m0", "payload": {}}, {"id": "m1", "payload": {}})
    fail(fake, a)
    fail(fake, b)
    # Its TTL runs out between the list and the read.
    fake.fault("GET", f"/jobs/{a}", status=404)
    with connect(fake) as client:
        results = client.retry("emails")
    assert [(r.name, r.outcome, r.error) for r in results] == [(a, "gone", None), (b, "retried", None)]
    assert fake.count("POST", "/jobs") == 2 + 1


def test_two_retries_at_once_create_one_rerun(fake: FakeCluster) -> None:
    [old] = submit(fake, {"id": "m1", "payload": {}})
    fail(fake, old)
    # Both retries reach the create before either goes on: the server sees two creates of one name.
    meet = threading.Barrier(2, timeout=10)
    fake.before_create = lambda body: meet.wait()
    outcomes: list[str] = []

    def run() -> None:
        with connect(fake) as client:
            outcomes.extend(r.outcome for r in client.retry("emails"))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(outcomes) == ["already-retried", "retried"]
    assert list(fake.jobs) == [("default", _naming.job_name("emails", "m1", 2))]
    assert fake.count("POST", "/jobs") == 1 + 2


def test_a_retry_interrupted_before_the_delete_is_finished_by_the_next(fake: FakeCluster) -> None:
    [old] = submit(fake, {"id": "m1", "payload": {}})
    fail(fake, old)
    fake.fault("DELETE", f"/jobs/{old}", status=403)
    with connect(fake) as client:
        [first] = client.retry("emails")
        [second] = client.retry("emails")
    assert first.outcome == "failed" and first.new_name == _naming.job_name("emails", "m1", 2)
    assert second.outcome == "already-retried"
    assert list(fake.jobs) == [("default", _naming.job_name("emails", "m1", 2))]


# -- wait ------------------------------------------------------------------------------


def event(kind: str, job: dict[str, Any], version: int, *conditions: dict[str, Any]) -> dict[str, Any]:
    obj = copy.deepcopy(job)
    obj["metadata"]["resourceVersion"] = str(version)
    obj["status"] = {"conditions": list(conditions)}
    return {"type": kind, "object": obj}


def test_wait_returns_at_once_for_a_finished_job(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    fail(fake, name)
    with connect(fake) as client:
        result = client.wait(name)
    assert (result.state, result.deleted, result.timed_out) == (JobState.FAILED, False, False)
    assert fake.count("GET", "/jobs") == 1  # one list, no watch
    [(_, _, query)] = [r for r in fake.requests if r[0] == "GET"]
    assert query["fieldSelector"] == [f"metadata.name={name}"]


def test_wait_watches_from_the_listed_version(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    job = fake.jobs[("default", name)]
    listed = fake.version
    fake.watch_scripts = [
        [event("MODIFIED", job, 201), {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "202"}}}],
        [
            event("MODIFIED", job, 203, condition("SuccessCriteriaMet")),
            event("MODIFIED", job, 204, condition("Complete")),
        ],
    ]
    with connect(fake) as client:
        result = client.wait(name, timeout=600)
    assert (result.state, result.deleted, result.timed_out) == (JobState.SUCCEEDED, False, False)
    watches = [q for m, p, q in fake.requests if q.get("watch") == ["True"]]
    # The second watch resumes after the bookmark, so no change is missed or replayed.
    assert [w["resourceVersion"] for w in watches] == [[str(listed)], ["202"]]
    assert all(w["fieldSelector"] == [f"metadata.name={name}"] for w in watches)


def test_wait_reports_a_job_deleted_by_its_ttl_after_finishing(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    job = fake.jobs[("default", name)]
    # The watch only sees the deletion, whose object is the Job's last state: failed.
    fake.watch_scripts = [[event("DELETED", job, 300, condition("FailureTarget"), condition("Failed"))]]
    with connect(fake) as client:
        result = client.wait(name)
    assert (result.state, result.deleted) == (JobState.FAILED, True)


def test_wait_reports_gone_when_deleted_before_seen_finished(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    job = fake.jobs[("default", name)]
    fake.watch_scripts = [[event("DELETED", job, 300)]]
    with connect(fake) as client:
        result = client.wait(name)
    assert (result.state, result.deleted) == (JobState.GONE, True)


def test_wait_relists_when_the_version_expired_and_sees_the_deletion(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    expired = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}

    def finished_and_deleted_meanwhile() -> list[dict[str, Any]]:
        with fake.lock:
            fake.jobs.clear()
        return [expired]

    fake.watch_scripts = [finished_and_deleted_meanwhile]
    with connect(fake) as client:
        result = client.wait(name)
    # Seen active, then gone: deleted before it was ever seen finished.
    assert (result.state, result.deleted) == (JobState.GONE, True)
    calls = ["watch" if q.get("watch") == ["True"] else "list" for m, p, q in fake.requests if p.endswith("/jobs")]
    assert calls[-3:] == ["list", "watch", "list"]


def test_wait_relists_when_the_watch_answers_410(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    job = fake.jobs[("default", name)]
    fake.watch_scripts = [410, [event("MODIFIED", job, 500, condition("Complete"))]]
    with connect(fake) as client:
        result = client.wait(name)
    assert (result.state, result.deleted) == (JobState.SUCCEEDED, False)


def test_wait_times_out_with_the_job_still_active(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    clock = FakeClock()
    job = fake.jobs[("default", name)]

    def until_the_time_is_up() -> list[dict[str, Any]]:
        clock.now += 31  # the server ends the watch when its timeoutSeconds are over
        return [event("MODIFIED", job, 400)]

    fake.watch_scripts = [until_the_time_is_up]
    with connect(fake, clock=clock) as client:
        result = client.wait(name, timeout=30)
    assert (result.state, result.timed_out, result.deleted) == (JobState.ACTIVE, True, False)
    [watch] = [q for m, p, q in fake.requests if q.get("watch") == ["True"]]
    assert watch["timeoutSeconds"] == ["30"]


def test_a_watch_that_keeps_ending_at_once_backs_off(fake: FakeCluster) -> None:
    [name] = submit(fake, {"id": "m1", "payload": {}})
    clock = FakeClock()
    fake.watch_scripts = [[], [], []]
    with connect(fake, clock=clock) as client:
        result = client.wait(name, timeout=1.5)
    assert result.timed_out
    assert clock.sleeps == [0.25, 0.5, 1.0]


def test_wait_for_a_job_already_gone_is_a_result_not_an_error(fake: FakeCluster) -> None:
    with connect(fake) as client:
        result = client.wait("nope")
    assert (result.state, result.deleted, result.timed_out) == (JobState.GONE, False, False)
