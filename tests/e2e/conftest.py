"""End-to-end wiring: the cluster KUBECONFIG points to, one labelled namespace per run.

The e2e tests are part of the suite: without a reachable cluster they fail with a
message saying what to do, they are never skipped. `make test` starts the local
cluster of tests/e2e/cluster/ when KUBECONFIG is not set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

import k8sq_render

from .support import PART_OF, PRIORITY, Cluster, KubeconfigParts, poll, unique

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e with ``e2e``."""
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def kubeconfig() -> Path:
    """The kubeconfig the e2e tests use (``$KUBECONFIG``, first entry)."""
    value = os.environ.get("KUBECONFIG", "")
    if not value:
        pytest.fail(
            "the e2e tests need a Kubernetes cluster and KUBECONFIG is not set: run `make test` (it starts "
            "the local cluster), or `make cluster-up` then `export KUBECONFIG=/tmp/k8sq-e2e/kubeconfig`",
            pytrace=False,
        )
    path = Path(value.split(os.pathsep)[0]).expanduser()
    if not path.is_file():
        pytest.fail(f"KUBECONFIG={value}: {path} is not a file (is the cluster up? `make cluster-up`)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def admin_api(kubeconfig: Path) -> Iterator[Any]:
    """A ``kubernetes`` ApiClient with the kubeconfig's (admin) credentials, checked to reach the cluster."""
    try:
        api = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    except Exception as exc:  # any failure here means: no usable cluster
        pytest.fail(f"KUBECONFIG={kubeconfig}: cannot load it: {exc}", pytrace=False)
    try:
        version = k8s.VersionApi(api).get_code(_request_timeout=5)
    except Exception as exc:
        api.close()
        pytest.fail(
            f"the cluster of KUBECONFIG={kubeconfig} ({api.configuration.host}) is unreachable: "
            f"{type(exc).__name__}: {str(exc).strip()[:300]} (is it up? `make cluster-up`)",
            pytrace=False,
        )
    print(f"e2e cluster: {api.configuration.host}, Kubernetes {version.git_version}")
    yield api
    api.close()


@pytest.fixture(scope="session")
def namespace(admin_api: Any) -> Iterator[str]:
    """A namespace for this run (random name, labelled), deleted at the end, pass or fail."""
    core = k8s.CoreV1Api(admin_api)
    name = unique("k8sq-e2e")
    core.create_namespace({"metadata": {"name": name, "labels": dict(PART_OF)}})
    try:
        # Pods are admitted only once the namespace's default ServiceAccount exists.
        poll(
            lambda: _exists(lambda: core.read_namespaced_service_account("default", name)),
            timeout=30,
            what=f"ServiceAccount default in namespace {name}",
        )
        yield name
    finally:
        core.delete_namespace(name, propagation_policy="Background")


def _exists(read: Any) -> bool:
    try:
        read()
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


@pytest.fixture(scope="session")
def cluster(admin_api: Any, namespace: str) -> Cluster:
    """The admin's view of the test namespace: Jobs, pods, logs."""
    return Cluster(admin_api, namespace)


@pytest.fixture(scope="session")
def kube_parts(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> KubeconfigParts:
    """Server address, CA and admin client certificate of the kubeconfig, as files."""
    return KubeconfigParts.load(kubeconfig, tmp_path_factory.mktemp("kubeconfig"))


@pytest.fixture(scope="session")
def client(kubeconfig: Path, namespace: str, admin_api: Any) -> Iterator[k8sq_render.Client]:
    """The library's client on the test namespace, with the kubeconfig's credentials."""
    with k8sq_render.Client(kubeconfig=kubeconfig, namespace=namespace) as c:
        yield c


@pytest.fixture(scope="session")
def suspended_templates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template override whose Jobs are created suspended: they exist, but run no pod."""
    root = tmp_path_factory.mktemp("suspended")
    (root / "v1").mkdir()
    (root / "v1" / "job.yaml.j2").write_text(
        '{% extends "builtin/v1/job.yaml.j2" %}\n{% block job_spec_extra %}\n  suspend: true\n{% endblock %}\n',
        encoding="utf-8",
    )
    return root


@pytest.fixture
def priority_class(admin_api: Any) -> Iterator[str]:
    """A PriorityClass made for one test (cluster-scoped: unique name, deleted afterwards)."""
    api = k8s.SchedulingV1Api(admin_api)
    name = unique("k8sq-e2e-prio")
    api.create_priority_class(
        {"metadata": {"name": name, "labels": dict(PART_OF)}, "value": PRIORITY, "description": "k8sq-render e2e"}
    )
    try:
        yield name
    finally:
        api.delete_priority_class(name)
