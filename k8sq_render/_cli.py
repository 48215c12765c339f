"""The ``k8sq`` command: a thin face over the library.

One handler maps library errors to messages on stderr and exit codes: 0 success,
1 a user mistake (or drift found by ``--check``), 2 bad command-line usage,
130 interrupted. User mistakes never print a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from . import __name__ as _package
from .errors import K8sqError, UserError


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
    render.set_defaults(run=_render)

    validate = commands.add_parser("validate", help="validate values files", description="Exit 0 when every file is valid.")
    validate.add_argument("values", nargs="+", metavar="VALUES")
    validate.set_defaults(run=_validate)
    return parser


def _render(args: argparse.Namespace, out: TextIO) -> int:
    from . import _output
    from ._render import render

    if (args.kustomize or args.check) and not args.output:
        raise _Usage("--kustomize and --check need -o DIR")
    manifests = render(args.values, template_dirs=args.templates)
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


class _Usage(Exception):
    pass


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``k8sq`` command; return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    stdout = out or sys.stdout
    try:
        return int(args.run(args, stdout))
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
