"""The k8sq command: exit codes, one line per problem, no tracebacks, atomic output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from k8sq_render._cli import main

from ..conftest import EXAMPLES

CASES = Path(__file__).parent / "cases"


def k8sq(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "k8sq_render", *args], capture_output=True, text=True, cwd=cwd)


def test_render_prints_a_yaml_stream(capsys) -> None:
    assert main(["render", str(EXAMPLES / "priority.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.count("---\n") == 3
    assert out.startswith('---\napiVersion: "batch/v1"\nkind: "Job"\n')


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.glob("*.yaml")))
def test_bad_inputs_exit_1_without_traceback(case: str) -> None:
    result = k8sq("render", str(CASES / case))
    if result.returncode == 0:
        assert result.stdout.startswith("---\n") and result.stderr == ""
    else:
        assert result.returncode == 1
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        assert all(line.startswith("error: ") for line in result.stderr.splitlines())


def test_validate_reports_every_problem_with_file_and_path() -> None:
    result = k8sq("validate", str(CASES / "many-errors.yaml"), str(CASES / "env-number.yaml"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    many, env = str(CASES / "many-errors.yaml"), str(CASES / "env-number.yaml")
    assert lines[0] == f"error: {env}, {many}: 4 problems in the values"
    assert [line.split(": ")[2] for line in lines[1:]] == [
        "/message/priority",
        "/queue/backoffLimit",
        "/queue/image",
        "/queue/env/MAX_DAYS",
    ]


def test_validate_ok() -> None:
    result = k8sq("validate", *(str(p) for p in sorted(EXAMPLES.glob("*.yaml"))))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("6 values file(s) valid")


def test_usage_errors_exit_2() -> None:
    assert k8sq("render").returncode == 2
    result = k8sq("render", str(EXAMPLES / "minimal.yaml"), "--check")
    assert result.returncode == 2
    assert "--kustomize and --check need -o DIR" in result.stderr


def test_render_to_dir_then_check(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    example = str(EXAMPLES / "many-messages.yaml")
    result = k8sq("render", example, "-o", str(out), "--kustomize")
    assert result.returncode == 0, result.stderr
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 25 and "kustomization.yaml" in files
    assert k8sq("render", example, "-o", str(out), "--kustomize", "--check").returncode == 0
    # Same values, same bytes: a second render changes nothing.
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert k8sq("render", example, "-o", str(out), "--kustomize").returncode == 0
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()} == before


def test_check_lists_every_difference(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    minimal, priority = str(EXAMPLES / "minimal.yaml"), str(EXAMPLES / "priority.yaml")
    assert k8sq("render", priority, "-o", str(out)).returncode == 0
    first = sorted(out.iterdir())[0]
    first.write_text(first.read_text() + "# edited\n")
    (out / "notes.txt").write_text("not ours\n")
    result = k8sq("render", minimal, "-o", str(out), "--check")
    assert result.returncode == 1
    changes = sorted(line.rsplit(": ", 1)[1] for line in result.stderr.splitlines())
    assert changes == ["missing", "stale", "stale", "stale"]
    # Writing fixes it; the file that is not ours is left alone.
    assert k8sq("render", minimal, "-o", str(out)).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["emails-welcome-42-pvc325nt.yaml", "notes.txt"]
    assert k8sq("render", minimal, "-o", str(out), "--check").returncode == 0


def test_output_dir_is_untouched_when_any_message_fails(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    good = EXAMPLES / "priority.yaml"
    assert k8sq("render", str(good), "-o", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("id: adhoc", "id: adhoc\n    priority: unknown"))
    result = k8sq("render", str(bad), "-o", str(out))
    assert result.returncode == 1
    assert "/messages/2/priority: unknown priority 'unknown'" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "jobs"]  # no staging left behind


def test_a_kustomization_that_is_not_ours_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    out.mkdir()
    (out / "kustomization.yaml").write_text("resources: [mine.yaml]\n")
    assert k8sq("render", str(EXAMPLES / "minimal.yaml"), "-o", str(out)).returncode == 0
    assert (out / "kustomization.yaml").read_text() == "resources: [mine.yaml]\n"
    assert k8sq("render", str(EXAMPLES / "minimal.yaml"), "-o", str(out), "--check").returncode == 0


def test_a_failure_late_in_a_stream_leaves_the_directory_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    values = tmp_path / "v.yaml"
    values.write_text(
        "version: v1\nqueue: {name: q, image: i}\nmessages:\n"
        + "".join(f"  - {{id: m{i}, payload: {{n: {i}}}}}\n" for i in range(50))
    )
    assert k8sq("render", str(values), "-o", str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    templates = tmp_path / "templates" / "v1"
    templates.mkdir(parents=True)
    # Valid for every message but the last one: the 50th Job gets a field of the wrong type.
    (templates / "job.yaml.j2").write_text(
        '{% extends "builtin/v1/job.yaml.j2" %}{% block job_spec_extra %}'
        '  parallelism: {{ 1 if message.id != "m49" else "many" }}\n{% endblock %}'
    )
    values.write_text(values.read_text().replace("{n: ", "{n: 1"))
    result = k8sq("render", str(values), "-o", str(out), "--templates", str(tmp_path / "templates"))
    assert result.returncode == 1
    assert "/spec/parallelism" in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs", "templates", "v.yaml"]


def test_unwritable_output_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = k8sq("render", str(EXAMPLES / "minimal.yaml"), "-o", str(blocker / "jobs"))
    assert result.returncode == 1
    assert result.stderr == f"error: {blocker}: is not a directory\n"
    assert "Traceback" not in result.stderr


def test_unreadable_values_file(tmp_path: Path) -> None:
    result = k8sq("render", str(tmp_path))
    assert result.returncode == 1
    assert (
        result.stderr
        == f"error: {tmp_path}: 1 problem in the values\nerror: {tmp_path}: /: cannot read: Is a directory\n"
    )


def test_files_that_are_not_ours_are_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    out.mkdir()
    (out / "kustomization.yaml").write_text("resources: [mine.yaml]\n")
    result = k8sq("render", str(EXAMPLES / "minimal.yaml"), "-o", str(out), "--kustomize")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {out / 'kustomization.yaml'}: exists and was not written by k8sq-render: "
        "move it away, or write elsewhere\n"
    )
    assert sorted(p.name for p in out.iterdir()) == ["kustomization.yaml"]


def test_a_failed_update_puts_every_file_back(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    assert k8sq("render", str(EXAMPLES / "priority.yaml"), "-o", str(out)).returncode == 0
    names = sorted(p.name for p in out.iterdir())
    # The last Job's file is replaced by a directory: moving the new file there fails.
    (out / names[-1]).unlink()
    (out / names[-1]).mkdir()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    changed = tmp_path / "v.yaml"
    changed.write_text((EXAMPLES / "priority.yaml").read_text().replace("reports:7", "reports:8"))
    result = k8sq("render", str(changed), "-o", str(out))
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {out / names[-1]}: ")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert (out / names[-1]).is_dir()


def test_a_new_output_directory_gets_the_usual_permissions(tmp_path: Path) -> None:
    out = tmp_path / "jobs"
    assert k8sq("render", str(EXAMPLES / "minimal.yaml"), "-o", str(out)).returncode == 0
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask


def test_the_same_message_in_two_files_is_found_before_any_output(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("version: v1\nqueue: {name: q, image: i}\nmessage: {id: same, payload: {}}\n")
    two = tmp_path / "two.yaml"
    two.write_text(one.read_text())
    for args in (["validate", str(one), str(two)], ["render", str(one), str(two)], ["render", str(one), str(one)]):
        result = k8sq(*args)
        assert result.returncode == 1
        assert result.stdout == ""
        assert f"/message: message 'same' of this queue is also at {one} /message" in result.stderr


def test_an_empty_output_path_is_a_usage_error() -> None:
    result = k8sq("render", str(EXAMPLES / "minimal.yaml"), "-o", "")
    assert result.returncode == 2
    assert "-o needs a directory" in result.stderr


def test_a_full_disk_is_a_clear_error() -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "k8sq_render", "render", str(EXAMPLES / "many-messages.yaml")],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert result.returncode == 1
    assert result.stderr == "error: cannot write the output: No space left on device\n"
