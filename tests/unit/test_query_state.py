"""job_state: a Job's state from its conditions only, on Job JSON as a 1.31+ API server returns it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from k8sq_render import JobState, job_state
from k8sq_render._query import _info

from .kubefake import condition as cond

JOB: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {
        "name": "emails-welcome-42-pvc325nt",
        "namespace": "mail",
        "uid": "5b1b7d0e-2f6c-4d53-9d1f-8c6d9e3f4a10",
        "resourceVersion": "48211",
        "generation": 1,
        "creationTimestamp": "2026-12-03T10:00:00Z",
        "labels": {"app.kubernetes.io/managed-by": "k8sq-render", "k8sq.io/queue": "emails"},
        "annotations": {"k8sq.io/message-id": "welcome-42", "k8sq.io/attempt": "2"},
    },
    "spec": {"backoffLimit": 3, "completions": 1, "parallelism": 1},
    "status": {},
}


def job(**status: Any) -> dict[str, Any]:
    result = copy.deepcopy(JOB)
    result["status"] = status
    return result


def test_a_new_job_without_status_is_active() -> None:
    assert job_state(job()) is JobState.ACTIVE
    assert job_state({"metadata": {"name": "x"}}) is JobState.ACTIVE


def test_retrying_under_backoff_limit_is_active_despite_failed_pods() -> None:
    # Two pods failed, a third runs: backoffLimit 3 is not reached, no Failed condition yet.
    retrying = job(
        startTime="2026-12-03T10:00:01Z", active=1, failed=2, ready=0, terminating=0, uncountedTerminatedPods={}
    )
    assert job_state(retrying) is JobState.ACTIVE


def test_failed_condition_is_failed() -> None:
    failed = job(
        startTime="2026-12-03T10:00:01Z",
        failed=4,
        ready=0,
        terminating=0,
        uncountedTerminatedPods={},
        conditions=[
            cond("FailureTarget", reason="BackoffLimitExceeded"),
            cond("Failed", reason="BackoffLimitExceeded"),
        ],
    )
    assert job_state(failed) is JobState.FAILED


def test_failure_target_alone_is_already_failed() -> None:
    # The pods are still terminating: Failed comes later, but the outcome is decided.
    terminating = job(active=0, failed=4, terminating=1, conditions=[cond("FailureTarget", reason="DeadlineExceeded")])
    assert job_state(terminating) is JobState.FAILED


def test_complete_is_succeeded() -> None:
    done = job(
        succeeded=1,
        completionTime="2026-12-03T10:01:00Z",
        conditions=[
            cond("SuccessCriteriaMet", reason="CompletionsReached"),
            cond("Complete", reason="CompletionsReached"),
        ],
    )
    assert job_state(done) is JobState.SUCCEEDED


def test_success_criteria_met_alone_is_succeeded() -> None:
    assert job_state(job(succeeded=1, terminating=1, conditions=[cond("SuccessCriteriaMet")])) is JobState.SUCCEEDED


def test_conditions_that_are_not_true_do_not_count() -> None:
    assert job_state(job(conditions=[cond("Failed", status="False"), cond("Complete", status="Unknown")])) is (
        JobState.ACTIVE
    )
    # A suspended Job is not finished either.
    assert job_state(job(conditions=[cond("Suspended", reason="JobSuspended")])) is JobState.ACTIVE


def test_counters_alone_never_finish_a_job() -> None:
    assert job_state(job(succeeded=1)) is JobState.ACTIVE
    assert job_state(job(failed=10)) is JobState.ACTIVE


@pytest.mark.parametrize("conditions", [None, [], [{"type": "Failed"}], ["junk"]])
def test_odd_condition_lists_are_active(conditions: Any) -> None:
    assert job_state(job(conditions=conditions)) is JobState.ACTIVE


def test_info_reads_the_annotations_and_creation_time() -> None:
    info = _info(job(conditions=[cond("Failed")]))
    assert (info.name, info.namespace, info.state) == ("emails-welcome-42-pvc325nt", "mail", JobState.FAILED)
    assert (info.message_id, info.attempt) == ("welcome-42", 2)
    assert info.created is not None and info.created.isoformat() == "2026-12-03T10:00:00+00:00"
