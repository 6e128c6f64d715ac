"""Headless Chromium for the tests, the demo and the benchmarks, and the frontends this environment
serves. Debian's Chromium where there is one (Playwright cannot download its own on these machines)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from pathlib import Path

from tests.support.servers import JupyterServer
from tests.support.waiting import wait_for

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ALL_FRONTENDS = ("jupyterlab", "notebook", "nbclassic")
# The frontends this environment serves. `make test` has all three; each row of `make test-compat`
# names its own (the classic notebook alone on Colab's stack), so that none goes missing unnoticed.
FRONTENDS = tuple(os.environ.get("COLAB_JSALIVE_FRONTENDS", ",".join(ALL_FRONTENDS)).split(","))


def chromium_executable() -> str | None:
    """The system Chromium if there is one; None lets Playwright use its own download."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def snippet_config(label: str = "", channel: str = "jupyter") -> dict:
    """The values inject() renders into a snippet, with a made-up session and kernel: for the tests that
    render a snippet themselves and run it with show_snippet()."""
    return {
        "channel": channel,
        "session": "0" * 32,
        "kernel_id": "k-1" if channel == "jupyter" else None,
        "target": "colab_jsalive",
        "interval": 60.0,
        "max_duration": 43200.0,
        "label": label,
    }


def show_snippet(page, code: str) -> None:
    """Run a rendered snippet in ``page`` as Jupyter runs an output's JavaScript: with ``element`` bound
    to the output node (the page's ``#out``)."""
    page.evaluate("code => { const element = document.getElementById('out'); eval(code); }", code)


def change_theme(page, theme: str) -> None:
    """Switch a JupyterLab or Notebook 7 page to ``theme`` ("JupyterLab Dark", ...) as its Settings menu
    does, and wait until the page says it is applied. The choice is kept in the server's user settings."""
    page.evaluate("theme => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme)
    wait_for(lambda: page.evaluate("document.body.dataset.jpThemeName") == theme, 30, f"the page to apply {theme}")


class Chromium:
    """Headless Chromium for the tests, the demo and the benchmarks.

    Notebook pages open in one persistent profile (new_page()): its disk cache keeps the frontends'
    scripts, and the code Chromium compiled from them, from one page to the next, so that a later page
    of JupyterLab costs about a third less CPU than one in a fresh context, and one of Notebook 7 or the
    classic notebook about half (measured on this project's 2-core machine), and the server sends no
    script twice. The pages stay apart where a test looks: each server has its own port, and with it its
    own login cookie and storage, and each page its own WebSockets, console and timers. A test that
    needs a context of its own (a hub's user, with their login cookies; a colour scheme) asks
    new_context(): an off-the-record context of a second Chromium, started when first asked for.
    """

    def __init__(self, playwright, profile: Path):
        """``profile``: the shared profile's folder (empty, or one an earlier Chromium left)."""
        self._playwright = playwright
        self.shared = playwright.chromium.launch_persistent_context(
            profile, executable_path=chromium_executable(), args=CHROMIUM_ARGS, viewport={"width": 1200, "height": 900}
        )
        # Cookies are kept per host, not per port: each server's `_xsrf` cookie, set for its base URL,
        # would reach every server below that path too (one at / and one at /user/tester/), and the
        # classic notebook would send the token of one while the server checks the other (403: no
        # kernel). One `_xsrf` cookie for the whole host, set first, is the one every server then uses.
        self.shared.add_cookies([{"name": "_xsrf", "value": secrets.token_hex(16), "domain": "127.0.0.1", "path": "/"}])
        self._apart = None

    def new_page(self):
        """A page in the shared profile; close the page (never the profile) when done."""
        return self.shared.new_page()

    def new_context(self, **options):
        """A browser context of its own, off the record; close it when done."""
        if self._apart is None:
            self._apart = self._playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        return self._apart.new_context(**options)

    def close(self) -> None:
        self.shared.close()
        if self._apart is not None:
            self._apart.close()


def write_apart_page(folder: Path, server: JupyterServer) -> None:
    """Write ``folder/index.html``: a JupyterLab-like page served apart from ``server`` (by a
    StaticServer), naming it in its page config as JupyterLab allows: a whole URL for baseUrl, and the
    token on sockets too, since cookies do not reach another origin. Its ``#out`` is where
    show_snippet() runs a snippet."""
    base = f"http://127.0.0.1:{server.port}/"
    config = json.dumps(
        {
            "appName": "JupyterLab",
            "baseUrl": base,
            "token": server.token,
            "wsUrl": base.replace("http", "ws", 1),
            "appendToken": "true",
        }
    )
    (folder / "index.html").write_text(
        f"<!doctype html><script id='jupyter-config-data' type='application/json'>{config}</script><div id='out'></div>"
    )
