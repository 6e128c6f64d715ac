"""Kubeflow Notebooks' culler, with and without the keep-alive: its rule APPLIED to a real server's
answers, not its controller run (that needs a Kubernetes API). The rule, its source and the server as
Kubeflow starts it are in tests/support/kubeflow.py.

One real jupyter_server at Kubeflow's base URL (/notebook/<namespace>/<name>/, an empty token), and on it
each SITUATION a JupyterLab notebook is left in, once without the keep-alive and once with inject() run
first, side by side. Every CHECK_EVERY seconds for WATCH seconds the test asks ``api/kernels`` as the
controller does (a plain GET) and applies the rule to each run's kernel, as the controller applies it to
a notebook server whose one kernel that is: the runs share a server, and the rule reads every kernel of
its server, so each run's rule is given its own kernel's entry. FINDINGS is what the runs showed; the
"Do you need it?" table (docs/need.md) states it.
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from tests.support.kubeflow import CullingRule, kubeflow_server
from tests.support.trials import TrialRun, close_pages, read_pages, stale
from tests.support.waiting import holds_for

INTERVAL = 3.0
CULL_IDLE_TIME = stale(INTERVAL)  # seconds here; Kubeflow's default is 1440 minutes
CHECK_EVERY = 2.0  # IDLENESS_CHECK_PERIOD, a minute in Kubeflow
WATCH = 30  # seconds the rule is applied, once every run is set up
SITUATIONS = ("idle, tab visible", "busy, silent cell", "tab closed")
FINDINGS = {  # situation: (without the keep-alive, with it)
    # The rule reads the kernels' last_activity; connections are never read, so an open tab is no activity.
    "idle, tab visible": ("stopped", "kept"),
    # Any kernel whose execution_state is not idle makes the notebook active now: the platform keeps it.
    "busy, silent cell": ("kept", "kept"),
    "tab closed": ("stopped", "stopped"),  # no page, no beat
}


@dataclass(eq=False)
class Run(TrialRun):
    rule: CullingRule | None = None
    stopped_after: float | None = None  # seconds into the watch the rule would first have stopped it

    @property
    def verdict(self) -> str:
        return "kept" if self.stopped_after is None else "stopped"


def kernels_as_the_controller_asks(url: str) -> list[dict]:
    """``GET <base_url>api/kernels`` as getNotebookApiKernels sends it: no token, no parameter."""
    with urllib.request.urlopen(f"{url}api/kernels", timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory) -> dict[tuple[str, bool], Run]:
    server = kubeflow_server(tmp_path_factory.mktemp("kubeflow"))
    runs = {(situation, keep): Run(server, situation, keep) for situation in SITUATIONS for keep in (False, True)}
    try:
        server.start()
        for (situation, keep), run in runs.items():
            name = f"{situation.replace(', ', '-').replace(' ', '-')}-{'with' if keep else 'without'}.ipynb"
            run.set_up(browser, "jupyterlab", server.new_notebook(name), INTERVAL)
            run.rule = CullingRule(CULL_IDLE_TIME, datetime.now(timezone.utc))  # the notebook, first seen
        began = time.monotonic()

        def check_all() -> bool:
            now = datetime.now(timezone.utc)
            kernels = kernels_as_the_controller_asks(server.url)
            for run in runs.values():
                stops = run.rule.check([k for k in kernels if k["id"] == run.kernel_id], now)
                if stops and run.stopped_after is None:
                    run.stopped_after = time.monotonic() - began
            return True

        holds_for(check_all, WATCH, "api/kernels answering the rule's checks", poll=CHECK_EVERY)
        read_pages(runs.values())
        yield runs
    finally:
        close_pages(runs.values())
        server.stop()


@pytest.mark.parametrize("situation", SITUATIONS)
def test_kubeflows_culling_rule_applied_to_api_kernels_without_and_with_the_keepalive(trial, situation):
    control, keep = trial[situation, False], trial[situation, True]
    assert keep.page is None or keep.page.page.url.startswith(keep.server.url)
    if situation != "tab closed":  # it ran through the watch: a kept notebook without beats credits nothing
        assert keep.beats_in_watch() >= WATCH / INTERVAL / 2, f"only {keep.beats_in_watch()} beats while watched"
    seen = {"without the keep-alive": control.verdict, "with it": keep.verdict}
    without, with_ = FINDINGS[situation]
    assert seen == {"without the keep-alive": without, "with it": with_}, f"{situation}: {seen}"
    assert control.errors == keep.errors == ()


# The rule itself, on answers written out, against what the controller's source says it does.

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)


def kernel(state: str, seconds_ago: float) -> dict:
    stamp = (T0 - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")
    return {"id": "k", "execution_state": state, "last_activity": stamp, "connections": 1}


def test_the_rule_reads_the_newest_idle_kernel_a_busy_one_as_now_and_keeps_its_mark_without_kernels():
    rule = CullingRule(60, T0 - timedelta(seconds=30))
    assert not rule.check([kernel("idle", 50), kernel("idle", 20)], T0)
    assert rule.last_activity == T0 - timedelta(seconds=20)
    assert rule.check([kernel("idle", 90)], T0), "an older kernel activity replaces the mark, as in the source"
    assert not rule.check([kernel("idle", 500), kernel("busy", 500)], T0) and rule.last_activity == T0
    assert not rule.check([kernel("starting", 500)], T0), "any state but idle counts as active"
    later = T0 + timedelta(seconds=61)
    assert rule.check([], later) and rule.check(None, later) and rule.last_activity == T0
