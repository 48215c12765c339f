"""Numbers as text every YAML and JSON reader takes back unchanged (standard library only)."""

from __future__ import annotations

import math
from decimal import Decimal


def plain_float(value: float) -> str:
    """Return a float in plain decimal notation: never ``1.2e+07``, always with a dot.

    Python (and Go, and many YAML emitters) write large and small floats with an
    exponent; YAML 1.1 readers take ``1e+16`` for a string, and integer-typed JSON
    readers refuse it. Plain decimals read back as the same float everywhere.

    >>> plain_float(12000000.0), plain_float(1e-7), plain_float(0.5), plain_float(1e16)
    ('12000000.0', '0.0000001', '0.5', '10000000000000000.0')
    """
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no YAML or JSON representation that all parsers agree on")
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
        if "." not in text:
            text += ".0"
    return text
