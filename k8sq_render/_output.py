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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import _naming, _yaml
from ._render import Manifest
from .errors import OutputError

KUSTOMIZATION = "kustomization.yaml"
_OURS = f'{_naming.MANAGED_BY_KEY}: "{_naming.MANAGED_BY}"'
_KUSTOMIZATION_HEADER = "# Written by k8sq-render: lists the Jobs of this directory.\n"
# The managed-by label is among the first lines of every Job we write.
_HEAD_BYTES = 4096


def file_name(manifest: Manifest) -> str:
    """Return the output file name of a manifest (its Job name, unique per namespace)."""
    prefix = "" if manifest.namespace == "default" else f"{manifest.namespace}_"
    return f"{prefix}{manifest.name}.yaml"


def planned_files(manifests: Iterable[Manifest], *, kustomize: bool = False) -> dict[str, str]:
    """Return ``{file name: content}`` for an output directory, sorted by name (in memory)."""
    files = dict(sorted((file_name(m), m.text) for m in manifests))
    if kustomize:
        files[KUSTOMIZATION] = kustomization(list(files))
    return files


def kustomization(names: list[str]) -> str:
    """Return the ``kustomization.yaml`` listing ``names``."""
    document = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": sorted(names)}
    return _KUSTOMIZATION_HEADER + _yaml.dump(document)


@dataclass(frozen=True)
class Drift:
    """One difference between an output directory and what the values render to."""

    path: str
    change: str  # "missing", "differs" or "stale"

    def __str__(self) -> str:
        return f"{self.path}: {self.change}"


def _owned(directory: Path) -> set[str]:
    """Names of the files in ``directory`` this tool wrote earlier."""
    owned = set()
    if directory.is_dir():
        for path in directory.glob("*.yaml"):
            try:
                with open(path, encoding="utf-8") as handle:
                    head = handle.read(_HEAD_BYTES)
            except (OSError, UnicodeDecodeError):
                continue
            if _OURS in head or head.startswith(_KUSTOMIZATION_HEADER):
                owned.add(path.name)
    return owned


def sync(
    directory: str | os.PathLike[str], manifests: Iterable[Manifest], *, kustomize: bool = False, check: bool = False
) -> tuple[int, int, list[Drift]]:
    """Make ``directory`` hold exactly the files of ``manifests``.

    Manifests are taken one at a time (any number, flat memory). Changed files go to a
    staging directory first; only when every manifest has rendered are they moved in
    (a new directory is moved in whole, with one rename), and stale files of ours
    removed. With ``check``, nothing is written.

    Returns:
        The number of files, the number that changed, and (with ``check``) the changes.

    Raises:
        OutputError: the directory cannot be created or written.
        K8sqError: whatever rendering raises; the directory is then left as it was.
    """
    target = os.fspath(directory)
    fresh = not os.path.lexists(target)
    if not fresh and not os.path.isdir(target):
        raise OutputError(path=target, message="exists and is not a directory")
    owned = set() if fresh else _owned(Path(target))
    staging: str | None = None
    changes: list[tuple[str, str]] = []  # (file name, change): small, since there may be very many
    names: list[str] = []
    try:
        if not check:
            staging = _staging(Path(target))
        for name, content in _contents(manifests, names, kustomize):
            path = os.path.join(target, name)
            if not fresh and name not in owned and os.path.lexists(path):
                raise OutputError(
                    path=path, message="exists and was not written by k8sq-render: move it away, or write elsewhere"
                )
            if fresh or not os.path.isfile(path):
                change = "missing"
            else:
                with open(path, "rb") as handle:
                    if handle.read() == content:
                        continue
                change = "differs"
            changes.append((name, change))
            if staging is not None:
                _write(os.path.join(staging, name), content)
        changes += [(name, "stale") for name in sorted(owned - set(names))]
        if staging is not None:
            if fresh:
                os.rename(staging, target)
                staging = None
            else:
                _swap_in(target, staging, changes)
    except OSError as exc:
        raise OutputError(path=exc.filename or target, message=f"cannot write: {exc.strerror}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    drift = [Drift(os.path.join(target, name), change) for name, change in changes] if check else []
    return len(names), len(changes), drift


def _swap_in(target: str, staging: str, changes: list[tuple[str, str]]) -> None:
    """Move the staged files in; on any failure put every file back as it was."""
    backup = os.path.join(staging, ".previous")
    os.mkdir(backup)
    done: list[tuple[str, str]] = []
    try:
        for name, change in changes:
            path = os.path.join(target, name)
            if change != "missing":
                os.replace(path, os.path.join(backup, name))
            done.append((name, change))
            if change != "stale":
                os.replace(os.path.join(staging, name), path)
    except OSError:
        for name, change in reversed(done):
            path = os.path.join(target, name)
            if change != "stale" and os.path.lexists(path) and not os.path.isdir(path):
                os.unlink(path)
            if change != "missing":
                os.replace(os.path.join(backup, name), path)
        raise


def _contents(manifests: Iterable[Manifest], names: list[str], kustomize: bool) -> Iterator[tuple[str, bytes]]:
    for manifest in manifests:
        name = file_name(manifest)
        names.append(name)
        yield name, manifest.text.encode("utf-8")
    if kustomize:
        text = kustomization(names)
        names.append(KUSTOMIZATION)
        yield KUSTOMIZATION, text.encode("utf-8")


def _staging(target: Path) -> str:
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(path=str(ancestor), message="is not a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=f".{target.name}.k8sq-", dir=target.parent)
        # mkdtemp makes it private; a new output directory gets the usual permissions.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(staging, 0o777 & ~mask)
        return staging
    except OSError as exc:
        where = exc.filename or str(target)
        raise OutputError(path=where, message=f"cannot create the output directory: {exc.strerror}") from None


def _write(path: str, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(descriptor, content)
    finally:
        os.close(descriptor)
