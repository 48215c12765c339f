"""Priorities: a message's priority becomes its pods' PriorityClass; a missing class creates nothing."""

from __future__ import annotations

import pytest

import k8sq_render
from k8sq_render import JobState, _naming
from k8sq_render.errors import PriorityClassMissing

from .support import PRIORITY, Cluster, unique, values, wait_finished


def test_a_message_priority_runs_its_pod_with_the_priority_class(
    client: k8sq_render.Client, cluster: Cluster, priority_class: str
) -> None:
    queue = unique("prio")
    document = values(
        cluster.namespace,
        queue,
        [{"id": "urgent", "priority": "high", "payload": {"p": 1}}, {"id": "plain", "payload": {"p": 2}}],
        priorityClasses={"high": priority_class},
    )

    urgent, plain = client.submit(document)

    assert (urgent.outcome, plain.outcome) == ("created", "created")
    assert [wait_finished(client, cluster, r.name).state for r in (urgent, plain)] == [JobState.SUCCEEDED] * 2
    (pod,) = cluster.pods(urgent.name)
    assert (pod["spec"]["priorityClassName"], pod["spec"]["priority"]) == (priority_class, PRIORITY)
    job = cluster.get_job(urgent.name) or {}
    assert job["metadata"]["annotations"][_naming.PRIORITY_ANNOTATION] == "high"
    (plain_pod,) = cluster.pods(plain.name)
    assert "priorityClassName" not in plain_pod["spec"]
    assert plain_pod["spec"].get("priority", 0) == 0
    assert cluster.worker_lines(urgent.name) == [{"id": "urgent", "queue": queue, "payload": {"p": 1}, "attempt": 1}]


def test_a_priority_class_missing_on_the_cluster_is_an_error_and_no_job_is_left(
    client: k8sq_render.Client, cluster: Cluster, priority_class: str
) -> None:
    queue = unique("noprio")
    ghost = unique("k8sq-e2e-no-such-class")
    document = values(
        cluster.namespace,
        queue,
        # The first message's class exists: it must not be created either, the batch is refused whole.
        [{"id": "fine", "priority": "high", "payload": {}}, {"id": "doomed", "priority": "ghost", "payload": {}}],
        priorityClasses={"high": priority_class, "ghost": ghost},
    )

    with pytest.raises(PriorityClassMissing) as caught:
        client.submit(document)

    assert caught.value.name == ghost
    assert caught.value.job == _naming.job_name(queue, "doomed")
    text = str(caught.value)
    assert f"PriorityClass '{ghost}' does not exist" in text and "message 'doomed'" in text, text
    assert client.jobs(queue) == []
    assert cluster.list_jobs(_naming.selector(queue)) == []
    assert cluster.get_job(_naming.job_name(queue, "fine")) is None
