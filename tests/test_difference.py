"""When does the keep-alive make the difference to jupyter_server's kernel culler? Measured, with and
without it, for every setting of the culler that decides, in every situation a notebook is left in.

jupyter_server culls a kernel whose last activity (a message on its iopub channel) is older than
``cull_idle_timeout``, unless it has a connection (a page open on it) and ``cull_connected`` is off, or
it is busy and ``cull_busy`` is off; both are off by default (DESIGN.md section 8). Four real servers,
one for each pair of those two settings, each with a CULL_TIMEOUT culler; on each, every SITUATION twice,
in notebooks of their own: once with inject() run first, once without. Every kernel is watched for WATCH
seconds from the moment its situation began: it *survived* if its server still listed it then, it was
*culled* if it went before and the server's log says its culler culled it (a kernel that died is not
culled). All 40 run side by side (a culler acts on each kernel alone).

The pages are the classic notebook's where this environment serves it (the cheapest page to load): the
culler reads only the kernel's messages and connections, which every frontend makes alike. So is the
hidden tab, though the classic notebook does not look at the page's visibility: for this culler a hidden
tab is an open one with a connection, which is what hide_page() (tests/support/pages.py) leaves it. Where
visibility changes what a detector reads (JupyterHub's record of a server, SageMaker's monitor), the
hidden tab is JupyterLab's, which stops its own polls (test_hub.py, test_sagemaker.py). JupyterLab here
would cost eight more of its pages beside the hub's on two cores: on a new machine the matrix's set-up
then outlasted pytest's timeout.

FINDINGS is what the runs showed, and what each test asserts; the "Do you need it?" table (docs/need.md)
states it. Where both runs of a situation survive, the platform kept the kernel; where both are culled,
nothing in a page can help.
"""

from __future__ import annotations

import pytest

from tests.support.browser import FRONTENDS
from tests.support.servers import JupyterServer, start_all, stop_all
from tests.support.trials import SITUATIONS, Trial, TrialRun, close_pages

CULL_TIMEOUT = 10  # seconds: short, so the run is quick, yet long against the 2 s beat
INTERVAL = 2.0
WATCH = 3 * CULL_TIMEOUT + 5  # how long after its situation began a kernel must be listed to have survived
PRINT_EVERY = 3  # seconds between the lines of the printing cell, well inside CULL_TIMEOUT
FRONTEND = "nbclassic" if "nbclassic" in FRONTENDS else FRONTENDS[0]
SETTINGS = [(connected, busy) for connected in (False, True) for busy in (False, True)]


def finding(cull_connected: bool, cull_busy: bool, situation: str) -> tuple[str, str, str]:
    """What happened to the kernel (without the keep-alive, with it), and why."""
    if situation == "tab closed":
        return "culled", "culled", "no page, no beat: nothing in a page can help once the tab is closed"
    if situation == "busy, cell printing":
        return "survived", "survived", "the cell's output is activity: the running cell keeps its kernel"
    if situation == "busy, silent cell":
        if cull_busy and cull_connected:
            return (
                "culled",
                "culled",
                (
                    "the beats wait in the kernel's queue behind the cell and nothing "
                    "reaches its iopub channel: no page can keep a silent busy kernel here"
                ),
            )
        return (
            "survived",
            "survived",
            ("jupyter_server keeps a busy kernel (cull_busy off) or a connected one (cull_connected off) by itself"),
        )
    if not cull_connected:
        return "survived", "survived", "an open page keeps an idle kernel by itself (cull_connected off)"
    return "culled", "survived", "the beats are the kernel's only activity: here the keep-alive is the difference"


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory) -> dict[tuple[bool, bool, str, bool], TrialRun]:
    servers = {
        (connected, busy_): JupyterServer(
            tmp_path_factory.mktemp("difference"),
            cull_idle_timeout=CULL_TIMEOUT,
            cull_connected=connected,
            cull_busy=busy_,
        )
        for connected, busy_ in SETTINGS
    }
    runs = {
        (connected, busy_, situation, keepalive): TrialRun(servers[connected, busy_], situation, keepalive)
        for connected, busy_ in SETTINGS
        for situation in SITUATIONS
        for keepalive in (False, True)
    }
    try:
        start_all(servers.values())
        with Trial(list(runs.values()), WATCH) as trial:
            for run in runs.values():
                trial.set_up(run, browser, FRONTEND, INTERVAL, print_every=PRINT_EVERY)
            trial.judge()
        yield runs
    finally:
        close_pages(runs.values())
        stop_all(servers.values())


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize(
    ("cull_connected", "cull_busy"), SETTINGS, ids=[f"cull_connected={c},cull_busy={b}" for c, b in SETTINGS]
)
def test_what_the_kernel_culler_does_without_and_with_the_keepalive(trial, cull_connected, cull_busy, situation):
    without, with_, why = finding(cull_connected, cull_busy, situation)
    control, keep = (
        trial[cull_connected, cull_busy, situation, False],
        trial[cull_connected, cull_busy, situation, True],
    )
    if situation != "tab closed":  # (a closed tab's keep-alive beat until it closed: start_keepalive saw it)
        # It beat for as long as its kernel was there to beat to: a survival without beats credits nothing.
        # (Once a culler took the kernel the page hears that it is gone, and rightly stops.)
        lived = WATCH if keep.gone_after is None else min(WATCH, keep.gone_after)
        assert keep.beats_in_watch() >= lived / INTERVAL / 2, (
            f"only {keep.beats_in_watch()} beats in the {lived:.0f} s its kernel was watched"
        )
    seen = {"without the keep-alive": control.outcome, "with it": keep.outcome}
    assert seen == {"without the keep-alive": without, "with it": with_}, (
        f"cull_connected={cull_connected}, cull_busy={cull_busy}, {situation}: expected {without}/{with_} ({why})"
    )
