"""Reading values without silent changes, writing YAML every parser reads back exactly."""

from __future__ import annotations

import json

import pytest
import yaml
from ruamel.yaml import YAML

from k8sq_render import _yaml

# Strings that YAML tools have turned into something else (booleans, numbers, nulls,
# aliases, tags, comments, extra keys), and characters YAML treats specially.
TRICKY = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "Yes",
    "NO",
    "true",
    "False",
    "null",
    "Null",
    "~",
    "",
    "0755",
    "02142",
    "1e3",
    "1.5e3",
    "0x1F",
    "0o17",
    "0b101",
    "1_000",
    "1:30",
    ".inf",
    "-.inf",
    ".nan",
    "12000000",
    "1.2e+07",
    "+1",
    "-1",
    ".5",
    "1.",
    "=",
    "<<",
    "*.csv",
    "&x",
    "*x",
    "!tag",
    "!!python/object:os.system",
    "@daily",
    "%s: done",
    "`cmd`",
    "- item",
    "-",
    "? key",
    ": value",
    "key: value",
    "a #comment",
    "#comment",
    "|",
    ">",
    "[a, b]",
    "{a: b}",
    "line1\nline2",
    "trailing\n",
    "\n  indented: true\nx: y",
    "tab\there",
    "cr\rlf",
    "nul\x00byte",
    'quote"s',
    "back\\slash",
    "'single'",
    "---",
    "...",
    "--- x",
    "%YAML 1.1",
    "\x7f\x80\x85\x9f",
    "\u2028\u2029",
    "\ufeffbom",
    "emoji 🎉",
    "naïve",
    "日本語",
    " leading",
    "trailing ",
]


def yaml12(text: str):
    return YAML(typ="safe", pure=True).load(text)


@pytest.mark.parametrize("value", TRICKY)
def test_quoted_strings_read_back_exactly_by_yaml11_yaml12_and_our_loader(value: str) -> None:
    document = {"key": value, "list": [value], "nested": {"k": value}}
    text = _yaml.dump(document)
    assert yaml.safe_load(text) == document
    assert yaml12(text) == document
    assert _yaml.load(text) == document


@pytest.mark.parametrize("key", ["on", "y", "yes", "No", "null", "1", "a b", "x: y", "-", "k8sq.io/queue", "$(X)"])
def test_keys_read_back_exactly(key: str) -> None:
    document = {key: "v"}
    text = _yaml.dump(document)
    assert yaml.safe_load(text) == document
    assert yaml12(text) == document


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (12000000.0, "12000000.0"),
        (1e16, "10000000000000000.0"),
        (1e-7, "0.0000001"),
        (0.5, "0.5"),
        (-2.5, "-2.5"),
        (12000000, "12000000"),
        (2**63, "9223372036854775808"),
    ],
)
def test_numbers_are_plain_decimals_never_exponents(number: float, text: str) -> None:
    assert _yaml.scalar(number) == text
    assert yaml.safe_load(f"v: {text}")["v"] == number
    assert yaml12(f"v: {text}")["v"] == number


def test_non_finite_numbers_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="inf"):
        _yaml.scalar(float("inf"))


def test_dump_is_block_yaml_with_nested_lists_and_empties() -> None:
    document = {"a": {"b": [{"c": 1, "d": [1, [2, 3]]}, "x", [], {}]}, "e": None, "f": True}
    text = _yaml.dump(document)
    assert text == (
        "a:\n"
        "  b:\n"
        "    - c: 1\n"
        "      d:\n"
        "        - 1\n"
        "        - - 2\n"
        "          - 3\n"
        '    - "x"\n'
        "    - []\n"
        "    - {}\n"
        "e: null\n"
        "f: true\n"
    )
    assert yaml.safe_load(text) == document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("14", 14),
        ("-3", -3),
        ("1.5", 1.5),
        ("1.5e+3", 1500.0),
        ("plain text", "plain text"),
        ("2024-12-03", "2024-12-03"),
        ('"yes"', "yes"),
        ("'0755'", "0755"),
        ("!!str 0755", "0755"),
    ],
)
def test_loader_reads_what_yaml11_yaml12_and_json_agree_on(text: str, expected: object) -> None:
    value = _yaml.load(f"v: {text}\n")["v"]
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "0755",
        "02142",
        "0x1F",
        "0o7",
        "1e3",
        "1.5e3",
        "1e+3",
        "1_000",
        "1:30",
        ".inf",
        "-.inf",
        ".nan",
        "+1",
        ".5",
        "1.",
        "=",
    ],
)
def test_loader_marks_ambiguous_plain_scalars(text: str) -> None:
    value = _yaml.load(f"a: 1\nv: {text}\n")["v"]
    assert isinstance(value, _yaml.Ambiguous)
    assert str(value) == text
    assert (value.line, value.column) == (2, 4)


def test_mapping_keys_are_their_text() -> None:
    assert _yaml.load("on: 1\ny: 2\n1: 3\nnull: 4\n") == {"on": 1, "y": 2, "1": 3, "null": 4}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("a: !!binary aGk=\n", "not supported"),
        ("a: !!python/object:os.system x\n", "not supported"),
        ("a: [1\n", "expected"),
        ("a: 1\n---\nb: 2\n", "single document"),
        ("a: &x [*x]\n", "recursive"),
        ("? [1]\n: 2\n", "plain text"),
    ],
)
def test_loader_refuses_what_json_cannot_say(text: str, message: str) -> None:
    with pytest.raises(_yaml.YamlError, match=message):
        _yaml.load(text)


def test_flow_output_is_json_compatible() -> None:
    value = {"a": [1, 2.5, None, True, "x\ny"], "b": {}}
    assert json.loads(_yaml.flow(value)) == value
