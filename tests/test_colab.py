"""The Colab channel, against an EMULATION of Colab's documented contract (DESIGN.md section 2).

What is emulated, and only this: the ``google.colab.output`` callback registry in the kernel
(tests/colab_emulation/google/colab/output) and the notebook page's side of output frames
(tests/colab_emulation/parent.html, frame.html). Everything else is real: a real ipykernel behind a real
jupyter_server runs colab_jsalive with COLAB_RELEASE_TAG set, and the rendered snippet runs in headless
Chromium inside a sandboxed iframe (``sandbox="allow-scripts"``) on another loopback origin, reaching
the kernel only through ``google.colab.kernel.invokeFunction``, i.e. by messages to its parent.
"""

from __future__ import annotations

import pytest

from colab_jsalive._session import EXPIRED, REPLACED, STOPPED
from tests.conftest import COLAB_EMULATION, PRELUDE
from tests.support.kernels import KernelClient
from tests.support.servers import JupyterServer, StaticServer
from tests.support.waiting import holds_for, utc_time, wait_for

INTERVAL = 0.5


@pytest.fixture(scope="module")
def pages():
    """The emulation's pages on loopback: the page at 127.0.0.1, output frames at localhost."""
    static = StaticServer(COLAB_EMULATION)
    yield static
    static.stop()


class ColabPage:
    """The emulated Colab page, driving one real kernel."""

    def __init__(self, browser, server: JupyterServer, pages: StaticServer):
        self.server = server
        self.kernel_id = server.api("POST", "api/kernels", {"name": "python3"})["id"]
        self.context = browser.new_context()
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(
            f"http://127.0.0.1:{pages.port}/parent.html#kernel={self.kernel_id}"
            f"&token={server.token}&server=127.0.0.1:{server.port}"
            f"&frame=http://localhost:{pages.port}/frame.html"
        )
        wait_for(lambda: self.page.evaluate("window.emu && emu.ready"), 30, "the emulated page's kernel socket")
        self.client = KernelClient(server.connection_file(self.kernel_id))
        self.execute(PRELUDE)

    def execute(self, code: str) -> dict:
        result = self.page.evaluate("code => emu.execute(code)", code)
        assert result["error"] is None, result["error"]
        return result

    def inject(self, code: str = f"ka = colab_jsalive.inject(interval={INTERVAL})") -> int:
        """Run ``code`` as a cell; return the index of the output frame its snippet runs in."""
        (frame,) = self.execute(code)["outputs"]
        return frame

    def badge(self, frame: int) -> dict:
        locator = self.page.frame_locator("iframe").nth(frame).locator(".colab-jsalive-badge")
        return locator.evaluate(
            "el => Object.assign({text: el.querySelector('.colab-jsalive-text').textContent}, el.dataset)"
        )

    def wait_badge(self, frame: int, state: str, timeout: float = 20) -> dict:
        return wait_for(
            lambda: (d := self.badge(frame))["state"] == state and d,
            timeout,
            f"the badge in output frame {frame} to show {state!r}",
        )

    def calls(self, frame: int) -> int:
        return self.page.evaluate("i => emu.frames[i].calls", frame)

    def violations(self) -> list:
        frames = self.page.frames[1:]
        return [v for f in frames for v in f.evaluate("window.__violations || []")]

    def close(self) -> None:
        self.client.close()
        self.context.close()
        self.server.shutdown_kernel(self.kernel_id)


@pytest.fixture
def colab(browser, colab_server, pages):
    page = ColabPage(browser, colab_server, pages)
    yield page
    # No test may see the snippet reach outside its frame, post to the page on its own, or throw.
    assert page.violations() == []
    assert page.page.evaluate("emu.foreign") == []
    assert page.errors == []
    page.close()


def test_colab_emulation_beats_are_counted_and_the_frontend_is_colab(colab):
    frame = colab.inject()
    colab.wait_badge(frame, "running")
    wait_for(lambda: colab.client.status()["beats"] >= 3, 20, "three beats counted by status()")
    status = colab.client.status()
    assert status["frontend"] == "colab" and status["active"] is True
    assert colab.calls(frame) >= 3
    assert int(colab.badge(frame)["beats"]) >= 2


def test_colab_emulation_stop_from_another_cell_stops_the_snippet(colab):
    frame = colab.inject()
    colab.wait_badge(frame, "running")
    colab.execute("colab_jsalive.inject(stop=True)")
    assert colab.wait_badge(frame, "stopped", 10 * INTERVAL)["reason"] == STOPPED
    calls = colab.calls(frame)
    holds_for(lambda: colab.calls(frame) == calls, 4 * INTERVAL, "no calls after the stop")


def test_colab_emulation_reinject_replaces_the_older_output(colab):
    first = colab.inject()
    colab.wait_badge(first, "running")
    second = colab.inject("ka = colab_jsalive.inject(interval=0.5, label='second')")
    assert colab.wait_badge(first, "stopped", 10 * INTERVAL)["reason"] == REPLACED
    colab.wait_badge(second, "running")
    before = colab.client.status()["beats"]
    wait_for(lambda: colab.client.status()["beats"] >= before + 2, 20, "the new session's beats")
    assert colab.client.status()["label"] == "second"


def test_colab_emulation_max_duration_ends_the_keepalive_on_both_sides(colab):
    frame = colab.inject(f"ka = colab_jsalive.inject(interval={INTERVAL}, max_duration=2)")
    assert colab.wait_badge(frame, "stopped", 20)["reason"] == EXPIRED
    status = colab.client.status()
    assert status["active"] is False and status["reason"] == EXPIRED


def test_colab_emulation_output_from_an_earlier_session_stays_silent(colab):
    colab.page.evaluate("emu.accessAllowed = false")
    frame = colab.inject()
    badge = colab.wait_badge(frame, "stopped")
    assert "earlier session" in badge["reason"] and "run inject() again" in badge["reason"]
    holds_for(lambda: colab.calls(frame) == 0, 4 * INTERVAL, "no calls from a stale output")
    assert colab.client.status()["beats"] == 0


def test_colab_emulation_page_without_google_colab_sends_nothing_and_says_why(colab):
    # VS Code attached to a Colab runtime: the kernel is Colab's, the page has no google.colab.
    colab.page.evaluate("emu.colabMissing = true")
    frame = colab.inject()
    badge = colab.wait_badge(frame, "stopped")
    assert "no google.colab" in badge["reason"]
    holds_for(lambda: colab.calls(frame) == 0, 4 * INTERVAL, "no calls without google.colab")


def test_colab_emulation_vanished_callback_stops_the_snippet(colab):
    frame = colab.inject()
    colab.wait_badge(frame, "running")
    # A real restart: the new kernel process has no callback registered, so every call fails with
    # "Function not found" until the snippet gives up.
    colab.server.api("POST", f"api/kernels/{colab.kernel_id}/restart")
    badge = colab.wait_badge(frame, "stopped", 60)
    assert "Function not found" in badge["reason"] and "restarted, disconnected or deleted" in badge["reason"]
    assert "run inject() again" in badge["reason"]
    calls = colab.calls(frame)
    holds_for(lambda: colab.calls(frame) == calls, 4 * INTERVAL, "no calls after giving up")


def test_colab_emulation_detects_a_reach_outside_the_frame(colab):
    """The trap the other tests rely on works: a snippet touching window.parent is caught."""
    (_frame,) = colab.execute(
        "from IPython.display import Javascript, display\n"
        "display(Javascript('try { window.parent.document } catch (e) {}'))"
    )["outputs"]
    wait_for(lambda: colab.violations() == ["parent"], 10, "the violation to be recorded")
    colab.page.frames[1].evaluate("window.__violations.length = 0")  # keep the fixture's check clean


def test_colab_emulation_every_beat_moves_the_fields_googles_client_reads_and_without_beats_they_stay(
    colab, browser, colab_server, pages
):
    """Google's own Colab client (colab-vscode, keep-alive.ts) keeps a runtime while a kernel has a
    connection and is busy or starting, or had activity within the hour: the kernel's
    ``connections``, ``execution_state`` and ``last_activity`` in the runtime's api/kernels (DESIGN.md
    section 8). Through the Colab channel, each answered beat moves ``last_activity`` forward; beside it,
    a kernel open in the same emulated page without the keep-alive keeps its ``last_activity`` where it
    was. Both stay connected. (What counts is an hour there; the fields are what this shows.)"""
    control = ColabPage(browser, colab_server, pages)
    try:

        def model(page):  # the kernel's model, with last_activity as a datetime
            kernel = colab_server.kernel(page.kernel_id)
            kernel["last_activity"] = utc_time(kernel["last_activity"])
            return kernel

        control_before = model(control)["last_activity"]
        frame = colab.inject()
        colab.wait_badge(frame, "running")
        for _ in range(3):  # never status(): a cell of the test's own would be activity too
            beats, before = int(colab.badge(frame)["beats"]), model(colab)["last_activity"]
            wait_for(lambda: int(colab.badge(frame)["beats"]) > beats, 20, "the next answered beat")
            kept = wait_for(
                lambda: (m := model(colab))["last_activity"] > before and m, 10, "last_activity moved by the beat"
            )
            assert kept["connections"] >= 1 and kept["execution_state"] in ("idle", "busy")
        left = model(control)
        assert left["last_activity"] == control_before, "the control kernel had activity of its own"
        assert left["connections"] >= 1 and left["execution_state"] == "idle"
    finally:
        control.close()
