"""The ``k8sq`` command: a thin face over the library.

One handler maps library errors to messages on stderr and exit codes: 0 success,
1 a user mistake (or drift found by ``--check``), 2 bad command-line usage,
130 interrupted. User mistakes never print a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from . import __name__ as _package
from .errors import K8sqError, K8sqWarning, UserError

if TYPE_CHECKING:
    from ._client import Client


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="k8sq", description="Turn queue messages into Kubernetes Jobs.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = commands.add_parser(
        "render", help="render Jobs from values files", description="Render one Job per message."
    )
    render.add_argument("values", nargs="+", metavar="VALUES", help="values files (YAML or JSON)")
    render.add_argument("-o", "--output", metavar="DIR", help="write one file per Job into DIR (atomically)")
    render.add_argument(
        "--templates",
        action="append",
        default=[],
        metavar="DIR",
        help="template directory searched before the packaged templates (repeatable; first match wins)",
    )
    render.add_argument(
        "--kustomize", action="store_true", help="with -o: also write a kustomization.yaml listing the Jobs"
    )
    render.add_argument(
        "--check", action="store_true", help="with -o: write nothing; exit 1 and list differences if DIR is out of date"
    )
    render.add_argument(
        "--gitops",
        action="store_true",
        help="for Argo CD / Flux: a digest of the Job spec in each name, no ttlSecondsAfterFinished",
    )
    render.add_argument(
        "--argocd-hook",
        metavar="PHASE",
        choices=["PreSync", "Sync", "PostSync", "SyncFail"],
        help="with --gitops: make the Jobs Argo CD hooks of PHASE",
    )
    render.set_defaults(run=_render)

    templates = commands.add_parser("templates", help="list or show the Job templates")
    templates_commands = templates.add_subparsers(dest="templates_command", required=True, metavar="ACTION")
    listing = templates_commands.add_parser("list", help="versions, the file each resolves to, and its blocks")
    listing.add_argument(
        "--templates", action="append", default=[], metavar="DIR", help="template directory searched first"
    )
    listing.set_defaults(run=_templates_list)
    show = templates_commands.add_parser("show", help="print a packaged template (a starting point for an override)")
    show.add_argument("version", metavar="VERSION")
    show.set_defaults(run=_templates_show)

    validate = commands.add_parser(
        "validate", help="validate values files", description="Exit 0 when every file is valid."
    )
    validate.add_argument("values", nargs="+", metavar="VALUES")
    validate.set_defaults(run=_validate)

    submit = commands.add_parser(
        "submit",
        help="render values files and create the Jobs",
        description="Create one Job per message (in its queue's namespace); a Job already there for a message is kept.",
    )
    submit.add_argument("values", nargs="+", metavar="VALUES", help="values files (YAML or JSON)")
    submit.add_argument(
        "--templates",
        action="append",
        default=[],
        metavar="DIR",
        help="template directory searched before the packaged templates (repeatable)",
    )
    _cluster_options(submit, namespace=False)
    submit.set_defaults(run=_submit)

    size = commands.add_parser("size", help="count a queue's unfinished (or failed) Jobs")
    size.add_argument("--queue", required=True, metavar="QUEUE")
    size.add_argument("--failed", action="store_true", help="count the Jobs that failed instead")
    _cluster_options(size)
    size.set_defaults(run=_size)

    jobs = commands.add_parser("jobs", help="list a queue's Jobs, oldest first")
    jobs.add_argument("--queue", required=True, metavar="QUEUE")
    jobs.add_argument("--state", choices=["active", "succeeded", "failed"], help="only Jobs in this state")
    _cluster_options(jobs)
    jobs.set_defaults(run=_jobs)

    retry = commands.add_parser("retry", help="run a queue's failed Jobs again (oldest first)")
    retry.add_argument("--queue", required=True, metavar="QUEUE")
    retry.add_argument("--limit", type=int, metavar="N", help="retry at most N Jobs")
    _cluster_options(retry)
    retry.set_defaults(run=_retry)

    wait = commands.add_parser(
        "wait",
        help="wait until a Job finishes",
        description="Exit 0 when the Job succeeded, 1 when it failed, was deleted unfinished, or the timeout passed.",
    )
    wait.add_argument("name", metavar="NAME", help="the Job's name")
    wait.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after SECONDS (default: never)")
    _cluster_options(wait)
    wait.set_defaults(run=_wait)
    return parser


def _cluster_options(command: argparse.ArgumentParser, *, namespace: bool = True) -> None:
    command.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    command.add_argument("--context", metavar="NAME", help="kubeconfig context (default: the current one)")
    if namespace:
        command.add_argument(
            "-n", "--namespace", metavar="NS", help="namespace (default: the context's namespace, else 'default')"
        )


def _render(args: argparse.Namespace, out: TextIO) -> int:
    from . import _output
    from ._render import GitOps, iter_render

    if args.output == "":
        raise _Usage("-o needs a directory")
    if (args.kustomize or args.check) and not args.output:
        raise _Usage("--kustomize and --check need -o DIR")
    if args.argocd_hook and not args.gitops:
        raise _Usage("--argocd-hook needs --gitops")
    gitops = GitOps(argocd_hook=args.argocd_hook) if args.gitops else None
    manifests = iter_render(args.values, template_dirs=args.templates, gitops=gitops)
    if not args.output:
        for manifest in manifests:
            out.write(f"---\n{manifest.text}")
        return 0
    count, changed, drift = _output.sync(args.output, manifests, kustomize=args.kustomize, check=args.check)
    if args.check:
        for item in drift:
            print(item, file=sys.stderr)
        return 1 if drift else 0
    print(f"{args.output}: {count} files, {changed} changed", file=sys.stderr)
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    from ._render import check_all
    from ._values import Values

    opened = check_all(args.values)
    count = sum(len(s.messages) if isinstance(s, Values) else sum(1 for _ in s.specs()) for s in opened)
    out.write(f"{len(opened)} values file(s) valid, {count} message(s)\n")
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


def _client(args: argparse.Namespace) -> Client:
    from ._client import Client

    return Client(kubeconfig=args.kubeconfig, context=args.context, namespace=getattr(args, "namespace", None))


def _progress(label: str) -> Callable[[int, int], None] | None:
    """Show ``label done/total`` on stderr when it is a terminal (bulk commands)."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\r{label} {done}/{total}" + ("\n" if done == total else ""))
        sys.stderr.flush()

    return show


def _submit(args: argparse.Namespace, out: TextIO) -> int:
    from ._submit import summary

    with _client(args) as client:
        results = client.submit(args.values, template_dirs=args.templates, progress=_progress("submitted"))
    for result in results:
        if result.ok:
            note = "created" if result.outcome == "created" else "unchanged (already submitted)"
            out.write(f"job.batch/{result.name} {note}\n")
        else:
            print(f"error: message {result.message_id!r}: {result.error}", file=sys.stderr)
    print(summary(results), file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1


def _size(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        out.write(f"{client.size(args.queue, failed=args.failed)}\n")
    return 0


def _jobs(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        listed = client.jobs(args.queue, state=args.state)
    rows = [("NAME", "STATE", "ATTEMPT", "MESSAGE", "CREATED")]
    rows += [
        (j.name, j.state.value, str(j.attempt), j.message_id or "-", j.created.isoformat() if j.created else "-")
        for j in listed
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        out.write("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]) + "\n")
    return 0


def _retry(args: argparse.Namespace, out: TextIO) -> int:
    with _client(args) as client:
        results = client.retry(args.queue, limit=args.limit, progress=_progress("retried"))
    for result in results:
        if result.outcome == "retried":
            out.write(f"job.batch/{result.name} retried as job.batch/{result.new_name} (attempt {result.attempt})\n")
        elif result.outcome == "already-retried":
            out.write(f"job.batch/{result.name} already retried as job.batch/{result.new_name}\n")
        elif result.outcome == "gone":
            out.write(f"job.batch/{result.name} skipped: deleted meanwhile\n")
        else:
            print(f"error: job.batch/{result.name}: {result.error}", file=sys.stderr)
    failed = sum(1 for r in results if not r.ok)
    print(f"{len(results)} failed Job(s): {len(results) - failed} handled, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def _wait(args: argparse.Namespace, out: TextIO) -> int:
    from ._query import JobState

    with _client(args) as client:
        result = client.wait(args.name, timeout=args.timeout)
    if result.timed_out:
        print(f"error: job.batch/{args.name} still active after {args.timeout:g}s", file=sys.stderr)
        return 1
    if result.state is JobState.GONE:
        why = (
            "was deleted before it finished"
            if result.deleted
            else "is not on the cluster (reaped by its TTL, or never created)"
        )
        print(f"error: job.batch/{args.name} {why}", file=sys.stderr)
        return 1
    deleted = " (then deleted)" if result.deleted else ""
    out.write(f"job.batch/{args.name} {result.state.value}{deleted}\n")
    return 0 if result.state is JobState.SUCCEEDED else 1


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
    except OSError as exc:  # writing our output failed (a full disk, say)
        print(f"error: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0  # pragma: no cover - parser.error exits


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())


__all__ = ["_package", "entry", "main"]
