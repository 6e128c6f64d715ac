"""`make test-compat`: colab_jsalive on the stacks its users run, one virtual environment per row.

For each row: find its Python on this machine, build the row's environment from its pins (or reuse the
one an earlier run built from the same pins: environments live in the user's cache directory, outside
the checkout, so that a fresh clone on the same machine reuses them), check that installing
colab_jsalive there changes no installed package, then run against that environment's kernels and
servers the kernel-side tests of both channels, the environment checks, and a real-browser culling trial
in each frontend the row serves (and the GPU module's tests where TensorFlow is installed), on as many
pytest-xdist workers as `make test` uses. The rows run longest first, LANES at a time (one by default),
and each row's environment is built and checked while the rows before it run their tests.
Prints each row's pytest output (kept in .compat/ROW/log.txt while it runs), its slowest tests and how
long each stage took, and a summary table; exits non-zero when any row fails.

    python -m compat.run [ROW ...]        # every row by default
    LANES=2 python -m compat.run          # two rows at a time
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from importlib.metadata import requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "compat"
WORK = ROOT / ".compat"  # this checkout's wheel and scratch files
# The rows' environments, kept between runs and between clones, one folder per row and pins (the stamp).
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "colab-jsalive" / "compat"
WORKERS = os.environ.get("WORKERS", "3")  # pytest-xdist workers per row, as `make test` runs
# Rows run this many at a time. More than one suits a machine with cores to spare: on two cores two rows
# side by side saved one to four minutes, and starved a kernel or a page now and then.
LANES = int(os.environ.get("LANES", "1"))
PACKAGE = "colab-jsalive"
ALL_FRONTENDS = ("jupyterlab", "notebook", "nbclassic")
PIP = ("-m", "pip", "--disable-pip-version-check", "--no-input")
# The versions each row reports, so that a log says what "newest" was on the day it ran.
SHOWN = (
    "ipython",
    "ipykernel",
    "comm",
    "jupyter-server",
    "jupyterlab",
    "notebook",
    "nbclassic",
    "jupyter-collaboration",
    "tensorflow",
    "tensorflow-cpu",
    "keras",
)

# What every row runs. The culling trial and the kernel faults open each frontend named by the row
# (COLAB_JSALIVE_FRONTENDS): what servers of each age answer when a kernel is gone differs.
TESTS = (
    "tests/test_channels.py",
    "tests/test_environment.py",
    "tests/test_session.py",
    "tests/test_validation.py",
    "tests/test_render.py",
    "tests/test_culling.py",
    "tests/test_kernel_gone.py",
    "tests/test_magics.py",
    "tests/test_badge.py",
    "tests/test_quiet_page.py",
    "tests/test_output_text.py",
)
GPU_TESTS = ("tests/test_gpu.py",)  # where the row has TensorFlow
# The common tests whose pages show what a server of the row's release does: a culling trial, and what
# the page hears when its kernel is shut down, killed, or its server restarted.
SERVER_PAGES = ("test_culling.py", "test_kernel_gone.py")


@dataclass(frozen=True)
class Row:
    name: str
    python: str  # "3.13": the interpreter the row's environment is built from
    pins: str | None  # a requirements file in compat/ whose versions are installed exactly; None: newest
    extra: str  # the extra of pyproject.toml whose requirements (the tests' needs) join the pins
    frontends: tuple[str, ...]
    about: str
    tests: tuple[str, ...] = ()  # the row's own tests, run after TESTS in a pytest session of their own
    common: bool = True  # False: the row runs its own tests only (a variant of another row's stack)
    # The common test files whose pages run here; None: every one, (): none. What a server answers (a
    # culled kernel, a gone one, a restart) differs with its release, so a row between the oldest releases
    # and the newest runs those files' pages (SERVER_PAGES); how a page looks and reads (badge, quiet tab,
    # output's text, magics) depends on the frontend alone, and runs at both ends (the oldest row, and
    # `make test`, which runs every page on the newest releases whenever its environment is new).
    pages: tuple[str, ...] | None = None


# Longest first (LANES of them start at once, the rest as lanes free up), which ends the run soonest.
ROWS = (
    Row(
        "sagemaker-3.9",
        "3.12",
        "sagemaker-3.9.txt",
        "test-tools",
        ("jupyterlab",),
        "SageMaker Studio's JupyterLab (SageMaker Distribution 3.9.10): IPython 8.37, ipykernel 7.3, "
        "jupyter_server 2.20, JupyterLab 4.4, Amazon's jupyter-activity-monitor-extension 0.3.2",
        tests=("tests/test_sagemaker.py",),
        # Its own trial opens ten JupyterLab pages on this stack, with the keep-alive and without; the
        # common pages' tests run on JupyterLab 4.0, 4.2 (the rows below) and the newest (make test).
        pages=(),
    ),
    Row(
        "oldest",
        "3.10",
        "oldest.txt",
        "test",
        ALL_FRONTENDS,
        "every lower bound of pyproject.toml: IPython 7.34, ipykernel 6.5 (no comm package), "
        "jupyter_server 2.4, JupyterLab 4.0, Notebook 7.0, tensorflow-cpu 2.16",
    ),
    Row(
        "hub-2024-09",
        "3.12",
        "hub-2024-09.txt",
        "test-tools",
        # JupyterLab 4.2's pages; Notebook 7.2's and nbclassic 1.1's releases lie between the oldest row's
        # (7.0, 1.0) and make test's (the newest), whose pages both run, and they cost this row two
        # minutes of make test-compat's budget.
        ("jupyterlab",),
        "a JupyterHub image of 2024: IPython 8.27, ipykernel 6.29 (comm package), jupyter_server 2.14, "
        "JupyterLab 4.2, Notebook 7.2",
        pages=SERVER_PAGES,
    ),
    Row(
        "colab-2026-08",
        "3.13",
        "colab-2026-08.txt",
        "test-tools",
        ("nbclassic",),
        "Colab's runtime: IPython 7.34, ipykernel 6.17.1 (no comm package), jupyter_server 2.20, "
        "the classic notebook, TensorFlow 2.20 (GPU build)",
        pages=SERVER_PAGES,
    ),
    Row(
        "sagemaker-3.9-shared",
        "3.12",
        "sagemaker-3.9-shared.txt",
        "test-tools",
        ("jupyterlab",),
        "a SageMaker Studio shared space: the sagemaker-3.9 row's stack with jupyter-collaboration 3.1.2, "
        "the server started with --collaborative",
        tests=("tests/test_sagemaker_shared.py",),
        common=False,
    ),
    Row(
        "collaboration-5",
        "3.12",
        "collaboration-5.txt",
        "test-tools",
        ("jupyterlab",),
        "the same shared space on the newest real-time collaboration: jupyter-collaboration 5.0, "
        "JupyterLab 4.6, IPython 9, Amazon's activity monitor",
        tests=("tests/test_sagemaker_shared.py",),
        common=False,
    ),
    Row(
        "newest",
        "3.13",
        None,
        "test",
        ALL_FRONTENDS,
        "the newest releases: IPython 9, ipykernel 7, JupyterLab 4, Notebook 7, tensorflow-cpu",
        pages=(),  # make test runs the pages on these same releases, on the machine's python3
    ),
)


class RowFailed(Exception):
    """A row cannot pass; the message says why, for the summary."""


class RowLog:
    """One row's output and the time each of its stages took. Rows may run side by side (LANES at a time),
    so each writes to a file of its own (.compat/ROW/log.txt, readable while it runs) and the whole log
    is shown when the row ends; only the end of each stage is printed as it happens."""

    _printing = threading.Lock()

    def __init__(self, row: Row):
        self.row = row.name
        self.seconds: dict[str, float] = {}
        self.path = WORK / row.name / "log.txt"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("w")

    def __call__(self, text: str) -> None:
        self._file.write(text if text.endswith("\n") else text + "\n")
        self._file.flush()

    def now(self, text: str) -> None:
        """Log ``text``, and print it now."""
        self(text)
        with self._printing:
            print(text, flush=True)

    @contextlib.contextmanager
    def stage(self, stage: str):
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[stage] = time.monotonic() - started
            self.now(f"----- {self.row}: {stage} took {self.seconds[stage]:.0f} s")

    def stages(self) -> str:
        return ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in self.seconds.items())

    def close(self) -> str:
        """Close the log and return its text."""
        self._file.close()
        return self.path.read_text()


def main(argv: list[str]) -> int:
    chosen = [row for row in ROWS if not argv or row.name in argv]
    unknown = set(argv) - {row.name for row in ROWS}
    if unknown:
        print(f"unknown rows: {', '.join(sorted(unknown))}; the rows are: {', '.join(r.name for r in ROWS)}")
        return 2
    wheel = build_wheel()
    print(f"running {len(chosen)} rows, {LANES} at a time, longest first; each row's log is shown when it ends")
    logs = {row: RowLog(row) for row in chosen}
    # One row's environment is built and checked while the rows before it run their tests: on a new
    # machine the environments took 8 of make test-compat's minutes, and the install checks 2 more on
    # any machine. One at a time, and niced (run()), so that the tests running beside it keep the CPU.
    with (
        concurrent.futures.ThreadPoolExecutor(1) as preparing,
        concurrent.futures.ThreadPoolExecutor(LANES) as lanes,
    ):
        prepared = {row: preparing.submit(prepare, row, wheel, logs[row]) for row in chosen}
        futures = {lanes.submit(run_row, row, prepared[row], logs[row]): row for row in chosen}
        results = {}
        for future in concurrent.futures.as_completed(futures):
            row = futures[future]
            results[row] = future.result()
            with RowLog._printing:
                print(f"\n===== {row.name}: {row.about}\n{logs[row].close()}", flush=True)
    print("\n===== make test-compat")
    for row in chosen:
        passed, summary, seconds = results[row]
        print(f"{row.name:20} Python {row.python:5} {'PASS' if passed else 'FAIL'}  {seconds / 60:4.1f} min  {summary}")
    return 0 if all(passed for passed, _, _ in results.values()) else 1


def prepare(row: Row, wheel: Path, log: RowLog) -> tuple[Path, str]:
    """Build ``row``'s environment and check the install; returns the environment and the versions of
    the row's main parts. Raises RowFailed."""
    log.now(f"----- {row.name}: preparing")
    python = find_python(row.python)
    with log.stage("environment"):
        venv = environment(row, python, log)
    with log.stage("install check"):
        versions = install_check(row, venv, wheel, log)
    return venv, versions


def run_row(row: Row, prepared: concurrent.futures.Future, log: RowLog) -> tuple[bool, str, float]:
    """Run ``row``'s tests once its environment is prepared. Returns (passed, summary, seconds), the
    seconds being those of the row's own stages (not the wait for its environment)."""
    try:
        venv, versions = prepared.result()
        log.now(f"----- {row.name}: testing")
        with log.stage("tests"):
            summary = run_tests(row, venv, log)
        passed, summary = True, f"{summary}\n{'':20} {versions}\n{'':20} {log.stages()}"
    except RowFailed as failure:
        log.now(f"ROW FAILED: {row.name}: {failure}")
        passed, summary = False, f"{failure}\n{'':20} {log.stages()}"
    except Exception as error:  # a bug here: the other rows still finish and the summary names this one
        log.now(f"ROW FAILED: {row.name}: {error!r}")
        passed, summary = False, repr(error)
    return passed, summary, sum(log.seconds.values())


# --- the rows' environments ---------------------------------------------------------------------------


def find_python(version: str) -> Path:
    """The highest installed CPython ``version``: pyenv's own interpreters (never its shims, which fail
    for versions not selected), else ``python3.X`` on PATH."""
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates = sorted(
        pyenv.glob(f"{version}.*/bin/python"),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)],
        reverse=True,
    )
    on_path = shutil.which(f"python{version}")
    if on_path and "/shims/" not in on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        done = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        )
        if done.returncode == 0 and done.stdout.strip() == version:
            return candidate
    raise RowFailed(
        f"no Python {version} on this machine (looked in {pyenv} and for python{version} "
        f"on PATH): install it (pyenv install {version}) to run this row"
    )


def pins_text(path: Path) -> str:
    """A pins file's text with that of every file it includes (``-r other.txt``), which pins too."""
    text = path.read_text()
    included = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("-r ")]
    return text + "".join(pins_text(path.parent / name) for name in included)


def environment(row: Row, python: Path, log: RowLog) -> Path:
    """The row's virtual environment, with its pins and the tests' requirements installed: the one an
    earlier run built from the same pins and interpreter, else a new one (replacing the row's older ones)."""
    pins = [] if row.pins is None else ["-r", str(HERE / row.pins), "-c", str(HERE / row.pins)]
    needs = extra_requirements(row.extra)
    if row.pins is None:
        needs += own_requirements()  # with no pins, the package's own dependencies come newest too
    # The stamp names the pins by file name and content, not by path: a clone anywhere reuses the
    # environment an earlier clone built from the same pins.
    stamp = hashlib.sha256(
        json.dumps(
            [str(python), python_version(python), row.pins, needs, pins_text(HERE / row.pins) if row.pins else ""]
        ).encode()
    ).hexdigest()
    venv = CACHE / f"{row.name}-{stamp[:16]}"
    stamp_file = venv / ".compat-stamp"
    fresh = not (stamp_file.exists() and stamp_file.read_text() == stamp)
    if fresh:
        # This row's older environments only: "sagemaker-3.9-*" would also match sagemaker-3.9-shared's.
        for old in CACHE.glob(f"{row.name}-*"):
            if re.fullmatch(re.escape(row.name) + r"-[0-9a-f]{16}", old.name):
                shutil.rmtree(old, ignore_errors=True)
        run([python, "-m", "venv", venv], "create the virtual environment", log)
    if fresh or row.pins is None:
        # A row without pins is brought up to the newest releases on every run.
        upgrade = ["--upgrade"] if row.pins is None else []
        log(f"installing {row.name}'s stack into {venv} ...")
        # --no-compile: Python compiles what the tests import when they first import it; most of a stack
        # (most of TensorFlow) they never import, and compiling it all ahead is a new machine's CPU spent
        # for nothing.
        install = [venv / "bin/python", *PIP, "install", "-q", "--no-compile", *upgrade, *pins, *needs]
        run(install, f"install {row.name}'s stack", log)
        stamp_file.write_text(stamp)
    else:
        log(f"reusing {row.name}'s environment {venv}")
    return venv


def extra_requirements(extra: str) -> list[str]:
    """The requirements of pyproject.toml's ``extra`` (with the extras it names of this package),
    as the installed package's metadata states them."""
    found: list[str] = []
    for text in requires(PACKAGE) or []:
        req = Requirement(text)
        if req.marker is None or not req.marker.evaluate({"extra": extra}):
            continue
        if canonicalize_name(req.name) == PACKAGE:
            for inner in sorted(req.extras):
                found += extra_requirements(inner)
        else:
            found.append(f"{req.name}{req.specifier}")
    return found


def own_requirements() -> list[str]:
    return [text for text in requires(PACKAGE) or [] if Requirement(text).marker is None]


def python_version(python: Path) -> str:
    return subprocess.run(
        [python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True, check=True
    ).stdout.strip()


def build_wheel() -> Path:
    """One wheel of this checkout, installed into every row as a user would install it."""
    dist = WORK / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run([sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT], "build the wheel")
    (wheel,) = dist.glob("*.whl")
    return wheel


# --- the install check --------------------------------------------------------------------------------


def installed(venv: Path) -> dict[str, str]:
    done = run([venv / "bin/python", *PIP, "list", "--format=json"], "list the installed packages")
    return {canonicalize_name(p["name"]): p["version"] for p in json.loads(done.stdout)}


def install_check(row: Row, venv: Path, wheel: Path, log: RowLog) -> str:
    """Installing colab_jsalive must change no installed package: it adds itself and any dependency the
    row lacks, and moves nothing. Its [tensorflow] extra, where TensorFlow is installed, must add nothing
    at all. Returns the versions of the row's main parts."""
    python = venv / "bin/python"
    run([python, *PIP, "uninstall", "-q", "-y", PACKAGE], "remove an earlier colab-jsalive")
    before = installed(venv)
    run([python, *PIP, "install", "-q", wheel], "install colab-jsalive", log)
    after = installed(venv)
    changed = describe_changes(before, after)
    if changed:
        broken(venv)
        raise RowFailed(f"pip install colab-jsalive changed installed packages: {changed}")
    if "tensorflow" in after:
        run([python, *PIP, "install", "-q", f"{wheel}[tensorflow]"], "install colab-jsalive[tensorflow]", log)
        with_extra = installed(venv)
        changed = ", ".join(filter(None, [describe_changes(after, with_extra), describe_additions(after, with_extra)]))
        if changed:
            broken(venv)
            raise RowFailed(f"pip install colab-jsalive[tensorflow] changed installed packages: {changed}")
        extra = "the [tensorflow] extra installs nothing beside Colab's tensorflow"
    elif not any(name.startswith(("tensorflow", "tf-")) for name in after):
        # No TensorFlow at all: the extra must bring the `tensorflow` distribution, and only that one.
        report = run(
            [python, *PIP, "install", "--dry-run", "-q", "--report", "-", f"{wheel}[tensorflow]"],
            "resolve colab-jsalive[tensorflow]",
        )
        names = {canonicalize_name(i["metadata"]["name"]) for i in json.loads(report.stdout)["install"]}
        tensorflows = sorted(n for n in names if n.startswith("tensorflow") and n != "tensorflow-io-gcs-filesystem")
        if "tensorflow" not in names or "tensorflow-cpu" in names:
            raise RowFailed(f"colab-jsalive[tensorflow] would install {tensorflows}, not the tensorflow distribution")
        extra = "the [tensorflow] extra would install the tensorflow distribution"
    else:
        extra = "TensorFlow is installed here under another name, so the [tensorflow] extra is not for it"
    added = describe_additions(before, {k: v for k, v in after.items() if k != "colab-jsalive"})
    log(
        f"install check passed: pip install colab-jsalive changed nothing installed and added itself"
        f"{' and ' + added if added else ''}; {extra}"
    )
    versions = ", ".join(f"{name} {after[name]}" for name in SHOWN if name in after)
    log(f"{row.name} runs: Python {python_version(python).split()[0]}, {versions}")
    return versions


def describe_changes(before: dict[str, str], after: dict[str, str]) -> str:
    """Installed packages upgraded, downgraded or removed. A package added where none was (a missing
    dependency, such as rjsmin in Colab's runtime) changes nothing the runtime had."""
    changes = [
        f"{name} {version} -> {after.get(name, '(removed)')}"
        for name, version in sorted(before.items())
        if name != PACKAGE and after.get(name) != version
    ]
    return ", ".join(changes)


def describe_additions(before: dict[str, str], after: dict[str, str]) -> str:
    added = [f"{name} {version}" for name, version in sorted(after.items()) if name not in before]
    return ", ".join(added)


def broken(venv: Path) -> None:
    """An environment the check changed no longer holds the row's pins: rebuild it next time."""
    (venv / ".compat-stamp").unlink(missing_ok=True)


# --- the tests ----------------------------------------------------------------------------------------


def run_tests(row: Row, venv: Path, log: RowLog) -> str:
    """Run the common tests, then the row's own in a pytest session of their own: SageMaker's trial
    holds ten servers and their pages at once, and beside the common tests on two cores it once kept
    another test's kernel from answering for a minute."""
    python = venv / "bin/python"
    has_tensorflow = (
        subprocess.run(
            [python, "-c", "import importlib.util as u; raise SystemExit(u.find_spec('tensorflow') is None)"]
        ).returncode
        == 0
    )
    common = TESTS + (GPU_TESTS if has_tensorflow else ()) if row.common else ()
    summaries = [run_pytest(row, venv, common, log, row.pages)] if common else []
    summaries += [run_pytest(row, venv, row.tests, log)] if row.tests else []
    return "; ".join(summaries)


def run_pytest(
    row: Row,
    venv: Path,
    tests: tuple[str, ...],
    log: RowLog,
    pages: tuple[str, ...] | None = None,
) -> str:
    scratch = WORK / row.name
    scratch.mkdir(parents=True, exist_ok=True)
    # Run from outside the checkout, with the checkout appended to sys.path (for the tests package):
    # the tests, their subprocesses and the kernels all import the colab_jsalive installed from the wheel.
    args = [
        venv / "bin/python",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--import-mode=append",
        f"--rootdir={ROOT}",
        "-c",
        str(ROOT / "pyproject.toml"),
        "-ra",
        "-n",
        WORKERS,
        "--durations=20",
        *(str(ROOT / t) for t in tests),
    ]
    env = dict(os.environ, COLAB_JSALIVE_FRONTENDS=",".join(row.frontends))
    # Python writes the bytecode of what the tests import, once, into the row's environment (installed
    # --no-compile). Where PYTHONDONTWRITEBYTECODE is set (as on the machines this project is built on), every
    # kernel, server and TensorFlow probe compiled its imports again: a kernel's start took two and a
    # half times the CPU, TensorFlow's import three times.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pages is not None:  # tests/conftest.py deselects the browser tests of other files
        env["COLAB_JSALIVE_PAGE_MODULES"] = ",".join(pages)
    log(f"running {len(tests)} test files against {row.name} ...")
    with subprocess.Popen(
        [str(a) for a in args], cwd=scratch, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as pytest:
        lines = []
        for line in pytest.stdout:  # into the row's log as it comes: a row runs for minutes
            log(line)
            lines.append(line.rstrip())
    summary = next((line.strip("= ") for line in reversed(lines) if line.startswith("=")), "no summary")
    if pytest.returncode != 0:
        raise RowFailed(f"pytest: {summary}")
    return summary


def run(args: list, what: str, log: RowLog | None = None) -> subprocess.CompletedProcess:
    """Run a command, niced (it builds or checks an environment, beside tests that need the CPU more);
    with a ``log``, what it prints goes there."""
    done = subprocess.run(["nice", "-n", "10", *(str(a) for a in args)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RowFailed(f"could not {what}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    if log and done.stdout.strip():
        log(done.stdout.strip())
    return done


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
