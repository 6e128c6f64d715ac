"""`make pictures`: the badge's states as the documentation shows them, taken from a real page.

One notebook in JupyterLab, in headless Chromium, on a real jupyter_server reached through a proxy this
command can cut. The keep-alive runs, then a cell keeps the kernel busy, then the proxy drops every
connection, then the badge's Stop button is pressed; in each state the badge is photographed in
JupyterLab's light and dark themes. Last, the saved notebook is opened as an untrusted copy, where no
JavaScript runs, and its readable line is photographed the same way. The pictures go to docs/images/
(PICTURES names them); nothing is drawn by hand.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from demo import real_parts
from tests.support.browser import Chromium, change_theme
from tests.support.pages import NotebookPage
from tests.support.servers import DroppingProxy, JupyterServer
from tests.support.waiting import wait_for

OUTPUT = Path("docs/images")
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}
# The states photographed, in the order they are reached; each is docs/images/badge-STATE-THEME.png.
STATES = ("running", "busy", "reconnecting", "stopped", "text")
PICTURES = [OUTPUT / f"badge-{state}-{theme}.png" for state in STATES for theme in THEMES]
INTERVAL = 2  # seconds between beats: the badge shows a few beats within seconds
# The colour each picture's element takes from the theme: the badge's text, and an output's text.
BADGE_COLOUR = "--jp-ui-font-color1"
TEXT_COLOUR = "--jp-content-font-color1"
_THEME_COLOUR_JS = """([element, variable]) => {
    const probe = document.createElement('div');
    probe.style.color = `var(${variable})`;
    document.body.append(probe);
    const wanted = getComputedStyle(probe).color;
    probe.remove();
    return getComputedStyle(element).color === wanted;
}"""


def photograph(element, state: str, variable: str, enter=lambda: None, leave=lambda: None) -> None:
    """Save ``element`` in each theme as badge-STATE-THEME.png, once it has taken the theme's colour;
    the page is left in the light theme. ``enter`` and ``leave``, if given, bring the page into the
    state after each change of theme and out of it after each picture (a theme is kept in the
    server's settings, which a page cut off from its server cannot change)."""
    page = element.page
    for theme, name in THEMES.items():
        change_theme(page, name)
        enter()
        wait_for(
            lambda: page.evaluate(_THEME_COLOUR_JS, [element.element_handle(), variable]),
            30,
            f"the {state} picture's element to take {name}'s colours",
        )
        element.screenshot(path=str(OUTPUT / f"badge-{state}-{theme}.png"))
        print(f"  {OUTPUT / f'badge-{state}-{theme}.png'}", flush=True)
        leave()
    change_theme(page, THEMES["light"])


def badge_states(page: NotebookPage, proxy: DroppingProxy) -> None:
    """Bring the badge through running, busy, reconnecting and stopped, photographing each."""
    cell = page.run(f'from colab_jsalive import inject\nka = inject(interval={INTERVAL}, label="resnet run 3")')
    page.wait_badge(cell, "running", 60)
    wait_for(lambda: int(page.badge_data(cell)["beats"]) >= 3, 30, "three answered beats")
    photograph(page.badge(cell), "running", BADGE_COLOUR)

    page.run("import time\ntime.sleep(90)  # keeps the kernel busy while the pictures are taken")
    wait_for(lambda: int(page.badge_data(cell).get("unanswered") or 0) >= 2, 30, "beats queued behind the cell")
    page.wait_badge(cell, "busy", 10)
    photograph(page.badge(cell), "busy", BADGE_COLOUR)
    page.page.evaluate("() => window.jupyterapp.commands.execute('notebook:interrupt-kernel')")
    page.wait_badge(cell, "running", 60)

    def cut() -> None:
        proxy.drop()
        page.wait_badge(cell, "reconnecting", 30)
        wait_for(  # a few seconds into it, as a person would first see it
            lambda: int(re.search(r"unreachable for (\d+) s", page.badge_data(cell)["text"]).group(1)) >= 3,
            30,
            "the badge to count three seconds unreachable",
        )

    def mend() -> None:
        proxy.restore()
        page.wait_badge(cell, "running", 60)

    photograph(page.badge(cell), "reconnecting", BADGE_COLOUR, enter=cut, leave=mend)

    # JupyterLab told of the lost connection in a modal dialog of its own ("Server Connection Error"),
    # which stands between a person and the Stop button until it is closed, as a person closes it.
    dialogs = page.page.locator(".jp-Dialog")
    while shown := dialogs.count():
        page.page.keyboard.press("Escape")
        wait_for(lambda: dialogs.count() < shown, 10, "JupyterLab's dialog closed")
    page.press_stop(cell)
    photograph(page.badge(cell), "stopped", BADGE_COLOUR)


def readable_line(browser: Chromium, server: JupyterServer, notebook: str) -> None:
    """Open the notebook as a copy changed elsewhere (untrusted: no output's JavaScript runs) and
    photograph the line its keep-alive output shows instead."""
    page = NotebookPage(browser, server, "jupyterlab", server.untrusted_copy(notebook))
    try:
        line = page.page.locator(".jp-OutputArea-output", has_text="colab_jsalive keep-alive").locator("pre")
        line.wait_for(timeout=30_000)
        photograph(line, "text", TEXT_COLOUR)
    finally:
        page.close()


def main() -> int:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    print(f"The badge's states, in JupyterLab's light and dark themes, into {OUTPUT}/:", flush=True)
    with real_parts() as (server, browser):
        proxy = DroppingProxy(server.port)
        try:
            page = NotebookPage(browser, server, "jupyterlab", server.new_notebook("badge.ipynb"), port=proxy.port)
            badge_states(page, proxy)
            page.save_with_keepalive()
            page.close()
            readable_line(browser, server, "badge.ipynb")
        except (AssertionError, TimeoutError) as error:
            print(f"\nFAILED: {error}")
            return 1
        finally:
            proxy.stop()
    print(f"OK: {len(PICTURES)} pictures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
