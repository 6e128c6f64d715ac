"""Argument checks for the public API: each error names the argument, the value, and what is allowed."""

from __future__ import annotations

import math
import numbers
from datetime import timedelta

# Browsers run a setTimeout longer than 2**31-1 ms (about 24.8 days) at once, so the longest interval
# the snippet can wait for is kept well below that.
MAX_INTERVAL = 24 * 3600.0


def seconds(value: object, name: str) -> float:
    """Return ``value`` (a number of seconds or a ``timedelta``) as a positive, finite float."""
    if isinstance(value, timedelta):
        result = value.total_seconds()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        result = float(value)
    else:
        raise TypeError(
            f"{name} must be a number of seconds (int or float) or a datetime.timedelta, "
            f"got {type(value).__name__} {value!r}"
        )
    if math.isnan(result) or math.isinf(result) or result <= 0:
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}")
    return result


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
    text(value, name)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value  # type: ignore[return-value]
