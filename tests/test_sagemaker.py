"""SageMaker Studio's JupyterLab, reproduced: Amazon's activity monitor, started as SageMaker starts it.

SageMaker shuts an idle JupyterLab app down by reading `GET <base_url>api/idle` of Amazon's
jupyter-activity-monitor-extension: ``{"lastActiveTimestamp": ...}``, the newest ``last_activity`` of any
session's kernel or any terminal (DESIGN.md section 8). The servers here run as SageMaker's
start-jupyter-server runs it (base URL /jupyterlab/default/, an empty token, any origin), with the
extension installed: the `sagemaker-3.9` row of `make test-compat`, built from SageMaker Distribution
3.9.10's versions (the extension caps pyzmq below what `make test` installs, so the row is its own
environment; elsewhere this module is skipped).

api/idle speaks for the whole server, so every run of the with-and-without trial has a server of its
own: each SITUATION a JupyterLab notebook is left in, once without the keep-alive and once with
inject() run first, all ten side by side, watched for WATCH seconds. FINDINGS is what the runs showed;
the "Do you need it?" table (docs/need.md) states it.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from tests.support.pages import NotebookPage
from tests.support.servers import idle_age, sagemaker_server, start_all, stop_all
from tests.support.trials import SITUATIONS, TrialRun, close_pages, fresh, read_pages, stale
from tests.support.waiting import holds_for, wait_for

pytest.importorskip(
    "jupyter_activity_monitor_extension",
    reason="Amazon's activity monitor runs in make test-compat's sagemaker-3.9 row",
)

INTERVAL = 3.0
WATCH = 30  # seconds every server's api/idle is watched, once all the runs are set up
FRESH = fresh(INTERVAL)  # a kept app: api/idle never older than this during the watch
# An idle app: api/idle older than this in every answer of the watch's last STALE seconds (no beat moved
# it for all that time).
STALE = stale(INTERVAL)
PRINT_EVERY = 3  # seconds between the lines of the printing cell
FINDINGS = {  # situation: (without the keep-alive, with it)
    "idle, tab visible": ("stale", "fresh"),  # an open page's own requests are not kernel activity here
    "idle, tab hidden": ("stale", "fresh"),
    # The monitor reads last_activity alone, not whether a kernel is busy, and the beats wait in the
    # kernel's queue behind the cell: a cell that prints nothing looks idle, keep-alive or not.
    "busy, silent cell": ("stale", "stale"),
    "busy, cell printing": ("fresh", "fresh"),  # the cell's output is activity
    "tab closed": ("stale", "stale"),  # no page, no beat
}


@dataclass(eq=False)
class Run(TrialRun):
    # api/idle's age in each answer of the watch: (seconds into the watch, age in seconds)
    ages: list[tuple[float, float]] = field(default_factory=list)

    @property
    def monitor_saw(self) -> str:
        oldest = max(age for _, age in self.ages)
        if oldest <= FRESH:
            return "fresh"
        end = self.ages[-1][0]
        youngest_at_end = min(age for at, age in self.ages if at >= end - STALE)
        if youngest_at_end > STALE:
            return "stale"
        return f"neither (oldest {oldest:.1f} s, youngest in the last {STALE:g} s {youngest_at_end:.1f} s)"


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory) -> dict[tuple[str, bool], Run]:
    runs = {
        (situation, keepalive): Run(sagemaker_server(tmp_path_factory.mktemp("sagemaker")), situation, keepalive)
        for situation in SITUATIONS
        for keepalive in (False, True)
    }
    try:
        start_all(run.server for run in runs.values())
        for run in runs.values():
            run.set_up(browser, "jupyterlab", run.server.new_notebook("studio.ipynb"), INTERVAL, PRINT_EVERY)
        # Every server is asked at once, so that the answers of one round are of the same moment.
        with ThreadPoolExecutor(len(runs)) as asking:
            began = time.monotonic()

            def ask_all() -> bool:
                at = time.monotonic() - began
                for run, age in zip(
                    runs.values(), asking.map(lambda run: idle_age(run.server), runs.values()), strict=True
                ):
                    run.ages.append((at, age))
                return True

            holds_for(ask_all, WATCH, "every server answering api/idle", poll=0.5)
        read_pages(runs.values())
        yield runs
    finally:
        close_pages(runs.values())
        stop_all(run.server for run in runs.values())


@pytest.mark.parametrize("situation", SITUATIONS)
def test_what_sagemakers_activity_monitor_sees_without_and_with_the_keepalive(trial, situation):
    control, keep = trial[situation, False], trial[situation, True]
    if situation != "tab closed":  # (a closed tab's keep-alive beat until it closed: start_keepalive saw it)
        # It ran through the watch: a fresh api/idle without beats credits nothing.
        assert keep.beats_in_watch() >= WATCH / INTERVAL / 2, f"only {keep.beats_in_watch()} beats while watched"
    seen = {"without the keep-alive": control.monitor_saw, "with it": keep.monitor_saw}
    without, with_ = FINDINGS[situation]
    assert seen == {"without the keep-alive": without, "with it": with_}, f"{situation}: api/idle {seen}"
    assert control.errors == keep.errors == ()


def test_after_stop_sagemakers_idle_timestamp_goes_stale_again(browser, tmp_path):
    server = sagemaker_server(tmp_path)
    page = None
    try:
        server.start()
        page = NotebookPage(browser, server, "jupyterlab", server.new_notebook("studio.ipynb"))
        assert page.page.url.startswith(server.url) and "token=" not in page.page.url
        cell, _ = page.start_keepalive(f"import colab_jsalive\nka = colab_jsalive.inject(interval={INTERVAL})")
        # Fresh for longer than the inject() cell's own activity could keep it: the beats keep it.
        holds_for(lambda: idle_age(server) <= FRESH, 2 * FRESH, f"api/idle within {FRESH:g} s of now")
        page.press_stop(cell)
        wait_for(lambda: idle_age(server) > STALE, 6 * STALE, "api/idle to go stale after Stop")
        assert page.problems(kinds=("pageerror",)) == []
    finally:
        if page is not None:
            page.close()
        server.stop()
