"""The envelope: encoding, reading in the pod, and each way reading can fail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from k8sq_render import envelope, errors

MESSAGE = envelope.Message(
    id="m-1", queue="emails", timestamp=1733232000, payload={"to": "a@b", "n": [1, 2]}, attempt=2
)


def test_round_trip() -> None:
    text = envelope.encode(MESSAGE)
    assert envelope.decode(text) == MESSAGE
    assert envelope.read({envelope.ENV_VAR: text}) == MESSAGE


def test_encoding_is_compact_and_stable() -> None:
    assert envelope.encode(MESSAGE) == (
        '{"v":1,"id":"m-1","queue":"emails","timestamp":1733232000,"attempt":2,"payload":{"to":"a@b","n":[1,2]}}'
    )


@pytest.mark.parametrize(
    ("environ", "error", "text"),
    [
        ({}, errors.EnvelopeMissingError, "K8SQ_MESSAGE is not set"),
        ({"K8SQ_MESSAGE": "{not json"}, errors.EnvelopeFormatError, "not valid JSON"),
        ({"K8SQ_MESSAGE": "[1]"}, errors.EnvelopeShapeError, "must hold a JSON object"),
        ({"K8SQ_MESSAGE": '{"v":2,"id":"a","queue":"q","payload":{}}'}, errors.EnvelopeVersionError, "version 2"),
        ({"K8SQ_MESSAGE": '{"id":"a","queue":"q","payload":{}}'}, errors.EnvelopeVersionError, "version None"),
        ({"K8SQ_MESSAGE": '{"v":1,"queue":"q","payload":{}}'}, errors.EnvelopeShapeError, "no field 'id'"),
        (
            {"K8SQ_MESSAGE": '{"v":1,"id":1,"queue":"q","payload":{}}'},
            errors.EnvelopeShapeError,
            "'id' must be a string",
        ),
        (
            {"K8SQ_MESSAGE": '{"v":1,"id":"a","queue":"q","payload":[]}'},
            errors.EnvelopeShapeError,
            "'payload' must be an object",
        ),
        (
            {"K8SQ_MESSAGE": '{"v":1,"id":"a","queue":"q","payload":{},"timestamp":"x"}'},
            errors.EnvelopeShapeError,
            "timestamp",
        ),
        (
            {"K8SQ_MESSAGE": '{"v":1,"id":"a","queue":"q","payload":{},"attempt":0}'},
            errors.EnvelopeShapeError,
            "attempt",
        ),
    ],
)
def test_each_failure_is_its_own_clear_error(environ: dict[str, str], error: type, text: str) -> None:
    with pytest.raises(error, match=text) as caught:
        envelope.read(environ)
    assert isinstance(caught.value, errors.EnvelopeError)


def test_reading_imports_nothing_heavy() -> None:
    code = (
        "import sys, k8sq_render.envelope as e;"
        "heavy = {'jinja2', 'jsonschema', 'kubernetes', 'yaml'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_size_limit_matches_linux_max_arg_strlen() -> None:
    # MAX_ARG_STRLEN is 32 pages of 4 KiB; the limit counts "NAME=value" and the NUL.
    assert envelope.MAX_ENV_BYTES + len("K8SQ_MESSAGE=") + 1 == 32 * 4096


def test_floats_are_written_without_exponents() -> None:
    message = envelope.Message(id="f", queue="q", timestamp=None, payload={"big": 1e16, "tiny": [1e-7], "n": 2.5})
    text = envelope.encode(message)
    assert text.endswith('"payload":{"big":10000000000000000.0,"tiny":[0.0000001],"n":2.5}}')
    assert envelope.decode(text) == message


def test_every_public_name_resolves() -> None:
    import k8sq_render

    for name in k8sq_render.__all__:
        assert getattr(k8sq_render, name) is not None, name
