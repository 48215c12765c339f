"""Where the packaged ``templates/`` and ``schema/`` folders are.

In the repository they sit next to the package; in a wheel they are copied into the
package as ``_data/templates`` and ``_data/schema`` (see ``pyproject.toml``), so an
installed package finds them without the repository.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_VERSION_DIR = re.compile(r"^v[1-9][0-9]*$")


@cache
def data_dir(kind: str) -> Path:
    """Return the packaged ``templates`` or ``schema`` folder."""
    bundled = _PACKAGE / "_data" / kind
    return bundled if bundled.is_dir() else _PACKAGE.parent / kind


@cache
def versions() -> tuple[str, ...]:
    """Return the versions that have both a template folder and a schema folder, oldest first."""
    found = [
        entry.name
        for entry in _data_dir("templates").iterdir()
        if _VERSION_DIR.match(entry.name) and (_data_dir("schema") / entry.name).is_dir()
    ]
    return tuple(sorted(found, key=lambda name: int(name[1:])))


def _data_dir(kind: str) -> Path:
    return data_dir(kind)  # looked up at call time, so tests can point it elsewhere
