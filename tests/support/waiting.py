"""Waiting on conditions, with deadlines: the one way the tests wait (never a bare sleep), and the one
reader of the times the servers' APIs give."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

# How often a condition is checked. Each check of a page is a round trip into Chromium, which costs a
# JupyterLab page far more than a Python call: a quarter of a second keeps the checks cheap when several
# tests run side by side, at no cost to any deadline.
POLL = 0.25


def wait_for(condition, timeout: float, what: str, poll: float = POLL):
    """Return the first truthy value of ``condition()`` within ``timeout`` seconds, else fail. The last
    check starts at the deadline, never after it, so "within N seconds" cannot pass late."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as error:  # the condition may fail until it holds (a page still loading)
            last_error = error
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}{detail}")
        time.sleep(min(poll, remaining))


def holds_for(condition, seconds: float, what: str, poll: float = POLL) -> None:
    """Fail as soon as ``condition()`` is false during the next ``seconds``: checked at once, every
    ``poll`` seconds, and once more when the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        assert condition(), f"{what} stopped holding"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        time.sleep(min(poll, remaining))


def utc_time(stamp: str):
    """A time as Jupyter's, JupyterHub's and SageMaker's APIs give it (ISO 8601 in UTC, ending in "Z" or
    "z", which Python 3.10's fromisoformat does not read), as an aware datetime."""
    return datetime.fromisoformat(stamp.rstrip("Zz") + "+00:00" if stamp[-1] in "Zz" else stamp)


def age(stamp: str, asked: datetime | None = None) -> float:
    """Seconds from a time a server's API gave (a kernel's last_activity, the hub's record of a server,
    SageMaker's lastActiveTimestamp) to ``asked``: when the question was sent (an aware datetime), for
    an age that a slow answer does not inflate; now by default."""
    return ((asked or datetime.now(timezone.utc)) - utc_time(stamp)).total_seconds()


class Watcher:
    """Calls look() every ``every`` seconds in a thread of its own until close(), so that what a test
    watches is seen even while the test is busy elsewhere (opening the next page). A failure passing()
    allows (a slow or failed answer on a loaded machine) is looked at again, until nothing has answered
    for ``patience`` seconds; that, or any other failure, ends the watch, and check() raises it.
    Subclasses set their own attributes before calling ``super().__init__()``, which starts the thread."""

    every = 1.0
    patience = 60.0
    what = "the watch"

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def look(self) -> None:
        raise NotImplementedError

    def passing(self, error: BaseException) -> bool:
        """Whether ``error`` is worth looking again after."""
        return False

    def check(self) -> None:
        """Raise what ended the watch, if anything has."""
        if self.error is not None:
            raise RuntimeError(f"{self.what} failed: {self.error!r}") from self.error

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        answered = time.monotonic()
        while not self._stop.wait(self.every):
            try:
                self.look()
                answered = time.monotonic()
            except BaseException as error:
                if not self.passing(error) or time.monotonic() - answered > self.patience:
                    self.error = error
                    return
