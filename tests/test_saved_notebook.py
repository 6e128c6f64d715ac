"""Outputs are saved into notebooks: a saved notebook with a running keep-alive holds no server token."""

from __future__ import annotations

import json

from tests.support.waiting import wait_for


def test_a_saved_notebook_holds_the_snippet_but_no_server_token(notebook, server):
    page, _client = notebook
    cell = page.run("ka = colab_jsalive.inject(interval=0.5, label='saved')")
    page.wait_badge(cell, "running")
    page.save()
    path = server.root / page.notebook

    def saved_snippet():
        nb = json.loads(path.read_text())
        return any("application/javascript" in out.get("data", {}) for c in nb["cells"] for out in c.get("outputs", []))

    wait_for(saved_snippet, 20, "the notebook to be saved with the snippet in it")
    text = path.read_text()
    assert server.token not in text
    assert page.kernel_id in text  # the snippet is there, addressed to the kernel, without the token
    page.run("colab_jsalive.inject(stop=True)")
