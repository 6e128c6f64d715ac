"""``%load_ext colab_jsalive``: the ``%keepalive`` line magic and the ``%%keepalive`` cell magic, in
kernels a real jupyter_server starts (reached over its WebSocket, as pages reach them), and the cell
magic's keep-alive in a real page: it beats while its cell runs and stops when the cell ends.

Every row of ``make test-compat`` runs these against its own IPython and ipykernel.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from colab_jsalive._session import STOPPED
from tests.conftest import PRELUDE, open_notebook
from tests.support.browser import FRONTENDS
from tests.support.kernels import KernelSocket
from tests.support.waiting import holds_for, wait_for


@pytest.fixture
def kernel(server):
    """A WebSocket to a new kernel of the server, with the extension loaded."""
    kernel_id = server.new_kernel()
    socket = KernelSocket(server, kernel_id)
    socket.execute(PRELUDE + "%load_ext colab_jsalive\n")
    yield socket
    socket.close()
    server.shutdown_kernel(kernel_id)


def run(socket: KernelSocket, code: str, timeout: float = 60) -> tuple[str, list[dict]]:
    """Run ``code`` as a cell: (the execute_reply's status, every IOPub message it caused).

    Sent with stop_on_error false: the tests ask status() right after cells that fail on purpose."""
    reply, outputs = socket.outcome(socket.request(code, store_history=True, stop_on_error=False), timeout, repr(code))
    return reply["content"]["status"], outputs


def errors(outputs: list[dict]) -> list[str]:
    return ["\n".join(m["content"]["traceback"]) for m in outputs if m["header"]["msg_type"] == "error"]


def config(outputs: list[dict]) -> dict:
    """The values the snippet among ``outputs`` was rendered with."""
    (code,) = [
        m["content"]["data"]["application/javascript"]
        for m in outputs
        if m["header"]["msg_type"] == "display_data" and "application/javascript" in m["content"]["data"]
    ]
    # The config is the snippet's last argument: {{ config | tojson }}, whose keys come sorted.
    return json.loads(re.search(r'(\{"channel":.*\})\)\s*;?\s*$', code, re.S).group(1))


def test_line_magic_starts_with_options_reports_status_and_stops(kernel):
    outcome, outputs = run(kernel, '%keepalive 30 --for 1h30m --label "run 3"')
    assert outcome == "ok" and not errors(outputs)
    shown = config(outputs)
    assert (shown["interval"], shown["max_duration"], shown["label"]) == (30.0, 5400.0, "run 3")
    now = kernel.status()
    assert now["active"] and now["interval"] == 30.0 and now["label"] == "run 3"

    outcome, outputs = run(kernel, "%keepalive status")
    (result,) = [m for m in outputs if m["header"]["msg_type"] == "execute_result"]
    lines = result["content"]["data"]["text/plain"].splitlines()
    # No page beats for this kernel (the test reaches it over its WebSocket), so the summary says so.
    assert lines[0] == 'colab_jsalive keep-alive "run 3": running'
    assert lines[1] == "  page:     no page has beaten yet (channel: a Jupyter comm over the kernel's WebSocket)"
    assert re.fullmatch(
        r"  interval: every 30 s, until \d{4}-\d\d-\d\d \d\d:\d\d \S+, 1 h (29|30) min from now", lines[2]
    ), lines[2]
    assert lines[3] == "  beats:    none answered yet"
    outcome, outputs = run(kernel, "_ka = colab_jsalive.inject(interval=30, label='run 3')\n_ka")
    (result,) = [m for m in outputs if m["header"]["msg_type"] == "execute_result"]
    assert result["content"]["data"]["text/plain"].splitlines()[0] == 'colab_jsalive keep-alive "run 3": running'

    outcome, outputs = run(kernel, "%keepalive stop")
    assert outcome == "ok" and not errors(outputs)
    after = kernel.status()
    assert not after["active"] and after["reason"] == STOPPED


def test_line_magic_without_arguments_uses_the_defaults(kernel):
    outcome, outputs = run(kernel, "%keepalive")
    assert outcome == "ok"
    shown = config(outputs)
    assert (shown["interval"], shown["max_duration"], shown["label"]) == (60.0, 43200.0, "")
    run(kernel, "%keepalive stop")


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("%keepalive 1h30", r"interval must be .*'90s', '30m', '8h', '1h30m'.*got '1h30'"),
        ("%keepalive soon", r"interval must be .*got 'soon'"),
        ("%keepalive 30 --for eventually", r"max_duration must be .*got 'eventually'"),
        ("%keepalive 0", r"interval must be a positive, finite duration, got '0'"),
        ("%keepalive stop --for 1h", r"%keepalive stop takes no options"),
        ("%keepalive --colour red", r"unrecognized arguments: --colour"),
    ],
)
def test_bad_magic_arguments_are_one_line_usage_errors(kernel, line, says):
    outcome, outputs = run(kernel, line)
    assert outcome == "error" and not errors(outputs)  # IPython prints a UsageError, not a traceback
    shown = "".join(
        m["content"]["text"]
        for m in outputs
        if m["header"]["msg_type"] == "stream" and m["content"]["name"] == "stderr"
    )
    assert shown.startswith("UsageError: ") and shown.count("\n") == 1 and re.search(says, shown), shown
    assert not kernel.status()["active"]


def test_cell_magic_keeps_alive_during_the_cell_and_stops_after_it(kernel):
    outcome, outputs = run(
        kernel,
        '%%keepalive 5 --label "fit"\n'
        "import colab_jsalive as _c\n"
        "during = _c.status()\n"
        'print("cell ran", during.active, during.label)\n'
        '"last value"',
    )
    assert outcome == "ok" and not errors(outputs)
    printed = "".join(m["content"]["text"] for m in outputs if m["header"]["msg_type"] == "stream")
    assert printed == "cell ran True fit\n"
    # The cell's last expression is shown, as in any cell.
    assert any(
        m["header"]["msg_type"] == "execute_result" and m["content"]["data"]["text/plain"] == "'last value'"
        for m in outputs
    )
    assert config(outputs)["label"] == "fit"
    after = kernel.status()
    assert not after["active"] and after["reason"] == STOPPED


def test_cell_magic_stops_on_an_error_and_the_cell_fails(kernel):
    outcome, outputs = run(kernel, "%%keepalive\nraise ZeroDivisionError('in training')")
    assert outcome == "error"  # so that "Run All" stops at this cell
    shown = errors(outputs)
    assert len(shown) == 2
    assert "ZeroDivisionError" in shown[0] and "in training" in shown[0]  # the cell's own traceback, once
    assert shown[1] == "%%keepalive: the cell failed (ZeroDivisionError, shown above); its keep-alive stopped"
    after = kernel.status()
    assert not after["active"] and after["reason"] == STOPPED


def test_cell_magic_stops_when_the_cell_is_interrupted(kernel, server):
    msg_id = kernel.request(
        "%%keepalive\nimport time\nprint('started', flush=True)\ntime.sleep(60)",
        store_history=True,
        stop_on_error=False,
    )  # as in run()
    kernel.wait(
        lambda m: (
            m.get("channel") == "iopub"
            and m["header"]["msg_type"] == "stream"
            and m["parent_header"].get("msg_id") == msg_id
            and "started" in m["content"]["text"]
        ),
        30,
        "the cell to start",
    )
    server.api("POST", f"api/kernels/{kernel.kernel_id}/interrupt")
    try:
        reply = kernel.wait(
            lambda m: m.get("channel") == "shell" and m["parent_header"].get("msg_id") == msg_id,
            30,
            "the interrupted cell's reply",
        )
    except TimeoutError as timeout:
        seen = [
            (m.get("channel"), m["header"]["msg_type"], m["content"])
            for m in kernel.backlog
            if m.get("parent_header", {}).get("msg_id") == msg_id
        ]
        state = server.kernel(kernel.kernel_id)["execution_state"]
        raise AssertionError(
            f"{timeout}; the kernel is {state}; the cell's messages since it started: {seen}"
        ) from None
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "CellFailed"
    after = kernel.status()
    assert not after["active"] and after["reason"] == STOPPED


def test_importable_and_usable_without_ipython():
    code = (
        "import sys; sys.modules['IPython'] = None\n"
        "import warnings; warnings.simplefilter('ignore')\n"
        "import colab_jsalive\n"
        "assert callable(colab_jsalive.load_ipython_extension)\n"
        "assert not colab_jsalive.inject(max_duration='8h').active\n"
        "print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr


def test_cell_magic_beats_in_the_page_while_its_cell_runs_and_stops_after_it(browser, server):
    """In a real page: the badge counts beats sent while the kernel runs the cell (unanswered until it
    ends, as for any busy kernel), then shows the stop, with no beat sent and no timer left after."""
    with open_notebook(browser, server, FRONTENDS[0]) as (page, _client):
        page.run("%load_ext colab_jsalive")
        cell = page.run("%%keepalive 1 --label fit\nimport time\ntime.sleep(8)")
        busy = page.wait_badge(cell, "busy", timeout=30)
        assert "kernel busy for" in busy["text"]
        session = wait_for(
            lambda: next((s.beats[-1] for s in page.keepalive_sockets() if s.beats), None), 10, "a beat from the page"
        )
        wait_for(lambda: page.beats_sent(session) >= 3, 20, "three beats sent while the cell runs")
        stopped = page.wait_badge(cell, "stopped", timeout=60)
        assert stopped["reason"] == STOPPED
        sent = page.beats_sent(session)
        holds_for(
            lambda: page.beats_sent(session) == sent and page.keepalive_timers() == 0,
            3,
            "no beat and no timer after the stop",
        )
