"""A tab the browser discarded to save memory (Chrome's Memory Saver) says so when it comes back: its
saved output runs again, reads ``document.wasDiscarded``, and the badge says what happened and how to
keep the site active; the kernel's status() says for how long nothing beat. The snippet is the same in
every frontend and the kernel's part is the same on every stack, so this runs in `make test` alone.
"""

from __future__ import annotations

import re

from tests.conftest import PRELUDE
from tests.support.kernels import KernelClient
from tests.support.pages import NotebookPage
from tests.support.waiting import wait_for

INTERVAL = 2.0
# What Chrome sets in a page it reloads after discarding its tab. Headless Chromium discards no tab on
# request, so the test sets it itself, before any of the page's scripts run.
WAS_DISCARDED_JS = "Object.defineProperty(Document.prototype, 'wasDiscarded', {get: () => true, configurable: true})"


def test_a_tab_the_browser_discarded_says_so_when_it_comes_back_wasDiscarded_set_by_the_test(browser, server):
    """EMULATED discard: the tab is closed (Memory Saver unloads a discarded tab's page as if closed),
    and the notebook opened again in JupyterLab, in a page whose ``document.wasDiscarded`` the test
    sets to true, as Chrome sets it in a page it reloads after
    discarding its tab. The saved output runs again: its badge says the browser discarded the tab and
    how to keep the site active, the kernel's status() says for how long nothing beat, and, once the
    tab goes quiet again, names the discard as a likely cause."""
    frontend = "jupyterlab"
    page = NotebookPage(browser, server, frontend, server.new_notebook(f"discarded-{frontend}.ipynb"))
    client = KernelClient(server.connection_file(page.kernel_id))
    back = None
    try:
        page.run(PRELUDE)
        page.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='discarded')")
        wait_for(lambda: client.status()["beats"] >= 2, 30, "two beats answered")
        page.save_with_keepalive()
        page.close()
        quiet = wait_for(lambda: client.status()["warning"], 6 * INTERVAL, "status() to say no page is beating")
        assert "discarded by the browser to save memory (Chrome's Memory Saver)" in quiet
        beats = client.status()["beats"]

        back = NotebookPage(browser, server, frontend, page.notebook, init_script=WAS_DISCARDED_JS)
        assert back.page.evaluate("document.wasDiscarded") is True
        note = back.page.locator(".colab-jsalive-note")
        note.wait_for(timeout=30_000)
        words = note.text_content()
        assert words.startswith("The browser discarded this tab while it was in the background"), words
        assert "keep this site active" in words and note.get_attribute("role") == "note"
        status = wait_for(
            lambda: (s := client.status())["beats"] > beats and s, 30, "beats from the page that came back"
        )
        warning = status["warning"]
        assert status["active"] and warning.startswith("the browser discarded the notebook's tab"), warning
        assert "keep the notebook's site active" in warning
        gap = re.search(r"no beat came for (.+?), until the tab was reloaded", warning)
        assert gap and ("min" in gap.group(1) or float(gap.group(1).removesuffix(" s")) > 2 * INTERVAL), warning

        back.close()  # quiet again: the earlier discard is named as the likely cause
        again = wait_for(
            lambda: "once already" in (w := client.status()["warning"]) and w, 6 * INTERVAL, "the quiet warning"
        )
        assert again.startswith("no beat for") and "had discarded its tab once already" in again
    finally:
        if back is not None:
            back.close()
        client.close()
        page.close()
        server.shutdown_kernel(page.kernel_id)
