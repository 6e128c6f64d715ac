"""A Jupyter server that shuts itself down when idle (``ServerApp.shutdown_no_activity_timeout``, set
where a cloud machine costs money while it runs), beside a kernel culler, with and without the keep-alive.

jupyter_server checks every 60 s (``ServerApp.init_shutdown_no_activity``): while any kernel (or terminal)
exists it does nothing; once none is left, it stops the server if ``web_app.last_activity()`` is older
than the timeout, and that counts the API's own requests too. So whether the server lives follows
whether its kernel does, and, once the kernel is gone, whether the page still asks the server anything.
What each run showed is FINDINGS; the "Do you need it?" table (docs/need.md) states it.

Each run is a real server of its own (the rule speaks for the whole server) with a JupyterLab notebook
left in a TAB situation, once without the keep-alive and once with inject() run first, under each of
SETTINGS for the kernel culler, all side by side. Each server is watched until the check that decides
it (Run.decided_after): the first after its kernel had been gone long enough to let the server go, or,
for a kernel kept through KERNEL_WATCH, past its first check; so how long a set-up took on a loaded
machine moves when a run is decided, never what it shows. Its kernel and the server itself are asked
over the API with ``no_track_activity``, which the server does not count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.support.servers import JupyterServer, stop_all
from tests.support.trials import TrialRun, close_pages, read_pages
from tests.support.waiting import Watcher, wait_for

INTERVAL = 2.0
CULL_IDLE_TIMEOUT = 10  # the kernel culler's, in seconds
SHUTDOWN_AFTER = 10  # ServerApp.shutdown_no_activity_timeout, in seconds
CHECKED_EVERY = 60  # jupyter_server's own period for that check, from the server's start; not configurable
LATE = 15  # seconds a check may come after its time on a loaded machine
# Seconds after its set-up by when a kernel still listed was kept: the culler (every 2 s) takes a kernel
# idle for CULL_IDLE_TIMEOUT, and here its page beats every INTERVAL (as in test_difference.py).
KERNEL_WATCH = 3 * CULL_IDLE_TIMEOUT + 5
SETTINGS = {"cull_connected=True": True, "cull_connected=False (jupyter_server's default)": False}
TABS = ("idle, tab visible", "idle, tab hidden", "tab closed")
SHUT_DOWN = "shutting down"  # the end of the server's log line "No kernels for N seconds; shutting down."
FINDINGS = {  # (setting, tab): ((kernel, server) without the keep-alive, (kernel, server) with it)
    ("cull_connected=True", "idle, tab visible"): (("culled", "kept"), ("kept", "kept")),
    ("cull_connected=True", "idle, tab hidden"): (("culled", "stopped"), ("kept", "kept")),
    ("cull_connected=True", "tab closed"): (("culled", "stopped"), ("culled", "stopped")),
    ("cull_connected=False (jupyter_server's default)", "idle, tab visible"): (("kept", "kept"), ("kept", "kept")),
    ("cull_connected=False (jupyter_server's default)", "idle, tab hidden"): (("kept", "kept"), ("kept", "kept")),
    ("cull_connected=False (jupyter_server's default)", "tab closed"): (
        ("culled", "stopped"),
        ("culled", "stopped"),
    ),
}


@dataclass(eq=False)
class Run(TrialRun):
    setting: str = ""
    started: float = 0.0  # time.monotonic() when its server started
    # Seconds after the server started:
    set_up_after: float | None = None
    kernel_gone_after: float | None = None
    server_stopped_after: float | None = None

    @property
    def decided_after(self) -> float | None:
        """Seconds after its server started by when the run has shown what it shows, once set up. A
        kernel gone: the first check at which it had been gone for SHUTDOWN_AFTER seconds, when only the
        server's own activity decides. A kernel kept: KERNEL_WATCH seconds after the set-up, and past
        the first check. LATE seconds more for a check that comes late."""
        if self.set_up_after is None:
            return None
        if self.kernel_gone_after is not None:
            since = self.kernel_gone_after + SHUTDOWN_AFTER
            return (since // CHECKED_EVERY + 1) * CHECKED_EVERY + LATE
        return max(self.set_up_after + KERNEL_WATCH, CHECKED_EVERY + LATE)

    def decided(self) -> bool:
        if self.server_stopped_after is not None:
            return True
        after = self.decided_after
        return after is not None and time.monotonic() - self.started > after

    @property
    def seen(self) -> tuple[str, str]:
        kernel = "kept" if self.kernel_gone_after is None else "culled"
        return kernel, "kept" if self.server_stopped_after is None else "stopped"

    def look(self) -> None:
        """Note when the server stopped, or else whether its kernel is gone."""
        at = time.monotonic() - self.started
        if self.set_up_after is None or self.decided():  # not set up yet, or what it shows is shown
            return
        if self.server.process.poll() is not None:
            self.server_stopped_after = at
            return
        try:
            listed = self.kernel_id in self.server.kernel_ids()
        except OSError:  # no answer (refused, reset, timed out): a server stopping; the next look sees it gone
            return
        if not listed and self.kernel_gone_after is None:
            self.kernel_gone_after = at


class ShutdownWatch(Watcher):
    """Looks at every run each second, in a thread of its own from the first set-up on, so that a
    server that stops, or a kernel culled, while later runs are being set up is seen when it happens."""

    what = "watching the servers"

    def __init__(self, runs) -> None:
        self.runs = list(runs)
        super().__init__()

    def look(self) -> None:
        for run in self.runs:
            run.look()


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory) -> dict[tuple[str, str, bool], Run]:
    runs = {
        (setting, tab, keep): Run(
            JupyterServer(
                tmp_path_factory.mktemp("self-shutdown"),
                cull_idle_timeout=CULL_IDLE_TIMEOUT,
                cull_connected=connected,
                args=(f"--ServerApp.shutdown_no_activity_timeout={SHUTDOWN_AFTER}",),
            ),
            tab,
            keep,
            setting=setting,
        )
        for setting, connected in SETTINGS.items()
        for tab in TABS
        for keep in (False, True)
    }
    watch = ShutdownWatch(runs.values())
    try:
        for run in runs.values():
            run.server.start()
            run.started = time.monotonic()
            run.set_up(browser, "jupyterlab", run.server.new_notebook("idle.ipynb"), INTERVAL)
            run.set_up_after = time.monotonic() - run.started

        def everyone_decided() -> bool:
            watch.check()
            return all(run.decided() for run in runs.values())

        # The latest a run can be decided: its kernel culled at the end of KERNEL_WATCH, then one check.
        latest = KERNEL_WATCH + SHUTDOWN_AFTER + CHECKED_EVERY + LATE + 30
        wait_for(everyone_decided, latest, "every server stopped or watched through the check that decides it", poll=1)
        watch.close()
        watch.check()
        read_pages(runs.values())
        yield runs
    finally:
        watch.close()
        close_pages(runs.values())
        stop_all(run.server for run in runs.values())


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("tab", TABS)
def test_a_server_that_shuts_itself_down_when_idle_without_and_with_the_keepalive(trial, setting, tab):
    control, keep = trial[setting, tab, False], trial[setting, tab, True]
    seen = {"without the keep-alive": control.seen, "with it": keep.seen}
    without, with_ = FINDINGS[setting, tab]
    assert seen == {"without the keep-alive": without, "with it": with_}, (
        f"{setting}, {tab}: (kernel, server) {seen}; kernel gone after "
        f"{control.kernel_gone_after} / {keep.kernel_gone_after} s, server stopped after "
        f"{control.server_stopped_after} / {keep.server_stopped_after} s of running"
    )
    for run in (control, keep):
        if run.server_stopped_after is not None:  # by its own rule, not otherwise
            assert SHUT_DOWN in run.server._log_tail(), run.server._log_tail()
        if run.kernel_gone_after is not None:
            assert run.server.culled(run.kernel_id), f"{run.kernel_id} gone, but not culled for being idle"
    if tab != "tab closed" and keep.seen[0] == "kept":  # it beat through the watch
        watched = keep.decided_after - keep.set_up_after
        assert keep.beats_in_watch() >= watched / INTERVAL / 4, (
            f"only {keep.beats_in_watch()} beats in the {watched:.0f} s it was watched"
        )
    assert control.errors == keep.errors == ()
