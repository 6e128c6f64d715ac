"""A keep-alive session: the kernel's record of one ``inject()``, and the replies built from it.

The kernel holds the truth. The page only beats, shows what the replies say, and obeys them, so stop,
replace and expiry work however many pages, cells or clients are involved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ._summary import discarded_warning, quiet_warning, summary

# Reasons a session ended; the badge shows them to the user as they are.
STOPPED = "stopped from Python"
STOPPED_FROM_BADGE = "stopped with the badge's Stop button"
REPLACED = "replaced by a newer inject()"
EXPIRED = "max_duration reached"
# Intervals without a beat after which status() says that no page is beating.
QUIET_AFTER = 2
UNKNOWN = "this kernel does not know this keep-alive (restarted or never started here): run inject() again"


@dataclass(frozen=True)
class Status:
    """What the kernel knows about its keep-alive.

    ``frontend`` is the page that beats ("jupyterlab", "notebook", "nbclassic", "colab"), "unknown"
    before the first beat, or, where no page can beat, why: "python", "terminal", "vscode",
    "no-server", "no-colab", "no-comms".
    ``beats`` counts answered beats. ``unanswered`` is how many earlier beats the page was still
    waiting on when it sent the latest one (a busy kernel answers them once the running cell ends).
    ``reason`` says why an inactive keep-alive ended ("" while it runs). Times are UTC.
    ``channel`` is how beats reach the kernel ("jupyter", "colab"; "" where none can).
    ``since_last_beat`` is how many seconds ago the last beat was answered (None before the first).
    ``warning`` says, in words, what is wrong while the keep-alive runs: no beat has reached the kernel
    for more than two intervals, so no page is beating (it goes once beats resume); or the page came
    back after the browser had discarded its tab (Chrome's Memory Saver), and for how long nothing
    beat. "" otherwise.

    ``repr()`` and ``str()`` give a summary for people; programs read the fields.
    """

    active: bool
    frontend: str
    beats: int
    unanswered: int
    last_beat: datetime | None
    started: datetime | None
    expires: datetime | None
    interval: float
    label: str
    reason: str = ""
    channel: str = ""
    since_last_beat: float | None = None
    warning: str = ""

    def __repr__(self) -> str:
        return summary(self)

    __str__ = __repr__


class Session:
    """One keep-alive: its token, its limits and its counters."""

    def __init__(
        self,
        interval: float,
        max_duration: float | None,
        label: str,
        clock: Callable[[], float] = time.monotonic,
        channel: str = "",
    ) -> None:
        # secrets pulls in hashlib (several milliseconds); a session is made only by inject().
        import secrets

        self.token = secrets.token_hex(16)
        self.interval = interval
        self.max_duration = max_duration
        self.label = label
        self.frontend = "unknown"
        self.beats = 0
        self.unanswered = 0
        self.last_beat: datetime | None = None
        self.channel = channel
        self.started = datetime.now(timezone.utc)
        self._clock = clock
        self._heard = clock()  # when the kernel last heard from the page (its start counts)
        self._deadline = None if max_duration is None else clock() + max_duration
        self._reason = ""
        # When a page last said the browser had discarded its tab (and reloaded it), and how long the
        # kernel had heard nothing by then.
        self.discarded_at: datetime | None = None
        self.discarded_gap = 0.0

    @property
    def reason(self) -> str:
        """Why the session ended, or "" while it runs. Expiry is noticed here, lazily."""
        if not self._reason and self.remaining() == 0.0:
            self._reason = EXPIRED
        return self._reason

    @property
    def active(self) -> bool:
        return not self.reason

    @property
    def expires(self) -> datetime | None:
        if self.max_duration is None:
            return None
        return self.started + timedelta(seconds=self.max_duration)

    def remaining(self) -> float | None:
        """Seconds until ``max_duration`` is reached (0.0 once it is), or None without a limit."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - self._clock())

    def stop(self, reason: str) -> None:
        if not self.reason:
            self._reason = reason

    def record_beat(self, unanswered: int, frontend: str) -> None:
        self.beats += 1
        self.unanswered = unanswered
        self.frontend = frontend
        self.last_beat = datetime.now(timezone.utc)
        self._heard = self._clock()

    def record_discard(self) -> None:
        """A page came back after the browser discarded its tab (it read ``document.wasDiscarded``)."""
        self.discarded_at = datetime.now(timezone.utc)
        self.discarded_gap = self._clock() - self._heard
        self._heard = self._clock()

    def reply(self, seq: int | None = None) -> dict[str, Any]:
        """What the kernel tells a page about this session, in answer to beat ``seq`` or unasked."""
        return _reply(self.token, seq, self.reason, self.beats, self.remaining())

    @staticmethod
    def refusal(token: str, reason: str, seq: int | None = None) -> dict[str, Any]:
        """The reply to a page whose session this kernel does not know."""
        return _reply(token, seq, reason, 0, None)

    def status(self, heard_until: float | None = None) -> Status:
        """The session now. ``heard_until`` is the time (on this session's clock) up to which the kernel
        could have heard a beat: while a cell runs, beats wait behind it, so the start of the running
        cell; None for now. Only a silence before then is the page's."""
        now = self._clock()
        silence = (now if heard_until is None else min(heard_until, now)) - self._heard
        quiet = self.active and silence > QUIET_AFTER * self.interval
        return Status(
            active=self.active,
            frontend=self.frontend,
            beats=self.beats,
            unanswered=self.unanswered,
            last_beat=self.last_beat,
            started=self.started,
            expires=self.expires,
            interval=self.interval,
            label=self.label,
            reason=self.reason,
            channel=self.channel,
            since_last_beat=None if self.last_beat is None else now - self._heard,
            warning=self._warning(silence if quiet else None),
        )

    def _warning(self, silence: float | None) -> str:
        """What is wrong, in words: a silence (``silence`` seconds, when it counts), else a discarded tab."""
        if silence is not None:
            return quiet_warning(silence, self.discarded_at)
        if self.discarded_at is not None and self.active:
            return discarded_warning(self.discarded_gap, self.discarded_at)
        return ""


def _reply(token: str, seq: int | None, reason: str, beats: int, remaining: float | None) -> dict[str, Any]:
    # The one shape of every message the kernel sends a page; js/core.js reads these keys.
    return {
        "session": token,
        "seq": seq,
        "state": "stopped" if reason else "running",
        "reason": reason,
        "beats": beats,
        "remaining": remaining,
    }
