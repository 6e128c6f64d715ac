"""Fixtures with real parts: one Jupyter server, one Chromium, and a notebook open in each frontend."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

import pytest

from tests.harness import FRONTENDS, Chromium, JupyterServer, KernelClient, NotebookPage

# Cells the browser tests run in the notebook's kernel. Short intervals keep the tests quick; the
# warning they cause (beats under 1 s waste resources) is expected here.
PRELUDE = "import warnings\nwarnings.simplefilter('ignore')\nimport colab_jsalive\n"
# The EMULATION of Colab's contract (DESIGN.md section 2): google.colab.output for the kernel, and the
# notebook page's side of output frames. Only the Colab tests use it.
COLAB_EMULATION = Path(__file__).parent / "colab_emulation"
_names = itertools.count()


# How `make test` shares the tests among pytest-xdist's workers (tests/xdist_units.py).
pytest_plugins = ["tests.xdist_units"]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A real jupyter_server behind a JupyterHub-style /user/NAME/ prefix, with a token."""
    srv = JupyterServer(tmp_path_factory.mktemp("jupyter"), base_url="/user/tester/").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def colab_server(tmp_path_factory):
    """A real jupyter_server whose kernels run as in Colab, against the EMULATION of google.colab.output:
    it is importable in them and COLAB_RELEASE_TAG is set."""
    srv = JupyterServer(
        tmp_path_factory.mktemp("colab"),
        env={"PYTHONPATH": str(COLAB_EMULATION), "COLAB_RELEASE_TAG": "emulation"},
        # The emulated Colab page is served from another loopback origin, as Colab's page is not the
        # kernel's server.
        args=(r"--ServerApp.allow_origin_pat=http://127\.0\.0\.1:\d+",),
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = Chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        yield chromium
        chromium.close()


@contextlib.contextmanager
def open_notebook(browser, server, frontend):
    """A new notebook open in ``frontend``, with a second, browserless client of its kernel.

    Yields (page, client); afterwards closes both and shuts the kernel down.
    """
    page = NotebookPage(browser, server, frontend, server.new_notebook(f"nb{next(_names)}.ipynb"))
    page.run(PRELUDE)
    client = KernelClient(server.connection_file(page.kernel_id))
    try:
        yield page, client
    finally:
        client.close()
        page.close()
        server.shutdown_kernel(page.kernel_id)


@pytest.fixture(scope="module", params=FRONTENDS)
def notebook(request, browser, server):
    """(page, kernel client): one notebook per frontend, shared by the tests of a module."""
    with open_notebook(browser, server, request.param) as opened:
        yield opened
