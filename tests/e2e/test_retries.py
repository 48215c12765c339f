"""Retries against the real API server, through a proxy that throttles and fails on purpose."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import k8sq_render
from k8sq_render import JobState, RetryPolicy, _naming

from .faultproxy import Fault, FaultProxy, proxied_api
from .support import Cluster, KubeconfigParts, unique, values, wait_finished


@contextmanager
def through(proxy: FaultProxy, namespace: str) -> Iterator[k8sq_render.Client]:
    api = proxied_api(proxy)
    try:
        # Jitter off: the waits the test measures are exactly the policy's.
        with k8sq_render.Client(api_client=api, namespace=namespace, retry=RetryPolicy(jitter=False)) as client:
            yield client
    finally:
        api.close()


def test_throttled_and_failing_creates_are_retried_and_make_one_job(
    kube_parts: KubeconfigParts, cluster: Cluster
) -> None:
    queue = unique("throttled")
    document = values(cluster.namespace, queue, [{"id": "patient", "payload": {"k": 1}}])
    faults = [Fault(429, retry_after="1"), Fault(429, retry_after="1"), Fault(503)]
    with FaultProxy(kube_parts, faults) as proxy, through(proxy, cluster.namespace) as client:
        start = time.monotonic()
        (result,) = client.submit(document)
        elapsed = time.monotonic() - start
        posts = proxy.requests("POST", "/jobs")
        # The watch of wait() goes through the proxy too, and sees the Job finish as it happens.
        waited = wait_finished(client, cluster, result.name)
        returned = time.time()

    assert (result.outcome, result.error) == ("created", None)
    assert [(p.status, p.forwarded) for p in posts] == [(429, False), (429, False), (503, False), (201, True)]
    # Retry-After: 1 was honoured twice; the 503 (no Retry-After) waited the policy's backoff (0.25 s * 2**2).
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(posts)]
    assert gaps[0] >= 0.99 and gaps[1] >= 0.99, gaps
    assert gaps[2] >= 0.99, gaps
    assert elapsed >= 2.9, elapsed
    assert [j["metadata"]["name"] for j in cluster.list_jobs(_naming.selector(queue))] == [result.name]
    assert waited.state is JobState.SUCCEEDED
    conditions = (waited.job or {})["status"]["conditions"]
    done = [c for c in conditions if c["type"] in ("SuccessCriteriaMet", "Complete") and c["status"] == "True"]
    finished_at = min(datetime.fromisoformat(c["lastTransitionTime"]).timestamp() for c in done)
    # Within a few seconds of the condition (its time has whole seconds), not at the watch's timeout.
    assert returned - finished_at < 5, (returned, conditions)
    assert cluster.worker_lines(result.name) == [{"id": "patient", "queue": queue, "payload": {"k": 1}, "attempt": 1}]


def test_a_create_whose_answer_is_lost_is_recognised_and_not_repeated(
    kube_parts: KubeconfigParts, cluster: Cluster
) -> None:
    queue = unique("lost")
    document = values(cluster.namespace, queue, [{"id": "once-only", "payload": {}}])
    # The server creates the Job, but the client is told 503: its retry meets 409.
    lost = [Fault(503, forward=True)]
    with (
        FaultProxy(kube_parts, lost, match=lambda method, path: method == "POST") as proxy,
        through(proxy, cluster.namespace) as client,
    ):
        (result,) = client.submit(document)
        posts = proxy.requests("POST", "/jobs")
        reads = proxy.requests("GET", f"/jobs/{result.name}")

    assert result.ok and result.error is None, result
    assert [(p.status, p.forwarded) for p in posts] == [(503, True), (409, True)]
    assert [r.status for r in reads] == [200]
    (job,) = cluster.list_jobs(_naming.selector(queue))
    assert job["metadata"]["name"] == result.name
    assert job["metadata"]["annotations"][_naming.MESSAGE_ID_ANNOTATION] == "once-only"
