"""``python -m k8sq_render`` runs the ``k8sq`` command."""

from ._cli import entry

entry()
