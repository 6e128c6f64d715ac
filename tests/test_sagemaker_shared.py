"""A SageMaker Studio shared space, reproduced: real-time collaboration, the server started as SageMaker
starts it for a shared space (``--collaborative``), with Amazon's activity monitor. One notebook open in
three browsers, as members of the space open it from the file browser: one runs inject(), one had the
notebook open before, one opens it after.
Runs in two rows of `make test-compat`: `sagemaker-3.9-shared` (jupyter-collaboration 3.1.2, as
SageMaker Distribution 3.9.10 ships it) and `collaboration-5` (the newest, 5.0); elsewhere it is skipped.

What JupyterLab does there, as measured in both: the output reaches the other members' pages through the
shared document as trusted, so they run the snippet too and every page beats the one keep-alive (the
kernel holds it: one count, and a Stop from any page stops it in all).
"""

from __future__ import annotations

import pytest

from tests.support.pages import NotebookPage
from tests.support.servers import idle_age, sagemaker_server
from tests.support.trials import fresh, stale
from tests.support.waiting import holds_for, wait_for

pytest.importorskip(
    "jupyter_activity_monitor_extension", reason="Amazon's activity monitor runs in make test-compat's shared rows"
)
collaboration = pytest.importorskip(
    "jupyter_collaboration", reason="real-time collaboration runs in make test-compat's shared rows"
)
# Where the file browser opens a shared document: jupyter-collaboration 3 from a drive of its own ("RTC:";
# a plain path opens a private copy), 5 from the default one.
SHARED = "RTC:" if collaboration.__version__.startswith("3.") else ""
INTERVAL = 3.0
WATCH = 30  # seconds api/idle is watched while the three pages beat
FRESH = fresh(INTERVAL)  # api/idle never older than this while they beat
STALE = stale(INTERVAL)  # ... and older than this once stopped
COLLABORATIVE_JS = "window.jupyterapp.shell.currentWidget.context.model.collaborative"


def test_in_a_shared_space_every_members_page_runs_the_one_keepalive_keeps_api_idle_fresh_and_stops_with_it(
    browser, tmp_path
):
    server = sagemaker_server(tmp_path, shared=True)
    contexts = [browser.new_context(), browser.new_context()]  # the other members: browsers of their own
    owner = None
    try:
        server.start()
        notebook = SHARED + server.new_notebook("shared.ipynb")
        owner = NotebookPage(browser, server, "jupyterlab", notebook)
        member = NotebookPage(browser, server, "jupyterlab", notebook, context=contexts[0])  # open before the cell runs
        cell, session = owner.start_keepalive(f"import colab_jsalive\nka = colab_jsalive.inject(interval={INTERVAL})")
        latecomer = NotebookPage(browser, server, "jupyterlab", notebook, context=contexts[1])  # opens after
        pages = (owner, member, latecomer)
        for page in pages:
            assert page.page.evaluate(COLLABORATIVE_JS), "the notebook is not shared"
            assert page.kernel_id == owner.kernel_id  # one notebook, one kernel
        for page in (member, latecomer):
            page.wait_badge(cell, "running")
            wait_for(lambda: page.beats_sent(session), 3 * INTERVAL, "a beat of the same keep-alive from the page")
        holds_for(lambda: idle_age(server) <= FRESH, WATCH, f"api/idle within {FRESH:g} s of now")
        # One keep-alive, counted by the kernel: a badge reads the beats of every page, not its own. The
        # pages beat on while they are read, so the count is bracketed by what they had sent before it
        # was read (less the one beat each page may have in flight) and what they had sent after.
        sent_before = sum(page.beats_sent(session) for page in pages)
        counted = max(int(page.badge_data(cell)["beats"]) for page in pages)
        sent_after = sum(page.beats_sent(session) for page in pages)
        assert sent_before - len(pages) <= counted <= sent_after, (
            f"{counted} beats counted; the pages had sent {sent_before} before and {sent_after} after"
        )
        # The Stop of the page that opened last: in a page that was open when the cell arrived,
        # JupyterLab's windowed notebook sometimes leaves the new cell out of view (display: none)
        # until the notebook is scrolled, and a person would scroll first.
        latecomer.press_stop(cell)
        for page in pages:
            assert page.wait_badge(cell, "stopped", 3 * INTERVAL)["reason"] == "stopped with the badge's Stop button"
            wait_for(lambda: page.keepalive_timers() == 0, 3 * INTERVAL, "no keep-alive timer left in the page")
        wait_for(lambda: idle_age(server) > STALE, 6 * STALE, "api/idle to go stale once stopped")
        assert [page.problems() for page in pages] == [[], [], []]
    finally:
        for context in contexts:
            context.close()
        if owner is not None:
            owner.close()
        server.stop()
