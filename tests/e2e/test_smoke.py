"""A rendered example, created with the plain ``kubernetes`` client, runs on the real node."""

from __future__ import annotations

from kubernetes import client as k8s

from .support import EXAMPLES, JOB_TIMEOUT, Cluster, example, poll, render, true_conditions


def test_rendered_minimal_example_completes_and_the_worker_reads_its_message(cluster: Cluster) -> None:
    document = example(EXAMPLES / "minimal.yaml", cluster.namespace, ttlSecondsAfterFinished=60)
    (manifest,) = render(document)

    k8s.BatchV1Api(cluster.api).create_namespaced_job(cluster.namespace, manifest.obj)

    def finished() -> set[str] | None:
        job = cluster.get_job(manifest.name)
        done = true_conditions(job or {}) & {"Complete", "Failed"}
        return done or None

    done = poll(finished, timeout=JOB_TIMEOUT, what=f"Job {manifest.name} to finish")
    assert done == {"Complete"}, cluster.describe(manifest.name)

    (pod,) = cluster.pods(manifest.name)
    log = cluster.log(pod["metadata"]["name"])
    # The worker falls back to parsing the variable itself (and says so on stderr) only
    # when k8sq_render.envelope cannot be imported: the log must show the library read it.
    assert "not importable" not in log, log
    message = document["message"]
    assert (message["id"], message["payload"]) == ("welcome-42", {"to": "ada@example.com", "template": "welcome"})
    assert cluster.worker_lines(manifest.name) == [
        {"id": message["id"], "queue": document["queue"]["name"], "payload": message["payload"], "attempt": 1}
    ]
    assert pod["spec"]["containers"][0]["image"] == "localhost/k8sq-worker:dev"
