"""The kernel's side of the protocol: sessions, replies, and untrusted messages from pages."""

from __future__ import annotations

import re

import pytest

from colab_jsalive._receiver import Receiver
from colab_jsalive._session import EXPIRED, REPLACED, STOPPED, STOPPED_FROM_BADGE, UNKNOWN, Session
from colab_jsalive._summary import duration, output_line


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def beat(session, seq=1, **extra):
    return {"op": "beat", "session": session.token, "seq": seq, "unanswered": 0, "frontend": "jupyterlab", **extra}


@pytest.fixture
def receiver():
    return Receiver()


def started(receiver, **kwargs):
    args = {"interval": 60.0, "max_duration": 3600.0, "label": "", **kwargs}
    session = Session(**args)
    receiver.start(session)
    return session


def test_a_beat_from_the_live_session_is_counted_and_answered(receiver):
    session = started(receiver)
    reply = receiver.handle(beat(session, seq=7, unanswered=2))
    assert reply["state"] == "running" and reply["seq"] == 7 and reply["beats"] == 1
    assert 3599 < reply["remaining"] <= 3600
    status = session.status()
    assert (status.beats, status.unanswered, status.frontend) == (1, 2, "jupyterlab")
    assert status.last_beat is not None and status.active


def test_hello_answers_without_counting_a_beat(receiver):
    session = started(receiver)
    reply = receiver.handle({"op": "hello", "session": session.token, "frontend": "notebook"})
    assert reply["state"] == "running" and reply["beats"] == 0
    assert session.status().frontend == "unknown"


def test_replacing_refuses_the_old_sessions_beats(receiver):
    old = started(receiver)
    new = started(receiver)
    reply = receiver.handle(beat(old))
    assert reply["state"] == "stopped" and reply["reason"] == REPLACED
    assert old.status().beats == 0 and not old.active
    assert receiver.handle(beat(new))["state"] == "running"


def test_a_stopped_session_is_refused_with_the_reason(receiver):
    session = started(receiver)
    receiver.end(session, STOPPED)
    assert receiver.handle(beat(session)) | {"remaining": None} == {
        "session": session.token,
        "seq": 1,
        "state": "stopped",
        "reason": STOPPED,
        "beats": 0,
        "remaining": None,
    }
    assert receiver.live is None and receiver.latest is session


def test_the_badge_stop_ends_the_session(receiver):
    session = started(receiver)
    reply = receiver.handle({"op": "stop", "session": session.token})
    assert reply["state"] == "stopped" and reply["reason"] == STOPPED_FROM_BADGE
    assert not session.active


def test_an_unknown_session_is_told_to_run_inject_again(receiver):
    started(receiver)
    reply = receiver.handle({"op": "beat", "session": "0" * 32, "seq": 1})
    assert reply["state"] == "stopped" and reply["reason"] == UNKNOWN


def test_max_duration_ends_the_session_in_the_kernel():
    clock = Clock()
    receiver = Receiver()
    session = Session(60.0, 10.0, "", clock=clock)
    receiver.start(session)
    assert receiver.handle(beat(session))["state"] == "running"
    clock.t += 10.0
    assert not session.active and session.reason == EXPIRED
    reply = receiver.handle(beat(session, seq=2))
    assert reply["state"] == "stopped" and reply["reason"] == EXPIRED
    assert session.beats == 1 and receiver.live is None


def test_no_max_duration_means_no_expiry():
    clock = Clock()
    session = Session(60.0, None, "", clock=clock)
    clock.t += 10**9
    assert session.active and session.expires is None and session.remaining() is None


HOSTILE = [
    None,
    42,
    "beat",
    ["beat"],
    {},
    {"op": "beat"},
    {"op": "beat", "session": None},
    {"op": "beat", "session": 123},
    {"op": "beat", "session": "x" * 1_000_000},
    {"op": "beat", "session": "A" * 32},
    {"op": "format_disk", "session": "0" * 32},
    {"op": ["beat"], "session": "0" * 32},
    {"op": "beat", "session": ["0" * 32]},
]


@pytest.mark.parametrize("message", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_messages_are_ignored_without_raising(receiver, message):
    session = started(receiver)
    assert receiver.handle(message) is None
    assert session.beats == 0 and receiver.live is session and session.active


def test_forged_fields_in_a_live_beat_are_clamped(receiver):
    session = started(receiver)
    reply = receiver.handle(beat(session, seq="1; drop", unanswered=-5, frontend="<img src=x>"))
    assert reply["seq"] is None
    status = session.status()
    assert (status.unanswered, status.frontend) == (0, "unknown")
    receiver.handle(beat(session, frontend=["jupyterlab"]))
    assert session.status().frontend == "unknown"
    receiver.handle(beat(session, unanswered=10**12, frontend="nbclassic"))
    assert session.status().unanswered == 10_000


def test_a_flood_of_forged_beats_changes_nothing(receiver):
    session = started(receiver)
    for i in range(10_000):
        receiver.handle({"op": "beat", "session": f"{i:032x}", "seq": i})
    assert session.beats == 0 and receiver.live is session
    assert len(receiver._ended) == 0


def test_malformed_comm_messages_never_raise(receiver):
    started(receiver)
    for msg in [None, {}, {"content": None}, {"content": {"data": object()}}, "x"]:
        assert receiver._safe_handle(msg) is None


def test_the_colab_callback_answers_with_the_reply_as_json(receiver):
    session = started(receiver)
    result = receiver._on_colab_call(beat(session, seq=3))
    assert result.data["state"] == "running" and result.data["seq"] == 3
    assert session.beats == 1


@pytest.mark.parametrize(
    "args, kwargs", [((), {}), ((1, 2), {}), ((None,), {}), (({"op": "beat"},), {"x": 1}), (("x" * 1_000_000,), {})]
)
def test_the_colab_callback_never_raises_on_odd_calls(receiver, args, kwargs):
    session = started(receiver)
    assert receiver._on_colab_call(*args, **kwargs).data == {}
    assert session.beats == 0


# --- what status() says when the page goes quiet (the kernel's clock is faked; beats are real calls) ---


def test_status_warns_once_no_beat_came_for_more_than_two_intervals_and_stops_when_beats_resume(receiver):
    clock = Clock()
    session = started(receiver, interval=10.0, clock=clock)
    receiver.handle(beat(session))
    clock.t += 20.0  # two intervals: a late beat is still possible
    assert session.status().warning == ""
    clock.t += 0.5
    status = session.status()
    assert status.active  # the page may come back
    assert status.warning.startswith("no beat for 20.5 s (more than two intervals): no page is beating")
    assert status.since_last_beat == 20.5
    receiver.handle(beat(session, seq=2))
    assert session.status().warning == "" and session.status().since_last_beat == 0.0


def test_a_page_that_never_beat_is_quiet_two_intervals_after_inject(receiver):
    clock = Clock()
    session = started(receiver, interval=10.0, clock=clock)
    clock.t += 21.0
    status = session.status()
    assert "no page is beating" in status.warning and status.since_last_beat is None


def test_beats_waiting_behind_a_running_cell_are_not_a_quiet_page(receiver):
    """While a cell runs, beats queue behind it: only the silence before the cell started counts."""
    clock = Clock()
    session = started(receiver, interval=10.0, clock=clock)
    receiver.handle(beat(session))
    cell_started = clock.t + 5.0
    clock.t += 600.0  # a ten-minute cell, called from inside it (a Keras callback, say)
    assert session.status(heard_until=cell_started).warning == ""
    # A page that fell silent before the cell started is quiet, cell or not.
    assert "no page is beating" in session.status(heard_until=clock.t - 500.0).warning


def test_an_ended_keepalive_never_warns(receiver):
    clock = Clock()
    session = started(receiver, interval=10.0, clock=clock)
    receiver.end(session, STOPPED)
    clock.t += 100.0
    assert session.status().warning == ""


def test_the_summary_says_page_channel_interval_time_left_beats_and_why_it_ended(receiver):
    clock = Clock()
    session = started(receiver, interval=30.0, max_duration=5400.0, label="run 3", clock=clock, channel="jupyter")
    receiver.handle(beat(session, unanswered=1))
    clock.t += 12.0
    lines = repr(session.status()).splitlines()
    assert lines[0] == 'colab_jsalive keep-alive "run 3": running'
    assert lines[1] == "  page:     jupyterlab (channel: a Jupyter comm over the kernel's WebSocket)"
    assert re.fullmatch(
        r"  interval: every 30 s, until \d{4}-\d\d-\d\d \d\d:\d\d \S+, 1 h (29|30) min from now", lines[2]
    ), lines[2]
    assert lines[3] == "  beats:    1 answered, the last 12 s ago; 1 unanswered when it was sent"
    assert len(lines) == 4
    receiver.end(session, STOPPED_FROM_BADGE)
    status = session.status()
    assert str(status).splitlines()[0] == f'colab_jsalive keep-alive "run 3": ended: {STOPPED_FROM_BADGE}'
    assert "max_duration until" in str(status).splitlines()[2]
    clock.t += 100.0
    session2 = started(receiver, interval=1.0, clock=clock)
    clock.t += 3.0
    assert repr(session2.status()).splitlines()[-1].startswith("  warning:  no beat for 3 s")


def test_a_label_is_one_quoted_line_in_the_summary_and_the_output_text(receiver):
    session = started(receiver, label='two\nlines "quoted" <b>')
    first = repr(session.status()).splitlines()[0]
    assert first == r'colab_jsalive keep-alive "two\nlines \"quoted\" <b>": running'
    line = output_line('two\nlines "quoted" <b>', 60.0, None)
    assert "\n" not in line and line.startswith(r'colab_jsalive keep-alive "two\nlines \"quoted\" <b>": every 60 s ')


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (0.5, "0.5 s"),
        (12.34, "12.3 s"),
        (60, "1 min"),
        (90, "1 min 30 s"),
        (3600, "1 h"),
        (3661, "1 h 1 min"),
        (43200, "12 h"),
        (2 * 86400 + 5, "2 d"),
        (-3, "0 s"),
    ],
)
def test_durations_read_the_way_people_say_them(seconds, words):
    assert duration(seconds) == words


# --- a page the browser had discarded (Chrome's Memory Saver) comes back and says so in its hello ---


def test_a_page_back_from_a_discarded_tab_makes_status_say_so_and_how_long_nothing_beat(receiver):
    clock = Clock()
    session = started(receiver, interval=10.0, clock=clock)
    receiver.handle(beat(session))
    clock.t += 300.0  # the tab discarded in the background: nothing beats
    assert "discarded by the browser to save memory (Chrome's Memory Saver)" in session.status().warning
    receiver.handle({"op": "hello", "session": session.token, "frontend": "jupyterlab", "discarded": True})
    receiver.handle(beat(session, seq=2))
    status = session.status()
    assert status.active and status.beats == 2
    assert status.warning.startswith("the browser discarded the notebook's tab while it was in the background")
    assert "no beat came for 5 min" in status.warning and "keep the notebook's site active" in status.warning
    clock.t += 25.0  # discarded again: the silence is named first, the earlier discard as its likely cause
    assert status.warning != (quiet := session.status().warning)
    assert quiet.startswith("no beat for 25 s") and "had discarded its tab once already" in quiet


@pytest.mark.parametrize("discarded", [False, None, "true", 1, [True]])
def test_only_a_hello_that_says_discarded_true_counts_as_a_discarded_tab(receiver, discarded):
    session = started(receiver, interval=10.0)
    receiver.handle({"op": "hello", "session": session.token, "frontend": "jupyterlab", "discarded": discarded})
    receiver.handle({"op": "beat", "session": session.token, "seq": 1, "discarded": True})
    assert session.discarded_at is None and session.status().warning == ""


def test_a_discard_said_after_the_keepalive_ended_changes_nothing(receiver):
    session = started(receiver, interval=10.0)
    receiver.handle({"op": "stop", "session": session.token})
    receiver.handle({"op": "hello", "session": session.token, "frontend": "jupyterlab", "discarded": True})
    assert session.discarded_at is None and session.status().warning == ""
