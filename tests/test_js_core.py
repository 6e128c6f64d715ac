"""Runs the JavaScript core's own tests (tests/js/*.test.mjs) with node's test runner, on js/core.js
minified as every snippet is (what users' pages run)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from colab_jsalive._render import minify

ROOT = Path(__file__).resolve().parents[1]


def test_javascript_core_tests_pass_under_node_test(tmp_path):
    core = tmp_path / "core.min.js"
    core.write_text(minify((ROOT / "js" / "core.js").read_text()), encoding="utf-8")
    node = shutil.which("node")
    assert node, "node is needed for the JavaScript tests: `make test` installs it"
    tests = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert tests
    result = subprocess.run(
        [node, "--test", *tests],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLAB_JSALIVE_CORE": str(core)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
