"""Fixtures with real parts: one Jupyter server, one Chromium, and a notebook open in each frontend."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path

import pytest

from tests.support.browser import FRONTENDS, Chromium
from tests.support.kernels import KernelClient
from tests.support.pages import NotebookPage
from tests.support.servers import JupyterServer
from tests.support.waiting import wait_for

# Cells the browser tests run in the notebook's kernel. Short intervals keep the tests quick; the
# warning they cause (beats under 1 s waste resources) is expected here.
PRELUDE = "import warnings\nwarnings.simplefilter('ignore')\nimport colab_jsalive\n"
# The EMULATION of Colab's contract (DESIGN.md section 2): google.colab.output for the kernel, and the
# notebook page's side of output frames. Only the Colab tests use it.
COLAB_EMULATION = Path(__file__).parent / "colab_emulation"
_names = itertools.count()


# How `make test` shares the tests among pytest-xdist's workers (tests/xdist_units.py).
pytest_plugins = ["tests.xdist_units"]


def pytest_collection_modifyitems(config, items):
    """Every test that opens the browser is marked ``browser``: ``-m "not browser"`` runs those that need
    no Chromium (the release workflow's fast tests). Where COLAB_JSALIVE_PAGE_MODULES is set (by make
    test-compat's rows), only the browser tests of the test files it names run: none where it is empty."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
    if "COLAB_JSALIVE_PAGE_MODULES" in os.environ:
        wanted = set(filter(None, os.environ["COLAB_JSALIVE_PAGE_MODULES"].split(",")))
        dropped = [item for item in items if "browser" in item.keywords and item.path.name not in wanted]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            ids = {id(item) for item in dropped}
            items[:] = [item for item in items if id(item) not in ids]


def pytest_terminal_summary(terminalreporter):
    """How many of the documentation's examples ran and how many are illustrative (tests/test_examples.py
    records both for each test that passed), added to the summary; the workers send them back with their reports."""
    totals = {"examples_ran": 0, "examples_illustrative": 0}
    for report in terminalreporter.stats.get("passed", []):  # a failed document's examples did not all run
        for name, value in getattr(report, "user_properties", ()):
            if name in totals:
                totals[name] += value
    if any(totals.values()):
        terminalreporter.write_line(
            f"documentation examples: {totals['examples_ran']} ran, "
            f"{totals['examples_illustrative']} illustrative (compiled, not run)"
        )


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


class Notebooks:
    """Notebooks in one frontend for the tests of a module, each with no keep-alive and no cells: the
    page the previous test used, emptied, while its kernel lives and answers (a page load costs seconds
    of CPU), else a new one. Yields (page, kernel client), as open_notebook() does."""

    def __init__(self, browser, server, frontend: str):
        self.browser, self.server, self.frontend = browser, server, frontend
        self.stack: contextlib.ExitStack | None = None
        self.current: tuple[NotebookPage, KernelClient] | None = None

    @contextlib.contextmanager
    def __call__(self):
        if self.current is not None and not self._emptied():
            self.close()
        if self.current is None:
            self.stack = contextlib.ExitStack()
            self.current = self.stack.enter_context(open_notebook(self.browser, self.server, self.frontend))
        yield self.current

    def _emptied(self) -> bool:
        """Whether the current page could be made as good as new: its kernel (restarted or not) listed
        and idle, the package imported, every keep-alive stopped and its timers gone, the cells deleted."""
        page, client = self.current
        try:
            if page.kernel_id not in self.server.kernel_ids() or page.wait_kernel(30) != page.kernel_id:
                return False
            client.wait_iopub(30)  # after a restart, the client's subscription comes back late
            client.run(PRELUDE + "colab_jsalive.inject(stop=True)", timeout=30)
        except (TimeoutError, RuntimeError):
            return False  # the kernel is gone, or does not answer: the next test gets a new notebook
        # The kernel answered the stop: the page's keep-alives must end as the product promises, or the
        # page is not reused but reported (a keep-alive timer left running is a fault of the product).
        wait_for(lambda: page.keepalive_timers() == 0, 30, "every keep-alive in the page to stop")
        page.clear()
        page.forget()  # a test reads its own sockets, console lines and kernel checks only
        return True

    def close(self) -> None:
        if self.stack is not None:
            self.stack.close()
        self.stack = self.current = None


@pytest.fixture(scope="module", params=FRONTENDS)
def notebook(request, browser, server):
    """(page, kernel client): one notebook per frontend, shared by the tests of a module."""
    with open_notebook(browser, server, request.param) as opened:
        yield opened
