"""A template override on the real cluster: extra init, sidecar and plain containers really run."""

from __future__ import annotations

import json
from pathlib import Path

import k8sq_render
from k8sq_render import JobState

from .support import Cluster, render, unique, values, wait_finished

# Extends the packaged template: an init container writes the message id into a shared
# volume, a native sidecar (an init container with restartPolicy Always) runs beside the
# worker until the pod is done, and a second container reads what the init container wrote.
TEMPLATE = """\
{% extends "builtin/v1/job.yaml.j2" %}
{% block pod_spec_extra %}
      terminationGracePeriodSeconds: 5
{% endblock %}
{% block init_containers %}
      initContainers:
        - name: prepare
          image: {{ queue.image }}
          imagePullPolicy: Never
          command: ["python3", "-c", PREPARE, {{ message.id }}]
          volumeMounts:
            - name: shared
              mountPath: /shared
        - name: heartbeat
          image: {{ queue.image }}
          imagePullPolicy: Never
          restartPolicy: Always
          command: ["python3", "-c", HEARTBEAT]
{% endblock %}
{% block sidecars %}
        - name: checker
          image: {{ queue.image }}
          imagePullPolicy: Never
          command: ["python3", "-c", CHECK]
          volumeMounts:
            - name: shared
              mountPath: /shared
              readOnly: true
{% endblock %}
{% block volumes %}
      volumes:
        - name: shared
          emptyDir: {}
{% endblock %}
"""
SCRIPTS = {
    "PREPARE": "import sys; open('/shared/id', 'w').write(sys.argv[1]); print('prepared', sys.argv[1])",
    # Exits at once on SIGTERM (as PID 1 it would ignore it, and hold the pod for the grace period).
    "HEARTBEAT": (
        "import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); "
        "print('sidecar up', flush=True); [time.sleep(1) for _ in iter(int, 1)]"
    ),
    "CHECK": "print('checker read', open('/shared/id').read())",
}


def template() -> str:
    """Return the override with its scripts in place (JSON strings are YAML double-quoted scalars)."""
    text = TEMPLATE
    for name, script in SCRIPTS.items():
        text = text.replace(f'"-c", {name}', f'"-c", {json.dumps(script)}')
    return text


def test_an_override_with_init_sidecar_and_extra_containers_runs_to_completion(
    client: k8sq_render.Client, cluster: Cluster, tmp_path: Path
) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "job.yaml.j2").write_text(template(), encoding="utf-8")
    queue = unique("override")
    document = values(cluster.namespace, queue, [{"id": "with-helpers", "payload": {"x": "y"}}])
    (manifest,) = render(document, template_dirs=[tmp_path])
    pod_spec = manifest.obj["spec"]["template"]["spec"]
    assert [c["name"] for c in pod_spec["initContainers"]] == ["prepare", "heartbeat"]
    assert [c["name"] for c in pod_spec["containers"]] == ["worker", "checker"]

    (result,) = client.submit(document, template_dirs=[tmp_path])
    assert (result.name, result.outcome) == (manifest.name, "created")

    assert wait_finished(client, cluster, result.name).state is JobState.SUCCEEDED, cluster.describe(result.name)
    (pod,) = cluster.pods(result.name)
    name = pod["metadata"]["name"]
    init = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert init["prepare"]["state"]["terminated"]["exitCode"] == 0
    assert init["heartbeat"]["state"]["terminated"]["exitCode"] == 0, init["heartbeat"]
    containers = {s["name"]: s for s in pod["status"]["containerStatuses"]}
    assert containers["checker"]["state"]["terminated"]["exitCode"] == 0
    assert cluster.log(name, "prepare") == "prepared with-helpers\n"
    assert cluster.log(name, "heartbeat") == "sidecar up\n"
    assert cluster.log(name, "checker") == "checker read with-helpers\n"
    assert cluster.worker_lines(result.name) == [
        {"id": "with-helpers", "queue": queue, "payload": {"x": "y"}, "attempt": 1}
    ]
