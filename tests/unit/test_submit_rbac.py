"""deploy/rbac.yaml grants exactly what the submitter's requests need."""

from __future__ import annotations

from pathlib import Path

import yaml

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"


def documents() -> list[dict]:
    return [doc for doc in yaml.safe_load_all(RBAC.read_text(encoding="utf-8")) if doc]


def test_the_role_grants_the_job_verbs_and_nothing_else() -> None:
    [role] = [d for d in documents() if d["kind"] == "Role"]
    assert role["rules"] == [
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list", "watch", "delete"]}
    ]


def test_the_cluster_role_only_reads_priority_classes() -> None:
    [cluster_role] = [d for d in documents() if d["kind"] == "ClusterRole"]
    assert cluster_role["rules"] == [
        {"apiGroups": ["scheduling.k8s.io"], "resources": ["priorityclasses"], "verbs": ["get"]}
    ]


def test_both_are_bound_to_the_service_account() -> None:
    docs = {d["kind"]: d for d in documents()}
    account = docs["ServiceAccount"]["metadata"]
    subject = {"kind": "ServiceAccount", "name": account["name"], "namespace": account["namespace"]}
    assert docs["RoleBinding"]["subjects"] == [subject]
    assert docs["RoleBinding"]["metadata"]["namespace"] == docs["Role"]["metadata"]["namespace"] == account["namespace"]
    assert docs["RoleBinding"]["roleRef"]["name"] == docs["Role"]["metadata"]["name"]
    assert docs["ClusterRoleBinding"]["subjects"] == [subject]
    assert docs["ClusterRoleBinding"]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": docs["ClusterRole"]["metadata"]["name"],
    }
