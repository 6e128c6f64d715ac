"""Real faults, in a real JupyterLab page against a real server: a busy kernel, a network that drops,
a kernel restart, a page reload, max_duration during a long cell, one notebook in two pages, and
hostile messages on the keep-alive's own channel. Nothing here simulates the project's own code.
"""

from __future__ import annotations

import json
import re
import threading

import pytest

from colab_jsalive._session import EXPIRED, REPLACED, STOPPED_FROM_BADGE
from tests.conftest import Notebooks, open_notebook
from tests.support.kernels import KernelClient, KernelSocket
from tests.support.pages import NotebookPage
from tests.support.servers import DroppingProxy
from tests.support.waiting import wait_for

INTERVAL = 0.5


@pytest.fixture(scope="module")
def notebooks(browser, server):
    keeper = Notebooks(browser, server, "jupyterlab")
    yield keeper
    keeper.close()


@pytest.fixture
def lab(notebooks):
    """A notebook in JupyterLab with no keep-alive and no cells, for one test."""
    with notebooks() as opened:
        yield opened


def inject(page, code: str = f"ka = colab_jsalive.inject(interval={INTERVAL})") -> tuple[int, str]:
    return page.start_keepalive(code)


def test_busy_kernel_answers_every_beat_after_the_cell_and_loses_none(lab):
    page, client = lab
    cell, session = inject(page)
    page.run("import time\ntime.sleep(5)")
    busy = page.wait_badge(cell, "busy", 10)
    assert "kernel busy" in busy["text"]
    wait_for(lambda: int(page.badge_data(cell)["unanswered"]) >= 3, 10, "beats queued behind the cell")
    wait_for(
        lambda: (d := page.badge_data(cell))["state"] == "running" and d["unanswered"] == "0",
        30,
        "every queued beat answered after the cell",
    )
    page.press_stop(cell)  # the stop travels behind every beat sent before it
    assert client.status()["beats"] == page.beats_sent(session), "a beat was lost"


def test_network_loss_reconnects_with_backoff_and_beats_resume_within_two_intervals(browser, server):
    interval = 3.0
    proxy = DroppingProxy(server.port)
    page = NotebookPage(browser, server, "jupyterlab", server.new_notebook("through-proxy.ipynb"), port=proxy.port)
    client = KernelClient(server.connection_file(page.kernel_id))
    try:
        page.run("import colab_jsalive")
        cell, session = inject(page, f"ka = colab_jsalive.inject(interval={interval})")
        (ours,) = [s for s in page.keepalive_sockets() if session in s.beats]
        proxy.drop()
        assert "reconnecting" in page.wait_badge(cell, "reconnecting", 10)["text"]
        # Attempts keep coming, each on a new WebSocket to the same address, each cut at once.
        wait_for(lambda: page.sockets_to(ours.url) >= 4, 30, "repeated reconnects")
        attempts = page.sockets_to(ours.url)
        # ... after delays the page asked for that double from 1 s up to the cap (one interval), each
        # with half of it random: [0.5, 1] s, [1, 2] s, then [1.5, 3] s from there on.
        delays = page.keepalive_delays("disconnected")
        assert len(delays) >= 3, delays
        for attempt, delay in enumerate(delays):
            ceiling = min(interval * 1000, 1000 * 2**attempt)
            assert ceiling / 2 <= delay <= ceiling, (attempt, delays)
        before = client.status()["beats"]
        proxy.restore()
        wait_for(
            lambda: client.status()["beats"] > before,
            2 * interval,
            "the kernel to count a beat within two intervals of the network returning",
            poll=0.05,
        )
        page.wait_badge(cell, "running", 10)
        assert page.sockets_to(ours.url) > attempts
    finally:
        client.close()
        page.close()
        proxy.stop()
        server.shutdown_kernel(page.kernel_id)


# The keep-alive's own kernel connections (its session ids are 32 hex digits; the frontends' have dashes).
KEEPALIVE_SOCKET = re.compile(r"/api/kernels/[^/?]+/channels\?session_id=[0-9a-f]{32}(&|$)")


def test_beats_the_kernel_never_hears_on_an_open_connection_make_the_page_reconnect(browser, server):
    """The keep-alive's connection stays open, but none of its beats reach the kernel, as when
    ipykernel 7.0 to 7.3 stops reading one connection's messages (ipython/ipykernel#1554): the server
    reports the kernel idle with no activity for an interval, so the page opens a new connection, and
    the kernel counts beats again.
    Playwright's WebSocket routing drops the beats of the page's first keep-alive connection and passes
    everything else; the server and the kernel are real. (A page of its own: the routing stays with it.)"""
    interval = 1.0
    routed = {"connections": 0, "dropped": 0}

    def route(ws) -> None:
        routed["connections"] += 1
        first = routed["connections"] == 1
        upstream = ws.connect_to_server()  # the server's messages reach the page as they come

        def to_server(message) -> None:
            data = json.loads(message).get("content", {}).get("data", {}) if isinstance(message, str) else {}
            if first and data.get("op") == "beat":
                routed["dropped"] += 1
            else:
                upstream.send(message)

        ws.on_message(to_server)

    with open_notebook(browser, server, "jupyterlab") as (page, client):

        def heard(condition):
            page.page.evaluate("0")  # Playwright runs the route's handlers while the test calls it
            return condition()

        page.page.route_web_socket(KEEPALIVE_SOCKET, route)
        cell = page.run(f"ka = colab_jsalive.inject(interval={interval})")
        wait_for(lambda: heard(lambda: routed["dropped"] >= 1), 30, "a beat dropped on the first connection")
        assert client.status()["beats"] == 0
        # Without asking the kernel meanwhile: each question is activity, which a kernel that cannot
        # hear the page would not have.
        wait_for(lambda: heard(lambda: routed["connections"] >= 2), 30, "the page to open a new connection")
        wait_for(
            lambda: heard(lambda: client.status()["beats"] >= 3),
            30,
            "the kernel to count beats from the new connection",
        )
        page.wait_badge(cell, "running", 10)
        assert not page.problems()


def test_kernel_restart_stops_the_old_snippet_and_says_to_inject_again(lab, server):
    page, _client = lab
    cell, session = inject(page)
    server.api("POST", f"api/kernels/{page.kernel_id}/restart")
    badge = page.wait_badge(cell, "stopped", 2 * INTERVAL + 10)
    assert "restarted" in badge["reason"] and "run inject() again" in badge["reason"]
    page.stopped_for_good(session, INTERVAL)
    page.wait_kernel()


def test_page_reload_resumes_a_session_the_kernel_still_holds(lab):
    page, client = lab
    cell, session = inject(page, f"ka = colab_jsalive.inject(interval={INTERVAL}, label='survives reload')")
    page.save()
    page.reload()
    page.wait_badge(cell, "running", 30)
    before = client.status()["beats"]
    wait_for(lambda: client.status()["beats"] >= before + 3, 20, "beats from the reloaded page")
    status = client.status()
    assert status["active"] and status["label"] == "survives reload"
    assert page.beats_sent(session, since_reload=True) >= 3  # the reloaded snippet beats for the same session


def test_page_reload_of_an_ended_session_stays_silent_and_says_so(lab):
    page, client = lab
    old_cell, old = inject(page)
    new_cell, new = inject(page, f"ka = colab_jsalive.inject(interval={INTERVAL}, label='newer')")
    assert old != new
    page.save()
    page.reload()
    assert page.wait_badge(old_cell, "stopped", 30)["reason"] == REPLACED
    page.wait_badge(new_cell, "running", 30)
    # The old output asks once and is refused: at most its first beat, never counted, then nothing.
    assert page.beats_sent(old, since_reload=True) <= 1
    page.stopped_for_good(old, INTERVAL)
    assert client.status()["label"] == "newer"


def test_max_duration_ends_the_keepalive_on_both_sides_even_while_the_kernel_is_busy(lab, server):
    page, client = lab
    # The cell that starts the keep-alive stays busy past max_duration, so the kernel answers no beat
    # before the deadline: the page must stop by itself.
    cell = page.run(f"ka = colab_jsalive.inject(interval={INTERVAL}, max_duration=3)\nimport time\ntime.sleep(15)")
    assert page.wait_badge(cell, "stopped", 20)["reason"] == EXPIRED
    assert server.kernel(page.kernel_id)["execution_state"] == "busy"
    status = wait_for(lambda: (s := client.status())["reason"] == EXPIRED and s, 40, "the kernel to report the expiry")
    assert status["active"] is False


def test_same_notebook_in_two_pages_both_beat_and_one_stop_ends_both(lab, browser, server):
    page_a, client = lab
    cell, session = inject(page_a)
    page_a.save()
    # A second page opens the same notebook: its saved, signed output runs the snippet again there,
    # for the same kernel and the same session.
    page_b = NotebookPage(browser, server, "jupyterlab", page_a.notebook)
    try:
        assert page_b.kernel_id == page_a.kernel_id
        page_b.wait_badge(cell, "running", 30)
        a, b = page_a.beats_sent(session), page_b.beats_sent(session)
        wait_for(
            lambda: page_a.beats_sent(session) > a + 1 and page_b.beats_sent(session) > b + 1, 20, "both pages beating"
        )
        for p in (page_a, page_b):  # one timer per page for this kernel
            assert p.page.evaluate("Object.keys(window.__colabJsalive)") == [p.kernel_id]
        page_a.press_stop(cell)
        assert page_b.wait_badge(cell, "stopped", 10)["reason"] == STOPPED_FROM_BADGE
        for p in (page_a, page_b):
            p.stopped_for_good(session, INTERVAL)
            assert p.page.evaluate("Object.keys(window.__colabJsalive)") == []
        assert client.status()["active"] is False
    finally:
        page_b.close()


def test_hostile_messages_on_the_channel_are_never_counted_and_never_raise(lab, server):
    """Raw frames on the keep-alive's comm target, sent through the server like a page would."""
    page, client = lab
    cell, session = inject(page, f"ka = colab_jsalive.inject(interval={INTERVAL}, label='target')")
    log_file = server.workdir / "server.log"  # the kernel's stderr goes here too
    log_start = log_file.stat().st_size
    attacker = KernelSocket(server, page.kernel_id)
    # The attacker reads what the server sends it, as any client does: a socket nobody reads makes the
    # server queue the flood's answers, and when it closes tornado logs a write error in the server.
    replied: set[str] = set()  # the msg_ids of the shell replies the attacker received
    threading.Thread(target=read_until_closed, args=(attacker, replied), daemon=True).start()
    send = attacker.send

    forged = "f" * 32
    payloads = [
        None,
        1,
        "beat",
        ["beat"],
        {},
        {"op": "beat"},
        {"op": "beat", "session": forged, "seq": 1},
        {"op": "stop", "session": forged},
        {"op": "beat", "session": "x" * 1_000_000},
        {"op": "beat", "session": None, "junk": "y" * 1_000_000},
        {"op": {"$gt": ""}, "session": session},
    ]
    for i, data in enumerate(payloads):
        send("comm_open", {"comm_id": f"c{i}", "target_name": "colab_jsalive", "data": data})
        send("comm_msg", {"comm_id": f"c{i}", "data": data})
    # A flood of forged beats on an open-looking comm, each of a session of its own. The kernel's busy and
    # idle for each reach every connection to the kernel, the page's own included, and JupyterLab takes
    # about 14 ms of a free core for each: 200 beats are a few seconds of the page's work, a thousand were
    # two minutes of a worker on a loaded machine, and showed nothing more.
    for i in range(200):
        send("comm_msg", {"comm_id": "c6", "data": {"op": "beat", "session": f"{i:032x}", "seq": i}})
    # The kernel takes one connection's messages in order: once it answers the attacker's last request,
    # it has handled the whole flood. (ZMQ shares the kernel's attention between connections, so a
    # status() asked meanwhile can be answered before the flood is through.)
    marker = send("kernel_info_request", {})
    wait_for(lambda: marker in replied, 60, "the kernel to get through the flood")
    before = client.status()
    after = wait_for(
        lambda: (s := client.status())["beats"] > before["beats"] + 2 and s,
        30,
        "the real page's beats to go on after the flood",
    )
    assert after["active"] and after["label"] == "target" and after["frontend"] == "jupyterlab"
    assert page.badge_data(cell)["state"] in ("running", "busy")
    # The answers to those beats came after every answer to the flood, in order: once the badge counts
    # them, the page has worked through the flood. (That is JupyterLab's work on 400 status messages,
    # several times longer on a new machine's two cores with the hub's and the matrix's pages loading
    # beside it. The deadline is for a page that never gets there, which the badge then shows.)
    badge: dict = {}

    def caught_up() -> bool:
        badge.update(page.badge_data(cell))
        return int(badge["beats"]) >= after["beats"]

    try:
        wait_for(caught_up, 240, "the page to work through the kernel's answers to the flood")
    except TimeoutError as error:
        raise TimeoutError(f"{error}; its badge showed {badge}, the kernel had counted {after['beats']}") from None
    # Every counted beat came from the real page. (The keep-alive's socket can be through the flood
    # before JupyterLab's own is: the page has one thread, so the click and the Stop's answer may wait
    # behind the rest of JupyterLab's work, hence the same deadline.)
    page.press_stop(cell, timeout=240)
    assert client.status()["beats"] == page.beats_sent(session)
    attacker.close()
    with open(log_file, "rb") as f:
        f.seek(log_start)
        log = f.read().decode(errors="replace")
    assert "Traceback" not in log and "Exception" not in log, log


def read_until_closed(socket: KernelSocket, replied: set[str]) -> None:
    """Read everything the server sends ``socket``; add the msg_id each shell reply answers to ``replied``."""
    import websocket

    while True:
        try:
            frame = socket.ws.recv()
        except websocket.WebSocketTimeoutException:
            continue
        except Exception:  # closed: by the test, or by the server
            return
        if isinstance(frame, str) and frame:  # the closing frame reads as ""
            msg = json.loads(frame)
            if msg.get("channel") == "shell":
                replied.add(msg.get("parent_header", {}).get("msg_id"))
