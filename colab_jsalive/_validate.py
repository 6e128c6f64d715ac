"""Argument checks for the public API: each error names the argument, the value, and what is allowed."""

from __future__ import annotations

import math
import numbers
import re
from datetime import timedelta

# Browsers run a setTimeout longer than 2**31-1 ms (about 24.8 days) at once, so the longest interval
# the snippet can wait for is kept well below that.
MAX_INTERVAL = 24 * 3600.0


# Durations as people write them: "90s", "30m", "8h", "1h30m", "1d 12h", or a plain "600" (seconds).
# Units in that order, each at most once, whole or decimal numbers; a number without a unit only alone
# ("1h30" is refused: minutes or seconds?). (A dependency for this would be one more
# package moved into runtimes the library is a guest in; the grammar fits in one expression.)
_DURATION = re.compile(
    r"""\s*(?:(?P<d>\d+(?:\.\d+)?)\s*d)?
        \s*(?:(?P<h>\d+(?:\.\d+)?)\s*h)?
        \s*(?:(?P<m>\d+(?:\.\d+)?)\s*m)?
        \s*(?:(?P<s>\d+(?:\.\d+)?)\s*s)?\s*
      | \s*(?P<plain>\d+(?:\.\d+)?)\s*  # seconds, as in the magics' `%keepalive 30`""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "plain": 1.0}
DURATION_FORMS = "a number of seconds (600), a datetime.timedelta, or text: '90s', '30m', '8h', '1h30m', '2d'"


def seconds(value: object, name: str) -> float:
    """Return ``value`` (a number of seconds, a ``timedelta``, or text such as ``"1h30m"``) as a
    positive, finite float."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        result = _parse_duration(value, name)
    else:
        raise TypeError(f"{name} must be {DURATION_FORMS}; got {type(value).__name__} {value!r}")
    if math.isnan(result) or math.isinf(result) or result <= 0:
        raise ValueError(f"{name} must be a positive, finite duration, got {value!r}")
    return result


def _parse_duration(text: str, name: str) -> float:
    match = _DURATION.fullmatch(text)
    parts = match and {unit: float(n) for unit, n in match.groupdict().items() if n is not None}
    if not parts:
        raise ValueError(f"{name} must be {DURATION_FORMS}; got {text!r}")
    return sum(_UNIT_SECONDS[unit] * n for unit, n in parts.items())


def interval(value: object) -> float:
    result = seconds(value, "interval")
    if result > MAX_INTERVAL:
        raise ValueError(f"interval must be at most {MAX_INTERVAL:g} seconds (one day), got {value!r}")
    return result


def max_duration(value: object) -> float | None:
    """``None`` means "until stopped"; anything else goes through :func:`seconds`."""
    return None if value is None else seconds(value, "max_duration")


def text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__} {value!r}")
    return value


def flag(value: object, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return value


def choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    checked = text(value, name)
    if checked not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return checked
