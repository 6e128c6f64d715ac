"""The kernel knows when the page went quiet: a tab closed while its keep-alive runs makes status() say,
within three intervals, that no page is beating; the notebook reopened in a new page beats again for the
same keep-alive, and the words go away. Real pages in each frontend, a real server and kernel, the
kernel asked over ZMQ by a second client (status() runs in the kernel as a cell of its own).
"""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version

import pytest
from packaging.version import Version

from tests.conftest import PRELUDE
from tests.support.browser import FRONTENDS
from tests.support.kernels import KernelClient
from tests.support.pages import NotebookPage
from tests.support.waiting import holds_for, wait_for

INTERVAL = 2.0
UNTRUSTED = "Ignoring untrusted application/javascript output"  # the classic notebook's console line


def _nbclassic_before_1_1() -> bool:
    try:
        return Version(version("nbclassic")) < Version("1.1")
    except PackageNotFoundError:
        return False


# The one case where a reopened notebook is distrusted (see below): the classic notebook before 1.1.
NBCLASSIC_GIVES_NO_CELL_IDS = _nbclassic_before_1_1()


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_a_closed_tab_makes_status_say_no_page_beats_and_a_reopened_one_clears_it(browser, server, frontend):
    page = NotebookPage(browser, server, frontend, server.new_notebook(f"quiet-{frontend}.ipynb"))
    client = KernelClient(server.connection_file(page.kernel_id))
    reopened = None
    try:
        page.run(PRELUDE)
        _cell, session = page.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='quiet')")
        wait_for(lambda: client.status()["beats"] >= 2, 30, "two beats answered")
        page.save_with_keepalive()
        # Beats arrive: nothing to say, for longer than the silence that makes it speak.
        holds_for(lambda: client.status()["warning"] == "", 3 * INTERVAL, "no warning while the page beats")

        page.close()  # the tab closes; the kernel and its keep-alive stay
        closed = time.monotonic()
        asked = []  # when each status() was asked, after the tab closed

        def warned():
            asked.append(time.monotonic() - closed)
            status = client.status()
            return status["warning"] and status

        status = wait_for(warned, 6 * INTERVAL, "status() to say no page is beating")
        assert asked[-1] <= 3 * INTERVAL, f"status() said it only {asked[-1]:.1f} s after the tab closed"
        assert status["active"]  # the page may come back
        assert "no page is beating" in status["warning"] and "reopen it, or run inject() again" in status["warning"]
        assert status["since_last_beat"] > 2 * INTERVAL

        # The notebook reopened: its saved, signed output runs the snippet again, for the same session.
        reopened = NotebookPage(browser, server, frontend, page.notebook)
        assert reopened.kernel_id == page.kernel_id
        beats = status["beats"]
        if any(UNTRUSTED in line for line in reopened.console):
            # The classic notebook before 1.1 gives the cells it creates no ids; nbformat adds them after
            # the server signed the save, so the server distrusts its own notebook on reopening and the
            # page runs none of its outputs (jupyter/nbclassic#275; the oldest row's nbclassic 1.0). The
            # words' other way back is the one left: run inject() again, in the reopened page.
            assert frontend == "nbclassic" and NBCLASSIC_GIVES_NO_CELL_IDS, reopened.console
            assert reopened.page.locator(".colab-jsalive-badge").count() == 0
            _, session = reopened.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='quiet')")
        try:
            status = wait_for(
                lambda: (s := client.status())["beats"] > beats and not s["warning"] and s,
                30,
                "beats from the reopened page, and the warning gone",
            )
        except TimeoutError as timeout:
            raise AssertionError(
                f"{timeout}; the reopened page's console: {reopened.console}; its badges: "
                f"{reopened.page.locator('.colab-jsalive-badge').count()}"
            ) from None
        assert status["active"] and status["label"] == "quiet"
        assert reopened.beats_sent(session) >= 1
        assert reopened.page.locator(".colab-jsalive-note").count() == 0, "a tab nobody discarded has no note"
    finally:
        if reopened is not None:
            reopened.close()
        client.close()
        page.close()  # closing a closed page does nothing
        server.shutdown_kernel(page.kernel_id)
