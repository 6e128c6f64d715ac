"""The kernel's side of both channels, in kernels a real jupyter_server starts, reached as pages reach them.

The Jupyter channel: a WebSocket through the server to the kernel, carrying the comm the snippet opens.
The Colab channel: the call Colab's frontend makes for ``google.colab.kernel.invokeFunction``, run as
kernel code against the EMULATION of ``google.colab.output``'s callback contract (DESIGN.md section 2).

Every row of ``make test-compat`` runs these against its own IPython, ipykernel and jupyter_server: the
kernel is the one its users run, so this is where "the keep-alive works on this kernel" is proven.
"""

from __future__ import annotations

import json

import pytest

from colab_jsalive._receiver import TARGET
from colab_jsalive._session import STOPPED, UNKNOWN
from tests.conftest import PRELUDE
from tests.support.kernels import KernelSocket, snippet_session


@pytest.fixture
def kernel(server):
    """(socket, kernel id): a new kernel of the server, and a WebSocket to it through the server."""
    kernel_id = server.new_kernel()
    socket = KernelSocket(server, kernel_id)
    socket.execute(PRELUDE)
    yield socket, kernel_id
    socket.close()
    server.shutdown_kernel(kernel_id)


class PageComm:
    """The snippet's comm, opened on ``socket`` as js/jupyter_channel.js opens it."""

    def __init__(self, socket: KernelSocket, session: str, comm_id: str = "page-comm"):
        self.socket, self.session, self.comm_id = socket, session, comm_id
        socket.send(
            "comm_open",
            {
                "comm_id": comm_id,
                "target_name": TARGET,
                "data": {"op": "hello", "session": session, "frontend": "jupyterlab"},
            },
        )

    def beat(self, seq: int) -> None:
        self.socket.send(
            "comm_msg",
            {
                "comm_id": self.comm_id,
                "data": {"op": "beat", "session": self.session, "seq": seq, "unanswered": 0, "frontend": "jupyterlab"},
            },
        )

    def ours(self, msg: dict) -> bool:
        return msg["header"]["msg_type"] in ("comm_msg", "comm_close") and msg["content"].get("comm_id") == self.comm_id

    def reply(self, what: str, timeout: float = 30) -> dict:
        """The kernel's next message on this comm; a comm_close fails the test."""
        msg = self.socket.wait(self.ours, timeout, what)
        assert msg["header"]["msg_type"] == "comm_msg", f"the kernel closed the comm instead of {what}"
        return msg["content"]["data"]


def test_jupyter_channel_a_page_comm_is_answered_and_its_beats_are_counted(kernel):
    socket, _ = kernel
    session = snippet_session(socket.execute("ka = colab_jsalive.inject(interval=60, label='kernel side')"))
    comm = PageComm(socket, session)
    hello = comm.reply("the answer to the page's comm_open")
    assert (hello["session"], hello["state"], hello["beats"]) == (session, "running", 0)
    for seq in (1, 2, 3):
        comm.beat(seq)
        reply = comm.reply(f"the answer to beat {seq}")
        assert (reply["seq"], reply["state"], reply["beats"]) == (seq, "running", seq)
    s = socket.status()
    assert (s["active"], s["beats"], s["frontend"], s["label"]) == (True, 3, "jupyterlab", "kernel side")


def test_jupyter_channel_a_stop_from_a_cell_reaches_the_open_comm_at_once(kernel):
    socket, _ = kernel
    session = snippet_session(socket.execute("ka = colab_jsalive.inject(interval=60)"))
    comm = PageComm(socket, session)
    comm.reply("the answer to the page's comm_open")
    # At once: the kernel tells the page while it runs the very cell that stops the keep-alive.
    (stopped,) = [m["content"]["data"] for m in socket.execute("colab_jsalive.inject(stop=True)") if comm.ours(m)]
    assert (stopped["state"], stopped["reason"]) == ("stopped", STOPPED)


def test_jupyter_channel_an_unknown_session_is_told_to_run_inject_again(kernel):
    socket, _ = kernel
    socket.execute("ka = colab_jsalive.inject(interval=60)")
    refused = PageComm(socket, "0" * 32).reply("the refusal of a session the kernel never started")
    assert (refused["state"], refused["reason"]) == ("stopped", UNKNOWN)


def test_jupyter_channel_a_restarted_kernel_closes_the_comm_of_an_earlier_inject(kernel, server):
    """What the snippet reads as "the kernel restarted": the new process has no target, and closes."""
    socket, kernel_id = kernel
    session = snippet_session(socket.execute("ka = colab_jsalive.inject(interval=60)"))
    server.api("POST", f"api/kernels/{kernel_id}/restart")
    socket.wait_iopub()
    PageComm(socket, session, "after-restart")
    socket.wait(
        lambda m: m["header"]["msg_type"] == "comm_close" and m["content"].get("comm_id") == "after-restart",
        30,
        "the new kernel to close the comm",
    )


def test_a_kernel_that_cannot_receive_comms_says_so_at_once(kernel):
    """No silent failure: where the kernel hands comm_open to no manager colab_jsalive can use (here a
    real kernel whose handler was replaced), inject() warns at once and returns an inactive handle."""
    socket, _ = kernel
    outputs = socket.execute(
        "import dataclasses, json, warnings\n"
        "get_ipython().kernel.shell_handlers['comm_open'] = lambda *args: None\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    ka = colab_jsalive.inject()\n"
        "print(json.dumps({'warnings': [str(w.message) for w in caught], 'active': ka.active,\n"
        "                  'status': dataclasses.asdict(ka.status())}, default=str))"
    )
    result = json.loads("".join(m["content"]["text"] for m in outputs if m["header"]["msg_type"] == "stream"))
    assert result["active"] is False and result["status"]["frontend"] == "no-comms"
    (warning,) = result["warnings"]
    assert "does nothing here" in warning and "cannot receive beats" in warning
    assert not [m for m in outputs if m["header"]["msg_type"] == "display_data"], "a snippet was shown"


# --- the Colab channel, against the EMULATION of google.colab.output ------------------------------------


@pytest.fixture
def colab_kernel(colab_server):
    kernel_id = colab_server.new_kernel()
    socket = KernelSocket(colab_server, kernel_id)
    socket.execute(PRELUDE)
    yield socket
    socket.close()
    colab_server.shutdown_kernel(kernel_id)


def invoke(socket: KernelSocket, message: dict) -> dict:
    """What Colab's frontend does for invokeFunction(TARGET, [message], {}): run the registered
    callback as kernel code and hand the result's JSON back to the output frame."""
    args = json.dumps([message])
    outputs = socket.execute(
        f"import google.colab.output\ngoogle.colab.output._invoke_function({TARGET!r}, {args!r}, '{{}}')"
    )
    (result,) = [m["content"]["data"] for m in outputs if m["header"]["msg_type"] == "execute_result"]
    return result["application/json"]


def test_colab_emulation_calls_are_answered_and_counted(colab_kernel):
    outputs = colab_kernel.execute("ka = colab_jsalive.inject(interval=60, label='colab side')")
    session = snippet_session(outputs)
    for seq in (1, 2):
        reply = invoke(
            colab_kernel, {"op": "beat", "session": session, "seq": seq, "unanswered": 0, "frontend": "colab"}
        )
        assert (reply["seq"], reply["state"], reply["beats"]) == (seq, "running", seq)
    s = colab_kernel.status()
    assert (s["active"], s["beats"], s["frontend"], s["label"]) == (True, 2, "colab", "colab side")


def test_colab_emulation_a_stop_from_a_cell_is_the_answer_to_the_next_call(colab_kernel):
    session = snippet_session(colab_kernel.execute("ka = colab_jsalive.inject(interval=60)"))
    colab_kernel.execute("colab_jsalive.inject(stop=True)")
    reply = invoke(colab_kernel, {"op": "beat", "session": session, "seq": 1})
    assert (reply["state"], reply["reason"]) == ("stopped", STOPPED)
