"""Golden files: the YAML each example renders to, per template version.

A missing or different snapshot fails. Rewrite them only when the output was meant
to change: ``pytest tests/snapshots --snapshot-update`` (CI never passes that flag),
and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sq_render import _values, render

from ..conftest import EXAMPLES

HERE = Path(__file__).parent
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


def test_there_are_examples_to_lock() -> None:
    assert len(EXAMPLE_FILES) >= 6


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_example_renders_to_its_snapshot(example: Path, snapshot) -> None:
    version = _values.load(example).version
    snapshot.snapshot_dir = HERE / version
    text = "".join(f"---\n{m.text}" for m in render(example))
    snapshot.assert_match(text, f"{example.stem}.yaml")
