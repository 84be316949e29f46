"""Sizes as people write them: a number of GiB (`0.5`, `2`) or docker's notation (`512m`,
`2g`, `1.5g`; b, k, m, g, t are powers of 1024, and `mb`, `mib`, `GiB` read the same)."""

from __future__ import annotations

import re

_SIZE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:([kmgt])(?:i?b)?|(b))?", re.IGNORECASE)
_GIB_PER_UNIT = {"b": 1024.0**-3, "k": 1024.0**-2, "m": 1024.0**-1, "g": 1.0, "t": 1024.0}


def parse_gib(text: str) -> float:
    """The size in GiB; ValueError names what is accepted."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a size: give GiB (0.5, 2) or 512m, 2g, 1.5g")
    number, unit, byte = match.groups()
    return float(number) * _GIB_PER_UNIT[(unit or byte or "g").lower()]
