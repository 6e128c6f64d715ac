"""Clients of a kernel that need no browser: straight over ZMQ from its connection file, or over the
server's WebSocket as a page talks to it; and a kernel started with no server at all."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.support.ports import kernels_take_free_ports
from tests.support.servers import JupyterServer

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


def _wait_iopub(client, timeout: float) -> None:
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
        _wait_iopub(client, 60)
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
        self._call(_wait_iopub, self.client, timeout)

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

    def wait_iopub(self, timeout: float = 60) -> None:
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

    def status(self) -> dict:
        """colab_jsalive.status() in the kernel, as a dict (colab_jsalive imported there already)."""
        outputs = self.execute(
            "import dataclasses, json\nprint(json.dumps(dataclasses.asdict(colab_jsalive.status()), default=str))"
        )
        return json.loads("".join(m["content"]["text"] for m in outputs if m["header"]["msg_type"] == "stream"))

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
