"""The claim itself: with inject(), a real jupyter_server's idle culler leaves the kernel alone.

A real server with a short cull_idle_timeout and cull_connected on (so an open page does not protect
a kernel by itself). The control kernel, idle in an open page, is culled; the kernel with inject()
outlives several timeouts; after Stop it is culled too. In every frontend this environment serves, at
the root, and once behind /user/NAME/ as under JupyterHub.
"""

from __future__ import annotations

import pytest

from tests.harness import FRONTENDS, JupyterServer, culling_trial

CULL_TIMEOUT = 10  # seconds: short, so the tests are quick, yet long against the 2 s interval
INTERVAL = 2.0
TRIALS = [(frontend, "/") for frontend in FRONTENDS] + [(FRONTENDS[0], "/user/alice/")]


@pytest.mark.parametrize(("frontend", "base_url"), TRIALS)
def test_keepalive_kernel_outlives_the_idle_culler_and_is_culled_after_stop(
    frontend, base_url, browser, tmp_path
):
    server = JupyterServer(tmp_path, base_url=base_url, cull_idle_timeout=CULL_TIMEOUT).start()
    try:
        result = culling_trial(browser, server, INTERVAL, outlive=3 * CULL_TIMEOUT + 5, frontend=frontend)
        assert result["keep_alive_for"] >= 3 * CULL_TIMEOUT
        assert result["beats"] >= 3
        for page in (result["keep"], result["control"]):
            page.close()
    finally:
        server.stop()
