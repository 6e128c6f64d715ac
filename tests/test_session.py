"""The kernel's side of the protocol: sessions, replies, and untrusted messages from pages."""

from __future__ import annotations

import pytest

from colab_jsalive._receiver import Receiver
from colab_jsalive._session import EXPIRED, REPLACED, STOPPED, STOPPED_FROM_BADGE, UNKNOWN, Session


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def beat(session, seq=1, **extra):
    return {"op": "beat", "session": session.token, "seq": seq, "unanswered": 0,
            "frontend": "jupyterlab", **extra}


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
        "session": session.token, "seq": 1, "state": "stopped", "reason": STOPPED, "beats": 0,
        "remaining": None}
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
    None, 42, "beat", ["beat"], {}, {"op": "beat"},
    {"op": "beat", "session": None}, {"op": "beat", "session": 123},
    {"op": "beat", "session": "x" * 1_000_000}, {"op": "beat", "session": "A" * 32},
    {"op": "format_disk", "session": "0" * 32}, {"op": ["beat"], "session": "0" * 32},
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


@pytest.mark.parametrize("args, kwargs", [((), {}), ((1, 2), {}), ((None,), {}), (({"op": "beat"},), {"x": 1}),
                                          (("x" * 1_000_000,), {})])
def test_the_colab_callback_never_raises_on_odd_calls(receiver, args, kwargs):
    session = started(receiver)
    assert receiver._on_colab_call(*args, **kwargs).data == {}
    assert session.beats == 0
