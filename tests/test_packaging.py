"""What users install, and what a release uploads. The wheel carries the JavaScript templates and the
licence, has one version, and its requirements move nothing in the runtimes it is installed into (every
lower bound is one the tests run, no upper bounds, and one TensorFlow); the sdist holds what it should and
rebuilds the same wheel; both pass the checkers packagers use. `make dist` runs this module on the files it
built for a release; `make test` on files built here the same way. Installing into Colab's own stack is
checked for real by `make test-compat`."""

from __future__ import annotations

import email.message
import email.parser
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import colab_jsalive

ROOT = Path(__file__).resolve().parents[1]
# What the sdist is made from, and what it then holds at its top (PKG-INFO is the build's; .gitignore
# hatchling adds on its own).
SDIST_INPUTS = {
    *("colab_jsalive", "js", "tests", "compat", "README.md", "CHANGELOG.md", "LICENSE", "pyproject.toml"),
    *("CONTRIBUTING.md", "docs", "mkdocs.yml", "benchmarks/RESULTS.md"),
}
SDIST_TOP = {name.split("/")[0] for name in SDIST_INPUTS} | {"PKG-INFO", ".gitignore"}


@dataclass(frozen=True)
class Dist:
    sdist: Path
    wheel: Path  # built from the unpacked sdist, as a release builds it


def build(*args: str, source: Path = ROOT, outdir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "build", *args, "--outdir", str(outdir), str(source)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Dist:
    """The artifacts in $COLAB_JSALIVE_DIST when `make dist` checks what it built, else built here as a
    release builds them: `python -m build` makes the sdist, then the wheel from the unpacked sdist."""
    where = os.environ.get("COLAB_JSALIVE_DIST")
    if where:
        outdir = Path(where)
    else:
        outdir = tmp_path_factory.mktemp("dist")
        build(outdir=outdir)
    (sdist,) = outdir.glob("colab_jsalive-*.tar.gz")
    (wheel,) = outdir.glob("colab_jsalive-*.whl")
    return Dist(sdist, wheel)


@pytest.fixture(scope="module")
def wheel(dist) -> Path:
    return dist.wheel


def metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def contents(wheel: Path) -> dict[str, str]:
    """Each file of a wheel, and the hash of its bytes."""
    with zipfile.ZipFile(wheel) as archive:
        return {name: hashlib.sha256(archive.read(name)).hexdigest() for name in archive.namelist()}


def sdist_names(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        return [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]


def requirements(wheel: Path) -> list[Requirement]:
    """Every Requires-Dist of the wheel: dependencies and the extras' requirements."""
    return [Requirement(text) for text in metadata(wheel).get_all("Requires-Dist")]


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
    where, version = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata, colab_jsalive\n"
            "print(colab_jsalive.__file__)\n"
            "print(importlib.metadata.version('colab-jsalive') == colab_jsalive.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout.splitlines()
    assert str(venv) in where
    assert version == "True", "the installed package's metadata and colab_jsalive.__version__ differ"


def test_one_version_read_from_the_package(wheel):
    assert metadata(wheel)["Version"] == colab_jsalive.__version__
    assert "version" not in re.findall(r"^(\w+) =", (ROOT / "pyproject.toml").read_text(), re.M), (
        "pyproject.toml names a version of its own: the build reads colab_jsalive.__version__"
    )


def test_the_licence_travels_with_the_wheel_and_the_sdist(dist):
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License")
    with zipfile.ZipFile(dist.wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(name).decode() == licence
    with tarfile.open(dist.sdist) as archive:
        (member,) = [m for m in archive.getmembers() if m.name.endswith("/LICENSE") and m.name.count("/") == 1]
        assert archive.extractfile(member).read().decode() == licence
    assert metadata(dist.wheel)["License-Expression"] == "MIT"


def test_twine_check_strict_passes_on_both(dist):
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dist.sdist), str(dist.wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_wheel_contents_finds_nothing(wheel):
    binary = shutil.which("check-wheel-contents", path=str(Path(sys.executable).parent))
    assert binary, "check-wheel-contents is in pyproject.toml's `release` group: `make setup` installs it"
    done = subprocess.run([binary, str(wheel)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_description_an_index_shows_links_only_to_absolute_addresses(wheel):
    """The README's links and pictures point into the repository (docs/need.md, docs/images/...), which an
    index cannot show: the description made for it (pyproject.toml) keeps their text and drops them."""
    meta = metadata(wheel)
    description = meta.get_payload()
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "keep-alive" in description and "inject()" in description
    targets = re.findall(r"\]\(([^)]*)\)", description) + re.findall(r'(?:src|href)="([^"]*)"', description)
    relative = [target for target in targets if not target.startswith("https://")]
    assert not relative, f"links and pictures no index can follow: {relative}"


def test_the_sdist_holds_the_package_its_tests_and_its_papers_and_nothing_else(dist):
    names = sdist_names(dist.sdist)
    assert {name.split("/")[0] for name in names} == SDIST_TOP
    assert "colab_jsalive/__init__.py" in names and "js/keepalive.js.jinja" in names
    assert "tests/conftest.py" in names and "compat/oldest.txt" in names
    assert "mkdocs.yml" in names and "docs/index.md" in names and "docs/images/badge-running-light.png" in names
    assert [name for name in names if name.startswith("benchmarks/")] == ["benchmarks/RESULTS.md"]


def test_the_sdist_patterns_are_anchored_at_the_root(tmp_path):
    """A folder named like an included one, deeper in the tree (a virtual environment's tests/ or
    compat/), stays out of the sdist."""
    tree = tmp_path / "tree"  # what the sdist is made from, in a checkout or an unpacked sdist
    tree.mkdir()
    for name in SDIST_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, tree / name)
    for decoy in ("venv/lib/site-packages/pip/_vendor/tests/decoy.py", "venv/lib/resolvelib/compat/decoy.py"):
        (tree / decoy).parent.mkdir(parents=True, exist_ok=True)
        (tree / decoy).write_text("")
    build("--sdist", source=tree, outdir=tmp_path / "out")
    (sdist,) = (tmp_path / "out").glob("*.tar.gz")
    assert not [name for name in sdist_names(sdist) if "decoy" in name or name.startswith("venv")]


def test_the_wheel_built_from_the_sdist_is_the_wheel_built_from_the_checkout(dist, tmp_path):
    build("--wheel", outdir=tmp_path)
    (from_checkout,) = tmp_path.glob("colab_jsalive-*.whl")
    assert contents(dist.wheel) == contents(from_checkout)


def test_the_sdist_offers_no_command_it_cannot_run(dist, tmp_path):
    """The sdist's commands are its tests: pytest collects every one of them in the unpacked sdist. The
    Makefile and CI, whose commands need the checkout (git, demo/, benchmarks/, the checkers'
    settings), stay out."""
    with tarfile.open(dist.sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (unpacked,) = tmp_path.glob("colab_jsalive-*")
    names = sdist_names(dist.sdist)
    assert not [name for name in names if name in {"Makefile", ".ci/run"} or name.startswith(".github/")]
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"],
        capture_output=True,
        text=True,
        cwd=unpacked,
    )
    assert collected.returncode == 0, collected.stdout[-3000:] + collected.stderr[-3000:]
    assert re.search(r"^\d+ tests collected", collected.stdout, re.M), collected.stdout[-1000:]


def test_the_changelog_has_an_unreleased_section_and_one_for_this_version():
    headings = re.findall(r"^## (.+)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert headings[0] == "[Unreleased]"
    assert headings[1].startswith(f"[{colab_jsalive.__version__}] - "), (
        f"CHANGELOG.md's latest version is {headings[1]}, the package's {colab_jsalive.__version__}"
    )
