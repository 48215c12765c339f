"""Golden files: the YAML each example renders to, per template version.

A missing or different snapshot fails. Rewrite them only when the output was meant
to change: ``pytest tests/snapshots --snapshot-update`` (CI never passes that flag),
and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sq_render import _values, errors, render
from k8sq_render._render import GitOps

from ..conftest import EXAMPLES

HERE = Path(__file__).parent
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))
OVERRIDES = sorted(p for p in (EXAMPLES / "overrides").iterdir() if p.is_dir())


def test_there_are_examples_to_lock() -> None:
    assert len(EXAMPLE_FILES) >= 6


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_renders_to_its_snapshot(example: Path, snapshot) -> None:
    version = _values.load(example).version
    snapshot.snapshot_dir = HERE / version
    snapshot.assert_match(stream(render(example)), f"{example.stem}.yaml")


def stream(manifests: list) -> str:
    return "".join(f"---\n{m.text}" for m in manifests)


@pytest.mark.parametrize("example", OVERRIDES, ids=lambda p: p.name)
def test_override_example_renders_to_its_snapshot(example: Path, snapshot) -> None:
    snapshot.snapshot_dir = HERE / "v1" / "overrides"
    snapshot.assert_match(
        stream(render(example / "values.yaml", template_dirs=[example / "templates"])), f"{example.name}.yaml"
    )


@pytest.mark.parametrize("example", [EXAMPLES / "minimal.yaml", EXAMPLES / "priority.yaml"], ids=lambda p: p.stem)
def test_gitops_output_renders_to_its_snapshot(example: Path, snapshot) -> None:
    snapshot.snapshot_dir = HERE / "v1" / "gitops"
    with pytest.warns(errors.K8sqWarning):
        manifests = render(example, gitops=GitOps(argocd_hook="Sync"))
    snapshot.assert_match(stream(manifests), f"{example.stem}.yaml")
