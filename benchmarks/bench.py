"""k8sq-render benchmarks: run the selected sections, print a table, write results JSON.

    python benchmarks/bench.py                 # every section (3 and 4 need KUBECONFIG)
    python benchmarks/bench.py --render-only   # sections 1 and 2, no cluster
    python benchmarks/bench.py --sections submit,query

Usually run through ``benchmarks/run.sh`` (``make bench``), which prepares the venv.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import cluster_bench
import render_bench

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECTIONS = ("render", "bulk", "submit", "query")
PACKAGES = ("k8sq-render", "jinja2", "jsonschema", "fastjsonschema", "PyYAML", "kubernetes", "helm-python-sdk")


# -- machine facts -----------------------------------------------------------------------


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.rstrip("\n")


def machine() -> dict[str, Any]:
    """What the numbers were measured on (and the code they measured)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        import helm_python

        versions["helm (Go SDK inside helm-python-sdk)"] = helm_python.helm_sdk_version()
    except Exception:
        pass
    status = _git("status", "--porcelain", "--", "k8sq_render", "templates", "schema", "pyproject.toml")
    changed = [line[3:] for line in status.splitlines()]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": memory_gib,
        "load_average_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": _git("rev-parse", "HEAD"),
        "git_uncommitted_product_files": changed,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


# -- rows ------------------------------------------------------------------------------------


def row(
    key: str,
    title: str,
    ours: float | None,
    baseline: float | None,
    unit: str,
    *,
    baseline_name: str = "",
    target: str = "",
    met: bool | None = None,
    ratio: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One line of the table (and of the JSON ``rows``)."""
    return {
        "key": key,
        "title": title,
        "ours": ours,
        "baseline": baseline,
        "baseline_name": baseline_name,
        "unit": unit,
        "ratio": ratio,
        "target": target,
        "met": met,
        "note": note,
    }


def skipped(key: str, title: str, why: str) -> dict[str, Any]:
    """A row for a section that could not run."""
    return row(key, title, None, None, "", note=why)


def render_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of section 1."""
    ratio = data["ratio"]
    rows = [
        row(
            "render.per_message", "1. render, per message", data["ours_us_per_job"]["median"],
            data["helm_us_per_job"]["median"], "µs/Job", baseline_name="Helm chart render",
            ratio=ratio, target="≥ 10x", met=ratio >= 10,
        )
    ]
    if "helm_no_schema_us_per_job" in data:
        plain = data["helm_no_schema_us_per_job"]["median"]
        rows.append(
            row(
                "render.per_message_helm_no_schema", "   (Helm without values.schema.json)",
                data["ours_us_per_job"]["median"], plain, "µs/Job", baseline_name="Helm, no schema",
                ratio=plain / data["ours_us_per_job"]["median"], note="info: Helm then checks no values",
            )
        )
    return rows


def bulk_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of section 2."""
    ratio = data["ratio"]
    large = data["cli"][str(data["n_large"])]
    rows = [
        row(
            "bulk.marginal", f"2. render, bulk (N={data['n_large']}-{data['n_small']})",
            data["ours_marginal_us_per_job"], data["helm_marginal_us_per_job"], "µs/Job",
            baseline_name="Helm, one render", ratio=ratio, target="≥ 5x", met=ratio >= 5,
        ),
        row(
            "bulk.stdout", "   (k8sq render to stdout, no -o)", data["cli_stdout_marginal_us_per_job"],
            data["helm_marginal_us_per_job"], "µs/Job", baseline_name="Helm, one render",
            ratio=data["helm_marginal_us_per_job"] / data["cli_stdout_marginal_us_per_job"],
            note="info: marginal, same N",
        ),
        row(
            "bulk.library", "   (library, in process, no files)", data["library_in_process_us_per_job"], None,
            "µs/Job", note="info: validate + render of N in one call",
        ),
        row(
            "bulk.rss", f"   k8sq render peak RSS, N={data['n_large']}", large["max_rss_mb"], None, "MB", note="info",
        ),
    ]
    huge = data.get("huge")
    if "huge_error" in data:
        rows.append(row("bulk.huge_rss", "   k8sq render, large N", None, None, "", note=data["huge_error"][:200]))
    if huge:
        files = f"; {huge['files_in']} values files (one file refused)" if huge["files_in"] > 1 else ""
        rows += [
            row(
                "bulk.huge_rss", f"   k8sq render peak RSS, N={huge['n']}", huge["max_rss_mb"], None, "MB",
                target="< 150 MB", met=huge["max_rss_mb"] < 150,
            ),
            row(
                "bulk.huge_time", f"   k8sq render time, N={huge['n']}", huge["seconds"], None, "s",
                note=f"{huge['us_per_job']:.0f} µs/Job all in{files}",
            ),
        ]
    return rows


def submit_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of section 3."""
    ratio = data["ratio"]
    rows = [
        row(
            "submit.jobs", f"3. submit {data['jobs']} Jobs", data["ours_seconds"], data["kubectl_apply_seconds"], "s",
            baseline_name="kubectl apply -f DIR", ratio=ratio, target="≥ 5x", met=ratio >= 5,
        )
    ]
    if "kubectl_create_seconds" in data:
        rows.append(
            row(
                "submit.kubectl_create", "   (vs kubectl create -f DIR)", data["ours_seconds"],
                data["kubectl_create_seconds"], "s", baseline_name="kubectl create -f DIR",
                ratio=data["kubectl_create_seconds"] / data["ours_seconds"], note="info",
            )
        )
    return rows


def query_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of section 4."""
    size = data["size_seconds"]["median"]
    models = data["client_models_seconds"]["median"]
    kubectl = data["kubectl_seconds"]["median"]
    n = data["jobs_per_queue"]
    return [
        row(
            "query.size", f"4. size() of {n} Jobs (+{n} other queue)", size, models, "s",
            baseline_name="kubernetes client models", ratio=models / size, target="≤ 1 s", met=size <= 1.0,
        ),
        row(
            "query.kubectl", "   (vs kubectl get jobs -l -o json)", size, kubectl, "s",
            baseline_name="kubectl get -o json", ratio=kubectl / size, note="info",
        ),
        row(
            "query.setup", f"   create {2 * n} suspended Jobs (setup)", data["setup_seconds"], None, "s",
            note=f"{2 * n / data['setup_seconds']:.0f} Jobs/s via Client.submit(workers=32)",
        ),
    ]


# -- output ----------------------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(rows: list[dict[str, Any]], previous: dict[str, Any] | None) -> str:
    """The rows as a Markdown table (the README pastes it as is)."""
    before = {r["key"]: r for r in (previous or {}).get("rows", [])}
    head = ["benchmark", "k8sq-render", "baseline", "ratio", "target", "met", "previous run", "note"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
    for r in rows:
        unit = f" {r['unit']}" if r["unit"] else ""
        ours = f"{_number(r['ours'])}{unit}" if r["ours"] is not None else "-"
        base = f"{_number(r['baseline'])}{unit} ({r['baseline_name']})" if r["baseline"] is not None else "-"
        ratio = f"{r['ratio']:.1f}x" if r["ratio"] is not None else "-"
        met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        old = before.get(r["key"], {}).get("ours")
        prev = f"{_number(old)}{unit}" if old is not None else "-"
        cells = [r["title"], ours, base, ratio, r["target"] or "-", met, prev, r["note"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--render-only", action="store_true", help="sections render and bulk only (no cluster)")
    p.add_argument("--sections", default=os.environ.get("K8SQ_BENCH_SECTIONS", ",".join(SECTIONS)),
                   help=f"comma-separated subset of {','.join(SECTIONS)} (env K8SQ_BENCH_SECTIONS)")
    p.add_argument("--quick", action="store_true", help="small sizes, for trying the harness out (not for numbers)")
    p.add_argument("--messages", type=int, default=300, help="section 1: messages per repeat")
    p.add_argument("--repeats", type=int, default=7, help="section 1: repeats (median reported)")
    p.add_argument("--bulk-n", type=int, default=3000, help="section 2: large N")
    p.add_argument("--bulk-small", type=int, default=100, help="section 2: small N subtracted")
    p.add_argument("--bulk-repeats", type=int, default=3, help="section 2: runs per N (median)")
    p.add_argument("--huge-n", type=int, default=100_000, help="section 2: N for the memory run (0 skips it)")
    p.add_argument("--submit-n", type=int, default=500, help="section 3: Jobs submitted")
    p.add_argument("--query-n", type=int, default=5000, help="section 4: Jobs per queue")
    p.add_argument("--query-repeats", type=int, default=5, help="section 4: repeats (median)")
    p.add_argument("--profile", action="store_true", help="also profile the per-message path (pyinstrument)")
    p.add_argument("--output", type=Path, default=HERE / "results" / "latest.json", help="results JSON")
    p.add_argument("--no-write", action="store_true", help="print only; leave the results file alone")
    p.add_argument("--update-readme", action="store_true",
                   help="put the table and the machine into benchmarks/README.md (between its results markers)")
    args = p.parse_args(argv)
    if args.render_only:
        args.sections = "render,bulk"
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    if args.quick:
        args.messages, args.repeats, args.bulk_n, args.bulk_small, args.bulk_repeats = 50, 3, 600, 100, 2
        args.huge_n, args.submit_n, args.query_n, args.query_repeats = 5000, 50, 200, 3
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; exit 0 unless a section crashed (a missed target is not a failure)."""
    args = parse_args(argv)
    previous = None
    if args.output.exists():
        try:
            previous = json.loads(args.output.read_text(encoding="utf-8"))
        except ValueError:
            previous = None
    facts = machine()
    work = cluster_bench.scratch()
    sections: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    crashed = False

    def section(name: str, title: str, run: Callable[[], dict[str, Any]], to_rows: Callable[..., list[Any]]) -> None:
        nonlocal crashed
        if name not in args.sections:
            return
        print(f"== {title} ...", file=sys.stderr, flush=True)
        try:
            data = run()
        except cluster_bench.Unavailable as exc:
            sections[name] = {"skipped": str(exc)}
            rows.append(skipped(name, title, str(exc)))
            return
        except Exception as exc:
            crashed = True
            traceback.print_exc()
            sections[name] = {"error": f"{type(exc).__name__}: {exc}"}
            rows.append(skipped(name, title, f"error: {type(exc).__name__}: {str(exc)[:200]}"))
            return
        sections[name] = data
        rows.extend(to_rows(data))

    def run_render() -> dict[str, Any]:
        data = render_bench.per_message(args.messages, args.repeats)
        data["helm_no_schema_us_per_job"] = render_bench.per_message_helm_without_schema(
            args.messages, args.repeats, work
        )
        data["equivalence"] = render_bench.equivalence()
        data["chart_schema_in_sync"] = render_bench.schema_in_sync()
        if args.profile:
            out = HERE / "results" / "profile-per-message.txt"
            render_bench.profile_per_message(args.messages, out)
            data["profile"] = str(out.relative_to(REPO))
        return data

    def run_bulk() -> dict[str, Any]:
        data = render_bench.bulk(args.bulk_n, args.bulk_small, args.bulk_repeats, work)
        if args.huge_n:
            print(f"== k8sq render of {args.huge_n} messages ...", file=sys.stderr, flush=True)
            try:
                data["huge"] = render_bench.huge(args.huge_n, work)
            except Exception as exc:
                traceback.print_exc()
                data["huge_error"] = f"{type(exc).__name__}: {exc}"
        return data

    try:
        section("render", "1. render, per message", run_render, render_rows)
        section("bulk", "2. render, bulk", run_bulk, bulk_rows)
        section("submit", "3. submit", lambda: cluster_bench.submit(args.submit_n, work), submit_rows)
        section("query", "4. query", lambda: cluster_bench.query(args.query_n, args.query_repeats, work), query_rows)
    finally:
        cluster_bench.cleanup_work(work)

    text = table(rows, previous)
    print(text)
    render = sections.get("render", {})
    if "equivalence" in render and not render["equivalence"]["equivalent"]:
        print(f"warning: the Helm chart's Jobs differ from ours: {render['equivalence']['differing_paths']}")
    if render and not render.get("chart_schema_in_sync", True):
        print("warning: benchmarks/chart/values.schema.json differs from schema/v1/values.schema.json")
    if facts["git_uncommitted_product_files"]:
        print(f"note: measured with uncommitted changes in {', '.join(facts['git_uncommitted_product_files'])}")
    if not args.no_write:
        result = {"machine": facts, "arguments": {k: str(v) for k, v in vars(args).items()}, "rows": rows,
                  "sections": sections, "table": text}
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"results: {args.output}", file=sys.stderr)
    if args.update_readme:
        update_readme(HERE / "README.md", text, facts)
    return 1 if crashed else 0


def describe_machine(facts: dict[str, Any]) -> str:
    """One paragraph about where and on what code the numbers were taken."""
    packages = ", ".join(f"{k} {v}" for k, v in facts["packages"].items() if v)
    load = ", ".join(f"{x:.1f}" for x in facts["load_average_at_start"])
    dirty = facts["git_uncommitted_product_files"]
    code = f"commit {facts['git_commit'][:10]}" + (f" plus uncommitted changes to {', '.join(dirty)}" if dirty else "")
    return (
        f"Measured {facts['date']} on {facts['cpu']}, {facts['cores']} cores, {facts['memory_gib']} GiB, "
        f"load average {load} at start; Python {facts['python']}; {packages}; {code}."
    )


def update_readme(readme: Path, text: str, facts: dict[str, Any]) -> None:
    """Replace what stands between ``<!-- results:start -->`` and ``<!-- results:end -->``."""
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    content = readme.read_text(encoding="utf-8")
    if start not in content or end not in content:
        print(f"warning: {readme} has no results markers; left alone", file=sys.stderr)
        return
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{describe_machine(facts)}\n\n{text}\n{end}{tail}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
