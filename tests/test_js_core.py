"""Runs the JavaScript core's own tests (tests/js/*.test.mjs) with node's test runner."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_javascript_core_tests_pass_under_node_test():
    node = shutil.which("node")
    assert node, "node is needed for the JavaScript tests: `make test` installs it"
    tests = sorted(str(p) for p in (ROOT / "tests" / "js").glob("*.test.mjs"))
    assert tests
    result = subprocess.run([node, "--test", *tests], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
