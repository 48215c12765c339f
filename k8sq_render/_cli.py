"""The ``k8sq`` command: a thin face over the library.

One handler maps library errors to messages on stderr and exit codes: 0 success,
1 a user mistake (or drift found by ``--check``), 2 bad command-line usage,
130 interrupted. User mistakes never print a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

from . import __name__ as _package
from .errors import K8sqError, K8sqWarning, UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k8sq", description="Turn queue messages into Kubernetes Jobs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = commands.add_parser("render", help="render Jobs from values files", description="Render one Job per message.")
    render.add_argument("values", nargs="+", metavar="VALUES", help="values files (YAML or JSON)")
    render.add_argument("-o", "--output", metavar="DIR", help="write one file per Job into DIR (atomically)")
    render.add_argument(
        "--templates", action="append", default=[], metavar="DIR",
        help="template directory searched before the packaged templates (repeatable; first match wins)",
    )
    render.add_argument("--kustomize", action="store_true", help="with -o: also write a kustomization.yaml listing the Jobs")
    render.add_argument("--check", action="store_true", help="with -o: write nothing; exit 1 and list differences if DIR is out of date")
    render.add_argument(
        "--gitops", action="store_true",
        help="for Argo CD / Flux: a digest of the Job spec in each name, no ttlSecondsAfterFinished",
    )
    render.add_argument("--argocd-hook", metavar="PHASE", choices=["PreSync", "Sync", "PostSync", "SyncFail"],
                        help="with --gitops: make the Jobs Argo CD hooks of PHASE")
    render.set_defaults(run=_render)

    templates = commands.add_parser("templates", help="list or show the Job templates")
    templates_commands = templates.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    listing = templates_commands.add_parser("list", help="versions, the file each resolves to, and its blocks")
    listing.add_argument("--templates", action="append", default=[], metavar="DIR", help="template directory searched first")
    listing.set_defaults(run=_templates_list)
    show = templates_commands.add_parser("show", help="print a packaged template (a starting point for an override)")
    show.add_argument("version", metavar="VERSION")
    show.set_defaults(run=_templates_show)

    validate = commands.add_parser("validate", help="validate values files", description="Exit 0 when every file is valid.")
    validate.add_argument("values", nargs="+", metavar="VALUES")
    validate.set_defaults(run=_validate)
    return parser


def _render(args: argparse.Namespace, out: TextIO) -> int:
    from . import _output
    from ._render import render

    from ._render import GitOps

    if (args.kustomize or args.check) and not args.output:
        raise _Usage("--kustomize and --check need -o DIR")
    if args.argocd_hook and not args.gitops:
        raise _Usage("--argocd-hook needs --gitops")
    gitops = GitOps(argocd_hook=args.argocd_hook) if args.gitops else None
    manifests = render(args.values, template_dirs=args.templates, gitops=gitops)
    if not args.output:
        out.write("".join(f"---\n{m.text}" for m in manifests))
        return 0
    files = _output.planned_files(manifests, kustomize=args.kustomize)
    if args.check:
        drift = _output.diff(args.output, files)
        for item in drift:
            print(item, file=sys.stderr)
        return 1 if drift else 0
    changes = _output.write(args.output, files)
    print(f"{args.output}: {len(files)} files, {len(changes)} changed", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    from ._render import _load_all

    values = list(_load_all(args.values))
    count = sum(len(v.messages) for v in values)
    out.write(f"{len(values)} values file(s) valid, {count} message(s)\n")
    return 0


def _templates_list(args: argparse.Namespace, out: TextIO) -> int:
    from . import _templates
    from ._resources import versions

    for version in versions():
        path, blocks = _templates.describe(version, args.templates)
        out.write(f"{version}  {path}\n    blocks: {', '.join(blocks)}\n")
    return 0


def _templates_show(args: argparse.Namespace, out: TextIO) -> int:
    from . import _templates

    out.write(_templates.packaged_source(args.version))
    return 0


class _Usage(Exception):
    pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``k8sq`` command; return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    stdout = out or sys.stdout
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = int(args.run(args, stdout))
        for message in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, K8sqWarning)):
            print(f"warning: {message}", file=sys.stderr)
        return code
    except _Usage as exc:
        parser.error(str(exc))
    except UserError as exc:
        for line in exc.lines():
            print(f"error: {line}", file=sys.stderr)
        return 1
    except K8sqError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: not an error of ours.
        return 0
    return 0  # pragma: no cover - parser.error exits


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["main", "entry", "_package"]
