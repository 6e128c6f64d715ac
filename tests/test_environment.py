"""Where no channel exists, inject() warns once with the reason and returns an inactive handle."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.support.kernels import StandaloneKernel

PROBE = textwrap.dedent("""
    import dataclasses, json, warnings
    warnings.simplefilter("always")
    with warnings.catch_warnings(record=True) as caught:
        import colab_jsalive
        first = colab_jsalive.inject()
        second = colab_jsalive.inject(interval=5)
        with colab_jsalive.inject() as third:
            pass
    print("RESULT" + json.dumps({
        "warnings": [str(w.message) for w in caught],
        "categories": [w.category.__name__ for w in caught],
        "active": [first.active, second.active, third.active],
        "status": dataclasses.asdict(colab_jsalive.status()),
        "handle_status": dataclasses.asdict(first.status()),
    }, default=str))
""")


def result_of(output: str) -> dict:
    line = next(line for line in output.splitlines() if "RESULT" in line)
    return json.loads(line[line.index("RESULT") + len("RESULT") :])


def assert_inactive_with_one_warning(result: dict, kind: str, reason: str) -> None:
    assert result["active"] == [False, False, False]
    assert len(result["warnings"]) == 1, result["warnings"]
    assert result["categories"] == ["RuntimeWarning"]
    assert "does nothing here" in result["warnings"][0] and reason in result["warnings"][0]
    for status in (result["status"], result["handle_status"]):
        assert status["frontend"] == kind and status["active"] is False
        assert reason in status["reason"]


def test_plain_python_warns_once_and_returns_an_inactive_handle():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert_inactive_with_one_warning(result_of(out.stdout), "python", "not an IPython kernel")


def test_terminal_ipython_warns_once_and_returns_an_inactive_handle():
    out = subprocess.run(
        [sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor", "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
    )
    assert_inactive_with_one_warning(result_of(out.stdout), "terminal", "terminal IPython")


def run_in_kernel(code: str, tmp_path, connection_file: str, env: dict | None = None) -> str:
    """Run ``code`` in a real ipykernel started without any Jupyter server."""
    with StandaloneKernel(tmp_path / connection_file, env) as kernel:
        return kernel.run(code, timeout=60)


def test_a_kernel_without_a_server_warns_once_and_returns_an_inactive_handle(tmp_path):
    result = result_of(run_in_kernel(PROBE, tmp_path, "standalone.json"))
    assert_inactive_with_one_warning(result, "no-server", "not started by a Jupyter server")


def test_vscode_warns_once_and_returns_an_inactive_handle(tmp_path):
    # VS Code's Jupyter extension defines __vsc_ipynb_file__ in the kernel it runs a notebook in.
    result = result_of(
        run_in_kernel(
            "__vsc_ipynb_file__ = '/x/train.ipynb'\n" + PROBE,
            tmp_path,
            "kernel-0123abcd-0000-0000-0000-000000000000.json",
        )
    )
    assert_inactive_with_one_warning(result, "vscode", "VS Code")


def test_a_colab_tag_without_google_colab_warns_once_and_returns_an_inactive_handle(tmp_path):
    result = result_of(run_in_kernel(PROBE, tmp_path, "standalone.json", {"COLAB_RELEASE_TAG": "x"}))
    assert_inactive_with_one_warning(result, "no-colab", "google.colab.output cannot be imported")


def test_importing_colab_jsalive_loads_no_tensorflow_keras_jinja_or_ipython():
    code = (
        "import sys, colab_jsalive\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'jinja2', 'IPython') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
