"""One notebook open in one frontend, driven as a person drives it: cells run through the frontend's own
machinery, so that outputs are trusted and their JavaScript runs as a user's would; the badge read from
the page; the keep-alive's WebSockets and timers as Chromium saw them."""

from __future__ import annotations

import json
import re
from collections.abc import Collection

from tests.support.browser import Chromium
from tests.support.waiting import holds_for, wait_for

# In-page helpers. Lab and Notebook 7 expose their app (expose_app_in_browser); cells are added and run
# through the app's own commands. The classic notebook has its global Jupyter.notebook.
_KERNEL_READY_JS = {
    "lab": """async () => {
        const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        if (!panel || !panel.sessionContext) return null;
        await panel.sessionContext.ready;
        const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
        return kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle' ? kernel.id : null;
    }""",
    "nbclassic": """() => {
        const nb = window.Jupyter && Jupyter.notebook;
        const k = nb && nb.kernel;
        return k && k.is_connected() && nb.kernel.id ? k.id : null;
    }""",
}
_KERNEL_STATE_JS = {  # for messages when a page's kernel is not ready
    "lab": """() => {
        const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
        const session = panel && panel.sessionContext && panel.sessionContext.session;
        const kernel = session && session.kernel;
        return kernel ? {id: kernel.id, status: kernel.status, connection: kernel.connectionStatus} : String(panel);
    }""",
    "nbclassic": """() => {
        const k = window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel;
        return k ? {id: k.id, connected: k.is_connected()} : null;
    }""",
}
_RUN_CELL_JS = {
    "lab": """async (code) => {
        const app = window.jupyterapp;
        const nb = app.shell.currentWidget.content;
        nb.activeCellIndex = nb.widgets.length - 1;
        await app.commands.execute('notebook:insert-cell-below');
        nb.activeCell.model.sharedModel.setSource(code);
        app.commands.execute('notebook:run-cell');  // started, not awaited: a cell may run for long
        return nb.widgets.length - 1;
    }""",
    "nbclassic": """(code) => {
        const nb = Jupyter.notebook;
        const cell = nb.insert_cell_at_bottom('code');
        cell.set_text(code);
        cell.execute();
        return nb.ncells() - 1;
    }""",
}
_RUN_ALL_JS = {
    "lab": "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }",
    "nbclassic": "() => { Jupyter.notebook.execute_all_cells(); }",
}
# Whether a JupyterLab or Notebook 7 page trusts cell i: it renders an untrusted cell's output without
# its JavaScript.
_TRUSTED_JS = "i => window.jupyterapp.shell.currentWidget.content.widgets[i].model.trusted"
_SAVE_JS = {
    "lab": "async () => { await window.jupyterapp.commands.execute('docmanager:save'); return true; }",
    "nbclassic": "async () => { await Jupyter.notebook.save_notebook(); return true; }",
}
# Deletes every cell but a new empty one at the top, through the notebook's own model.
_CLEAR_JS = {
    "lab": """() => {
        const shared = window.jupyterapp.shell.currentWidget.content.model.sharedModel;
        shared.insertCell(0, {cell_type: 'code', source: ''});
        shared.deleteCellRange(1, shared.cells.length);
    }""",
    "nbclassic": """() => {
        const nb = Jupyter.notebook;
        const old = [...Array(nb.ncells()).keys()].map(i => i + 1);
        nb.insert_cell_at_index('code', 0);
        nb.delete_cells(old);
    }""",
}
# Installed in every test page before its scripts run: a ledger of the timers the keep-alive's code
# sets (those whose creation stack passes through a KeepAlive method), so that a test can count the
# ones still pending and read the delays a method asked for. The page's own timers pass through
# untouched.
_TIMER_LEDGER_JS = """(() => {
    const pending = new Set();
    const set = window.setTimeout.bind(window);
    const clear = window.clearTimeout.bind(window);
    const asked = [];  // [the KeepAlive method that set the timer, its delay in ms], in order
    window.setTimeout = function (fn, ms, ...args) {
        const by = typeof fn === "function" && /KeepAlive\\.(\\w+)/.exec(new Error().stack || "");
        if (!by) return set(fn, ms, ...args);
        asked.push([by[1], ms]);
        const id = set(function () { pending.delete(id); return fn.apply(this, arguments); }, ms, ...args);
        pending.add(id);
        return id;
    };
    window.clearTimeout = function (id) { pending.delete(id); return clear(id); };
    window.__keepaliveTimers = () => pending.size;
    window.__keepaliveDelays = (method) => asked.filter(([m]) => m === method).map(([, ms]) => ms);
})();"""

# JupyterLab's own word on a loaded machine, about its own plugins: never the keep-alive's.
_SLOW_PLUGIN = re.compile(r"warning: Plugin \S+ \(with \d+ dependants\) took [\d.]+ms to activate\.$")

_CELL_SELECTOR = {"lab": ".jp-Notebook .jp-Cell", "nbclassic": "#notebook-container .cell"}


class SocketLog:
    """What one WebSocket of a page sent and whether it is closed, seen from the browser's side."""

    def __init__(self, ws):
        self.url = ws.url
        self.ours = False  # the frontend's own kernel connection uses the same URL; ours opens the comm
        self.closed = False
        self.beats: list[str] = []  # the session of every beat sent
        ws.on("framesent", self._sent)
        ws.on("close", lambda _ws: setattr(self, "closed", True))

    def _sent(self, payload) -> None:
        if not isinstance(payload, str) or ("colab_jsalive" not in payload and not self.ours):
            return
        msg = json.loads(payload)
        content = msg.get("content", {})
        if msg["header"]["msg_type"] == "comm_open" and content.get("target_name") == "colab_jsalive":
            self.ours = True
        elif self.ours and msg["header"]["msg_type"] == "comm_msg":
            data = content.get("data", {})
            if data.get("op") == "beat":
                self.beats.append(data.get("session"))


class KernelCulledStarting(Exception):
    """The server's culler took a page's new kernel before it had started (JupyterServer.culled_starting)."""


class NotebookPage:
    """One notebook open in one frontend, in a page of the browser's shared profile, or of a context
    of its own."""

    def __init__(
        self,
        browser: Chromium,
        server,
        frontend: str,
        notebook: str,
        port: int | None = None,
        context=None,
        init_script: str = "",
        wait: bool = True,
    ):
        """``server`` is anything with ``page_url()``: a JupyterServer, or a user of a JupyterHub whose
        ``context`` (a browser context, closed with the page) holds the hub's login cookies.
        ``init_script`` runs in the page before any of its own scripts. ``wait=False`` returns as soon
        as the page is loading, for the caller to wait_kernel()."""
        self.server = server
        self.frontend = frontend
        self.family = "nbclassic" if frontend == "nbclassic" else "lab"
        self.notebook = notebook
        self._own_context = context is not None
        self.page = context.new_page() if context is not None else browser.new_page()
        self.context = self.page.context
        self.console: list[str] = []  # "type: text" per console line, "pageerror: ..." per uncaught error
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.sockets: list[SocketLog] = []
        self.sockets_before_reload = 0
        self.page.on("websocket", lambda ws: self.sockets.append(SocketLog(ws)))
        # The keep-alive's questions to the server about its kernel (the frontends' own requests for
        # the kernel list do not say no_track_activity), counted once answered.
        self._kernel_checks = 0
        self.page.on("requestfinished", self._finished)
        self.page.add_init_script(_TIMER_LEDGER_JS)
        if init_script:
            self.page.add_init_script(init_script)
        self.page.goto(server.page_url(frontend, notebook, port=port), wait_until="domcontentloaded")
        self.kernel_id = self.wait_kernel() if wait else ""

    def forget(self) -> None:
        """Forget what the page has done so far (its sockets, console lines, kernel checks and last
        reload), so that what a test reads of it is its own."""
        self.page.evaluate("0")  # let Playwright deliver the events it holds, to be forgotten too
        self.sockets = []
        self.sockets_before_reload = 0
        self.console = []
        self._kernel_checks = 0

    def _finished(self, request) -> None:
        if "/api/kernels?no_track_activity=1" in request.url:
            self._kernel_checks += 1

    def kernel_checks(self) -> int:
        """How many times the keep-alive has asked the server for its list of kernels and had an answer."""
        self.page.evaluate("0")  # let Playwright deliver the events it holds
        return self._kernel_checks

    def keepalive_delays(self, method: str) -> list[float]:
        """The delays, in ms, of the timers the keep-alive's ``method`` (a KeepAlive method: "beat",
        "disconnected", ...) has set in this page, in order."""
        return self.page.evaluate("m => window.__keepaliveDelays(m)", method)

    def wait_kernel(self, timeout: float = 120, culled_starting=None) -> str:
        """Wait until the frontend shows the notebook with a connected, idle kernel; return its id.
        ``culled_starting(kernel_id)``, if given, says whether the server culled the page's kernel
        before it had started: then KernelCulledStarting is raised at once."""

        def ready():
            kernel_id = self.page.evaluate(_KERNEL_READY_JS[self.family])
            if kernel_id or culled_starting is None:
                return kernel_id
            state = self.page.evaluate(_KERNEL_STATE_JS[self.family])
            return isinstance(state, dict) and bool(state.get("id")) and culled_starting(state["id"]) and state

        try:
            found = wait_for(ready, timeout, f"{self.frontend} to open {self.notebook} with a running kernel")
        except TimeoutError as error:
            state = self.page.evaluate(_KERNEL_STATE_JS[self.family])
            raise TimeoutError(f"{error}; the page's kernel: {state}") from None
        if isinstance(found, dict):
            raise KernelCulledStarting(f"the server culled the kernel of {self.notebook} while it started: {found}")
        return found

    def reload(self) -> None:
        """Reload the page, as a user would; the frontend reopens the saved notebook."""
        self.page.evaluate("0")  # let Playwright deliver the WebSocket events it holds
        self.sockets_before_reload = len(self.sockets)
        self.page.reload(wait_until="domcontentloaded")
        assert self.wait_kernel() == self.kernel_id

    def run(self, code: str) -> int:
        """Add a cell holding ``code`` at the end of the notebook, start it, and return its index.

        Cells queue in the kernel in the order they are started; this does not wait for the cell.
        """
        return self.page.evaluate(_RUN_CELL_JS[self.family], code)

    def run_all(self) -> None:
        """Run every cell of the notebook, as its Run All command does; does not wait for them."""
        self.page.evaluate(_RUN_ALL_JS[self.family])

    def trusts(self, index: int) -> bool:
        """Whether the page (JupyterLab's or Notebook 7's) trusts cell ``index``, and so runs its outputs'
        JavaScript."""
        return self.page.evaluate(_TRUSTED_JS, index)

    def cell(self, index: int):
        return self.page.locator(_CELL_SELECTOR[self.family]).nth(index)

    def badge(self, index: int):
        return self.cell(index).locator(".colab-jsalive-badge")

    def badge_data(self, index: int) -> dict:
        """The badge's state as the snippet sets it on the element (data-state, data-beats, ...)."""
        return self.badge(index).evaluate(
            "el => Object.assign({text: el.querySelector('.colab-jsalive-text').textContent}, el.dataset)"
        )

    def wait_badge(self, index: int, state: str, timeout: float = 30) -> dict:
        seen = []  # the last badge read, for the message on a timeout

        def shows_state():
            seen[:] = [self.badge_data(index)]
            return seen[0]["state"] == state and seen[0]

        try:
            return wait_for(shows_state, timeout, f"the badge in cell {index} to show {state!r}")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; it showed {seen[0] if seen else 'nothing'}") from None

    def press_stop(self, index: int, timeout: float = 30) -> dict:
        """Press the Stop button of the badge in cell ``index``, as a person would, and wait until the
        badge says it stopped for that reason; returns what the badge then shows."""
        from colab_jsalive._session import STOPPED_FROM_BADGE

        self.badge(index).locator("button.colab-jsalive-stop").click()
        badge = self.wait_badge(index, "stopped", timeout)
        assert badge["reason"] == STOPPED_FROM_BADGE, badge
        return badge

    def keepalive_sockets(self) -> list[SocketLog]:
        """The WebSockets the keep-alive opened in this page, as Chromium saw them."""
        self.page.evaluate("0")  # let Playwright deliver the WebSocket events it holds
        return [log for log in self.sockets if log.ours]

    def start_keepalive(self, code: str) -> tuple[int, str]:
        """Run ``code`` (which calls inject()) in a new cell; wait for its badge to run.

        Returns the cell's index and the session the page beats with, read from the frames Chromium saw.
        """
        cell = self.run(code)
        self.wait_badge(cell, "running")
        return cell, self.beating_session()

    def beating_session(self, timeout: float = 10) -> str:
        """The session of the keep-alive the page beats, read from the frames Chromium saw."""
        return wait_for(
            lambda: next((s.beats[-1] for s in self.keepalive_sockets() if s.beats and not s.closed), None),
            timeout,
            "a beat from the page",
        )

    def sockets_to(self, url: str) -> int:
        """How many WebSockets the page has opened to ``url`` (each reconnect opens a new one)."""
        self.page.evaluate("0")  # let Playwright deliver the WebSocket events it holds
        return sum(log.url == url for log in self.sockets)

    def beats_sent(self, session: str, since_reload: bool = False) -> int:
        """Beats for ``session`` the page sent (``since_reload``: only on sockets the page opened after
        its last reload())."""
        self.page.evaluate("0")  # let Playwright deliver the WebSocket events it holds
        first = self.sockets_before_reload if since_reload else 0
        return sum(log.beats.count(session) for log in self.sockets[first:] if log.ours)

    def stopped_for_good(self, session: str, interval: float) -> None:
        """The keep-alive of ``session`` stopped for good in this page: its WebSockets close, no beat of it
        leaves the page for four intervals, and, where no other keep-alive runs in the page, no timer of
        the keep-alive's code is left."""
        ours = [s for s in self.keepalive_sockets() if session in s.beats]
        # A socket is closed once the server answers the close: on a loaded machine, a server busy restarting
        # a killed kernel has answered after more than 10 s (seen with two compat rows side by side).
        wait_for(lambda: all(s.closed for s in ours), 30, f"the WebSockets of session {session} to close")
        sent = self.beats_sent(session)
        holds_for(lambda: self.beats_sent(session) == sent, 4 * interval, f"silence from session {session}")
        if self.page.locator('.colab-jsalive-badge:not([data-state="stopped"])').count() == 0:
            assert self.keepalive_timers() == 0, "a timer of the keep-alive is left in the page"

    def keepalive_timers(self) -> int:
        """How many timers the keep-alive's code has set in this page that have neither fired nor been
        cleared."""
        return self.page.evaluate("window.__keepaliveTimers()")

    def save(self) -> None:
        self.page.evaluate(_SAVE_JS[self.family])

    def save_with_keepalive(self, timeout: float = 20) -> None:
        """Save the notebook, and wait until the file on its server holds a keep-alive's output."""
        self.save()
        wait_for(
            lambda: "application/javascript" in (self.server.root / self.notebook).read_text(),
            timeout,
            "the notebook saved with its keep-alive",
        )

    def clear(self) -> None:
        """Delete every cell and its outputs, leaving one empty cell, and wait until the page shows that."""
        self.page.evaluate(_CLEAR_JS[self.family])
        wait_for(lambda: self.page.locator(_CELL_SELECTOR[self.family]).count() == 1, 30, "the cells deleted")

    def problems(
        self, since: int = 0, kinds: tuple[str, ...] = ("warning", "error", "pageerror"), ignore: Collection[str] = ()
    ) -> list[str]:
        """The page's console lines of these ``kinds`` from line ``since`` on (``len(page.console)``
        taken earlier), except those in ``ignore``."""
        return [
            line
            for line in self.console[since:]
            if line.split(":", 1)[0] in kinds and line not in ignore and not _SLOW_PLUGIN.match(line)
        ]

    def close(self) -> None:
        if self._own_context:
            self.context.close()
        else:
            self.page.close()


_HIDE_PAGE_JS = """() => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
    Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
    document.dispatchEvent(new Event('visibilitychange'));
    return document.visibilityState;
}"""


def hide_page(page: NotebookPage) -> str:
    """Tell the page, as the browser does when a person switches to another tab, that it is hidden
    (JupyterLab's polls then stand by); returns the visibility the page then reads. Only what the page
    reads changes: Chromium does not throttle its timers, as it would a hidden tab's to one wake-up a
    second (no slower than the tests' beats) and, after five minutes, chained ones to one a minute."""
    return page.page.evaluate(_HIDE_PAGE_JS)
