"""The built wheel carries the JavaScript templates and renders a snippet from a clean environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_into_a_clean_venv_and_renders_the_snippet(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("colab_jsalive-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("keepalive.js.jinja", "core.js", "badge.js", "jupyter_channel.js", "colab_channel.js"):
        assert f"colab_jsalive/js/{template}" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    render = ("from colab_jsalive._render import snippet\n"
              "print(snippet({'channel': 'jupyter', 'session': '0' * 32, 'kernel_id': 'k', 'target': 't', 'interval': 60.0,"
              " 'max_duration': None, 'label': 'from the wheel'}))")
    # Run from outside the source tree, so only the installed package can be imported.
    out = subprocess.run([str(python), "-c", render], capture_output=True, text=True, check=True,
                         cwd=tmp_path)
    assert "from the wheel" in out.stdout
    script = tmp_path / "snippet.js"
    script.write_text(out.stdout)
    subprocess.run([shutil.which("node") or "node", "--check", str(script)], check=True)
    where = subprocess.run([str(python), "-c", "import colab_jsalive; print(colab_jsalive.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert str(venv) in where
