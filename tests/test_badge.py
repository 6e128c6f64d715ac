"""The badge belongs to the page: it follows JupyterLab's theme, light or dark, falls back to a light
or dark palette where the page has no theme variables (the classic notebook, Colab's output frame),
keeps text contrast at WCAG AA (4.5:1) in each, and speaks to screen readers without chattering.

Colours are read from Chromium's computed styles and composited over the page behind the badge, as a
person would see them; nothing here trusts the palette in js/badge.js.
"""

from __future__ import annotations

import pytest

from colab_jsalive._render import snippet
from tests.conftest import open_notebook
from tests.support.browser import FRONTENDS, change_theme, show_snippet, snippet_config
from tests.support.servers import JupyterServer
from tests.support.waiting import wait_for

INTERVAL = 0.5
BEATS_HEARD = 8  # beats the screen-reader test listens through
LATE_ANSWERS = 2  # late answers it allows in them, each read out twice ("busy", then back to running)
AA = 4.5

# For an element: its text colour and its background, each composited over what lies behind it
# (backgrounds with alpha stack up to the first opaque ancestor, over white), as relative luminances,
# and the contrast ratio between them (WCAG 2.x definitions).
_CONTRAST_JS = """el => {
    const parse = c => {
        const p = c.match(/rgba?\\(([^)]*)\\)/)[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    };
    const over = (top, bottom) => [0, 1, 2].map(i => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] === 1) break;
    }
    let bg = [255, 255, 255, 1];
    for (const c of layers.reverse()) bg = over(c, bg);
    const fg = over(parse(getComputedStyle(el).color), bg);
    const lum = c => c.slice(0, 3).map(v => (v /= 255) <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4))
        .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    return {ratio: (hi + 0.05) / (lo + 0.05), text: lum(fg), background: lum(bg)};
}"""

# The parts of the badge a person reads: the words, the label, the Stop button.
_READ = (".colab-jsalive-text", ".colab-jsalive-label", "button.colab-jsalive-stop")


def contrast(badge) -> dict[str, dict]:
    return {part: badge.locator(part).evaluate(_CONTRAST_JS) for part in _READ}


def dot_color(badge) -> str:
    return badge.evaluate("el => getComputedStyle(el.firstElementChild).backgroundColor")


@pytest.fixture(scope="module")
def themed_server(tmp_path_factory):
    """A server of its own: JupyterLab keeps the theme a test picks in its user settings."""
    srv = JupyterServer(tmp_path_factory.mktemp("theme")).start()
    yield srv
    srv.stop()


@pytest.mark.skipif("jupyterlab" not in FRONTENDS, reason="JupyterLab is not served in this environment")
@pytest.mark.parametrize("theme, dark", [("JupyterLab Light", False), ("JupyterLab Dark", True)])
def test_the_badge_follows_jupyterlabs_theme_with_aa_contrast(browser, themed_server, theme, dark):
    with open_notebook(browser, themed_server, "jupyterlab") as (page, _client):
        change_theme(page.page, theme)
        cell, _ = page.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='run 3')")
        badge = page.badge(cell)
        # The badge is dark on a dark page and light on a light one (not a white pill on black).
        measured = wait_for(
            lambda: (m := contrast(badge)) and (m[_READ[0]]["background"] < 0.2) == dark and m,
            30,
            f"the badge to take {theme}'s colours",
        )
        for part, m in measured.items():
            assert m["ratio"] >= AA, f"{part} in {theme}: contrast {m['ratio']:.2f} < {AA}"
        page_background = page.page.evaluate(
            "getComputedStyle(document.body).getPropertyValue('--jp-layout-color2').trim()"
        )
        assert page_background, "JupyterLab's theme variables are defined, so the badge uses them"

        # The dot's colours tell the states apart: running, busy (a cell sleeping through beats), stopped.
        dots = {"running": dot_color(badge)}
        page.run(f"import time; time.sleep({8 * INTERVAL})")
        page.wait_badge(cell, "busy", 30)
        dots["busy"] = dot_color(badge)
        page.wait_badge(cell, "running", 30)
        page.press_stop(cell)
        dots["stopped"] = dot_color(badge)
        assert len(set(dots.values())) == 3, dots


@pytest.mark.skipif("nbclassic" not in FRONTENDS, reason="the classic notebook is not served here")
def test_the_classic_notebook_gets_the_light_palette_even_when_the_system_prefers_dark(browser, server):
    """The classic notebook has no theme variables and is light whatever the system prefers."""
    with open_notebook(browser, server, "nbclassic") as (page, _client):
        page.page.emulate_media(color_scheme="dark")
        cell, _ = page.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='run 3')")
        measured = contrast(page.badge(cell))
        for part, m in measured.items():
            assert m["ratio"] >= AA, f"{part}: contrast {m['ratio']:.2f} < {AA}"
        assert measured[_READ[0]]["background"] > 0.5
        page.page.evaluate("Jupyter.notebook.kernel.execute('colab_jsalive.inject(stop=True)')")
        page.wait_badge(cell, "stopped", 30)


@pytest.mark.parametrize(
    "channel, theme, scheme, dark",
    [
        ("colab", "dark", "light", True),  # Colab's dark theme marks the output frame's <html>
        ("colab", "light", "dark", False),  # ... and its light theme wins over the system's preference
        ("colab", None, "dark", True),  # no mark: the system's preference
        ("colab", None, "light", False),
        ("jupyter", None, "dark", False),  # a Jupyter page without theme variables: light, as the classic notebook
    ],
)
def test_the_fallback_palette_where_the_page_has_no_theme_variables(browser, channel, theme, scheme, dark):
    """A bare page stands in for Colab's output frame (its documented dark-mode mark, EMULATION of the
    frame, not of the badge): the badge picks the palette and keeps AA contrast in it."""
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    try:
        mark = f" theme='{theme}'" if theme else ""
        page.set_content(
            f"<!doctype html><html{mark}><body style='margin:0;background:"
            f"{'#1e1e1e' if dark else '#ffffff'}'><div id='out'></div></body></html>"
        )
        show_snippet(page, snippet(snippet_config("run 3", channel)))
        badge = page.locator("#out .colab-jsalive-badge")
        # With no channel here the keep-alive has stopped and hidden its button: show it to measure it.
        badge.locator("button").evaluate("el => { el.style.display = ''; }")
        measured = contrast(badge)
        for part, m in measured.items():
            assert m["ratio"] >= AA, f"{part}: contrast {m['ratio']:.2f} < {AA}"
        assert (measured[_READ[0]]["background"] < 0.2) == dark
    finally:
        context.close()


def test_screen_readers_hear_the_stop_buttons_purpose_and_changes_of_state_not_every_beat(notebook):
    page, _client = notebook
    cell, _session = page.start_keepalive(f"ka = colab_jsalive.inject(interval={INTERVAL}, label='run 3')")
    badge = page.badge(cell)
    # The button's accessible name says what it stops.
    assert badge.get_by_role("button", name="Stop keep-alive \u201crun 3\u201d", exact=True).count() == 1
    assert badge.get_attribute("role") == "group"
    status = badge.get_by_role("status")
    # (A late answer on a loaded machine shows "busy" for a moment, as designed: wait for running.)
    wait_for(lambda: status.text_content() == "keep-alive running", 30, "the live region to say running")
    # Every change the live region makes is something a screen reader reads out: record them.
    status.evaluate(
        "el => { window.__announced = []; new MutationObserver(() => "
        "window.__announced.push(el.textContent)).observe(el, {childList: true, "
        "characterData: true, subtree: true}); }"
    )
    words = page.badge_data(cell)["text"]
    beats = int(page.badge_data(cell)["beats"])
    wait_for(lambda: int(page.badge_data(cell)["beats"]) >= beats + BEATS_HEARD, 30, f"{BEATS_HEARD} more beats")
    assert page.badge_data(cell)["text"] != words  # the visible words changed with the beats
    # ... and nothing was read out but changes of state: on a loaded machine a late answer makes the
    # kernel "busy" for a moment, and back (seen in the oldest row); a beat by itself says nothing, so
    # no announcement repeats the one before it or carries a count, and there are far fewer of them
    # than beats (a live region that changed with every beat would speak BEATS_HEARD times).
    announced = page.page.evaluate("window.__announced")
    assert len(announced) <= 2 * LATE_ANSWERS, f"{len(announced)} announcements in {BEATS_HEARD} beats: {announced}"
    assert all(now != before for now, before in zip(announced, ["keep-alive running", *announced], strict=False)), (
        announced
    )
    assert not any(char.isdigit() for text in announced for char in text), announced
    page.run("colab_jsalive.inject(stop=True)")
    page.wait_badge(cell, "stopped", 30)
    announced = wait_for(lambda: page.page.evaluate("window.__announced"), 10, "the stop to be announced")
    assert announced[-1].startswith("keep-alive stopped")
