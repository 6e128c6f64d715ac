"""The project's commands that show it on real parts: `make demo` (__main__.py) and `make pictures`
(pictures.py)."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.browser import Chromium
from tests.support.servers import JupyterServer


@contextlib.contextmanager
def real_parts(**server_options) -> Iterator[tuple[JupyterServer, Chromium]]:
    """A real jupyter_server (started with ``server_options``) and headless Chromium, in a folder of
    their own; the browser is closed and the server stopped when the block ends, however it ends."""
    with tempfile.TemporaryDirectory() as workdir, sync_playwright() as playwright:
        server = JupyterServer(Path(workdir), **server_options).start()
        try:
            browser = Chromium(playwright, Path(workdir) / "chromium-profile")
            try:
                yield server, browser
            finally:
                browser.close()
        finally:
            server.stop()
