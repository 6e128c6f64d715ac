"""What users install: the wheel carries the JavaScript templates, and its requirements move nothing in
the runtimes it is installed into (every lower bound is one the tests run, no upper bounds, and one
TensorFlow). Installing into Colab's own stack is checked for real by `make test-compat`."""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)], check=True, capture_output=True
    )
    (built,) = dist.glob("colab_jsalive-*.whl")
    return built


def requirements(wheel: Path) -> list[Requirement]:
    """Every Requires-Dist of the wheel: dependencies and the extras' requirements."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(name).decode())
    return [Requirement(text) for text in metadata.get_all("Requires-Dist")]


def in_extra(requirement: Requirement, extra: str) -> bool:
    return requirement.marker is not None and requirement.marker.evaluate({"extra": extra})


def oldest_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "compat" / "oldest.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_every_lower_bound_is_the_version_the_oldest_row_runs(wheel):
    pins = oldest_pins()
    checked = set()
    for requirement in requirements(wheel):
        name = canonicalize_name(requirement.name)
        if name == "colab-jsalive":
            continue  # the test extra naming the test-tools extra
        (bound,) = [s.version for s in requirement.specifier if s.operator == ">="]
        # The oldest row runs TensorFlow's lowest release as tensorflow-cpu: the same release without
        # GPU support, the build the test machines (which have no GPU) install.
        pinned_as = "tensorflow-cpu" if name == "tensorflow" else name
        assert pins.get(pinned_as) == bound, (
            f"pyproject.toml admits {requirement}, but compat/oldest.txt runs {pinned_as}=={pins.get(pinned_as)}"
        )
        checked.add(pinned_as)
    assert checked == set(pins), f"compat/oldest.txt pins what pyproject.toml does not name: {set(pins) - checked}"


def test_no_requirement_has_an_upper_bound_or_a_pin(wheel):
    for requirement in requirements(wheel):
        operators = {s.operator for s in requirement.specifier}
        assert operators <= {">="}, f"{requirement}: only lower bounds, so that no install moves a runtime"


def test_the_tensorflow_extra_brings_the_tensorflow_distribution_alone(wheel):
    reqs = requirements(wheel)
    assert [str(r).split(";")[0] for r in reqs if in_extra(r, "tensorflow")] == ["tensorflow>=2.16.1"]
    assert [str(r) for r in reqs if r.marker is None] == ["ipython>=7.34.0", "jinja2>=3.0.3", "rjsmin>=1.2.0"]
    # tensorflow-cpu is for the tests' own environment only.
    assert not [r for r in reqs if canonicalize_name(r.name) == "tensorflow-cpu" and not in_extra(r, "test")]


def test_the_wheel_installs_into_a_clean_venv_and_renders_the_snippet(wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("keepalive.js.jinja", "core.js", "badge.js", "jupyter_channel.js", "colab_channel.js"):
        assert f"colab_jsalive/js/{template}" in names
    assert "colab_jsalive/py.typed" in names  # type checkers read the package's annotations (PEP 561)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-compile", str(wheel)], check=True, capture_output=True
    )
    render = (
        "from colab_jsalive._render import snippet\n"
        "print(snippet({'channel': 'jupyter', 'session': '0' * 32, 'kernel_id': 'k', 'target': 't', 'interval': 60.0,"
        " 'max_duration': None, 'label': 'from the wheel'}))"
    )
    # Run from outside the source tree, so only the installed package can be imported.
    out = subprocess.run([str(python), "-c", render], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert "from the wheel" in out.stdout
    script = tmp_path / "snippet.js"
    script.write_text(out.stdout)
    subprocess.run([shutil.which("node") or "node", "--check", str(script)], check=True)
    where = subprocess.run(
        [str(python), "-c", "import colab_jsalive; print(colab_jsalive.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert str(venv) in where
