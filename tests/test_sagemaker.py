"""SageMaker Studio's JupyterLab, reproduced: Amazon's activity monitor, started as SageMaker starts it.

SageMaker shuts an idle JupyterLab app down by reading `GET <base_url>api/idle` of Amazon's
jupyter-activity-monitor-extension: ``{"lastActiveTimestamp": ...}``, the newest ``last_activity`` of any
session's kernel or any terminal (DESIGN.md section 8). The server here runs as SageMaker's
start-jupyter-server runs it (base URL /jupyterlab/default/, an empty token, any origin), with the
extension installed: the `sagemaker-3.9` row of `make test-compat`, built from SageMaker Distribution
3.9.10's versions (the extension caps pyzmq below what `make test` installs, so the row is its own
environment; elsewhere this module is skipped).

One JupyterLab page, three phases under the same settings, since api/idle speaks for the whole server:
open and idle without the keep-alive, then with inject(), then after Stop. The timestamp goes stale in
the first and the last, and stays within two intervals of now in the middle.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.harness import JupyterServer, NotebookPage, holds_for, utc_time, wait_for

pytest.importorskip("jupyter_activity_monitor_extension",
                    reason="Amazon's activity monitor runs in make test-compat's sagemaker-3.9 row")

INTERVAL = 3.0
WATCH = 30  # seconds the keep-alive's phase is watched
STALE = 3 * INTERVAL  # older than this, no beat moved the timestamp


@pytest.fixture(scope="module")
def sagemaker(tmp_path_factory):
    server = JupyterServer(tmp_path_factory.mktemp("sagemaker"), base_url="/jupyterlab/default/", token="",
                           args=("--ServerApp.allow_origin=*",)).start()
    yield server
    server.stop()


def idle_age(server: JupyterServer) -> float:
    """How old api/idle's lastActiveTimestamp is, in seconds, when the question is sent."""
    asked = datetime.now(timezone.utc)
    stamp = server.api("GET", "api/idle")["lastActiveTimestamp"]
    return (asked - utc_time(stamp)).total_seconds()


def test_sagemakers_idle_timestamp_is_stale_without_the_keepalive_fresh_with_it_and_stale_after_stop(
        browser, sagemaker):
    page = NotebookPage(browser, sagemaker, "jupyterlab", sagemaker.new_notebook("studio.ipynb"))
    try:
        assert page.page.url.startswith(sagemaker.url) and "token=" not in page.page.url
        # Without it: JupyterLab's own requests do not move the kernel's activity.
        wait_for(lambda: idle_age(sagemaker) > STALE, 6 * STALE, "api/idle to go stale without the keep-alive")
        cell, _ = page.start_keepalive(f"import colab_jsalive\nka = colab_jsalive.inject(interval={INTERVAL})")
        wait_for(lambda: idle_age(sagemaker) <= INTERVAL, 2 * INTERVAL, "api/idle moved by the first beats")
        holds_for(lambda: idle_age(sagemaker) <= 2 * INTERVAL, WATCH,
                  f"api/idle within {2 * INTERVAL:g} s of now while the keep-alive beats")
        assert int(page.badge_data(cell)["beats"]) >= WATCH / INTERVAL / 2
        page.badge(cell).locator("button.colab-jsalive-stop").click()
        page.wait_badge(cell, "stopped", 30)
        wait_for(lambda: idle_age(sagemaker) > STALE, 6 * STALE, "api/idle to go stale after Stop")
        assert [line for line in page.console if line.startswith("pageerror:")] == []
    finally:
        page.close()
