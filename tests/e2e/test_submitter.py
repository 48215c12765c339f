"""The submitter against the real cluster: submit, size, jobs, retry and wait."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml

import k8sq_render
from k8sq_render import JobState, _naming

from .faultproxy import FaultProxy, proxied_api
from .support import (
    JOB_TIMEOUT,
    Cluster,
    KubeconfigParts,
    job_envelope,
    poll,
    true_conditions,
    unique,
    values,
    wait_finished,
)

#: Seconds the tests give the Job controller to do something it does at once.
SOON = 30.0


def test_three_messages_run_to_completion_each_with_its_own_payload(
    client: k8sq_render.Client, cluster: Cluster
) -> None:
    queue = unique("three")
    payloads = [
        {"to": "ada@example.com", "n": 1},
        {"text": 'línea 1\nline 2: $(HOME) $$ "quoted" # not a comment', "list": [1, 2.5, None, True]},
        {"nested": {"deep": {"deeper": ["x", {"y": "z"}]}}, "empty": {}},
    ]
    document = values(
        cluster.namespace,
        queue,
        [{"id": f"m{i}", "payload": p} for i, p in enumerate(payloads)],
    )

    results = client.submit(document)

    assert [(r.message_id, r.outcome, r.error) for r in results] == [(f"m{i}", "created", None) for i in range(3)]
    # Submitted together, waited for together: the three Jobs run at the same time.
    finished = [wait_finished(client, cluster, r.name) for r in results]
    assert [w.state for w in finished] == [JobState.SUCCEEDED] * 3, [cluster.describe(r.name) for r in results]
    for i, (result, payload) in enumerate(zip(results, payloads, strict=True)):
        expected = {"id": f"m{i}", "queue": queue, "payload": payload, "attempt": 1}
        assert cluster.worker_lines(result.name) == [expected]
        assert cluster.termination_messages(result.name) == [expected]
    assert client.size(queue) == 0
    assert client.size(queue, failed=True) == 0
    assert sorted(info.message_id for info in client.jobs(queue, state="succeeded")) == ["m0", "m1", "m2"]


def test_a_job_retrying_its_pod_is_active_until_the_failed_condition(
    client: k8sq_render.Client, cluster: Cluster
) -> None:
    queue = unique("backoff")
    (result,) = client.submit(
        values(cluster.namespace, queue, [{"id": "always-fails", "payload": {"fail": True}}], backoffLimit=2)
    )
    assert result.outcome == "created", result.error

    # A pod failed, the controller will start another one: the Job is not failed yet.
    def retrying() -> bool:
        job = cluster.get_job(result.name) or {}
        return (job.get("status") or {}).get("failed", 0) >= 1 and not true_conditions(job) & {
            "Failed",
            "FailureTarget",
        }

    poll(retrying, timeout=60, what=f"a failed pod of Job {result.name}\n{cluster.describe(result.name)}")
    failed_now, active_now = client.size(queue, failed=True), client.size(queue)
    (info,) = client.jobs(queue)
    # The controller waits 10 s before the next pod, so the Job is still retrying now.
    still = cluster.get_job(result.name) or {}
    assert not true_conditions(still) & {"Failed", "FailureTarget"}, "the Job failed during the check; too slow?"
    assert (failed_now, active_now, info.state) == (0, 1, JobState.ACTIVE)

    # Three pods (the first run and two retries), 10 s then 20 s apart.
    finished = wait_finished(client, cluster, result.name, timeout=JOB_TIMEOUT + 60)
    assert finished.state is JobState.FAILED
    poll(
        lambda: "Failed" in true_conditions(cluster.get_job(result.name) or {}),
        timeout=SOON,
        what=f"the Failed condition on {result.name}",
    )
    assert client.size(queue, failed=True) == 1
    assert client.size(queue) == 0
    assert len(cluster.pods(result.name)) == 3
    assert [line["attempt"] for line in cluster.worker_lines(result.name)] == [1, 1, 1]


def test_retry_runs_the_same_message_again_as_attempt_two(client: k8sq_render.Client, cluster: Cluster) -> None:
    queue = unique("retry")
    message = {"id": "flaky-1", "timestamp": 1733232000, "payload": {"fail_attempts": 1, "to": "$(USER) $$x"}}
    (first,) = client.submit(values(cluster.namespace, queue, [message]))
    assert wait_finished(client, cluster, first.name).state is JobState.FAILED
    old = cluster.get_job(first.name)
    assert old is not None

    (result,) = client.retry(queue)

    assert (result.name, result.outcome, result.attempt, result.message_id, result.error) == (
        first.name,
        "retried",
        2,
        "flaky-1",
        None,
    )
    assert result.new_name == _naming.job_name(queue, "flaky-1", 2)
    cluster.wait_gone(first.name)
    new = cluster.get_job(result.new_name)
    assert new is not None
    assert new["metadata"]["annotations"][_naming.ATTEMPT_ANNOTATION] == "2"
    assert new["metadata"]["annotations"][_naming.MESSAGE_ID_ANNOTATION] == "flaky-1"
    before, after = job_envelope(old), job_envelope(new)
    assert (before.attempt, after.attempt) == (1, 2)
    assert (
        (after.id, after.queue, after.timestamp, after.payload)
        == (before.id, before.queue, before.timestamp, before.payload)
        == ("flaky-1", queue, 1733232000, message["payload"])
    )
    # The rest of the pod spec is the failed Job's own.
    old_worker, new_worker = (j["spec"]["template"]["spec"]["containers"][0] for j in (old, new))
    assert {k: v for k, v in new_worker.items() if k != "env"} == {k: v for k, v in old_worker.items() if k != "env"}

    assert wait_finished(client, cluster, result.new_name).state is JobState.SUCCEEDED
    assert cluster.worker_lines(result.new_name) == [
        {"id": "flaky-1", "queue": queue, "payload": message["payload"], "attempt": 2}
    ]
    assert [(i.name, i.attempt, i.state) for i in client.jobs(queue)] == [(result.new_name, 2, JobState.SUCCEEDED)]
    assert client.size(queue, failed=True) == 0


def test_a_finished_job_deleted_by_its_ttl_is_counted_nowhere(client: k8sq_render.Client, cluster: Cluster) -> None:
    queue = unique("ttl")
    (result,) = client.submit(
        values(cluster.namespace, queue, [{"id": "short-lived", "payload": {}}], ttlSecondsAfterFinished=2)
    )

    finished = wait_finished(client, cluster, result.name)
    assert (finished.state, finished.deleted, finished.timed_out) == (JobState.SUCCEEDED, False, False)

    cluster.wait_gone(result.name, timeout=SOON)
    assert client.size(queue) == 0
    assert client.size(queue, failed=True) == 0
    assert client.jobs(queue) == []
    # Waiting for a Job its TTL reaped already is a result, not an exception (the API
    # cannot tell a reaped Job from a wrong name, so deleted stays False).
    late = client.wait(result.name, timeout=5)
    assert (late.state, late.deleted, late.timed_out) == (JobState.GONE, False, False)


def test_wait_reports_a_job_deleted_while_it_waits(
    client: k8sq_render.Client, cluster: Cluster, suspended_templates: Path
) -> None:
    queue = unique("deleted")
    (result,) = client.submit(
        values(cluster.namespace, queue, [{"id": "never-runs", "payload": {}}]), template_dirs=[suspended_templates]
    )
    outcome: list[k8sq_render.WaitResult] = []
    waiter = threading.Thread(target=lambda: outcome.append(client.wait(result.name, timeout=60)))
    waiter.start()
    # Let the wait get to its watch, then delete the Job under it.
    poll(lambda: waiter.is_alive() and cluster.get_job(result.name), timeout=SOON, what="the wait to start")
    threading.Event().wait(1.0)
    cluster.batch.delete_namespaced_job(result.name, cluster.namespace, propagation_policy="Background")
    waiter.join(timeout=SOON)

    assert not waiter.is_alive(), "wait did not return after the Job was deleted"
    (waited,) = outcome
    assert (waited.state, waited.deleted, waited.timed_out) == (JobState.GONE, True, False)
    assert client.size(queue) == 0


def test_lists_follow_every_page(
    kube_parts: KubeconfigParts, cluster: Cluster, namespace: str, suspended_templates: Path
) -> None:
    queue = unique("pages")
    messages = [{"id": f"p{i:02d}", "payload": {"i": i}} for i in range(12)]
    with FaultProxy(kube_parts) as proxy:
        api = proxied_api(proxy)
        try:
            with k8sq_render.Client(api_client=api, namespace=namespace, page_size=5) as paged:
                results = paged.submit(values(namespace, queue, messages), template_dirs=[suspended_templates])
                assert [r.outcome for r in results] == ["created"] * 12
                lists_before = len(proxy.requests("GET", "limit=5"))
                assert paged.size(queue) == 12
                listed = paged.jobs(queue)
                lists = len(proxy.requests("GET", "limit=5")) - lists_before
        finally:
            api.close()
    assert sorted(info.name for info in listed) == sorted(r.name for r in results)
    assert {info.state for info in listed} == {JobState.ACTIVE}
    # 12 Jobs in pages of 5: three requests for size and three for jobs.
    assert lists == 6
    # Suspended: the controller created no pod.
    assert all(cluster.pods(r.name) == [] for r in results[:3])
    assert all("Suspended" in true_conditions(cluster.get_job(r.name) or {}) for r in results[:3])


def test_submitting_the_same_message_twice_makes_one_job(
    client: k8sq_render.Client, cluster: Cluster, tmp_path: Path
) -> None:
    queue = unique("twice")
    document = values(cluster.namespace, queue, [{"id": "once", "payload": {"k": "v"}}])
    (first,) = client.submit(document)
    (second,) = client.submit(document)
    assert (first.outcome, second.outcome, second.error) == ("created", "existed", None)
    assert first.name == second.name

    # A values file submitted twice: the same, its message id being derived from the content.
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values(cluster.namespace, queue, [{"payload": {"from": "file"}}])))
    (from_file,) = client.submit(path)
    (again,) = client.submit(path)
    assert (from_file.outcome, again.outcome, again.name) == ("created", "existed", from_file.name)
    assert sorted(i.message_id for i in client.jobs(queue)) == sorted(["once", from_file.message_id])


def test_two_retries_at_once_make_one_new_run(
    client: k8sq_render.Client, cluster: Cluster, kubeconfig: Path, namespace: str
) -> None:
    queue = unique("race")
    (first,) = client.submit(values(cluster.namespace, queue, [{"id": "raced", "payload": {"fail_attempts": 1}}]))
    assert wait_finished(client, cluster, first.name).state is JobState.FAILED

    start = threading.Barrier(2)
    outcomes: list[list[k8sq_render.RetryResult]] = [[], []]

    def retry(slot: int) -> None:
        with k8sq_render.Client(kubeconfig=kubeconfig, namespace=namespace) as own:
            own.jobs(queue)  # connect first, so both retries start at the same time
            start.wait(timeout=10)
            outcomes[slot] = own.retry(queue)

    threads = [threading.Thread(target=retry, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    results = outcomes[0] + outcomes[1]
    assert [r for r in results if r.outcome == "failed"] == []
    # One retry re-ran the message; the other found it done, found the Job gone, or found nothing to retry.
    assert [r.outcome for r in results].count("retried") == 1, results
    assert {r.outcome for r in results} <= {"retried", "already-retried", "gone"}
    new_name = _naming.job_name(queue, "raced", 2)
    assert wait_finished(client, cluster, new_name).state is JobState.SUCCEEDED
    assert [(i.name, i.attempt) for i in client.jobs(queue)] == [(new_name, 2)]
    assert len(cluster.pods(new_name)) == 1
