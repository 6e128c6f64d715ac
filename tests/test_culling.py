"""The claim itself: with inject(), a real jupyter_server's idle culler leaves the kernel alone.

Real servers with a short cull_idle_timeout and cull_connected on (jupyter_server's default, off, never
culls a kernel with a page open: there an open page keeps the kernel by itself). In every frontend this
environment serves, at the root, and once behind /user/NAME/ as under JupyterHub, a control notebook
idles in an open page and must be culled, the keep-alive's kernel must live through the whole watch of
WATCH seconds, and after Stop it must be culled too. All the cases run side by side in one trial (one
server per base URL), and each test asserts one case.
"""

from __future__ import annotations

import pytest

from tests.support.browser import FRONTENDS
from tests.support.servers import JupyterServer, start_all, stop_all
from tests.support.trials import CullingCase, culling_trial, fresh

CULL_TIMEOUT = 10  # seconds: short, so the tests are quick, yet long against the 2 s interval
INTERVAL = 2.0
WATCH = 3 * CULL_TIMEOUT + 5  # each keep-alive kernel must live this long after inject() ran
TRIALS = [(frontend, "/") for frontend in FRONTENDS] + [(FRONTENDS[0], "/user/alice/")]


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory) -> dict[tuple[str, str], CullingCase]:
    servers = {
        base_url: JupyterServer(tmp_path_factory.mktemp("culling"), base_url=base_url, cull_idle_timeout=CULL_TIMEOUT)
        for base_url in dict.fromkeys(base_url for _, base_url in TRIALS)
    }
    try:
        start_all(servers.values())
        cases = {(frontend, base_url): CullingCase(servers[base_url], frontend) for frontend, base_url in TRIALS}
        culling_trial(browser, list(cases.values()), INTERVAL, watch=WATCH)
        yield cases
        for case in cases.values():
            case.keep.close()
            case.control.close()
    finally:
        stop_all(servers.values())


@pytest.mark.parametrize(("frontend", "base_url"), TRIALS)
def test_keepalive_kernel_outlives_the_idle_culler_and_is_culled_after_stop(trial, frontend, base_url):
    case = trial[(frontend, base_url)]
    assert case.control_culled_after is not None, "the culler never culled the idle control kernel"
    assert case.keep_culled_after is None, (
        f"the keep-alive kernel was culled {case.keep_culled_after:.0f} s after inject()"
    )
    # Its server listed it, alive, WATCH seconds after inject() ran: the whole watch is covered.
    assert case.watched_for >= WATCH, f"the keep-alive kernel was last seen {case.watched_for:.0f} s after inject()"
    assert case.beats >= 3
    assert case.culled_after_stop is not None, "the keep-alive kernel was not culled after Stop"


@pytest.mark.parametrize(("frontend", "base_url"), TRIALS)
def test_the_beats_keep_the_kernels_last_activity_fresh_while_the_control_goes_stale(trial, frontend, base_url):
    """What idle detectors read (DESIGN.md section 8) is the server's own report of the kernel: GET
    api/kernels. With the keep-alive, its last_activity never fell three intervals behind during the
    watch (a beat every interval, with room for a late timer on a loaded machine), and the page stayed
    connected; the control's went stale."""
    case = trial[(frontend, base_url)]
    assert case.keep_activity_age <= fresh(INTERVAL), f"last_activity fell {case.keep_activity_age:.1f} s behind"
    assert case.keep_connections is not None and case.keep_connections >= 1
    assert case.control_activity_age > 2 * INTERVAL, (
        f"the control's last_activity was never more than {case.control_activity_age:.1f} s behind"
    )
