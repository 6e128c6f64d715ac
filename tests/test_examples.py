"""Every Python example in README.md, CONTRIBUTING.md and docs/ runs, so that none can rot unseen.

An example is a fenced block: ``python`` (code, run as a notebook cell) or ``pycon`` (a session whose
shown output is checked by doctest's own checker, ``...`` standing for what varies: times, counts).
An example that needs what only the reader has (their model, their data) says so where the reader sees
it, in a comment ``# illustrative: WHY``; it is compiled, with IPython's cell transforms so that magics
count as syntax, and not run. The examples of one document run in order, as the cells of one notebook:
in a real kernel started by a real jupyter_server where one of them uses the keep-alive or a magic, in a
plain Python process where none does (the GPU module's examples). The run prints how many examples ran
and how many are illustrative (tests/conftest.py adds the line to pytest's summary).
"""

from __future__ import annotations

import doctest
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from IPython.core.inputtransformer2 import TransformerManager
from markdown_it import MarkdownIt

from tests.support.kernels import KernelSocket

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("**/*.md"))]
ILLUSTRATIVE = re.compile(r"#\s*illustrative:\s*(.*)")
# What makes an example need a kernel: the keep-alive itself, or IPython's magics.
NEEDS_KERNEL = re.compile(r"\b(inject|status)\(|^\s*%", re.M)
CHECK = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Example:
    where: str  # "docs/usage.md:76"
    kind: str  # "python" or "pycon"
    source: str

    @property
    def illustrative(self) -> str:
        """Why the example is not run ("" when it is)."""
        found = ILLUSTRATIVE.search(self.source)
        return found.group(1).strip() if found else ""

    @property
    def code(self) -> str:
        """The code as a cell would hold it (a session's prompts taken away)."""
        if self.kind == "python":
            return self.source
        return "\n".join(example.source for example in doctest.DocTestParser().get_examples(self.source))


def examples(document: Path) -> list[Example]:
    """The document's Python examples, in order, as a Markdown reader finds its fenced blocks."""
    where = document.relative_to(ROOT)
    return [
        Example(f"{where}:{token.map[0] + 1}", token.info.strip(), token.content)
        for token in MarkdownIt().parse(document.read_text())
        if token.type == "fence" and token.info.strip() in ("python", "pycon")
    ]


EXAMPLES = {document.relative_to(ROOT).as_posix(): examples(document) for document in DOCUMENTS if document.exists()}
RUNNABLE = {name: found for name, found in EXAMPLES.items() if any(not e.illustrative for e in found)}


def test_every_illustrative_example_says_why_and_compiles(record_property):
    marked = [e for found in EXAMPLES.values() for e in found if ILLUSTRATIVE.search(e.source)]
    for example in marked:
        assert example.illustrative, f"{example.where}: '# illustrative:' must say why the example is not run"
        compile(TransformerManager().transform_cell(example.code), example.where, "exec")
    record_property("examples_illustrative", len(marked))


def in_kernel(socket: KernelSocket, example: Example) -> None:
    """Run ``example`` in the kernel as a cell (a session: each of its inputs as a cell), checking any
    output it shows."""
    if example.kind == "python":
        reply, outputs = socket.outcome(socket.request(example.source), 180, example.where)
        errors = [m["content"] for m in outputs if m["header"]["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok" and not errors, f"{example.where} failed: {errors or reply}"
        return
    for step in doctest.DocTestParser().get_examples(example.source):
        reply, outputs = socket.outcome(socket.request(step.source), 180, example.where)
        got = ""
        for msg in outputs:
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                got += content["text"]
            elif kind == "execute_result":
                got += content["data"]["text/plain"] + "\n"
            elif kind == "error":
                got += f"Traceback (most recent call last):\n  ...\n{content['ename']}: {content['evalue']}\n"
        checker = doctest.OutputChecker()
        assert checker.check_output(step.want, got, CHECK), (
            f"{example.where}, at >>> {step.source.strip()}:\n" + checker.output_difference(step, got, CHECK)
        )


# Runs a document's examples in one plain Python process: code as it is, sessions through doctest.
_PLAIN_RUNNER = """
import doctest, json, sys
examples = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for where, kind, source in examples:
    if kind == "python":
        exec(compile(source, where, "exec"), namespace)
        continue
    test = doctest.DocTestParser().get_doctest(source, namespace, where, where, 0)
    runner = doctest.DocTestRunner(optionflags=%d)
    if runner.run(test, clear_globs=False).failed:
        sys.exit(where + " shows output that differs from what it printed (above)")
"""


@pytest.mark.parametrize("document", sorted(RUNNABLE))
def test_every_example_runs(document, server, record_property):
    """The document's examples run in order, as one notebook's cells; illustrative ones are skipped."""
    found = RUNNABLE[document]
    runnable = [e for e in found if not e.illustrative]
    if any(NEEDS_KERNEL.search(e.code) for e in runnable):
        kernel_id = server.new_kernel()
        socket = KernelSocket(server, kernel_id)
        try:
            for example in runnable:
                in_kernel(socket, example)
        finally:
            socket.close()
            server.shutdown_kernel(kernel_id)
    else:
        done = subprocess.run(
            [sys.executable, "-c", _PLAIN_RUNNER % CHECK],
            input=json.dumps([[e.where, e.kind, e.source] for e in runnable]),
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    record_property("examples_ran", len(runnable))
