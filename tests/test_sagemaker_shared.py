"""A SageMaker Studio shared space, reproduced: real-time collaboration, the server started as SageMaker
starts it for a shared space (``--collaborative``), with Amazon's activity monitor. One notebook open in
three browsers, as members of the space open it from the file browser: one runs inject(), one had the
notebook open before, one opens it after.
Runs in two rows of `make test-compat`: `sagemaker-3.9-shared` (jupyter-collaboration 3.1.2, as
SageMaker Distribution 3.9.10 ships it) and `collaboration-5` (the newest, 5.0); elsewhere it is skipped.

What JupyterLab does there, as measured in both, depends on whether each page trusts the cell when its
output arrives: a page runs an output's JavaScript only for a cell it trusts.
- A cell added in the session is trusted in every page: the output reaches every member's page through
  the shared document, each runs the snippet, and every page beats the one keep-alive (the kernel holds
  it: one count, and a Stop from any page stops it in all).
- A cell saved in the notebook is as trusted as the notebook was when a page opened it (the server
  marks the cells of a notebook whose signature it knows). Running it marks it trusted in the runner's
  page and in the shared document, which a page opening the notebook later reads; a page that had an
  untrusted notebook open keeps its own untrusted copy, shows the output's line of text and sends
  nothing. Neither the browser context nor Run All against Run Cell changes that (tried).
So the runner's page is the one page sure to beat, and it must stay open.
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
INJECT = f"import colab_jsalive\nka = colab_jsalive.inject(interval={INTERVAL})"


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
        cell, session = owner.start_keepalive(INJECT)
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


def test_a_saved_cell_runs_in_the_pages_that_trust_it_the_runners_those_opened_after_or_all_if_the_notebook_is_trusted(
    browser, tmp_path
):
    """Yesterday's notebook, its inject() cell saved, opened by two members, run by one with Run All: once
    unsigned (its cells open untrusted) and once signed by the server's key (they open trusted)."""
    server = sagemaker_server(tmp_path, shared=True)
    contexts = [browser.new_context(), browser.new_context()]  # the other members: browsers of their own
    pages, runners = [], []  # every page; the runners' (in the shared profile), closed one by one
    try:
        server.start()
        for trusted in (False, True):
            notebook = SHARED + server.saved_notebook(f"saved-{trusted}.ipynb", INJECT, trusted)
            runner = NotebookPage(browser, server, "jupyterlab", notebook)
            member = NotebookPage(browser, server, "jupyterlab", notebook, context=contexts[0])  # open before
            pages += [runner, member]
            runners.append(runner)
            assert runner.trusts(0) is member.trusts(0) is trusted
            runner.run_all()
            runner.wait_badge(0, "running")
            session = runner.beating_session()
            if trusted:  # every page trusts the cell: the member's runs the same keep-alive
                member.wait_badge(0, "running")
                wait_for(lambda: member.beats_sent(session), 3 * INTERVAL, "a beat of the keep-alive from the member")
                member.press_stop(0)
                runner.wait_badge(0, "stopped", 3 * INTERVAL)
                continue
            # The member's page kept the cell untrusted: the output's line of text, no badge, no beat.
            latecomer = NotebookPage(browser, server, "jupyterlab", notebook, context=contexts[1])  # opens after
            pages.append(latecomer)
            assert (runner.trusts(0), member.trusts(0), latecomer.trusts(0)) == (True, False, True)
            wait_for(lambda: "colab_jsalive keep-alive" in member.cell(0).inner_text(), 10, "the output's text")
            latecomer.wait_badge(0, "running")
            wait_for(lambda: latecomer.beats_sent(session), 3 * INTERVAL, "a beat from the page opened after")
            holds_for(lambda: not member.keepalive_sockets(), 3 * INTERVAL, "no keep-alive in the member's page")
            assert member.badge(0).count() == 0
            runner.press_stop(0)
            latecomer.wait_badge(0, "stopped", 3 * INTERVAL)
        assert [page.problems() for page in pages] == [[]] * len(pages)
    finally:
        for context in contexts:
            context.close()
        for runner in runners:  # the members' pages closed with their contexts
            runner.close()
        server.stop()
