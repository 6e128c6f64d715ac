"""Wherever a saved output's JavaScript does not run, its text says what it is: one line, with the label as
text and no secret. Shown for real in an untrusted notebook opened in each frontend (the page runs no
snippet and shows that line), and in ``nbconvert --to markdown`` of the saved notebook.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import open_notebook
from tests.support.browser import FRONTENDS
from tests.support.pages import NotebookPage
from tests.support.waiting import holds_for, wait_for

LABEL = 'fit <b>"3"</b>'  # markup and quotes, which must stay text
LINE = re.compile(
    r'colab_jsalive keep-alive "fit <b>\\"3\\"</b>": every 30 s until \d{4}-\d\d-\d\d \d\d:\d\d UTC, '
    r"from the page that ran this cell; run inject\(\) to start one from this page"
)
OUTPUT = {"lab": ".jp-OutputArea-output", "nbclassic": ".output_subarea"}


@pytest.fixture(scope="module", params=FRONTENDS)
def saved(request, browser, server) -> tuple[str, str]:
    """A notebook saved from a page in ``frontend`` where inject() ran: (frontend, the notebook's name)."""
    with open_notebook(browser, server, request.param) as (page, _client):
        page.start_keepalive(f"ka = colab_jsalive.inject(interval=30, max_duration='1h', label={LABEL!r})")
        page.save_with_keepalive()
        page.run("colab_jsalive.inject(stop=True)")
        return request.param, page.notebook


def snippet_output(notebook: dict) -> dict:
    (output,) = [
        out
        for cell in notebook["cells"]
        for out in cell.get("outputs", [])
        if "application/javascript" in out.get("data", {})
    ]
    return output


def test_the_saved_output_says_in_one_line_of_text_what_it_is(saved, server):
    _frontend, name = saved
    text = snippet_output(json.loads((server.root / name).read_text()))["data"]["text/plain"]
    text = "".join(text) if isinstance(text, list) else text
    assert LINE.fullmatch(text), text
    assert server.token not in text


def test_an_untrusted_notebook_runs_no_snippet_and_shows_the_line(saved, browser, server):
    frontend, name = saved
    page = NotebookPage(browser, server, frontend, server.untrusted_copy(name))
    try:
        cells = page.page.locator(OUTPUT[page.family])
        shown = wait_for(
            lambda: [t for t in cells.all_inner_texts() if "colab_jsalive" in t], 30, "the output's text in the page"
        )
        assert len(shown) == 1 and LINE.fullmatch(shown[0].strip()), shown
        assert page.page.locator(".colab-jsalive-badge").count() == 0
        # No snippet runs: no keep-alive socket is opened, no timer set, nothing of it in the console
        # (Notebook 7 logs errors of its own on this page, about its settings and file browser).
        holds_for(
            lambda: not page.keepalive_sockets() and page.keepalive_timers() == 0,
            3,
            "no keep-alive in the untrusted page",
        )
        assert not [line for line in page.console if "colab" in line.lower()]
    finally:
        page.close()
        server.shutdown_kernel(page.kernel_id)


def test_nbconvert_to_markdown_shows_the_line(saved, server, tmp_path):
    pytest.importorskip("nbconvert")
    _frontend, name = saved
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "markdown", "--output-dir", str(tmp_path), str(server.root / name)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    markdown = (tmp_path / name.replace(".ipynb", ".md")).read_text()
    assert len(LINE.findall(markdown)) == 1, markdown
