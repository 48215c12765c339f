"""k8sq submit / size / jobs / retry / wait against the fake API server, through a real kubeconfig."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from k8sq_render import _naming
from k8sq_render._cli import main

from .kubefake import FakeCluster, condition, status_body, values


@pytest.fixture
def fake() -> Iterator[FakeCluster]:
    with FakeCluster() as cluster:
        yield cluster


@pytest.fixture
def kubeconfig(fake: FakeCluster, tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": fake.host}}],
        "users": [{"name": "me", "user": {"token": "t0ken"}}],
        "contexts": [
            {"name": "mail", "context": {"cluster": "fake", "user": "me", "namespace": "mail"}},
            {"name": "plain", "context": {"cluster": "fake", "user": "me"}},
        ],
        "current-context": "mail",
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return str(path)


@pytest.fixture
def values_path(tmp_path: Path) -> str:
    path = tmp_path / "emails.json"
    doc = values(*({"id": f"m{i}", "payload": {"n": i}} for i in range(3)), namespace="mail")
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def name(message_id: str, attempt: int = 1) -> str:
    return _naming.job_name("emails", message_id, attempt)


def test_submit_creates_then_finds_the_jobs(fake, kubeconfig, values_path, capsys) -> None:
    assert main(["submit", values_path, "--kubeconfig", kubeconfig]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"job.batch/{name(f'm{i}')} created" for i in range(3)]
    assert err == "3 created, 0 existed, 0 failed\n"
    assert sorted(fake.jobs) == sorted(("mail", name(f"m{i}")) for i in range(3))

    assert main(["submit", values_path, "--kubeconfig", kubeconfig]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"job.batch/{name('m0')} unchanged (already submitted)"
    assert err == "0 created, 3 existed, 0 failed\n"


def test_submit_reports_each_failure_on_one_line_and_exits_1(fake, kubeconfig, values_path, capsys) -> None:
    fake.fault(
        "POST",
        "/jobs",
        name=name("m1"),
        status=422,
        body=status_body(422, "Invalid", 'Job.batch "x" is invalid:\nspec.template: Required value'),
    )
    assert main(["submit", values_path, "--kubeconfig", kubeconfig]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"job.batch/{name('m0')} created", f"job.batch/{name('m2')} created"]
    assert err.splitlines() == [
        f"error: message 'm1': create jobs/{name('m1')} in namespace mail: 422 Invalid: "
        'Job.batch "x" is invalid: spec.template: Required value',
        "2 created, 0 existed, 1 failed",
    ]


def test_size_and_jobs_use_the_contexts_namespace(fake, kubeconfig, values_path, capsys) -> None:
    main(["submit", values_path, "--kubeconfig", kubeconfig])
    fake.set_conditions("mail", name("m2"), condition("Failed"), failed=1)
    capsys.readouterr()
    assert main(["size", "--queue", "emails", "--kubeconfig", kubeconfig]) == 0
    assert main(["size", "--queue", "emails", "--failed", "--kubeconfig", kubeconfig]) == 0
    # The "plain" context names no namespace: "default", where this queue has no Jobs.
    assert main(["size", "--queue", "emails", "--kubeconfig", kubeconfig, "--context", "plain"]) == 0
    assert main(["size", "--queue", "emails", "--kubeconfig", kubeconfig, "--context", "plain", "-n", "mail"]) == 0
    assert capsys.readouterr().out.split() == ["2", "1", "0", "2"]

    assert main(["jobs", "--queue", "emails", "--state", "failed", "--kubeconfig", kubeconfig]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "STATE", "ATTEMPT", "MESSAGE", "CREATED"]
    assert lines[1].split()[:4] == [name("m2"), "failed", "1", "m2"]
    assert len(lines) == 2


def test_retry_prints_what_it_did(fake, kubeconfig, values_path, capsys) -> None:
    main(["submit", values_path, "--kubeconfig", kubeconfig])
    fake.set_conditions("mail", name("m0"), condition("Failed"), failed=1)
    capsys.readouterr()
    assert main(["retry", "--queue", "emails", "--limit", "5", "--kubeconfig", kubeconfig]) == 0
    out, err = capsys.readouterr()
    assert out == f"job.batch/{name('m0')} retried as job.batch/{name('m0', 2)} (attempt 2)\n"
    assert err == "1 failed Job(s): 1 handled, 0 failed\n"
    assert ("mail", name("m0", 2)) in fake.jobs and ("mail", name("m0")) not in fake.jobs


def test_wait_exit_code_follows_the_job(fake, kubeconfig, values_path, capsys) -> None:
    main(["submit", values_path, "--kubeconfig", kubeconfig])
    fake.set_conditions("mail", name("m0"), condition("Complete"), succeeded=1)
    fake.set_conditions("mail", name("m1"), condition("FailureTarget"), condition("Failed"), failed=1)
    capsys.readouterr()
    assert main(["wait", name("m0"), "--kubeconfig", kubeconfig]) == 0
    assert main(["wait", name("m1"), "--kubeconfig", kubeconfig]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"job.batch/{name('m0')} succeeded", f"job.batch/{name('m1')} failed"]
    assert err == ""


def test_wait_times_out_with_exit_1(fake, kubeconfig, values_path, capsys) -> None:
    main(["submit", values_path, "--kubeconfig", kubeconfig])
    capsys.readouterr()
    fake.watch_scripts = [[]]
    assert main(["wait", name("m0"), "--timeout", "0.01", "--kubeconfig", kubeconfig]) == 1
    assert capsys.readouterr().err == f"error: job.batch/{name('m0')} still active after 0.01s\n"


def test_a_missing_job_or_kubeconfig_is_one_error_line(fake, kubeconfig, tmp_path, capsys) -> None:
    assert main(["wait", "nope", "--kubeconfig", kubeconfig]) == 1
    assert capsys.readouterr().err == (
        "error: job.batch/nope is not on the cluster (reaped by its TTL, or never created)\n"
    )
    assert main(["size", "--queue", "q", "--kubeconfig", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path / 'missing'}: ") and len(err.splitlines()) == 1
    assert main(["size", "--queue", "q", "--kubeconfig", kubeconfig, "--context", "nope"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {kubeconfig} (context 'nope'): ") and len(err.splitlines()) == 1
