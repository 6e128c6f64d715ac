"""Where beats arrive in the kernel: the Jupyter comm target or the Colab callback, and the one live
session they answer for.

Every message from a page goes through :meth:`Receiver.handle`, which never raises and never lets a
message it does not recognise change anything: pages are untrusted input.
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from typing import Any

from ._session import REPLACED, STOPPED_FROM_BADGE, UNKNOWN, Session, Status

TARGET = "colab_jsalive"

_log = logging.getLogger("colab_jsalive")
_TOKEN = re.compile(r"[0-9a-f]{32}\Z")
_OPS = frozenset({"hello", "beat", "stop"})
_FRONTENDS = frozenset({"jupyterlab", "notebook", "nbclassic", "colab"})
_KEEP_ENDED = 32  # ended sessions remembered, so their pages learn why they were stopped
_MAX_COMMS = 8  # open comms per session (one per page connection; reconnects open new ones)
_MAX_UNANSWERED = 10_000


class Receiver:
    """Holds this kernel's live session and answers the pages that beat for it."""

    def __init__(self) -> None:
        self.live: Session | None = None
        self.latest: Session | None = None  # the live session, else the one that ended last
        self._ended: OrderedDict[str, Session] = OrderedDict()
        self._comms: dict[str, list[Any]] = {}  # session token -> its open comms
        self._registered: set[str] = set()  # channels whose receiver this kernel process has
        self._comm_manager: Any = None  # the kernel's own comm manager, once the Jupyter target is registered
        self._cell_started: float | None = None  # time.monotonic() when the running cell started, if one runs

    # -- sessions -------------------------------------------------------------------------------------

    def start(self, session: Session) -> None:
        """Make ``session`` the live one; the one it replaces is refused from now on."""
        if self.live is not None:
            self.end(self.live, REPLACED)
        self.live = self.latest = session

    def end(self, session: Session, reason: str) -> None:
        """End ``session`` and tell its open pages at once, rather than at their next beat."""
        session.stop(reason)
        if self.live is session:
            self.live = None
        self._ended[session.token] = session
        while len(self._ended) > _KEEP_ENDED:
            self._ended.popitem(last=False)
        for comm in self._comms.pop(session.token, []):
            self._send_and_close(comm, session.reply())

    def status(self, session: Session) -> Status:
        """``session``'s status, judging a silence only up to when the kernel could hear beats: a beat
        sent while a cell runs waits behind it."""
        return session.status(heard_until=self._cell_started)

    def watch_cells(self, shell: Any) -> None:
        """Follow when cells run in ``shell`` (IPython's pre/post_execute events), once per kernel."""
        if "cells" in self._registered:
            return
        shell.events.register("pre_execute", self._on_pre_execute)
        shell.events.register("post_execute", self._on_post_execute)
        self._registered.add("cells")

    def _on_pre_execute(self) -> None:
        self._cell_started = time.monotonic()

    def _on_post_execute(self) -> None:
        self._cell_started = None

    # -- messages from pages --------------------------------------------------------------------------

    def handle(self, data: object) -> dict[str, Any] | None:
        """Answer one message from a page: a reply, or None when the message is not ours to answer."""
        if not isinstance(data, dict):
            return None
        token, op, seq = data.get("session"), data.get("op"), data.get("seq")
        if not (isinstance(token, str) and _TOKEN.match(token) and isinstance(op, str) and op in _OPS):
            return None
        if not (isinstance(seq, int) and not isinstance(seq, bool) and 0 <= seq < 2**53):
            seq = None
        live = self.live
        import secrets  # here, not at import time: see Session.__init__ (a dictionary lookup after the first)

        if live is not None and secrets.compare_digest(token, live.token):
            if not live.active:  # max_duration passed since the last message
                self.end(live, live.reason)
            elif op == "stop":
                self.end(live, STOPPED_FROM_BADGE)
            elif op == "hello" and data.get("discarded") is True:
                live.record_discard()
            elif op == "beat":
                unanswered = data.get("unanswered")
                if not isinstance(unanswered, int) or isinstance(unanswered, bool):
                    unanswered = 0
                frontend = data.get("frontend")
                live.record_beat(
                    min(max(unanswered, 0), _MAX_UNANSWERED),
                    frontend if isinstance(frontend, str) and frontend in _FRONTENDS else "unknown",
                )
            return live.reply(seq)
        ended = self._ended.get(token)
        if ended is not None:
            return ended.reply(seq)
        return Session.refusal(token, UNKNOWN, seq)

    # -- the Jupyter channel --------------------------------------------------------------------------

    def register_jupyter(self, comm_manager: Any) -> None:
        """Register the comm target the snippet opens its comm to on ``comm_manager``, the kernel's
        own (see ``_environment.comm_manager``), once per kernel process."""
        if "jupyter" in self._registered:
            return
        comm_manager.register_target(TARGET, self._on_comm_open)
        self._comm_manager = comm_manager
        self._registered.add("jupyter")

    def _on_comm_open(self, comm: Any, open_msg: dict[str, Any]) -> None:
        reply = self._safe_handle(open_msg)
        if reply is None or reply["state"] != "running":
            self._send_and_close(comm, reply)
            return
        comms = self._comms.setdefault(reply["session"], [])
        comms.append(comm)
        if len(comms) > _MAX_COMMS:
            self._send_and_close(comms.pop(0), None)
        comm.on_msg(lambda msg: self._on_comm_msg(comm, msg))
        comm.send(reply)

    def _on_comm_msg(self, comm: Any, msg: dict[str, Any]) -> None:
        reply = self._safe_handle(msg)
        if reply is None:
            return
        try:
            comm.send(reply)
        except Exception:
            _log.debug("colab_jsalive: could not answer a beat", exc_info=True)

    def _safe_handle(self, msg: object) -> dict[str, Any] | None:
        # Nothing a page sends may raise inside the kernel's message loop.
        try:
            return self.handle(msg["content"]["data"])  # type: ignore[index]
        except Exception:
            _log.debug("colab_jsalive: ignored a malformed message", exc_info=True)
            return None

    def _send_and_close(self, comm: Any, reply: dict[str, Any] | None) -> None:
        """Send a last reply, then forget the comm.

        The comm is dropped from the kernel's comm manager without publishing comm_close: the page
        closes its end itself once it reads the reply, and a published comm_close would reach every
        frontend connected to this kernel, which log an error for a comm they do not know. A comm
        publishes comm_close when it is garbage-collected unless it is marked closed, which is how
        the comm managers themselves (ipykernel's and the ``comm`` package's) forget a comm the page
        closed.
        """
        try:
            if reply is not None:
                comm.send(reply)
            comm._closed = True
            self._comm_manager.unregister_comm(comm)
        except Exception:
            _log.debug("colab_jsalive: could not forget a comm", exc_info=True)

    # -- the Colab channel ----------------------------------------------------------------------------

    def register_colab(self) -> None:
        """Register the callback the snippet calls through google.colab.kernel.invokeFunction."""
        if "colab" in self._registered:
            return
        from google.colab import output

        output.register_callback(TARGET, self._on_colab_call)
        self._registered.add("colab")

    def _on_colab_call(self, *args: object, **kwargs: object) -> object:
        """Colab runs this as kernel code for each invokeFunction(TARGET, [message], {}) of a page.

        The reply travels back as the call's result, in ``data['application/json']``.
        """
        from IPython.display import JSON

        reply = None
        if len(args) == 1 and not kwargs:
            try:
                reply = self.handle(args[0])
            except Exception:
                _log.debug("colab_jsalive: ignored a malformed call", exc_info=True)
        return JSON(reply if reply is not None else {})


RECEIVER = Receiver()
