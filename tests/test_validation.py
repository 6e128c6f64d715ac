"""inject()'s arguments: every bad value gets a TypeError or ValueError naming the argument and value."""

from __future__ import annotations

import math
import warnings
from datetime import timedelta
from fractions import Fraction

import pytest

from colab_jsalive import inject
from colab_jsalive._validate import max_duration, seconds


@pytest.fixture(autouse=True)
def _quiet():
    # Outside a kernel inject() warns once that it does nothing; these tests are about arguments.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("value", [True, False, None, b"1", [60], 1j])
def test_interval_of_the_wrong_type_is_a_type_error(value):
    with pytest.raises(TypeError, match=r"interval must be a number of seconds.*got " + type(value).__name__):
        inject(value)


@pytest.mark.parametrize("value", [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf, 86401, "0s", "25h", "2d"])
def test_interval_out_of_range_is_a_value_error(value):
    with pytest.raises(ValueError, match=r"interval must be"):
        inject(value)


def test_the_error_names_the_value():
    with pytest.raises(ValueError, match=r"got -1\b"):
        inject(-1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (60, 60),
        (0.5, 0.5),
        (2.5, 2.5),
        (Fraction(3, 2), 1.5),
        (timedelta(seconds=30), 30),
        (86400, 86400),
        ("30", 30),
        ("90s", 90),
        ("1m", 60),
    ],
)
def test_good_intervals_are_accepted_and_read_as_seconds(value, expected):
    ka = inject(value)  # outside a kernel: inactive, but no error
    assert ka.active is False
    assert ka.status().interval == expected and type(ka.status().interval) is float


def test_interval_under_one_second_warns_that_it_wastes_resources():
    with pytest.warns(RuntimeWarning, match="waste resources"):
        inject(0.5)


def test_interval_of_one_second_or_more_does_not_warn_about_waste():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inject(1)
    assert not [w for w in caught if "waste" in str(w.message)]


@pytest.mark.parametrize("value", [0, -5, 0.0, math.nan, math.inf, timedelta(0), timedelta(seconds=-1), "0h", "0"])
def test_max_duration_out_of_range_is_a_value_error(value):
    with pytest.raises(ValueError, match=r"max_duration must be a positive, finite duration, got"):
        inject(max_duration=value)


@pytest.mark.parametrize("value", [True, b"1h", [1]])
def test_max_duration_of_the_wrong_type_is_a_type_error(value):
    with pytest.raises(TypeError, match="max_duration must be"):
        inject(max_duration=value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1, 1),
        (3600.5, 3600.5),
        (timedelta(hours=2), 7200),
        ("8h", 28800),
        ("1h30m", 5400),
    ],
)
def test_good_max_durations_are_accepted_and_read_as_seconds(value, expected):
    assert inject(max_duration=value).active is False  # outside a kernel: inactive, but no error
    assert max_duration(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", 90),
        ("30m", 1800),
        ("8h", 28800),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("2d", 172800),
        ("1d12h", 129600),
        ("1.5h", 5400),
        ("1h30m15s", 5415),
        ("600", 600),
        (" 45 ", 45),
        ("8H", 28800),
        ("0.5s", 0.5),
    ],
)
def test_durations_are_read_the_way_people_write_them(text, expected):
    assert seconds(text, "max_duration") == expected


@pytest.mark.parametrize(
    "text", ["", " ", "h", "8 hours", "30x", "1m1h", "1h1h", "-5m", "1h30", "1e3", "nan", "inf", "1,5h", "½h", "1h-30m"]
)
def test_unreadable_durations_are_value_errors_that_show_the_accepted_forms(text):
    with pytest.raises(ValueError) as raised:
        inject(max_duration=text)
    message = str(raised.value)
    assert message.startswith("max_duration must be") and repr(text) in message
    for form in ("600", "timedelta", "'90s'", "'30m'", "'8h'", "'1h30m'"):
        assert form in message


@pytest.mark.parametrize("value", [None, 1, b"x"])
def test_label_must_be_text(value):
    with pytest.raises(TypeError, match="label must be a str"):
        inject(label=value)


@pytest.mark.parametrize("value", ["", "vscode", "lab", "JUPYTER", "Colab"])
def test_unknown_frontend_is_a_value_error_listing_the_choices(value):
    with pytest.raises(ValueError, match=r"frontend must be one of 'auto', 'jupyter', 'colab'"):
        inject(frontend=value)


def test_frontend_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="frontend must be a str"):
        inject(frontend=None)


@pytest.mark.parametrize("value", [1, "yes", None])
def test_stop_must_be_a_bool(value):
    with pytest.raises(TypeError, match="stop must be True or False"):
        inject(stop=value)


def test_stop_when_nothing_runs_is_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handle = inject(stop=True)
    assert handle.active is False
    handle.stop()  # still quiet
