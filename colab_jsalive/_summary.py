"""The keep-alive in words, for people: the summary ``status()``, the handle and ``%keepalive status``
show, and the one line a saved output shows wherever its JavaScript does not run.

Programs read :class:`~colab_jsalive.Status`'s fields; everything here is only for reading.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._session import Status  # _session imports this module

CHANNELS = {
    "jupyter": "a Jupyter comm over the kernel's WebSocket",
    "colab": "Colab's google.colab.kernel.invokeFunction",
}


def duration(seconds: float) -> str:
    """``seconds`` the way people say it, in its two largest units: "0.5 s", "45 s", "3 min 20 s", "12 h"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{round(seconds, 1):g} s"
    whole = round(seconds)
    parts: list[tuple[int, str]] = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count or parts:
            parts.append((count, unit))
    return " ".join(f"{count} {unit}" for count, unit in parts[:2] if count)


def every(interval: float) -> str:
    """An interval as inject() takes it: seconds up to ten minutes ("60 s", "0.5 s"), then "2 h"."""
    return f"{interval:g} s" if interval < 600 else duration(interval)


def local_time(moment: datetime) -> str:
    """``moment`` in the kernel's local time zone, named: "2026-12-03 21:04 UTC"."""
    local = moment.astimezone()
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or local.strftime('%z')}"


def quoted(label: str) -> str:
    """The label as one line of text, quoted (newlines and quotes escaped): never markup."""
    return json.dumps(label, ensure_ascii=False)


# Where a browser lets a person keep a site's tabs from being discarded (Chrome's Memory Saver; the
# `TabDiscardingExceptions` policy does the same for an administrator).
KEEP_SITE_ACTIVE = "keep the notebook's site active (in Chrome: Settings, Performance, Always keep these sites active)"


def quiet_warning(silence: float, discarded_at: datetime | None = None) -> str:
    """What status() says once no beat has reached the kernel for more than two intervals; a tab the
    browser discarded before (``discarded_at``, when its reloaded page said so) is named first."""
    warning = (
        f"no beat for {duration(silence)} (more than two intervals): no page is beating. The "
        "notebook's tab may be closed, asleep, frozen, discarded by the browser to save memory "
        "(Chrome's Memory Saver) or offline: reopen it, or run inject() again in an open page"
    )
    if discarded_at is not None:
        warning += (
            f". Its page said at {local_time(discarded_at)} that the browser had discarded its tab once "
            f"already, a likely cause again: {KEEP_SITE_ACTIVE}"
        )
    return warning


def discarded_warning(gap: float, discarded_at: datetime) -> str:
    """What status() says after a page the browser had discarded came back (document.wasDiscarded)."""
    return (
        f"the browser discarded the notebook's tab while it was in the background (Chrome's Memory "
        f"Saver, for example): no beat came for {duration(gap)}, until the tab was reloaded at "
        f"{local_time(discarded_at)}. To keep the keep-alive going, {KEEP_SITE_ACTIVE}"
    )


def summary(status: Status, now: datetime | None = None) -> str:
    """A few lines about ``status`` (a :class:`~colab_jsalive.Status`): what runs, from which page and
    channel, how often and until when, the beats, and why it ended or what is wrong."""
    now = now or datetime.now(timezone.utc)
    name = f"colab_jsalive keep-alive {quoted(status.label)}" if status.label else "colab_jsalive keep-alive"
    if status.started is None:  # never started: outside a notebook, or before any inject()
        return f"{name}: not running ({status.reason or status.frontend})"
    state = "running" if status.active else f"ended: {status.reason}"
    page = "no page has beaten yet" if status.frontend in ("unknown", "") else status.frontend
    if status.channel in CHANNELS:
        page += f" (channel: {CHANNELS[status.channel]})"
    if status.expires is None:
        until = "until stopped"
    elif status.active:
        until = f"until {local_time(status.expires)}, {duration((status.expires - now).total_seconds())} from now"
    else:
        until = f"max_duration until {local_time(status.expires)}"
    if status.last_beat is None:
        beats = "none answered yet"
    else:
        age = status.since_last_beat
        if age is None:
            age = (now - status.last_beat).total_seconds()
        beats = (
            f"{status.beats} answered, the last {duration(age)} ago; {status.unanswered} unanswered when it was sent"
        )
    lines = [
        f"{name}: {state}",
        f"  page:     {page}",
        f"  interval: every {every(status.interval)}, {until}",
        f"  beats:    {beats}",
    ]
    if status.warning:
        lines.append(f"  warning:  {status.warning}")
    return "\n".join(lines)


def output_line(label: str, interval: float, expires: datetime | None) -> str:
    """The text a saved output shows where its JavaScript does not run (an untrusted notebook, another
    person's page in a shared notebook, GitHub, nbviewer, nbconvert): what it is and where it runs."""
    name = f"colab_jsalive keep-alive {quoted(label)}" if label else "colab_jsalive keep-alive"
    until = "until stopped" if expires is None else f"until {expires.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"
    return (
        f"{name}: every {every(interval)} {until}, from the page that ran this cell; "
        "run inject() to start one from this page"
    )
