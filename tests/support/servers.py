"""Servers the tests start for real: a jupyter_server with private Jupyter directories, and the two small
loopback servers the fault tests put in front of it or beside it. (JupyterHub: hub.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from tests.support.ports import free_port
from tests.support.waiting import age


def write_notebook(folder: Path, name: str, code: str = "", signed_in: Path | None = None) -> str:
    """A Python 3 notebook ``name`` in ``folder`` with one code cell of ``code`` and no output; signed
    with the notary key of the Jupyter data directory ``signed_in``, if given. Returns ``name``."""
    from nbformat.sign import NotebookNotary

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(code))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if signed_in is not None:
        signed_in.mkdir(parents=True, exist_ok=True)
        NotebookNotary(data_dir=str(signed_in)).sign(nb)
    nbformat.write(nb, folder / name)
    return name


# The server's configuration, in its own config directory: every kernel's ports from tests/support/ports.py.
_SERVER_CONFIG = """\
import importlib.util
spec = importlib.util.spec_from_file_location("colab_jsalive_test_ports", {path!r})
ports = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ports)
ports.kernels_take_free_ports()
"""


def jupyter_dirs(folder: Path) -> dict[str, str]:
    """Private Jupyter directories in ``folder`` for a server the tests start (never the machine's own
    configuration), whose configuration gives its kernels ports as tests/support/ports.py does; returns the
    environment variables that point a server at them."""
    for name in ("data", "config", "runtime"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / "config" / "jupyter_server_config.py").write_text(
        _SERVER_CONFIG.format(path=str(Path(__file__).with_name("ports.py")))
    )
    return {
        "JUPYTER_DATA_DIR": str(folder / "data"),
        "JUPYTER_CONFIG_DIR": str(folder / "config"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


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
        self.log = None  # the server's output, open while it runs
        self.started_once = False
        self.env = env or {}  # extra environment for the server and the kernels it starts
        self.args = list(args)  # extra command-line options

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def start(self) -> JupyterServer:
        """Start the server and wait until it answers. On its first start, a port some other process
        took since free_port() chose it (tests run side by side) means another port; a restart keeps
        its port, as a restarted server does. A server that does not answer is stopped before the error
        is raised, so that a caller has nothing to clean up."""
        try:
            for attempt in range(3):
                self._launch()
                if self._wait_answering():
                    return self
                if self.started_once or attempt == 2 or "already in use" not in self._log_tail():
                    break
                self.port = free_port()
            raise RuntimeError(f"the Jupyter server on port {self.port} exited:\n{self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def _launch(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **jupyter_dirs(self.workdir), PYTHONWARNINGS="ignore", **self.env)
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
        if self.log is not None:  # a server that never started has nothing to close
            self.log.close()

    def culled(self, kernel_id: str) -> bool:
        """Whether the server's kernel culler says it culled ``kernel_id`` for being idle (its log line
        "Culling 'idle' kernel 'python3' (ID) with 1 connections due to 12 seconds of inactivity."): a
        kernel that died (culled as dead), or was shut down otherwise, was not culled for being idle."""
        return any(kernel_id in line and "of inactivity" in line for line in self._log_lines())

    def culled_starting(self, kernel_id: str) -> bool:
        """Whether the culler took ``kernel_id`` while it was still starting ("Culling 'starting' kernel
        ..."): jupyter_server culls a kernel in any state but busy once it has had no activity and no
        connection for cull_idle_timeout, and on a loaded machine a new kernel has taken longer than the
        tests' short timeouts to start (seen with 10 s)."""
        return any(kernel_id in line and "Culling 'starting'" in line for line in self._log_lines())

    def _log_lines(self) -> list[str]:
        return (self.workdir / "server.log").read_text(errors="replace").splitlines()

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

    def kernel(self, kernel_id: str) -> dict:
        """The server's model of one kernel (execution_state, last_activity, connections), unseen as activity."""
        return self.api("GET", f"api/kernels/{kernel_id}")

    def kernel_ids(self) -> set[str]:
        return {k["id"] for k in self.api("GET", "api/kernels")}

    def new_kernel(self) -> str:
        """Start a kernel, as a frontend opening a notebook starts one; returns its id."""
        return self.api("POST", "api/kernels", {"name": "python3"})["id"]

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

    def saved_notebook(self, name: str, code: str, trusted: bool) -> str:
        """Notebook ``name`` holding one code cell of ``code`` with no output, as a notebook saved
        yesterday: signed with this server's key if ``trusted`` (as Jupyter signs a notebook whose
        outputs it trusts when it saves it, or `jupyter trust` does), so that the server marks its cells
        trusted when a page opens it; unsigned otherwise (copied or changed elsewhere), so that they
        open untrusted. Returns ``name``."""
        # The server's key and its signatures' database are in its own data directory (jupyter_dirs).
        return write_notebook(self.root, name, code, self.workdir / "data" if trusted else None)

    def untrusted_copy(self, name: str) -> str:
        """Copy notebook ``name`` as one changed outside Jupyter: its signature is unknown, so a page
        trusts none of its outputs, as for a notebook downloaded from somewhere else. Returns the
        copy's name."""
        notebook = nbformat.read(self.root / name, as_version=4)
        notebook.cells.append(nbformat.v4.new_markdown_cell("changed elsewhere"))
        copy = f"untrusted-{name}"
        nbformat.write(notebook, self.root / copy)
        return copy

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


def start_all(servers) -> None:
    """Start ``servers`` side by side: a start is mostly a new process importing its modules, on a
    machine with cores to share. Raises the first failure; the caller stops every server either way."""
    _each(servers, JupyterServer.start)


def stop_all(servers) -> None:
    """Stop ``servers`` side by side: a server stopping mostly waits for its kernels to shut down."""
    _each(servers, JupyterServer.stop)


def _each(servers, method) -> None:
    from concurrent.futures import ThreadPoolExecutor

    servers = list(servers)
    with ThreadPoolExecutor(len(servers)) as pool:
        for done in [pool.submit(method, server) for server in servers]:
            done.result()


def sagemaker_server(folder, shared: bool = False) -> JupyterServer:
    """A server started as SageMaker's start-jupyter-server starts it; for a shared space, with
    ``--collaborative`` (the same as ``--LabApp.collaborative=True``)."""
    args = ("--ServerApp.allow_origin=*",) + (("--LabApp.collaborative=True",) if shared else ())
    return JupyterServer(folder, base_url="/jupyterlab/default/", token="", args=args)


def idle_age(server: JupyterServer) -> float:
    """How old api/idle's lastActiveTimestamp is, in seconds, when the question is sent."""
    asked = datetime.now(timezone.utc)
    return age(server.api("GET", "api/idle")["lastActiveTimestamp"], asked)
