"""Names and labels: valid, deterministic, collision-free."""

from __future__ import annotations

import itertools

import pytest

from k8sq_render import _naming

QUEUES = [
    "emails",
    "Emails",
    "EMAILS",
    "e-mails",
    "e_mails",
    "e.mails",
    "emails-",
    "-emails",
    "日本語",
    "中文字",
    "stash-backup-persistentvolumeclaim-influxdb-data-influxdb-0-bmkd8",
    "stash-backup-persistentvolumeclaim-influxdb-data-influxdb-0-bmkd8-other",
    "orders.tenant-acme-corporation.eu-central-1.batch-000000000017.retry",
    "x" * 63,
    "x" * 64,
    "x" * 300,
    "a.",
    "a_",
    "a-" * 40,
    "...",
    "___",
    "",
    " ",
    "a b",
    "a/b",
]
IDS = ["1", "7f3c2a", "Order #17", "-", "x" * 100, "注文", "a-b", "b"]


@pytest.mark.parametrize("queue", QUEUES)
@pytest.mark.parametrize("message_id", IDS)
def test_job_name_is_a_dns_label_of_at_most_63(queue: str, message_id: str) -> None:
    name = _naming.job_name(queue, message_id)
    assert len(name) <= 63
    assert _naming.DNS1123_LABEL.match(name), name
    assert name == _naming.job_name(queue, message_id)


def test_job_names_never_collide() -> None:
    pairs = list(itertools.product(QUEUES, IDS, [1, 2, 3]))
    names = {_naming.job_name(q, i, a) for q, i, a in pairs}
    assert len(names) == len(pairs)


def test_joined_parts_do_not_collide() -> None:
    assert _naming.job_name("a-b", "c") != _naming.job_name("a", "b-c")


def test_clean_names_stay_readable() -> None:
    name = _naming.job_name("emails", "welcome-42")
    assert name.startswith("emails-welcome-42-")
    assert len(name) == len("emails-welcome-42-") + _naming.HASH_LENGTH
    assert _naming.job_name("emails", "welcome-42", attempt=2).startswith("emails-welcome-42-r2-")


@pytest.mark.parametrize("queue", QUEUES)
def test_label_value_is_valid(queue: str) -> None:
    value = _naming.label_value(queue)
    assert len(value) <= 63
    assert _naming.LABEL_VALUE.match(value), value
    assert not value.endswith((".", "_", "-"))


def test_label_values_never_collide() -> None:
    values = {_naming.label_value(q) for q in QUEUES}
    assert len(values) == len(set(QUEUES))


def test_valid_label_values_are_kept_and_changed_ones_carry_a_hash() -> None:
    assert _naming.label_value("Emails") == "Emails"
    assert _naming.label_value("emails") == "emails"
    changed = _naming.label_value("x" * 64)
    assert changed.endswith("-" + _naming.short_hash("x" * 64))
    both_non_ascii = (_naming.label_value("日本語"), _naming.label_value("中文字"))
    assert both_non_ascii[0] != both_non_ascii[1]


def test_truncation_leaves_no_dot() -> None:
    queue = "orders.tenant-acme-corporation.eu-central-1.batch-000000000017.retry"
    value = _naming.label_value(queue)
    assert value == "orders.tenant-acme-corporation.eu-central-1.batch-0000-" + _naming.short_hash(queue)


def test_selector_uses_the_label_value() -> None:
    assert _naming.selector("x" * 64) == (
        "app.kubernetes.io/managed-by=k8sq-render,k8sq.io/queue=" + _naming.label_value("x" * 64)
    )


def test_content_id_depends_on_content_only() -> None:
    a = _naming.content_id({"a": 1, "b": 2}, None, None)
    assert a == _naming.content_id({"b": 2, "a": 1}, None, None)
    assert a != _naming.content_id({"a": 1, "b": 2}, 1, None)
    assert a != _naming.content_id({"a": 1, "b": 2}, None, "high")
    assert len(a) == 16
