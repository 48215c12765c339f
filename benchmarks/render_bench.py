"""Sections 1 and 2: rendering, k8sq-render against Helm's engine, side by side in one process.

* Per message: for each of M messages, validate one values document and render its Job
  to YAML text (what a per-message submit does), against one Helm chart render per message.
* Bulk: ``k8sq render FILE -o DIR`` as a fresh subprocess for N and for a small N; the
  difference cancels start-up and gives the marginal cost of one Job. Helm renders the
  same messages in one render ranging over all of them (also N minus small N).
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import workload
import yaml

HERE = Path(__file__).resolve().parent
CHART = HERE / "chart"
RELEASE = "bench"


# -- timing helpers ---------------------------------------------------------------


def per_item_seconds(fn: Callable[[Any], Any], items: list[Any]) -> float:
    """Run ``fn`` over ``items`` once; return the mean seconds per item."""
    gc.collect()
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items)


def interleaved(runs: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call each measurement ``repeats`` times, alternating, so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            samples[name].append(run())
    return samples


def summary(samples: list[float], scale: float = 1.0) -> dict[str, Any]:
    """Median, min and max of ``samples`` times ``scale``."""
    return {
        "median": statistics.median(samples) * scale,
        "min": min(samples) * scale,
        "max": max(samples) * scale,
        "samples": [s * scale for s in samples],
    }


# Runs argv as its grandchild and writes "seconds maxrss_kib user sys exitcode" to the file
# named first. A child started straight from this (large) process would report this
# process's RSS as its own peak: Linux keeps the high-water mark of the memory a child
# starts with (vfork or fork) across exec. A small interpreter in between keeps that small.
_RUN_AND_MEASURE = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as out:
    out.write(f"{wall} {usage.ru_maxrss} {usage.ru_utime} {usage.ru_stime} {os.waitstatus_to_exitcode(status)}")
"""


def run_measured(argv: list[str], *, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``argv`` as a fresh process; return its wall seconds, own peak RSS and CPU times.

    Raises:
        RuntimeError: the command failed (its stderr is in the message).
    """
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as report:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _RUN_AND_MEASURE, report.name, *argv],
            stdout=subprocess.DEVNULL, stderr=err, cwd=cwd, check=False,
        )
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        fields = report.read().split()
    if done.returncode != 0 or len(fields) != 5 or fields[4] != "0":
        code = fields[4] if len(fields) == 5 else done.returncode
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {stderr.strip()[-2000:]}")
    return {
        "seconds": float(fields[0]),
        "max_rss_mb": int(fields[1]) / 1024,  # Linux reports KiB
        "user_s": float(fields[2]),
        "sys_s": float(fields[3]),
    }


def k8sq_command() -> list[str]:
    """The ``k8sq`` console script of this interpreter's environment."""
    script = Path(sys.executable).parent / "k8sq"
    return [str(script)] if script.exists() else [sys.executable, "-m", "k8sq_render"]


def cli_render(values: list[Path], work: Path, *, files: bool = True) -> dict[str, Any]:
    """``k8sq render VALUES... -o DIR`` into a fresh empty DIR; the DIR is removed afterwards.

    With ``files=False``: ``k8sq render VALUES...`` writing the YAML stream to stdout (discarded).
    """
    if not files:
        return run_measured([*k8sq_command(), "render", *map(str, values)])
    out = Path(tempfile.mkdtemp(prefix="out-", dir=work))
    try:
        result = run_measured([*k8sq_command(), "render", *map(str, values), "-o", str(out)])
        result["files"] = sum(1 for _ in os.scandir(out))
        return result
    finally:
        shutil.rmtree(out, ignore_errors=True)


# -- the two engines ---------------------------------------------------------------


def ours_per_message() -> Callable[[dict[str, Any]], list[str]]:
    """Validate one document, render its Jobs, return their YAML texts (the library path)."""
    from k8sq_render import _render, _values

    def run(document: dict[str, Any]) -> list[str]:
        values = _values.validate(document)
        return [m.text for m in _render.render_values(values)]

    return run


def helm_chart() -> Any:
    """The benchmark chart, loaded once (as a long-lived process would)."""
    import helm_python

    return helm_python.Chart.load(CHART)


def helm_render(chart: Any) -> Callable[[dict[str, Any]], dict[str, str]]:
    """One Helm render of the chart (schema validation included, as Helm always does it)."""

    def run(document: dict[str, Any]) -> dict[str, str]:
        result: dict[str, str] = chart.render(document, name=RELEASE, namespace=document["queue"]["namespace"])
        return result

    return run


def helm_documents(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """The Jobs in a Helm render's output, parsed."""
    docs = []
    for text in rendered.values():
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


# -- equivalence ---------------------------------------------------------------------


def _differences(a: Any, b: Any, path: str = "") -> Iterable[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                yield f"{path}/{key}"
            else:
                yield from _differences(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{path}/{i}")
    elif a != b or type(a) is not type(b):
        yield path or "/"


def equivalence(count: int = 200) -> dict[str, Any]:
    """Render the same messages both ways and compare the Jobs as data.

    The Job name is expected to differ (Helm has no base32 of a raw digest: its hash
    part is hex); every other difference is reported.
    """
    from k8sq_render import _render, _values

    document = workload.bulk_document(count)
    ours = [m.obj for m in _render.render_values(_values.validate(document))]
    theirs = helm_documents(helm_render(helm_chart())(document))
    paths: dict[str, int] = {}
    for a, b in zip(ours, theirs, strict=False):
        for p in _differences(a, b):
            paths[p] = paths.get(p, 0) + 1
    expected = {"/metadata/name"}
    unexpected = {p: n for p, n in paths.items() if p not in expected}
    return {
        "jobs_compared": min(len(ours), len(theirs)),
        "job_counts": [len(ours), len(theirs)],
        "differing_paths": paths,
        "equivalent": not unexpected and len(ours) == len(theirs),
    }


def schema_in_sync() -> bool:
    """True when the chart's values schema is the project's v1 schema (less ``$id``/``title``)."""
    import json

    ours = json.loads((HERE.parent / "schema" / "v1" / "values.schema.json").read_text(encoding="utf-8"))
    chart = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    for doc in (ours, chart):
        doc.pop("$id", None)
        doc.pop("title", None)
    return bool(ours == chart)


# -- section 1 -------------------------------------------------------------------------


def per_message(messages: int, repeats: int) -> dict[str, Any]:
    """Section 1: mean time per message over ``messages`` documents; median of ``repeats``."""
    documents = workload.single_documents(messages)
    ours = ours_per_message()
    helm = helm_render(helm_chart())
    # Warm up: imports, template compilation, schema compilation, Helm's chart caches.
    per_item_seconds(ours, documents)
    per_item_seconds(helm, documents)
    samples = interleaved(
        {"ours": lambda: per_item_seconds(ours, documents), "helm": lambda: per_item_seconds(helm, documents)},
        repeats,
    )
    ours_us = summary(samples["ours"], 1e6)
    helm_us = summary(samples["helm"], 1e6)
    return {
        "messages": messages,
        "repeats": repeats,
        "ours_us_per_job": ours_us,
        "helm_us_per_job": helm_us,
        "ratio": helm_us["median"] / ours_us["median"],
    }


def per_message_helm_without_schema(messages: int, repeats: int, work: Path) -> dict[str, Any]:
    """Helm per message with the chart's ``values.schema.json`` left out (shows what validation costs Helm)."""
    import helm_python

    copy = work / "chart-no-schema"
    shutil.copytree(CHART, copy, dirs_exist_ok=True)
    (copy / "values.schema.json").unlink()
    documents = workload.single_documents(messages)
    helm = helm_render(helm_python.Chart.load(copy))
    per_item_seconds(helm, documents)
    return summary([per_item_seconds(helm, documents) for _ in range(repeats)], 1e6)


# -- section 2 -------------------------------------------------------------------------


def bulk(n_large: int, n_small: int, repeats: int, work: Path) -> dict[str, Any]:
    """Section 2: CLI marginal per Job (large N minus small N), and Helm's, same messages."""
    files = {
        n: workload.write_values(work / f"values-{n}.yaml", workload.bulk_document(n)) for n in (n_small, n_large)
    }
    cli_render([files[n_small]], work)  # warm the page cache and .pyc files
    cli_runs = interleaved({str(n): (lambda n=n: cli_render([files[n]], work)) for n in (n_small, n_large)}, repeats)  # type: ignore[misc]
    for n in (n_small, n_large):
        bad = [r["files"] for r in cli_runs[str(n)] if r["files"] != n]
        if bad:
            raise RuntimeError(f"k8sq render wrote {bad[0]} files for {n} messages")
    stdout_runs = interleaved(
        {str(n): (lambda n=n: cli_render([files[n]], work, files=False)) for n in (n_small, n_large)},  # type: ignore[misc]
        repeats,
    )
    stdout_marginal_us = (
        (statistics.median(r["seconds"] for r in stdout_runs[str(n_large)])
         - statistics.median(r["seconds"] for r in stdout_runs[str(n_small)])) / (n_large - n_small) * 1e6
    )
    cli_small = statistics.median(r["seconds"] for r in cli_runs[str(n_small)])
    cli_large = statistics.median(r["seconds"] for r in cli_runs[str(n_large)])
    ours_marginal_us = (cli_large - cli_small) / (n_large - n_small) * 1e6

    chart = helm_chart()
    helm = helm_render(chart)
    docs = {n: workload.bulk_document(n) for n in (n_small, n_large)}
    check = helm_documents(helm(docs[n_small]))
    if len(check) != n_small:
        raise RuntimeError(f"the Helm chart rendered {len(check)} Jobs for {n_small} messages")

    def helm_seconds(n: int) -> float:
        gc.collect()
        start = time.perf_counter()
        helm(docs[n])
        return time.perf_counter() - start

    helm_runs = interleaved({str(n): (lambda n=n: helm_seconds(n)) for n in (n_small, n_large)}, repeats)  # type: ignore[misc]
    helm_small = statistics.median(helm_runs[str(n_small)])
    helm_large = statistics.median(helm_runs[str(n_large)])
    helm_marginal_us = (helm_large - helm_small) / (n_large - n_small) * 1e6

    # In-process library render of the large document: what the CLI adds (files, start-up) shows by difference.
    from k8sq_render import _render, _values

    def library_seconds() -> float:
        gc.collect()
        start = time.perf_counter()
        _render.render_values(_values.validate(docs[n_large]))
        return time.perf_counter() - start

    library = statistics.median(library_seconds() for _ in range(repeats))
    return {
        "n_small": n_small,
        "n_large": n_large,
        "repeats": repeats,
        "cli": {
            str(n): {
                "seconds": summary([r["seconds"] for r in cli_runs[str(n)]]),
                "max_rss_mb": max(r["max_rss_mb"] for r in cli_runs[str(n)]),
                "user_s": statistics.median(r["user_s"] for r in cli_runs[str(n)]),
                "sys_s": statistics.median(r["sys_s"] for r in cli_runs[str(n)]),
            }
            for n in (n_small, n_large)
        },
        "helm": {str(n): {"seconds": summary(helm_runs[str(n)])} for n in (n_small, n_large)},
        "ours_marginal_us_per_job": ours_marginal_us,
        "helm_marginal_us_per_job": helm_marginal_us,
        "ratio": helm_marginal_us / ours_marginal_us,
        "library_in_process_us_per_job": library / n_large * 1e6,
        "cli_stdout_marginal_us_per_job": stdout_marginal_us,
        "cli_stdout": {
            str(n): {"seconds": summary([r["seconds"] for r in stdout_runs[str(n)]])} for n in (n_small, n_large)
        },
    }


def huge(n: int, work: Path, *, split: int = 25_000) -> dict[str, Any]:
    """Section 2, memory: ``k8sq render`` of N messages (one run), time and peak RSS.

    One values file first. If k8sq-render refuses a file that large (it caps the values
    in one document), the same messages go in files of ``split`` messages, all given to
    one ``k8sq render`` run, and the refusal is recorded.
    """
    path = workload.write_values_streaming(work / f"values-{n}.yaml", n)
    result: dict[str, Any] = {"n": n, "values_file_mb": path.stat().st_size / 1e6, "files_in": 1}
    try:
        run = cli_render([path], work)
    except RuntimeError as exc:
        result["single_file_refused"] = str(exc).split(" exited ", 1)[-1][:500]
        path.unlink()
        paths = [
            workload.write_values_streaming(work / f"values-{n}-{start}.yaml", min(split, n - start), start=start)
            for start in range(0, n, split)
        ]
        result["files_in"] = len(paths)
        run = cli_render(paths, work)
    if run["files"] != n:
        raise RuntimeError(f"k8sq render wrote {run['files']} files for {n} messages")
    result.update(
        seconds=run["seconds"], us_per_job=run["seconds"] / n * 1e6, max_rss_mb=run["max_rss_mb"],
        user_s=run["user_s"], sys_s=run["sys_s"],
    )
    return result


# -- profile ----------------------------------------------------------------------------


def profile_per_message(messages: int, out: Path) -> str:
    """Profile the per-message path with pyinstrument; write the text report to ``out``."""
    from pyinstrument import Profiler

    documents = workload.single_documents(messages)
    ours = ours_per_message()
    per_item_seconds(ours, documents)  # warm up outside the profile
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(5):
        per_item_seconds(ours, documents)
    profiler.stop()
    text: str = profiler.output_text(unicode=True, color=False, show_all=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text
