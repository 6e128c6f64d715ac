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
the README's "Do you need it?" table states it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from tests.harness import SITUATIONS, JupyterServer, NotebookPage, TrialRun, holds_for, utc_time, wait_for

pytest.importorskip(
    "jupyter_activity_monitor_extension",
    reason="Amazon's activity monitor runs in make test-compat's sagemaker-3.9 row",
)

INTERVAL = 3.0
WATCH = 30  # seconds every server's api/idle is watched, once all the runs are set up
FRESH = 2 * INTERVAL  # a kept app: api/idle never older than this during the watch
STALE = 3 * INTERVAL  # an idle app: api/idle older than this when the watch ends (no beat moved it)
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


def sagemaker_server(folder, shared: bool = False) -> JupyterServer:
    """A server started as SageMaker's start-jupyter-server starts it; for a shared space, with
    ``--collaborative`` (the same as ``--LabApp.collaborative=True``)."""
    args = ("--ServerApp.allow_origin=*",) + (("--LabApp.collaborative=True",) if shared else ())
    return JupyterServer(folder, base_url="/jupyterlab/default/", token="", args=args)


def idle_age(server: JupyterServer) -> float:
    """How old api/idle's lastActiveTimestamp is, in seconds, when the question is sent."""
    asked = datetime.now(timezone.utc)
    stamp = server.api("GET", "api/idle")["lastActiveTimestamp"]
    return (asked - utc_time(stamp)).total_seconds()


@dataclass
class Run(TrialRun):
    oldest: float = 0.0  # the oldest api/idle seen during the watch, in seconds
    last: float = 0.0  # api/idle's age when the watch ended

    @property
    def outcome(self) -> str:
        if self.oldest <= FRESH:
            return "fresh"
        return "stale" if self.last > STALE else f"neither (oldest {self.oldest:.1f} s, last {self.last:.1f} s)"


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory) -> dict[tuple[str, bool], Run]:
    runs = {
        (situation, keepalive): Run(sagemaker_server(tmp_path_factory.mktemp("sagemaker")), situation, keepalive)
        for situation in SITUATIONS
        for keepalive in (False, True)
    }
    try:
        for run in runs.values():
            run.server.start()
            run.set_up(browser, "jupyterlab", run.server.new_notebook("studio.ipynb"), INTERVAL, PRINT_EVERY)
        deadline = time.monotonic() + WATCH
        while time.monotonic() < deadline:
            for run in runs.values():
                run.oldest = max(run.oldest, idle_age(run.server))
            time.sleep(0.5)
        for run in runs.values():
            run.last = idle_age(run.server)
            run.oldest = max(run.oldest, run.last)
            if run.page is not None:
                run.read_page()
        yield runs
    finally:
        for run in runs.values():
            if run.page is not None:
                run.page.close()
            run.server.stop()


@pytest.mark.parametrize("situation", SITUATIONS)
def test_what_sagemakers_activity_monitor_sees_without_and_with_the_keepalive(trial, situation):
    control, keep = trial[situation, False], trial[situation, True]
    assert keep.beats >= 1, "the keep-alive never beat"  # it ran: a fresh api/idle without beats credits nothing
    seen = {"without the keep-alive": control.outcome, "with it": keep.outcome}
    without, with_ = FINDINGS[situation]
    assert seen == {"without the keep-alive": without, "with it": with_}, f"{situation}: api/idle {seen}"
    assert control.errors == keep.errors == ()


def test_after_stop_sagemakers_idle_timestamp_goes_stale_again(browser, tmp_path):
    server = sagemaker_server(tmp_path).start()
    page = NotebookPage(browser, server, "jupyterlab", server.new_notebook("studio.ipynb"))
    try:
        assert page.page.url.startswith(server.url) and "token=" not in page.page.url
        cell, _ = page.start_keepalive(f"import colab_jsalive\nka = colab_jsalive.inject(interval={INTERVAL})")
        # Fresh for longer than the inject() cell's own activity could keep it: the beats keep it.
        holds_for(lambda: idle_age(server) <= FRESH, 3 * FRESH, f"api/idle within {FRESH:g} s of now")
        page.press_stop(cell)
        wait_for(lambda: idle_age(server) > STALE, 6 * STALE, "api/idle to go stale after Stop")
        assert page.problems(kinds=("pageerror",)) == []
    finally:
        page.close()
        server.stop()
