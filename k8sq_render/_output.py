"""Rendered Jobs as files for GitOps: one file per Job, written atomically, checked for drift.

The output directory is shared with whatever else the user keeps there: only files
this tool wrote (they carry its ``managed-by`` label) are replaced or removed, and a
file whose content is unchanged is left alone (same bytes, same modification time).
Every file is first written into a staging directory next to the output and moved
into place with ``os.replace``; since all validation and rendering happen before the
first write, an error leaves the directory exactly as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import _naming, _yaml
from ._render import Manifest
from .errors import OutputError

KUSTOMIZATION = "kustomization.yaml"
_OURS = f'{_naming.MANAGED_BY_KEY}: "{_naming.MANAGED_BY}"'


def file_name(manifest: Manifest) -> str:
    """Return the output file name of a manifest (its Job name, unique per namespace)."""
    prefix = "" if manifest.namespace == "default" else f"{manifest.namespace}_"
    return f"{prefix}{manifest.name}.yaml"


def planned_files(manifests: Sequence[Manifest], *, kustomize: bool = False) -> dict[str, str]:
    """Return ``{file name: content}`` for an output directory, sorted by name."""
    files = {file_name(m): m.text for m in manifests}
    files = dict(sorted(files.items()))
    if kustomize:
        files[KUSTOMIZATION] = _yaml.dump(
            {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": list(files)}
        )
    return files


@dataclass(frozen=True)
class Drift:
    """One difference between an output directory and what the values render to."""

    path: str
    change: str  # "missing", "differs" or "stale"

    def __str__(self) -> str:
        return f"{self.path}: {self.change}"


def _owned(directory: Path) -> dict[str, Path]:
    """Files in ``directory`` this tool wrote earlier."""
    owned = {}
    if directory.is_dir():
        for path in sorted(directory.glob("*.yaml")):
            if path.name == KUSTOMIZATION:
                owned[path.name] = path
                continue
            try:
                if _OURS in path.read_text(encoding="utf-8"):
                    owned[path.name] = path
            except (OSError, UnicodeDecodeError):
                continue
    return owned


def diff(directory: str | os.PathLike[str], files: dict[str, str]) -> list[Drift]:
    """Return how ``directory`` differs from ``files`` (empty when it matches)."""
    target = Path(directory)
    owned = _owned(target)
    drift = []
    for name, content in files.items():
        path = target / name
        if not path.is_file():
            drift.append(Drift(str(path), "missing"))
        elif path.read_bytes() != content.encode("utf-8"):
            drift.append(Drift(str(path), "differs"))
    for name, path in owned.items():
        if name not in files:
            drift.append(Drift(str(path), "stale"))
    return drift


def write(directory: str | os.PathLike[str], files: dict[str, str]) -> list[Drift]:
    """Make ``directory`` hold exactly ``files`` (plus any files not ours); return what changed.

    Raises:
        OutputError: the directory cannot be created or written.
    """
    target = Path(directory)
    changes = diff(target, files)
    if not changes:
        return []
    try:
        target.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.k8sq-", dir=target.parent))
    except OSError as exc:
        raise OutputError(path=str(target), message=f"cannot create the output directory: {exc.strerror}") from None
    try:
        for change in changes:
            if change.change != "stale":
                name = Path(change.path).name
                staged = staging / name
                with open(staged, "w", encoding="utf-8", newline="") as handle:
                    handle.write(files[name])
                    handle.flush()
                    os.fsync(handle.fileno())
        for change in changes:
            if change.change == "stale":
                os.unlink(change.path)
            else:
                os.replace(staging / Path(change.path).name, change.path)
    except OSError as exc:
        raise OutputError(path=str(target), message=f"cannot write: {exc.strerror}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changes
