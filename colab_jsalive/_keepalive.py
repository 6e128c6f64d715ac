"""``inject()`` and its handle: the public face of the keep-alive."""

from __future__ import annotations

import warnings
from datetime import timedelta

from . import _validate
from ._environment import Environment, detect
from ._receiver import RECEIVER, TARGET
from ._session import STOPPED, Session, Status
from ._summary import output_line

FRONTENDS = ("auto", "jupyter", "colab")
_warned: set[str] = set()


class KeepAlive:
    """The handle ``inject()`` returns.

    ``with inject(): ...`` stops the keep-alive when the block ends, exceptions included.
    An inactive handle (outside a notebook, or after ``stop=True``) is harmless: ``stop()`` does
    nothing and ``status()`` says why nothing runs.
    """

    def __init__(self, session: Session | None, inactive: Status | None = None) -> None:
        self._session = session
        self._inactive = inactive  # what status() says when no session was started

    @property
    def active(self) -> bool:
        """True while this keep-alive runs: not stopped, replaced or expired."""
        return self._session is not None and self._session.active

    def stop(self) -> None:
        """Stop this keep-alive (the page stops at its next beat at the latest); quiet if it ended."""
        if self._session is not None and self._session.active:
            RECEIVER.end(self._session, STOPPED)

    def status(self) -> Status:
        """The kernel's view of this keep-alive."""
        if self._session is None:
            assert self._inactive is not None
            return self._inactive
        return RECEIVER.status(self._session)

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()  # and the exception, if any, goes on

    def __repr__(self) -> str:
        return repr(self.status())  # the summary for people


def inject(
    interval: float | timedelta | str = 60.0,
    *,
    stop: bool = False,
    max_duration: float | timedelta | str | None = 12 * 3600,
    label: str = "",
    frontend: str = "auto",
) -> KeepAlive:
    """Keep this kernel's runtime alive: the page beats back to the kernel every ``interval`` seconds.

    Shows a badge in the cell's output with the state, the beats, the time left and a Stop button.
    Calling it again replaces the running keep-alive.

    Args:
        interval: time between beats, more than 0 and at most one day: seconds (int or float), a
            ``timedelta``, or text such as ``"90s"`` or ``"2m"``. Under 1 s warns: it only wastes
            resources.
        stop: stop this kernel's keep-alive instead of starting one; quiet when nothing runs.
        max_duration: how long until the keep-alive ends by itself, in the page and in the kernel (12
            hours by default): seconds, a ``timedelta``, or text such as ``"30m"``, ``"8h"``,
            ``"1h30m"`` or ``"2d"`` (units in that order, each once); ``None`` runs it until stopped.
        label: text shown in the badge (as text, never as HTML).
        frontend: "auto" to detect Colab or Jupyter, or "colab" / "jupyter" to force one channel.

    Returns:
        A :class:`KeepAlive` handle. Outside a notebook kernel it is inactive, after one warning.

    Raises:
        TypeError, ValueError: for arguments of the wrong type or out of range.
    """
    seconds = _validate.interval(interval)
    limit = _validate.max_duration(max_duration)
    _validate.text(label, "label")
    _validate.flag(stop, "stop")
    _validate.choice(frontend, "frontend", FRONTENDS)
    if stop:
        session = RECEIVER.live
        if session is not None:
            RECEIVER.end(session, STOPPED)
            return KeepAlive(session)
        return KeepAlive(None, _inactive_status(detect(), "nothing was running"))
    if seconds < 1:
        warnings.warn(
            f"inject(interval={interval!r}): beats more often than once a second only waste resources; "
            "the default of 60 s keeps a runtime alive",
            RuntimeWarning,
            stacklevel=2,
        )
    environment = detect(frontend)
    if not environment.channel:
        if environment.kind not in _warned:
            _warned.add(environment.kind)
            warnings.warn(
                f"colab_jsalive.inject() does nothing here: {environment.reason}.",
                RuntimeWarning,
                stacklevel=2,
            )
        return KeepAlive(None, _inactive_status(environment, environment.reason, seconds, label))

    from IPython import get_ipython
    from IPython.display import display

    from ._render import Snippet

    session = Session(seconds, limit, label, channel=environment.channel)
    if environment.channel == "colab":
        RECEIVER.register_colab()
    else:
        RECEIVER.register_jupyter(environment.comm_manager)
    RECEIVER.watch_cells(get_ipython())
    RECEIVER.start(session)
    config = {
        "channel": environment.channel,
        "session": session.token,
        "kernel_id": environment.kernel_id,
        "target": TARGET,
        "interval": seconds,
        "max_duration": limit,
        "label": label,
    }
    display(Snippet(config, output_line(label, seconds, session.expires)))
    return KeepAlive(session)


def status() -> Status:
    """The kernel's view of its keep-alive: the live one, else the one that ended last."""
    session = RECEIVER.latest
    if session is None:
        environment = detect()
        return _inactive_status(environment, environment.reason or "inject() has not been called")
    return RECEIVER.status(session)


def _inactive_status(environment: Environment, reason: str, interval: float = 0.0, label: str = "") -> Status:
    return Status(
        active=False,
        frontend=environment.kind,
        beats=0,
        unanswered=0,
        last_beat=None,
        started=None,
        expires=None,
        interval=interval,
        label=label,
        reason=reason,
    )
