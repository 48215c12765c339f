"""Every example's Jobs, as rendered, are accepted by the real API server (server-side dry run)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

import k8sq_render
from k8sq_render._render import GitOps
from k8sq_render.errors import K8sqWarning

from .support import EXAMPLES, Cluster

PLAIN = sorted(EXAMPLES.glob("*.yaml"))
OVERRIDES = sorted(path.parent for path in EXAMPLES.glob("overrides/*/values.yaml"))
CASES = [
    *[pytest.param(path, None, None, id=path.name) for path in PLAIN],
    *[pytest.param(d / "values.yaml", d / "templates", None, id=f"overrides/{d.name}") for d in OVERRIDES],
    *[pytest.param(path, None, GitOps(), id=f"gitops/{path.name}") for path in PLAIN],
    pytest.param(EXAMPLES / "minimal.yaml", None, GitOps(argocd_hook="Sync"), id="gitops-argocd/minimal.yaml"),
]


def test_the_examples_are_all_covered() -> None:
    assert len(PLAIN) >= 6 and len(OVERRIDES) >= 2, (PLAIN, OVERRIDES)


def _render(values: Path, templates: Path | None, gitops: GitOps | None) -> list[k8sq_render.Manifest]:
    dirs = [templates] if templates else []
    if gitops is None:
        return k8sq_render.render(values, template_dirs=dirs)
    with pytest.warns(K8sqWarning, match="ttlSecondsAfterFinished"):
        return k8sq_render.render(values, template_dirs=dirs, gitops=gitops)


def _missing(sent: Any, got: Any, path: str = "") -> list[str]:
    """Return the places where ``got`` lacks or changed what ``sent`` has (extra server fields are fine).

    Two server normalisations are not changes: an empty value is left out (``omitempty``)
    and a quantity sent as a number comes back as a string (``cpu: 2`` → ``"2"``).
    """
    if got is None and sent in ("", [], {}):
        return []
    if "/resources/" in path and isinstance(sent, int | float) and str(sent) == got:
        return []
    if isinstance(sent, dict):
        if not isinstance(got, dict):
            return [f"{path}: sent an object, got {got!r}"]
        return [m for key, value in sent.items() for m in _missing(value, got.get(key), f"{path}/{key}")]
    if isinstance(sent, list):
        if not isinstance(got, list) or len(got) != len(sent):
            return [f"{path}: sent {sent!r}, got {got!r}"]
        return [m for i, (a, b) in enumerate(zip(sent, got, strict=True)) for m in _missing(a, b, f"{path}/{i}")]
    return [] if sent == got else [f"{path}: sent {sent!r}, got {got!r}"]


@pytest.mark.parametrize(("values", "templates", "gitops"), CASES)
def test_server_side_dry_run_accepts_every_job(
    cluster: Cluster, values: Path, templates: Path | None, gitops: GitOps | None
) -> None:
    manifests = _render(values, templates, gitops)
    assert manifests
    existing = {ns.metadata.name for ns in cluster.core.list_namespace().items}
    for manifest in manifests:
        body = copy.deepcopy(manifest.obj)
        # The examples' own namespaces (media, ml) do not exist here: use the test's.
        namespace = manifest.namespace if manifest.namespace in existing else cluster.namespace
        body["metadata"]["namespace"] = namespace
        try:
            response = k8s.BatchV1Api(cluster.api).create_namespaced_job(
                namespace, body, dry_run="All", field_validation="Strict", _preload_content=False
            )
        except ApiException as exc:
            pytest.fail(f"{values} ({manifest.name}): the API server refused the Job: {exc.status} {exc.body}")
        stored = json.loads(response.data)
        # Strict field validation refuses unknown fields; this also proves none was dropped or changed.
        assert _missing(body, stored) == [], f"{values} ({manifest.name})"
        # A dry run stores nothing.
        assert (
            k8s.BatchV1Api(cluster.api)
            .list_namespaced_job(namespace, field_selector=f"metadata.name={manifest.name}")
            .items
            == []
        )
