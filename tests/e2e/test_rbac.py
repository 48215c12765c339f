"""The shipped RBAC manifest is enough for the whole submitter, and nothing less works."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

import k8sq_render
from k8sq_render import JobState
from k8sq_render.errors import PermissionDenied

from .support import PART_OF, REPO, Cluster, KubeconfigParts, poll, token_client, unique, values, wait_finished

RBAC = REPO / "deploy" / "rbac.yaml"
CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}


def _prepare(documents: list[dict[str, Any]], namespace: str, suffix: str) -> list[dict[str, Any]]:
    """Point the manifest at the test namespace; give its cluster-wide objects names of their own."""
    renamed = {
        d["metadata"]["name"]: f"{d['metadata']['name']}-{suffix}" for d in documents if d["kind"] in CLUSTER_SCOPED
    }
    prepared = []
    for document in map(copy.deepcopy, documents):
        meta = document["metadata"]
        meta.setdefault("labels", {}).update(PART_OF)
        if document["kind"] in CLUSTER_SCOPED:
            meta["name"] = renamed[meta["name"]]
        else:
            meta["namespace"] = namespace
        for subject in document.get("subjects") or ():
            if "namespace" in subject:
                subject["namespace"] = namespace
        ref = document.get("roleRef")
        if ref and ref["kind"] == "ClusterRole":
            ref["name"] = renamed.get(ref["name"], ref["name"])
        prepared.append(document)
    return prepared


@pytest.fixture
def shipped_rbac(admin_api: Any, namespace: str) -> Iterator[str]:
    """Apply deploy/rbac.yaml into the test namespace; return the ServiceAccount it grants to."""
    assert RBAC.is_file(), f"{RBAC} is missing: the submitter's RBAC manifest should ship there"
    documents = [d for d in yaml.safe_load_all(RBAC.read_text(encoding="utf-8")) if d]
    prepared = _prepare(documents, namespace, secrets.token_hex(3))
    core, rbac = k8s.CoreV1Api(admin_api), k8s.RbacAuthorizationV1Api(admin_api)
    create = {
        "ServiceAccount": lambda d: core.create_namespaced_service_account(namespace, d),
        "Role": lambda d: rbac.create_namespaced_role(namespace, d),
        "RoleBinding": lambda d: rbac.create_namespaced_role_binding(namespace, d),
        "ClusterRole": rbac.create_cluster_role,
        "ClusterRoleBinding": rbac.create_cluster_role_binding,
    }
    delete = {
        "ClusterRole": rbac.delete_cluster_role,
        "ClusterRoleBinding": rbac.delete_cluster_role_binding,
    }
    unknown = sorted({d["kind"] for d in prepared} - set(create))
    assert not unknown, f"{RBAC}: kinds this test does not know how to apply: {unknown}"
    created: list[dict[str, Any]] = []
    try:
        for document in prepared:
            create[document["kind"]](document)
            created.append(document)
        accounts = {
            s["name"]
            for d in prepared
            if d["kind"] == "RoleBinding"
            for s in d["subjects"]
            if s["kind"] == "ServiceAccount"
        }
        assert len(accounts) == 1, f"{RBAC}: expected the Role bound to one ServiceAccount, found {accounts}"
        yield accounts.pop()
    finally:
        # Namespaced objects go with the namespace; the cluster-wide ones are removed here.
        for document in reversed(created):
            if document["kind"] in delete:
                delete[document["kind"]](document["metadata"]["name"])


def _token(admin_api: Any, namespace: str, account: str) -> str:
    request = {"spec": {"expirationSeconds": 600}}
    answer = k8s.CoreV1Api(admin_api).create_namespaced_service_account_token(account, namespace, request)
    return str(answer.status.token)


def test_the_shipped_role_lets_a_service_account_submit_query_retry_and_wait(
    admin_api: Any, cluster: Cluster, kube_parts: KubeconfigParts, shipped_rbac: str, priority_class: str
) -> None:
    api = token_client(kube_parts, _token(admin_api, cluster.namespace, shipped_rbac))
    queue = unique("rbac")
    document = values(
        cluster.namespace,
        queue,
        [{"id": "fine", "priority": "high", "payload": {}}, {"id": "flaky", "payload": {"fail_attempts": 1}}],
        priorityClasses={"high": priority_class},
    )
    try:
        with k8sq_render.Client(api_client=api, namespace=cluster.namespace) as client:
            # RBAC objects take effect within a moment of their creation.
            poll(lambda: _allowed(lambda: client.size(queue)), timeout=15, what="the RoleBinding to take effect")

            fine, flaky = client.submit(document)
            assert (fine.outcome, flaky.outcome, fine.error, flaky.error) == ("created", "created", None, None)
            assert wait_finished(client, cluster, fine.name).state is JobState.SUCCEEDED
            assert wait_finished(client, cluster, flaky.name).state is JobState.FAILED
            assert (client.size(queue), client.size(queue, failed=True)) == (0, 1)
            assert {(i.message_id, i.state) for i in client.jobs(queue)} == {
                ("fine", JobState.SUCCEEDED),
                ("flaky", JobState.FAILED),
            }

            (retried,) = client.retry(queue)
            assert (retried.outcome, retried.attempt, retried.error) == ("retried", 2, None)
            assert wait_finished(client, cluster, str(retried.new_name)).state is JobState.SUCCEEDED
            assert {(i.message_id, i.attempt, i.state) for i in client.jobs(queue)} == {
                ("fine", 1, JobState.SUCCEEDED),
                ("flaky", 2, JobState.SUCCEEDED),
            }
            assert client.submit(document)[0].outcome == "existed"
    finally:
        api.close()


def _allowed(call: Any) -> bool:
    try:
        call()
    except PermissionDenied:
        return False
    return True


def test_a_service_account_without_the_binding_gets_a_clear_permission_error(
    admin_api: Any, cluster: Cluster, kube_parts: KubeconfigParts, priority_class: str
) -> None:
    account = unique("k8sq-e2e-nobody")
    k8s.CoreV1Api(admin_api).create_namespaced_service_account(
        cluster.namespace, {"metadata": {"name": account, "labels": dict(PART_OF)}}
    )
    api = token_client(kube_parts, _token(admin_api, cluster.namespace, account))
    queue = unique("denied")
    plain = values(cluster.namespace, queue, [{"id": "nope", "payload": {}}])
    with_priority = values(
        cluster.namespace,
        queue,
        [{"id": "nope", "priority": "high", "payload": {}}],
        priorityClasses={"high": priority_class},
    )
    try:
        with k8sq_render.Client(api_client=api, namespace=cluster.namespace) as client:
            (result,) = client.submit(plain)
            assert result.outcome == "failed"
            assert isinstance(result.error, PermissionDenied)
            assert (result.error.verb, result.error.resource, result.error.status) == ("create", "jobs", 403)
            assert "permission denied" in str(result.error) and "grant 'create' on 'jobs'" in str(result.error)

            with pytest.raises(PermissionDenied, match="grant 'get' on 'priorityclasses'"):
                client.submit(with_priority)
            for call in (lambda: client.size(queue), lambda: client.jobs(queue), lambda: client.retry(queue)):
                with pytest.raises(PermissionDenied, match=r"list jobs in namespace .*grant 'list' on 'jobs'"):
                    call()
            with pytest.raises(PermissionDenied, match="grant 'list' on 'jobs'"):
                client.wait("any-job", timeout=5)
    finally:
        api.close()
    assert cluster.list_jobs(f"k8sq.io/queue={queue}") == []
