"""Real parts for the tests and the demo: a jupyter_server, headless Chromium, and the three frontends.

Nothing here is emulated. The server is started as a subprocess with private Jupyter directories, the
browser is Debian's Chromium (or Playwright's) driven by Playwright, and cells run through each
frontend's own machinery, so the outputs are trusted and their JavaScript runs as a user's would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat

from tests.ports import free_port, kernels_take_free_ports

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ALL_FRONTENDS = ("jupyterlab", "notebook", "nbclassic")
# The frontends this environment serves. `make test` has all three; each row of `make test-compat`
# names its own (the classic notebook alone on Colab's stack), so that none goes missing unnoticed.
FRONTENDS = tuple(os.environ.get("COLAB_JSALIVE_FRONTENDS", ",".join(ALL_FRONTENDS)).split(","))


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


def write_notebook(folder: Path, name: str) -> str:
    """An empty Python 3 notebook ``name`` in ``folder``, with one empty cell; returns ``name``."""
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(""))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / name)
    return name


# The server's configuration, in its own config directory: every kernel's ports from tests/ports.py.
_SERVER_CONFIG = """\
import importlib.util
spec = importlib.util.spec_from_file_location("colab_jsalive_test_ports", {path!r})
ports = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ports)
ports.kernels_take_free_ports()
"""


def chromium_executable() -> str | None:
    """The system Chromium if there is one; None lets Playwright use its own download."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a server's kernels), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


class JupyterServer:
    """A real jupyter_server with JupyterLab, Notebook 7 and nbclassic, in its own directories."""

    started_once = False

    def __init__(
        self,
        workdir: Path,
        base_url: str = "/",
        cull_idle_timeout: int | None = None,
        cull_interval: int = 2,
        cull_connected: bool = True,
        cull_busy: bool = False,
        env: dict | None = None,
        args: tuple[str, ...] = (),
        token: str | None = None,
    ):
        """``cull_idle_timeout`` switches the kernel culler on. ``cull_connected`` is True here, unlike
        jupyter_server's default, so that an open page does not protect an idle kernel by itself;
        ``cull_busy`` keeps jupyter_server's default (a busy kernel is never culled). ``token=""`` runs
        the server without one, as SageMaker Studio does behind its own proxy."""
        self.workdir = Path(workdir)
        self.root = self.workdir / "notebooks"
        self.base_url = base_url
        self.token = "tok-" + secrets.token_hex(12) if token is None else token
        self.port = free_port()
        self.cull_idle_timeout = cull_idle_timeout
        self.cull_interval = cull_interval
        self.cull_connected = cull_connected
        self.cull_busy = cull_busy
        self.process: subprocess.Popen | None = None
        self.env = env or {}  # extra environment for the server and the kernels it starts
        self.args = list(args)  # extra command-line options

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def start(self) -> JupyterServer:
        """Start the server and wait until it answers. On its first start, a port some other process
        took since free_port() chose it (tests run side by side) means another port; a restart keeps
        its port, as a restarted server does."""
        for attempt in range(3):
            self._launch()
            if self._wait_answering():
                return self
            if self.started_once or attempt == 2 or "already in use" not in self._log_tail():
                break
            self.port = free_port()
        raise RuntimeError(f"the Jupyter server on port {self.port} exited:\n{self._log_tail()}")

    def _launch(self) -> None:
        for name in ("notebooks", "data", "config", "runtime"):
            (self.workdir / name).mkdir(parents=True, exist_ok=True)
        (self.workdir / "config" / "jupyter_server_config.py").write_text(
            _SERVER_CONFIG.format(path=str(Path(__file__).with_name("ports.py")))
        )
        env = dict(
            os.environ,
            JUPYTER_DATA_DIR=str(self.workdir / "data"),
            JUPYTER_CONFIG_DIR=str(self.workdir / "config"),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONWARNINGS="ignore",
            **self.env,
        )
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={self.port}",
            "--port-retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            "--allow-root",
            f"--ServerApp.root_dir={self.root}",
            f"--ServerApp.base_url={self.base_url}",
            "--LabApp.expose_app_in_browser=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
            # Lab's news and update checks would try the internet on every page load.
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
        args += self.args
        if self.cull_idle_timeout is not None:
            args += [
                f"--MappingKernelManager.cull_idle_timeout={self.cull_idle_timeout}",
                f"--MappingKernelManager.cull_interval={self.cull_interval}",
                f"--MappingKernelManager.cull_connected={self.cull_connected}",
                f"--MappingKernelManager.cull_busy={self.cull_busy}",
            ]
        self.log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 (open while the server runs; stop() closes it)
        self.log_start = self.log.tell()
        # Kernels started without a notebook run in the server's working directory: the notebooks'
        # folder, so that they import the installed colab_jsalive, never a source tree beside them.
        self.process = subprocess.Popen(args, env=env, cwd=self.root, stdout=self.log, stderr=subprocess.STDOUT)

    def _wait_answering(self, timeout: float = 60) -> bool:
        """True once the server answers; False if it exited first. Raises if it does neither in time."""
        deadline = time.monotonic() + timeout
        while self.process.poll() is None:
            try:
                self.api("GET", "api/status")
                self.started_once = True
                return True
            except OSError:  # not listening yet (URLError and connection errors are OSErrors)
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"timed out after {timeout:g} s waiting for the Jupyter server to answer:\n{self._log_tail()}"
                )
            time.sleep(0.1)
        self.log.close()
        return False

    def _log_tail(self) -> str:
        with open(self.workdir / "server.log", "rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")[-3000:]

    def stop(self, abruptly: bool = False) -> None:
        """Stop the server: gracefully (it shuts its kernels down, still answering requests meanwhile),
        or ``abruptly``, as a crash or a lost machine does: killed at once, and its kernels with it."""
        if self.process is not None and self.process.poll() is None:
            if abruptly:
                kernels = _children(self.process.pid)
                self.process.kill()
                for pid in kernels:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            else:
                self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def api(self, method: str, path: str, body: dict | None = None):
        """Call the REST API without counting as user activity."""
        sep = "&" if "?" in path else "?"
        request = urllib.request.Request(
            f"{self.url}{path}{sep}no_track_activity=1",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Content-Type": "application/json",
                **({"Authorization": f"token {self.token}"} if self.token else {}),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data = response.read()
        return json.loads(data) if data else None

    def kernel_ids(self) -> set[str]:
        return {k["id"] for k in self.api("GET", "api/kernels")}

    def shutdown_kernel(self, kernel_id: str) -> None:
        try:
            self.api("DELETE", f"api/kernels/{kernel_id}")
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise

    def connection_file(self, kernel_id: str) -> Path:
        return self.workdir / "runtime" / f"kernel-{kernel_id}.json"

    def new_notebook(self, name: str) -> str:
        return write_notebook(self.root, name)

    def page_url(self, frontend: str, notebook: str, workspace: str = "", port: int | None = None) -> str:
        if frontend == "jupyterlab":
            # Each Lab page gets a workspace of its own, or Lab would reopen earlier notebooks too.
            path = f"lab/workspaces/{workspace or secrets.token_hex(4)}/tree/{notebook}"
        elif frontend == "notebook":
            path = f"notebooks/{notebook}"
        else:
            from nbclassic import nbclassic_path  # "/nbclassic" beside Notebook 7, "" beside Notebook 6

            path = f"{nbclassic_path()}/notebooks/{notebook}".lstrip("/")
        url = self.url if port is None else f"http://127.0.0.1:{port}{self.base_url}"
        return f"{url}{path}?token={self.token}" if self.token else f"{url}{path}"


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

_CELL_SELECTOR = {"lab": ".jp-Notebook .jp-Cell", "nbclassic": "#notebook-container .cell"}


class DroppingProxy:
    """A loopback TCP proxy between the browser and the server that can cut every connection.

    While dropped, every open connection is closed and new ones are closed as soon as they arrive, as
    when a network or a reverse proxy in between goes away.
    """

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # stopped
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            self._close(s)

    def _close(self, s: socket.socket) -> None:
        with self.lock:
            self.connections.discard(s)
        with contextlib.suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)
        s.close()

    def drop(self) -> None:
        self.up = False
        with self.lock:
            connections = list(self.connections)
        for s in connections:
            self._close(s)

    def restore(self) -> None:
        self.up = True

    def stop(self) -> None:
        self.drop()
        self.listener.close()


class StaticServer:
    """Serves a folder over HTTP on loopback, in a thread, for pages the tests need besides Jupyter's."""

    def __init__(self, folder: Path):
        import functools
        import http.server

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


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


class NotebookPage:
    """One notebook open in one frontend, in a page of the browser's shared profile, or of a context
    of its own."""

    def __init__(self, browser: Chromium, server, frontend: str, notebook: str, port: int | None = None, context=None):
        """``server`` is anything with ``page_url()``: a JupyterServer, or a user of a JupyterHub whose
        ``context`` (a browser context, closed with the page) holds the hub's login cookies."""
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
        self.page.goto(server.page_url(frontend, notebook, port=port), wait_until="domcontentloaded")
        self.kernel_id = self.wait_kernel()

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

    def wait_kernel(self, timeout: float = 120) -> str:
        """Wait until the frontend shows the notebook with a connected, idle kernel; return its id."""
        try:
            return wait_for(
                lambda: self.page.evaluate(_KERNEL_READY_JS[self.family]),
                timeout,
                f"{self.frontend} to open {self.notebook} with a running kernel",
            )
        except TimeoutError as error:
            state = self.page.evaluate(_KERNEL_STATE_JS[self.family])
            raise TimeoutError(f"{error}; the page's kernel: {state}") from None

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
        session = wait_for(
            lambda: next((s.beats[-1] for s in self.keepalive_sockets() if s.beats and not s.closed), None),
            10,
            "a beat from the page",
        )
        return cell, session

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

    def keepalive_timers(self) -> int:
        """How many timers the keep-alive's code has set in this page that have neither fired nor been
        cleared."""
        return self.page.evaluate("window.__keepaliveTimers()")

    def save(self) -> None:
        self.page.evaluate(_SAVE_JS[self.family])

    def clear(self) -> None:
        """Delete every cell and its outputs, leaving one empty cell, and wait until the page shows that."""
        self.page.evaluate(_CLEAR_JS[self.family])
        wait_for(lambda: self.page.locator(_CELL_SELECTOR[self.family]).count() == 1, 30, "the cells deleted")

    def problems(
        self, since: int = 0, kinds: tuple[str, ...] = ("warning", "error", "pageerror"), ignore: Collection[str] = ()
    ) -> list[str]:
        """The page's console lines of these ``kinds`` from line ``since`` on (``len(page.console)``
        taken earlier), except those in ``ignore``."""
        return [line for line in self.console[since:] if line.split(":", 1)[0] in kinds and line not in ignore]

    def close(self) -> None:
        if self._own_context:
            self.context.close()
        else:
            self.page.close()


class KernelClient:
    """A client of a kernel straight over ZMQ, from its connection file: no server, no browser."""

    def __init__(self, connection_file: Path, manager=None):
        """``manager`` is the KernelManager where this process started the kernel itself, whose client
        this becomes; without one, the client connects through the connection file."""
        # Every call to the client runs on one thread of its own. jupyter_client 7's blocking calls run
        # the calling thread's asyncio loop through nest_asyncio; on the main thread of a browser test
        # that loop is Playwright's (its sync API marks its loop as running there between calls), and
        # re-entering it corrupts Playwright's next call ("pop from an empty deque", seen in the
        # colab-2026-08 row of make test-compat).
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="kernel-client")
        self.client = self._call(self._connect, connection_file, manager)

    def _call(self, function, *args, **kwargs):
        return self._thread.submit(function, *args, **kwargs).result()

    @staticmethod
    def _connect(connection_file: Path, manager):
        from jupyter_client import BlockingKernelClient

        if manager is not None:
            client = manager.client()
        else:
            client = BlockingKernelClient(connection_file=str(connection_file))
            client.load_connection_file()
        client.start_channels()
        _nudge(client, 60)
        return client

    def run(self, code: str, timeout: float = 60) -> str:
        """Run ``code`` in the kernel; return its stdout, or raise with the kernel's traceback."""
        out: list[str] = []
        errors: list[str] = []

        def on_output(msg):
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                errors.append("\n".join(msg["content"]["traceback"]))

        with _waking(self.client.get_connection_info()):
            self._call(self.client.execute_interactive, code, timeout=timeout, output_hook=on_output)
        if errors:
            raise RuntimeError(f"kernel error running {code!r}:\n{errors[0]}")
        return "".join(out)

    def wait_iopub(self, timeout: float = 60) -> None:
        """Wait until the kernel's IOPub reaches this client again. After the server restarts a kernel,
        the client's subscription reconnects some time after the new kernel answers on the shell
        channel, and what the kernel publishes meanwhile never arrives ("Timeout waiting for output")."""
        self._call(_nudge, self.client, timeout)

    def start(self, code: str) -> None:
        """Send ``code`` to run as a cell and return at once, while it may still run."""
        self._call(self.client.execute, code)

    def send(self, msg_type: str, content: dict) -> None:
        """Send one raw message on the shell channel, without waiting for anything."""
        self._call(lambda: self.client.shell_channel.send(self.client.session.msg(msg_type, content)))

    def status(self) -> dict:
        """colab_jsalive.status() in the kernel, as a dict."""
        text = self.run(
            "import colab_jsalive as _cj, dataclasses as _dc, json as _json\n"
            "print(_json.dumps(_dc.asdict(_cj.status()), default=str))"
        )
        return json.loads(text)

    def close(self) -> None:
        self._call(self.client.stop_channels)
        self._thread.shutdown()


def _nudge(client, timeout: float) -> None:
    """Ask the kernel for its info until its answer arrives on IOPub: then the kernel runs and this
    client hears what it publishes. (jupyter_client's wait_for_ready also asks the heartbeat, which a
    kernel still starting on a busy machine can miss: "Kernel died before replying to kernel_info".)"""
    from queue import Empty

    deadline = time.monotonic() + timeout
    with _waking(client.get_connection_info()):
        while time.monotonic() < deadline:
            msg_id = client.kernel_info()
            try:
                while True:
                    if client.get_iopub_msg(timeout=1)["parent_header"].get("msg_id") == msg_id:
                        return
            except Empty:
                continue
    raise TimeoutError(f"timed out after {timeout:g} s waiting for the kernel's IOPub")


# How long a test's client waits on a kernel before it opens another connection to it (see _waking).
STALL_AFTER = 10.0


@contextlib.contextmanager
def _waking(info: dict):
    """While the block runs, every STALL_AFTER seconds open a new connection to the shell socket of the
    kernel that connection ``info`` names, and close the one before. ipykernel 7.0 to 7.3 can stop
    reading a connection whose message arrives as it sends a reply (ipython/ipykernel#1554, fixed in
    7.4): the kernel stays idle and the test's request goes unanswered. A connection of another
    identity makes it read again. Opening one sends nothing, so the kernel does nothing for it."""
    import zmq

    address = f"{info['transport']}://{info['ip']}:{info['shell_port']}"
    done = threading.Event()

    def wake() -> None:
        other = None
        while not done.wait(STALL_AFTER):
            fresh = zmq.Context.instance().socket(zmq.DEALER)  # an identity of its own
            fresh.connect(address)
            if other is not None:
                other.close(linger=0)
            other = fresh
        if other is not None:
            other.close(linger=0)

    waker = threading.Thread(target=wake, daemon=True)
    waker.start()
    try:
        yield
    finally:
        done.set()
        waker.join()


class KernelSocket:
    """A WebSocket to a kernel's channels through the server, speaking the JSON protocol the way the
    snippet and the frontends do; it sees every IOPub message the kernel publishes."""

    def __init__(self, server: JupyterServer, kernel_id: str):
        import websocket  # websocket-client, which jupyter_server depends on

        self.kernel_id = kernel_id
        self.session = secrets.token_hex(16)
        self.ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}{server.base_url}api/kernels/{kernel_id}/channels"
            f"?session_id={self.session}&token={server.token}",
            timeout=60,
        )
        self.backlog: list[dict] = []  # received, not yet taken by wait()
        self.connection_info = json.loads(server.connection_file(kernel_id).read_text())

    def send(self, msg_type: str, content: dict) -> str:
        """Send one message on the shell channel; return its msg_id."""
        msg_id = secrets.token_hex(16)
        self.ws.send(
            json.dumps(
                {
                    "channel": "shell",
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": msg_type,
                        "username": "",
                        "session": self.session,
                        "date": "2026-01-01T00:00:00Z",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "content": content,
                    "buffers": [],
                }
            )
        )
        return msg_id

    def wait(self, condition, timeout: float, what: str) -> dict:
        """Take and return the first message, received or still to come, for which ``condition`` holds."""
        import websocket

        deadline = time.monotonic() + timeout
        with _waking(self.connection_info):
            while True:
                for msg in self.backlog:
                    if condition(msg):
                        self.backlog.remove(msg)
                        return msg
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
                self.ws.settimeout(left)
                try:
                    # Control frames come back too: the server's pings (every 30 s) would otherwise keep
                    # one recv() reading past any deadline.
                    opcode, data = self.ws.recv_data(control_frame=True)
                except websocket.WebSocketTimeoutException:
                    continue  # the deadline is checked above
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    self.backlog.append(json.loads(data))

    def nudge(self, timeout: float = 60) -> None:
        """Wait until the kernel's IOPub reaches this socket: after a restart the server reconnects it
        some time after the kernel already answers on the shell channel (jupyter_server's own "nudge")."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self.send("kernel_info_request", {})
            try:
                self.wait(
                    lambda m: m.get("channel") == "iopub" and m.get("parent_header", {}).get("msg_id") == msg_id, 1, ""
                )
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"timed out after {timeout:g} s waiting for the kernel's IOPub") from None

    def request(self, code: str, *, store_history: bool = False, stop_on_error: bool = True) -> str:
        """Send ``code`` to run as a cell; return the request's msg_id. After a failed cell ipykernel
        aborts the requests that reach it in the moment after, unless that cell's stop_on_error is false."""
        return self.send(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": store_history,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": stop_on_error,
            },
        )

    def outcome(self, msg_id: str, timeout: float, what: str) -> tuple[dict, list[dict]]:
        """The reply to request ``msg_id`` and every IOPub message it caused, up to the kernel's idle
        status (IOPub may trail the reply)."""

        def ours(channel):
            return lambda m: m.get("channel") == channel and m.get("parent_header", {}).get("msg_id") == msg_id

        reply = self.wait(ours("shell"), timeout, f"the reply to {what}")
        outputs = []
        while True:
            msg = self.wait(ours("iopub"), timeout, f"the outputs of {what}")
            if msg["header"]["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return reply, outputs
            outputs.append(msg)

    def execute(self, code: str, timeout: float = 60) -> list[dict]:
        """Run ``code`` as a cell; return the IOPub messages it caused, or raise with the kernel's error."""
        reply, outputs = self.outcome(self.request(code), timeout, repr(code))
        for msg in outputs:
            if msg["header"]["msg_type"] == "error":
                raise RuntimeError(f"kernel error running {code!r}:\n" + "\n".join(msg["content"]["traceback"]))
        if reply["content"]["status"] == "aborted":  # busy, then idle, and nothing between
            raise RuntimeError(
                f"the kernel aborted {code!r}: it aborts requests that arrive just after a "
                "cell failed, unless that cell was sent with stop_on_error false"
            )
        return outputs

    def close(self) -> None:
        self.ws.close()


def snippet_session(outputs: list[dict]) -> str:
    """The session token of the keep-alive snippet among a cell's outputs."""
    (code,) = [
        m["content"]["data"]["application/javascript"]
        for m in outputs
        if m["header"]["msg_type"] == "display_data" and "application/javascript" in m["content"]["data"]
    ]
    return re.search(r'"session":\s*"([0-9a-f]{32})"', code).group(1)


class StandaloneKernel:
    """A real ipykernel started without any Jupyter server, as a context manager.

    ``connection_file`` names it: ``kernel-<uuid>.json`` is how a Jupyter server names its kernels.
    """

    def __init__(self, connection_file: Path, env: dict | None = None):
        from jupyter_client import KernelManager

        kernels_take_free_ports()
        self.connection_file = connection_file
        self.manager = KernelManager(connection_file=str(connection_file))
        self.env = {**os.environ, **(env or {})}

    def __enter__(self) -> KernelClient:
        """Start the kernel; return a :class:`KernelClient` of it."""
        self.manager.start_kernel(env=self.env)
        self.client = KernelClient(self.connection_file, self.manager)
        return self.client

    def __exit__(self, *exc_info) -> None:
        self.client.close()
        self.manager.shutdown_kernel(now=True)


def write_apart_page(folder: Path, server: JupyterServer) -> None:
    """Write ``folder/index.html``: a JupyterLab-like page served apart from ``server`` (by a
    StaticServer), naming it in its page config as JupyterLab allows: a whole URL for baseUrl, and the
    token on sockets too, since cookies do not reach another origin. Its ``#out`` is where
    show_snippet() runs a snippet."""
    base = f"http://127.0.0.1:{server.port}/"
    config = json.dumps(
        {
            "appName": "JupyterLab",
            "baseUrl": base,
            "token": server.token,
            "wsUrl": base.replace("http", "ws", 1),
            "appendToken": "true",
        }
    )
    (folder / "index.html").write_text(
        f"<!doctype html><script id='jupyter-config-data' type='application/json'>{config}</script><div id='out'></div>"
    )


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


def endless_cell(print_every: float | None = None) -> str:
    """The code of a cell that runs until its kernel is shut down: a silent one (a model training with
    no progress output), or one that prints a line every ``print_every`` seconds. A trial's long cells
    never end by themselves, so none can end before a watch that starts only after a set-up whose
    length depends on the machine."""
    if print_every is None:
        return "import time\nwhile True:\n    time.sleep(60)"
    return (
        f"import itertools, time\nfor n in itertools.count():\n    print(n, flush=True)\n    time.sleep({print_every})"
    )


def start_busy_cell(page: NotebookPage, print_every: float | None = None) -> None:
    """Start an endless_cell() in ``page`` and wait until its kernel is busy with it."""
    page.run(endless_cell(print_every))
    wait_for(
        lambda: page.server.api("GET", f"api/kernels/{page.kernel_id}")["execution_state"] == "busy",
        30,
        "the kernel busy with the cell",
    )


# The situations a notebook is left in, for the trials with and without the keep-alive.
SITUATIONS = ("idle, tab visible", "idle, tab hidden", "busy, silent cell", "busy, cell printing", "tab closed")


@dataclass
class TrialRun:
    """One notebook of a with-and-without trial: a situation on a server, with or without the keep-alive."""

    server: JupyterServer
    situation: str
    keepalive: bool
    page: NotebookPage | None = None
    kernel_id: str = ""
    cell: int = -1  # the inject() cell
    beats: int = 0  # the badge's count when the tab was closed or the watch ended
    errors: tuple[str, ...] = ()  # the page's errors, read then too

    def set_up(self, browser: Chromium, frontend: str, notebook: str, interval: float, print_every: float) -> None:
        """Open ``notebook``, run inject(interval=...) if this run has the keep-alive (else wait for the
        new kernel to be idle), and leave the notebook in the run's situation."""
        self.page = NotebookPage(browser, self.server, frontend, notebook)
        self.kernel_id = self.page.kernel_id
        if self.keepalive:
            self.cell, _ = self.page.start_keepalive(
                f"import colab_jsalive\nka = colab_jsalive.inject(interval={interval})"
            )
        else:
            wait_for(
                lambda: self.server.api("GET", f"api/kernels/{self.kernel_id}")["execution_state"] == "idle",
                30,
                "the new kernel idle",
            )
        if self.situation == "idle, tab hidden":
            assert hide_page(self.page) == "hidden"
        elif self.situation.startswith("busy"):
            start_busy_cell(self.page, print_every if self.situation == "busy, cell printing" else None)
        elif self.situation == "tab closed":
            self.read_page()
            self.page.close()
            self.page = None
            wait_for(
                lambda: self.server.api("GET", f"api/kernels/{self.kernel_id}")["connections"] == 0,
                30,
                "the closed tab's connections gone",
            )

    def read_page(self) -> None:
        """Read the beats and the errors from the page, while it is open."""
        self.beats = int(self.page.badge_data(self.cell)["beats"]) if self.keepalive else 0
        self.errors = tuple(self.page.problems(kinds=("pageerror",)))


def show_snippet(page, code: str) -> None:
    """Run a rendered snippet in ``page`` as Jupyter runs an output's JavaScript: with ``element`` bound
    to the output node (the page's ``#out``)."""
    page.evaluate("code => { const element = document.getElementById('out'); eval(code); }", code)


def change_theme(page, theme: str) -> None:
    """Switch a JupyterLab or Notebook 7 page to ``theme`` ("JupyterLab Dark", ...) as its Settings menu
    does, and wait until the page says it is applied. The choice is kept in the server's user settings."""
    page.evaluate("theme => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    wait_for(lambda: page.evaluate("document.body.dataset.jpThemeName") == theme, 30, f"the page to apply {theme}")


class Chromium:
    """Headless Chromium for the tests, the demo and the benchmarks.

    Notebook pages open in one persistent profile (new_page()): its disk cache keeps the frontends'
    scripts, and the code Chromium compiled from them, from one page to the next, so that a later page
    of JupyterLab costs about a third less CPU than one in a fresh context, and one of Notebook 7 or the
    classic notebook about half (measured on this project's 2-core machine), and the server sends no
    script twice. The pages stay apart where a test looks: each server has its own port, and with it its
    own login cookie and storage, and each page its own WebSockets, console and timers. A test that
    needs a context of its own (a hub's user, with their login cookies; a colour scheme) asks
    new_context(): an off-the-record context of a second Chromium, started when first asked for.
    """

    def __init__(self, playwright, profile: Path):
        """``profile``: the shared profile's folder (empty, or one an earlier Chromium left)."""
        self._playwright = playwright
        self.shared = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_executable(), args=CHROMIUM_ARGS, viewport={"width": 1200, "height": 900}
        )
        # Cookies are kept per host, not per port: each server's `_xsrf` cookie, set for its base URL,
        # would reach every server below that path too (one at / and one at /user/tester/), and the
        # classic notebook would send the token of one while the server checks the other (403: no
        # kernel). One `_xsrf` cookie for the whole host, set first, is the one every server then uses.
        self.shared.add_cookies([{"name": "_xsrf", "value": secrets.token_hex(16), "domain": "127.0.0.1", "path": "/"}])
        self._apart = None

    def new_page(self):
        """A page in the shared profile; close the page (never the profile) when done."""
        return self.shared.new_page()

    def new_context(self, **options):
        """A browser context of its own, off the record; close it when done."""
        if self._apart is None:
            self._apart = self._playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        return self._apart.new_context(**options)

    def close(self) -> None:
        self.shared.close()
        if self._apart is not None:
            self._apart.close()


@dataclass
class CullingCase:
    """One pair of notebooks of a culling trial, open in ``frontend`` on ``server``: ``keep`` runs
    inject(), ``control`` runs a cell and nothing else. Times are seconds, filled in by culling_trial()."""

    server: JupyterServer
    frontend: str
    keep: NotebookPage | None = None
    control: NotebookPage | None = None
    cell: int = -1  # the inject() cell of ``keep``
    control_started: float = 0.0  # time.monotonic() when the control's cell ran
    keep_started: float = 0.0  # ... and when inject()'s badge showed it running
    control_culled_after: float | None = None  # first seen gone, after control_started
    keep_culled_after: float | None = None  # first seen gone during the watch, after keep_started
    watched_for: float = 0.0  # how long after keep_started the server last listed the kernel, before Stop
    beats: int = 0  # the badge's count when the watch ended
    culled_after_stop: float | None = None  # first seen gone after Stop was pressed
    # What the server's GET api/kernels said of the keep-alive's kernel during the watch: the oldest its
    # last_activity was seen (seconds before the answer), and the fewest connections it had.
    keep_activity_age: float = 0.0
    keep_connections: int | None = None
    control_activity_age: float = 0.0  # ... and the oldest the control's last_activity was seen

    def __post_init__(self) -> None:
        assert self.server.cull_idle_timeout, "a culling trial needs a server with an idle culler"


def utc_time(stamp: str):
    """A time as Jupyter's, JupyterHub's and SageMaker's APIs give it (ISO 8601 in UTC, ending in "Z" or
    "z", which Python 3.10's fromisoformat does not read), as an aware datetime."""
    from datetime import datetime

    return datetime.fromisoformat(stamp.rstrip("Zz") + "+00:00" if stamp[-1] in "Zz" else stamp)


def activity_age(kernel: dict, asked) -> float:
    """Seconds from a kernel's ``last_activity``, as the server's api/kernels reports it, to ``asked``
    (when the question was sent, a UTC datetime)."""
    return (asked - utc_time(kernel["last_activity"])).total_seconds()


@dataclass
class Seen:
    """What a KernelWatch saw of one kernel (times are time.monotonic())."""

    server: JupyterServer
    since: float  # when tracking began
    gone_at: float | None = None  # first seen missing from its server's list
    listed_at: float | None = None  # last seen in its server's list
    oldest: float = 0.0  # the oldest its last_activity was seen while counted, in seconds
    fewest: int | None = None  # the fewest connections it was seen with while counted
    counting: bool = True


class KernelWatch:
    """Asks servers for their kernels every half second, in a thread of its own (GET api/kernels, not
    counted as activity), and keeps what it saw of each kernel it tracks: when it was first seen gone,
    the oldest its last_activity was and the fewest connections it had. Watching from a thread sees a
    kernel's whole life even while the test is busy opening pages. A failed answer is never taken for a
    cull: a server error is skipped (jupyter_server answers 500 when asked while a kernel is starting,
    before it has a last_activity), and no good answer for 30 s, or any other failure, stops the watch
    and is raised by the next question."""

    def __init__(self, servers) -> None:
        self.servers = list(servers)
        self.seen: dict[str, Seen] = {}
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def track(self, server: JupyterServer, kernel_id: str) -> None:
        """Watch ``kernel_id`` (which ``server`` has now) from now on."""
        with self._lock:
            self.seen[kernel_id] = Seen(server, time.monotonic())

    def stop_counting(self, kernel_id: str) -> None:
        """Keep the activity and connections seen so far; go on watching for the kernel to go."""
        with self._lock:
            self.seen[kernel_id].counting = False

    def __getitem__(self, kernel_id: str) -> Seen:
        if self.error is not None:
            raise RuntimeError("watching the servers' kernels failed") from self.error
        with self._lock:
            return dataclasses.replace(self.seen[kernel_id])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        answered = time.monotonic()
        while not self._stop.is_set():
            try:
                self._look()
                answered = time.monotonic()
            except urllib.error.HTTPError as error:
                if error.code < 500 or time.monotonic() - answered > 30:
                    self.error = error
                    return
            except BaseException as error:  # raised to the test by the next question
                self.error = error
                return
            self._stop.wait(0.5)

    def _look(self) -> None:
        from datetime import datetime, timezone

        asked = datetime.now(timezone.utc)  # ages count to the question, not to a slow answer
        answers = {server: {k["id"]: k for k in server.api("GET", "api/kernels")} for server in self.servers}
        now = time.monotonic()
        with self._lock:
            for kernel_id, seen in self.seen.items():
                model = answers[seen.server].get(kernel_id)
                if model is None:
                    seen.gone_at = seen.gone_at or now
                    continue
                seen.listed_at = now
                if seen.counting and seen.gone_at is None:
                    seen.oldest = max(seen.oldest, activity_age(model, asked))
                    if seen.fewest is None or model["connections"] < seen.fewest:
                        seen.fewest = model["connections"]


def culling_trial(
    browser,
    cases: list[CullingCase],
    interval: float,
    watch: float,
    log=lambda line: None,
    before_stop=lambda cases: None,
) -> list[CullingCase]:
    """The product's claim, run for real against each case's server's idle culler, every case side by
    side (a culler acts on each kernel alone, so cases sharing a server do not disturb each other).

    Every case opens its keep-alive notebook, then every case its control. A KernelWatch follows every
    kernel from then on. The trial waits until each keep-alive kernel has been listed by its server
    ``watch`` seconds after its inject() ran (or is gone, or 30 s more have passed), and every
    control is culled (or six timeouts and 30 s have passed since it ran its cell). Then every Stop
    button is pressed, and it waits until the keep-alive kernels are culled (for at most six timeouts
    and 30 s more). Returns the cases filled in; what must have happened is for the caller to assert.
    """
    watcher = KernelWatch({case.server for case in cases})
    try:
        for case in cases:
            server, frontend = case.server, case.frontend
            case.keep = NotebookPage(browser, server, frontend, server.new_notebook(f"with-keepalive-{frontend}.ipynb"))
            case.cell = case.keep.run(
                f"import colab_jsalive\nka = colab_jsalive.inject(interval={interval!r}, label='demo: keep me alive')"
            )
            badge = case.keep.wait_badge(case.cell, "running", 60)
            case.keep_started = time.monotonic()
            watcher.track(server, case.keep.kernel_id)
            log(f"inject() running in {frontend} at {server.url}: {badge['text']}")
        for case in cases:
            server, frontend = case.server, case.frontend
            case.control = NotebookPage(browser, server, frontend, server.new_notebook(f"control-{frontend}.ipynb"))
            case.control.run("print('control: no keep-alive here')")
            case.control_started = time.monotonic()
            watcher.track(server, case.control.kernel_id)

        def watched_through(case: CullingCase) -> bool:  # listed by its server ``watch`` s after it began
            keep = watcher[case.keep.kernel_id]
            return keep.gone_at is not None or (keep.listed_at or 0) >= case.keep_started + watch

        end = max(case.keep_started for case in cases) + watch + 30  # no answer for 30 s: the watch fails
        timeout = max(case.server.cull_idle_timeout for case in cases)
        control_deadline = max(case.control_started for case in cases) + 6 * timeout + 30
        while (time.monotonic() < end and not all(watched_through(case) for case in cases)) or (
            time.monotonic() < control_deadline
            and any(watcher[case.control.kernel_id].gone_at is None for case in cases)
        ):
            time.sleep(0.5)
        for case in cases:
            watcher.stop_counting(case.keep.kernel_id)
            keep, control = watcher[case.keep.kernel_id], watcher[case.control.kernel_id]
            if keep.gone_at is not None:
                case.keep_culled_after = keep.gone_at - case.keep_started
            if control.gone_at is not None:
                case.control_culled_after = control.gone_at - case.control_started
            case.keep_activity_age, case.keep_connections = keep.oldest, keep.fewest
            case.control_activity_age = control.oldest
            case.watched_for = (keep.listed_at or case.keep_started) - case.keep_started
            case.beats = int(case.keep.badge_data(case.cell)["beats"])
            log(
                f"{case.frontend}: keep-alive kernel watched for {case.watched_for:.0f} s, {case.beats} beats; "
                f"control kernel culled after {case.control_culled_after} s"
            )
        before_stop(cases)
        pressed = time.monotonic()
        for case in cases:
            case.keep.press_stop(case.cell)
        deadline = time.monotonic() + 6 * timeout + 30
        while time.monotonic() < deadline and any(watcher[case.keep.kernel_id].gone_at is None for case in cases):
            time.sleep(0.5)
        for case in cases:
            gone_at = watcher[case.keep.kernel_id].gone_at
            if gone_at is not None and gone_at < pressed:  # culled while it beat: the trial failed
                case.keep_culled_after = gone_at - case.keep_started
            elif gone_at is not None:
                case.culled_after_stop = gone_at - pressed
                log(f"{case.frontend}: after Stop, the keep-alive kernel was culled in {case.culled_after_stop:.0f} s")
        return cases
    finally:
        watcher.close()
