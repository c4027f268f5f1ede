"""Durations such as "1h30m", "45m" or "90s" as seconds."""

import re

_PART = re.compile(r"(\d+)([hms])")
_UNIT_S = {"h": 3600, "m": 1, "s": 1}


def parse_duration(text):
    parts = _PART.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r}")
    return sum(int(n) * _UNIT_S[u] for n, u in parts)
