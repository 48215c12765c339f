"""GitOps output: names that follow the spec, no TTL, hooks, one file per Job."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sq_render import _output, errors, render
from k8sq_render._render import GitOps

from ..conftest import EXAMPLES


def gitops_render(path: Path, **options: str) -> list:
    with pytest.warns(errors.K8sqWarning, match="leaves out ttlSecondsAfterFinished"):
        return render(path, gitops=GitOps(**options))


def test_ttl_is_left_out_with_a_warning() -> None:
    (job,) = gitops_render(EXAMPLES / "minimal.yaml")
    assert "ttlSecondsAfterFinished" not in job.obj["spec"]


def test_a_changed_spec_gives_a_new_name(values_file) -> None:
    text = "version: v1\nqueue: {name: q, image: 'img:1'}\nmessage: {id: m}\n"
    (first,) = gitops_render(values_file(text))
    (same,) = gitops_render(values_file(text))
    (changed,) = gitops_render(values_file(text.replace("img:1", "img:2")))
    assert first.name == same.name
    assert changed.name != first.name
    assert first.name.startswith("q-m-") and changed.name.startswith("q-m-")
    assert first.obj["metadata"]["name"] == first.name
    (plain,) = render(values_file(text))
    assert plain.name != first.name


def test_argocd_hook_annotations() -> None:
    (job,) = gitops_render(EXAMPLES / "minimal.yaml", argocd_hook="PreSync")
    annotations = job.obj["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    with pytest.raises(ValueError, match="argocd_hook must be one of"):
        GitOps(argocd_hook="Later")


def test_changing_one_message_changes_only_its_file(values_file) -> None:
    text = "version: v1\nqueue: {name: q, image: i}\nmessages:\n" + "".join(
        f"  - {{id: m{i}, payload: {{n: {i}}}}}\n" for i in range(5)
    )
    before = _output.planned_files(render(values_file(text)), kustomize=True)
    after = _output.planned_files(render(values_file(text.replace("n: 3", "n: 33"))), kustomize=True)
    changed = sorted(name for name in before if before[name] != after.get(name))
    assert changed == [next(name for name in before if name.startswith("q-m3-"))]


def test_kustomization_lists_every_job_in_order() -> None:
    files = _output.planned_files(render(EXAMPLES / "priority.yaml"), kustomize=True)
    kustomization = files.pop("kustomization.yaml")
    assert kustomization == (
        "# Written by k8sq-render: lists the Jobs of this directory.\n"
        'apiVersion: "kustomize.config.k8s.io/v1beta1"\nkind: "Kustomization"\nresources:\n'
        + "".join(f'  - "{name}"\n' for name in files)
    )


def test_namespaced_file_names_do_not_collide() -> None:
    (one, two) = render(EXAMPLES / "all-options.yaml")
    assert _output.file_name(one) == f"media_{one.name}.yaml"
    assert _output.file_name(two) != _output.file_name(one)
