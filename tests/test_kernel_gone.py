"""The badge tells busy from gone from unreachable, with the real fault, in JupyterLab, Notebook 7 and the
classic notebook: the kernel shut down through the server's REST API (as "Shut Down Kernel" or the
kernel culler do), the kernel process killed (as the out-of-memory killer does; the server restarts it),
the server stopped and started again on the same port, and fifty quick inject() calls in one cell.

Each checks the badge's words, the frames Chromium saw the page send, and the keep-alive's timers left
in the page (counted by the ledger tests/support/pages.py installs in every test page).
"""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from tests.conftest import PRELUDE, Notebooks
from tests.support.browser import FRONTENDS, show_snippet, write_apart_page
from tests.support.kernels import KernelClient
from tests.support.pages import NotebookPage
from tests.support.servers import JupyterServer, StaticServer
from tests.support.waiting import wait_for

INTERVAL = 2.0
GONE = "the kernel was shut down (the server no longer has it): run inject() in a new kernel"
DIED = "the kernel died and the server restarted it: run inject() again"
# What a frontend logs by itself for a cell with many outputs, with no keep-alive in the page (checked
# with fifty display(HTML(...)) outputs): Notebook 7's shared model warns once.
FRONTENDS_OWN = {"warning: [yjs#509] Not same Y.Doc"}


@pytest.fixture(scope="module", params=FRONTENDS)
def notebooks(request, browser, server):
    keeper = Notebooks(browser, server, request.param)
    yield keeper
    keeper.close()


@pytest.fixture
def opened(notebooks):
    """A notebook in each frontend with no keep-alive and no cells, for one test (the tests that end
    their kernel come last: the others leave theirs for the next test)."""
    with notebooks() as pair:
        yield pair


def start(page: NotebookPage) -> tuple[int, str]:
    cell, session = page.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL})")
    assert page.keepalive_timers() >= 1  # the ledger sees the keep-alive's timers
    return cell, session


def test_a_busy_kernel_is_told_from_a_gone_one(opened, server):
    page, client = opened
    cell, session = start(page)
    page.run("import time\ntime.sleep(8)")
    checks = page.kernel_checks()
    busy = page.wait_badge(cell, "busy", 20)
    assert "kernel busy for" in busy["text"]
    # The server is asked while beats are unanswered, and answers that the kernel exists: still busy.
    wait_for(lambda: int(page.badge_data(cell)["unanswered"]) >= 2, 20, "two beats behind the cell")
    wait_for(lambda: page.kernel_checks() > checks, 20, "the page to ask the server about its kernel")
    assert page.badge_data(cell)["state"] == "busy"
    # ... and when the cell ends the beats are answered again: the answer was taken as "still there"
    # (a page that took it for gone would have stopped for good).
    page.wait_badge(cell, "running", 30)
    # Stop from the badge first: the stop travels behind every beat sent before it, so the counts can be
    # compared (a beat still on its way would make them differ by one).
    page.press_stop(cell)
    assert client.status()["beats"] == page.beats_sent(session)


@pytest.fixture(scope="module")
def restarted(browser, tmp_path_factory) -> dict[str, dict]:
    """One server with a keep-alive running in a page of each frontend, stopped and started again on the
    same port, with the same token (its kernels do not come back). What each page showed, by frontend;
    a step that failed in one frontend's page is kept as its "error" (and that page's later steps are
    skipped), for that frontend's test to raise: the other frontends' tests still judge their own pages.

    The server is stopped abruptly, as a crash or a lost machine stops it. Stopped gracefully, it shuts
    its kernels down first while still answering, and a page that asks in that moment rightly hears
    that the kernel was shut down (seen on a loaded machine): the unreachable state is then skipped."""
    server = JupyterServer(tmp_path_factory.mktemp("restarted")).start()
    pages, seen = {}, {frontend: {} for frontend in FRONTENDS}

    def each_page(step) -> None:
        """Run ``step(frontend, page, seen[frontend])`` for every page whose earlier steps all worked."""
        for frontend, page in pages.items():
            if "error" not in seen[frontend]:
                try:
                    step(frontend, page, seen[frontend])
                except (AssertionError, TimeoutError) as error:
                    seen[frontend]["error"] = error

    def unreachable(frontend: str, page: NotebookPage, mine: dict) -> None:
        mine["reconnecting"] = page.wait_badge(mine["cell"], "reconnecting", 20)
        mine["unreachable"] = wait_for(
            lambda: (
                "server unreachable for" in (text := page.badge_data(mine["cell"])["text"])
                and not text.startswith("keep-alive reconnecting · server unreachable for 0 s")
                and text
            ),
            30,
            "the badge to count the time unreachable",
        )
        mine["timers while unreachable"] = page.keepalive_timers()

    try:
        for frontend in FRONTENDS:
            page = pages[frontend] = NotebookPage(browser, server, frontend, server.new_notebook(f"{frontend}.ipynb"))
            page.run(PRELUDE)
            seen[frontend]["cell"], seen[frontend]["session"] = start(page)
        server.stop(abruptly=True)
        each_page(unreachable)
        server.start()
        each_page(
            lambda frontend, page, mine: mine.update(after=page.wait_badge(mine["cell"], "stopped", 2 * INTERVAL + 30))
        )
        each_page(lambda frontend, page, mine: page.stopped_for_good(mine["session"], INTERVAL))
        yield seen
    finally:
        for page in pages.values():
            page.close()
        server.stop()


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_a_server_stopped_and_started_again_says_unreachable_then_gone(restarted, frontend):
    """Every frontend's page on one server, side by side: the server stopped, the pages say it is
    unreachable and keep retrying; started again without the kernel, they say the kernel is gone."""
    seen = restarted[frontend]
    if "error" in seen:
        raise seen["error"]
    assert "server unreachable for" in seen["unreachable"]
    assert seen["timers while unreachable"] >= 1  # still retrying
    assert seen["after"]["reason"] == GONE


def test_fifty_quick_injects_leave_one_keepalive_and_no_console_warning(opened, server):
    page, client = opened
    console_before = len(page.console)  # what the frontend said while it loaded is its own business
    cell = page.run(f"for _ in range(50):\n    ka = colab_jsalive.inject(interval={INTERVAL})")
    wait_for(lambda: page.badge(cell).count() == 50, 60, "fifty badges")
    wait_for(
        lambda: [page.badge(cell).nth(i).get_attribute("data-state") for i in range(50)].count("running") == 1,
        30,
        "exactly one keep-alive running",
    )
    states = [page.badge(cell).nth(i).get_attribute("data-state") for i in range(50)]
    assert states[-1] == "running" and states[:-1] == ["stopped"] * 49
    wait_for(lambda: client.status()["beats"] >= 2, 3 * INTERVAL, "the last one beating")
    assert page.keepalive_timers() == 1
    assert page.problems(since=console_before, ignore=FRONTENDS_OWN) == []


def test_a_killed_kernel_restarted_by_the_server_ends_the_keepalive_saying_it_died(opened, server):
    page, client = opened
    cell, session = start(page)
    pid = int(client.run("import os\nprint(os.getpid())"))
    os.kill(pid, signal.SIGKILL)
    badge = page.wait_badge(cell, "stopped", 60)
    assert badge["reason"] == DIED
    page.stopped_for_good(session, INTERVAL)
    # The server's new kernel process knows nothing of the old keep-alive.
    client.wait_iopub()
    client.run(PRELUDE)
    status = client.status()
    assert not status["active"] and status["beats"] == 0


def test_a_kernel_shut_down_through_the_api_ends_the_keepalive_within_two_intervals(opened, server):
    page, _client = opened
    cell, session = start(page)
    server.shutdown_kernel(page.kernel_id)
    # The page's socket stays open and silent, as for a busy kernel; the server tells them apart.
    badge = page.wait_badge(cell, "stopped", 2 * INTERVAL + 10)
    assert badge["reason"] == GONE
    assert "shut down" in badge["text"] and "run inject() in a new kernel" in badge["text"]
    page.stopped_for_good(session, INTERVAL)


def test_a_page_served_apart_from_its_server_asks_that_server_about_the_kernel(browser, tmp_path):
    """A page whose config names its server by a whole URL (JupyterLab's baseUrl may be one): beats and
    the kernel check both go to that server, so a busy kernel stays busy and a shut-down one is gone.
    (Asking the page's own host instead would get a 404 there and end a living keep-alive.)"""
    from colab_jsalive._render import snippet

    folder = tmp_path / "page"
    folder.mkdir()
    static = StaticServer(folder)
    server = JupyterServer(tmp_path / "server", args=(f"--ServerApp.allow_origin=http://127.0.0.1:{static.port}",))
    server.start()
    context = browser.new_context()
    try:
        kernel_id = server.api("POST", "api/kernels", {"name": "python3"})["id"]
        with contextlib.closing(KernelClient(server.connection_file(kernel_id))) as client:
            token = client.run(
                PRELUDE + "from colab_jsalive._receiver import RECEIVER\n"
                f"ka = colab_jsalive.inject(interval={INTERVAL})\nprint(RECEIVER.live.token)"
            ).strip()
            write_apart_page(folder, server)
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{static.port}/index.html")
            show_snippet(
                page,
                snippet(
                    {
                        "channel": "jupyter",
                        "session": token,
                        "kernel_id": kernel_id,
                        "target": "colab_jsalive",
                        "interval": INTERVAL,
                        "max_duration": None,
                        "label": "",
                    }
                ),
            )

            def badge() -> dict:
                return page.locator(".colab-jsalive-badge").evaluate("el => Object.assign({}, el.dataset)")

            wait_for(lambda: int(badge()["beats"]) >= 1, 30, "a beat answered")
            client.start(f"import time\ntime.sleep(4 * {INTERVAL!r})")
            wait_for(lambda: int(badge()["unanswered"]) >= 2, 30, "two beats behind the cell")
            assert badge()["state"] == "busy"  # the server was asked, and has the kernel
            wait_for(lambda: badge()["state"] == "running", 30, "the cell to end")
            server.api("DELETE", f"api/kernels/{kernel_id}")
            wait_for(lambda: badge()["state"] == "stopped", 2 * INTERVAL + 10, "the keep-alive to stop")
            assert badge()["reason"] == GONE
    finally:
        context.close()
        server.stop()
        static.stop()
