"""The keep-alive in real JupyterLab 4, Notebook 7 and classic notebook pages, in headless Chromium.

The server runs behind a /user/NAME/ prefix with a token, as under JupyterHub. Each test runs cells
through the frontend itself and checks three independent witnesses: the badge in the page, the
WebSocket frames Chromium saw, and the kernel's own status() read by a second client.
"""

from __future__ import annotations

import json

from colab_jsalive._session import REPLACED, STOPPED, STOPPED_FROM_BADGE
from tests.support.waiting import holds_for, wait_for

INTERVAL = 0.5


def inject(page, **kwargs) -> tuple[int, str]:
    """Run ``inject()`` in a new cell of the page; return the cell index and the new session's token."""
    args = ", ".join(f"{k}={v!r}" for k, v in {"interval": INTERVAL, **kwargs}.items())
    return page.start_keepalive(f"ka = colab_jsalive.inject({args})")


def kernel_beats(client) -> int:
    return client.status()["beats"]


def test_inject_beats_are_counted_by_the_kernel_and_shown_in_the_badge(notebook):
    page, client = notebook
    cell, session = inject(page, label="run 1")
    before = kernel_beats(client)
    wait_for(lambda: kernel_beats(client) >= before + 3, 20, "three more beats counted by status()")
    status = client.status()
    assert status["active"] is True
    assert status["frontend"] == page.frontend
    assert status["interval"] == INTERVAL
    assert status["label"] == "run 1"
    assert status["last_beat"] is not None
    # Running once three beats are answered; a beat answered late (a loaded machine) shows "busy" until
    # its answer comes, as for any busy kernel.
    badge = wait_for(
        lambda: (d := page.badge_data(cell)) and int(d["beats"]) >= 3 and d["state"] == "running" and d,
        20,
        "the badge to count three beats and show the keep-alive running",
    )
    assert "keep-alive running" in badge["text"] and "left" in badge["text"]
    assert page.badge(cell).locator(".colab-jsalive-label").text_content() == "run 1"
    assert page.beats_sent(session) >= 3


def test_stop_button_stops_the_session_through_the_kernel(notebook):
    page, client = notebook
    cell, session = inject(page)
    wait_for(lambda: page.beats_sent(session) >= 2, 20, "two beats")
    page.press_stop(cell, 20)
    status = wait_for(lambda: (s := client.status()) and not s["active"] and s, 20, "the kernel to end the session")
    assert status["reason"] == STOPPED_FROM_BADGE
    page.stopped_for_good(session, INTERVAL)


def test_stop_from_another_client_stops_the_beats(notebook):
    page, client = notebook
    cell, session = inject(page)
    wait_for(lambda: page.beats_sent(session) >= 2, 20, "two beats")
    client.run("colab_jsalive.inject(stop=True)")  # straight over ZMQ: no browser involved
    badge = page.wait_badge(cell, "stopped", 10 * INTERVAL)
    assert badge["reason"] == STOPPED
    assert client.status()["active"] is False
    page.stopped_for_good(session, INTERVAL)


def test_stop_from_another_cell_stops_the_beats(notebook):
    page, client = notebook
    cell, session = inject(page)
    wait_for(lambda: page.beats_sent(session) >= 2, 20, "two beats")
    page.run("colab_jsalive.inject(stop=True)")
    assert page.wait_badge(cell, "stopped", 10 * INTERVAL)["reason"] == STOPPED
    assert client.status()["reason"] == STOPPED
    page.stopped_for_good(session, INTERVAL)
    assert page.keepalive_timers() == 0


def test_reinject_replaces_the_running_keepalive(notebook):
    page, client = notebook
    first, old = inject(page, label="old")
    wait_for(lambda: page.beats_sent(old) >= 2, 20, "beats from the first keep-alive")
    second = page.run(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='new')")
    assert page.wait_badge(first, "stopped", 10 * INTERVAL)["reason"] == REPLACED
    page.wait_badge(second, "running")
    new = wait_for(
        lambda: next(
            (s.beats[-1] for s in page.keepalive_sockets() if s.beats and s.beats[-1] != old and not s.closed), None
        ),
        10,
        "beats from the new keep-alive",
    )
    before = kernel_beats(client)
    wait_for(lambda: kernel_beats(client) >= before + 2, 20, "the new session's beats counted")
    assert client.status()["label"] == "new"
    # Never two live timers for one kernel in one page: the old session's socket is closed and
    # the page holds one keep-alive for this kernel.
    assert all(s.closed for s in page.keepalive_sockets() if old in s.beats and new not in s.beats)
    sent = page.beats_sent(old)
    holds_for(lambda: page.beats_sent(old) == sent, 4 * INTERVAL, "no beats from the old session")
    live = page.page.evaluate("Object.keys(window.__colabJsalive || {})")
    assert live == [page.kernel_id]
    page.run("colab_jsalive.inject(stop=True)")


def test_status_before_the_first_beat_says_unknown_frontend(notebook):
    _page, client = notebook
    # A keep-alive started by a client with no page never beats: the kernel says so honestly.
    out = client.run(
        "import dataclasses, json\n"
        "from IPython.display import display\n"
        "ka = colab_jsalive.inject(interval=0.5)\n"
        "print(json.dumps(dataclasses.asdict(ka.status()), default=str))\n"
        "ka.stop()"
    )
    status = json.loads(out.strip().splitlines()[-1])
    assert status["frontend"] == "unknown"
    assert status["beats"] == 0
    assert status["active"] is True


def test_with_block_stops_the_keepalive_on_exit_even_on_an_exception(notebook):
    page, client = notebook
    cell = page.run(
        "import time\n"
        f"with colab_jsalive.inject(interval={INTERVAL}, label='job') as job:\n"
        "    time.sleep(2)\n"
        "    raise KeyError('training failed')"
    )
    badge = page.wait_badge(cell, "stopped", 30)
    assert badge["reason"] == STOPPED
    status = client.status()
    assert status["active"] is False and status["label"] == "job"
    # The page beat while the job ran. (The kernel was busy with the block throughout, so it read
    # those beats only after the block had stopped the session, and refused them.)
    job = page.keepalive_sockets()[-1]  # the newest: the with block's own
    assert job.closed and len(job.beats) >= 2
    assert "KeyError" in page.cell(cell).text_content()  # the exception still reached the user
