"""The trials: notebooks left in the situations users leave them in, with and without the keep-alive,
side by side, each kernel watched by its server's own report (GET api/kernels) from a thread of its own."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from tests.support.browser import Chromium
from tests.support.pages import KernelCulledStarting, NotebookPage, hide_page
from tests.support.servers import JupyterServer
from tests.support.waiting import Watcher, age, wait_for


def endless_cell(print_every: float | None = None) -> str:
    """The code of a cell that runs until its kernel is shut down: a silent one (a model training with
    no progress output), or one that prints a line every ``print_every`` seconds. A trial's long cells
    never end by themselves, so none can end before a watch that starts only after a set-up whose
    length depends on the machine."""
    if print_every is None:
        return "import time\nwhile True:\n    time.sleep(60)"
    return (
        f"import itertools, time\nfor n in itertools.count():\n    print(n, flush=True)\n    time.sleep({print_every})"
    )


def start_busy_cell(page: NotebookPage, print_every: float | None = None) -> None:
    """Start an endless_cell() in ``page`` and wait until its kernel is busy with it."""
    page.run(endless_cell(print_every))
    wait_for(
        lambda: page.server.kernel(page.kernel_id)["execution_state"] == "busy",
        30,
        "the kernel busy with the cell",
    )


def fresh(interval: float) -> float:
    """A kept kernel's last activity, as a server or a platform's monitor reports it, is never older than
    this during a watch: a beat every ``interval``, with room for two late timers on a loaded machine."""
    return 3 * interval


def stale(interval: float) -> float:
    """A last activity older than this has not been moved by a beat: an interval past fresh()."""
    return fresh(interval) + interval


# The situations a notebook is left in, for the trials with and without the keep-alive.
SITUATIONS = ("idle, tab visible", "idle, tab hidden", "busy, silent cell", "busy, cell printing", "tab closed")


@dataclass(eq=False)  # each run is itself: two runs of one situation on one server are not one
class TrialRun:
    """One notebook of a trial: a situation on a server, with or without the keep-alive; what its page
    did, and what its server said of its kernel while a Trial watched it."""

    server: JupyterServer
    situation: str
    keepalive: bool
    page: NotebookPage | None = None
    kernel_id: str = ""
    cell: int = -1  # the inject() cell
    session: str = ""  # the keep-alive's session, as the page beats it
    began: float = 0.0  # time.monotonic() when the run was set up: its watch starts then
    sent_when_set_up: int = 0  # beats the page had sent when the run was set up
    beats_sent: int = 0  # ... and when the tab was closed or the watch ended
    errors: tuple[str, ...] = ()  # the page's errors, read then too
    # What a Trial saw: "survived" (listed WATCH seconds after `began`), "culled" (gone before, and the
    # server's log says its culler culled it), or how else it went; seconds after `began` it was first
    # seen gone; the oldest its last_activity was and the fewest connections it had during the watch.
    outcome: str = ""
    gone_after: float | None = None
    activity_age: float = 0.0
    connections: int | None = None

    def set_up(
        self, browser: Chromium, frontend: str, notebook: str, interval: float, print_every: float = 3, label: str = ""
    ) -> None:
        """Open ``notebook``, run inject(interval=..., label=...) if this run has the keep-alive (else wait
        for the new kernel to be idle), and leave the notebook in the run's situation."""
        self.page = self._open(browser, frontend, notebook)
        self.kernel_id = self.page.kernel_id
        if self.keepalive:
            self.cell, self.session = self.page.start_keepalive(
                f"import colab_jsalive\nka = colab_jsalive.inject(interval={interval!r}, label={label!r})"
            )
        if self.situation == "idle, tab hidden":
            assert hide_page(self.page) == "hidden"
        elif self.situation.startswith("busy"):
            start_busy_cell(self.page, print_every if self.situation == "busy, cell printing" else None)
        self.sent_when_set_up = self.page.beats_sent(self.session) if self.keepalive else 0
        if self.situation == "tab closed":
            self.read_page()
            self.page.close()
            self.page = None
            wait_for(
                lambda: self.server.kernel(self.kernel_id)["connections"] == 0, 30, "the closed tab's connections gone"
            )
        self.began = time.monotonic()

    def _open(self, browser: Chromium, frontend: str, notebook: str) -> NotebookPage:
        """Open ``notebook`` until the server lists its new kernel idle, and open it again (three tries)
        where the server's culler took that kernel first: a trial's culler is quicker than a kernel
        starts on a loaded machine (JupyterServer.culled_starting), or than a loaded page shows the
        kernel it started (the oldest row's JupyterLab 4.0, once). That run had not begun; what a culler
        does once a run is set up is for the trial to judge."""
        for _ in range(3):
            page = NotebookPage(browser, self.server, frontend, notebook, wait=False)
            try:
                page.kernel_id = page.wait_kernel(culled_starting=self.server.culled_starting)
                state = wait_for(lambda: self._listed_idle(page.kernel_id), 30, "the new kernel listed idle")
                if state == "culled":
                    raise KernelCulledStarting(f"the server culled the kernel of {notebook} before it was used")
                return page
            except KernelCulledStarting:
                page.close()
                # Listing the sessions makes the server drop the one whose kernel is gone; else the next
                # page would be handed that kernel again.
                self.server.api("GET", "api/sessions")
        raise KernelCulledStarting(f"three kernels of {notebook} were culled before they had started")

    def _listed_idle(self, kernel_id: str) -> str | None:
        """The string "idle" once the server lists the kernel idle, "culled" if its culler took it, else None."""
        try:
            return "idle" if self.server.kernel(kernel_id)["execution_state"] == "idle" else None
        except urllib.error.HTTPError as error:
            if error.code == 404 and self.server.culled(kernel_id):
                return "culled"
            raise

    def read_page(self) -> None:
        """Read the beats sent and the errors from the page, while it is open."""
        self.beats_sent = self.page.beats_sent(self.session) if self.keepalive else 0
        self.errors = tuple(self.page.problems(kinds=("pageerror",)))

    def beats_in_watch(self) -> int:
        """Beats the keep-alive sent after the run was set up: while the kernel was watched."""
        return self.beats_sent - self.sent_when_set_up


def read_pages(runs) -> None:
    """At the end of a watch, read the beats sent and the errors of each run whose page is open."""
    for run in runs:
        if run.page is not None:
            run.read_page()


def close_pages(runs) -> None:
    """Close each run's page that is still open."""
    for run in runs:
        if run.page is not None:
            run.page.close()


@dataclass
class Seen:
    """What a KernelWatch saw of one kernel (times are time.monotonic())."""

    server: JupyterServer
    since: float  # when tracking began
    gone_at: float | None = None  # first seen missing from its server's list
    listed_at: float | None = None  # last seen in its server's list
    oldest: float = 0.0  # the oldest its last_activity was seen while counted, in seconds
    fewest: int | None = None  # the fewest connections it was seen with while counted
    counting: bool = True


class KernelWatch(Watcher):
    """Asks servers for their kernels every second, in a thread of its own (GET api/kernels, not
    counted as activity), and keeps what it saw of each kernel it tracks: when it was first seen gone,
    the oldest its last_activity was and the fewest connections it had. Watching from a thread sees a
    kernel's whole life even while the test is busy opening pages. A failed answer is never taken for a
    cull: a server error is skipped (jupyter_server answers 500 when asked while a kernel is starting,
    before it has a last_activity), and so is no answer (a server busy starting kernels on a loaded
    machine took longer than a question's 10 s, once); no good answer for 30 s, or any other failure
    (a refusal of the request: 4xx), stops the watch and is raised by the next question."""

    patience = 30.0
    what = "watching the servers' kernels"

    def __init__(self, servers) -> None:
        self.servers = list(servers)
        self.seen: dict[str, Seen] = {}
        self._lock = threading.Lock()
        super().__init__()

    def track(self, server: JupyterServer, kernel_id: str) -> None:
        """Watch ``kernel_id`` (which ``server`` has now) from now on."""
        with self._lock:
            self.seen[kernel_id] = Seen(server, time.monotonic())

    def stop_counting(self, kernel_id: str) -> None:
        """Keep the activity and connections seen so far; go on watching for the kernel to go."""
        with self._lock:
            self.seen[kernel_id].counting = False

    def __getitem__(self, kernel_id: str) -> Seen:
        self.check()
        with self._lock:
            return dataclasses.replace(self.seen[kernel_id])

    def passing(self, error: BaseException) -> bool:
        if isinstance(error, urllib.error.HTTPError):
            return error.code >= 500
        return isinstance(error, OSError)  # timed out, refused or reset (URLError is an OSError)

    def look(self) -> None:
        from datetime import datetime, timezone

        asked = datetime.now(timezone.utc)  # ages count to the question, not to a slow answer
        answers = {server: {k["id"]: k for k in server.api("GET", "api/kernels")} for server in self.servers}
        now = time.monotonic()
        with self._lock:
            for kernel_id, seen in self.seen.items():
                model = answers[seen.server].get(kernel_id)
                if model is None:
                    seen.gone_at = seen.gone_at or now
                    continue
                seen.listed_at = now
                if seen.counting and seen.gone_at is None:
                    seen.oldest = max(seen.oldest, age(model["last_activity"], asked))
                    if seen.fewest is None or model["connections"] < seen.fewest:
                        seen.fewest = model["connections"]


class Trial:
    """The one trial engine: runs set up one after another on real servers with a kernel culler, each
    kernel watched by its server's report (KernelWatch) from the moment its run was set up, and each
    judged over ``watch`` seconds of its own. A culler acts on each kernel alone, so runs side by side
    do not disturb each other. Use as a context manager (the watching thread stops on exit)."""

    def __init__(self, runs: list[TrialRun], watch: float) -> None:
        self.runs = runs
        self.watch = watch
        self.watcher = KernelWatch({run.server for run in runs})

    def __enter__(self) -> Trial:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.watcher.close()

    def set_up(
        self, run: TrialRun, browser: Chromium, frontend: str, interval: float, notebook: str = "", **options
    ) -> None:
        """Set ``run`` up in a new notebook (TrialRun.set_up) and watch its kernel from then on."""
        notebook = run.server.new_notebook(notebook or f"run{self.runs.index(run)}.ipynb")
        run.set_up(browser, frontend, notebook, interval, **options)
        self.watcher.track(run.server, run.kernel_id)

    def outcome(self, run: TrialRun) -> str:
        """What became of ``run``'s kernel over its watch: "" while undecided."""
        seen = self.watcher[run.kernel_id]
        if seen.gone_at is not None and seen.gone_at < run.began + self.watch:
            # Culled only if the culler says so: a kernel that died is gone too.
            return "culled" if run.server.culled(run.kernel_id) else "gone, not culled by the culler"
        return "survived" if (seen.listed_at or 0) >= run.began + self.watch else ""

    def judge(self) -> None:
        """Wait until every run is decided, then record what was seen of each and read its page. No answer
        within 30 s of the last watch's end leaves a run undecided, and its test fails."""
        wait_for(
            lambda: all(self.outcome(run) for run in self.runs),
            max(run.began for run in self.runs) + self.watch + 30 - time.monotonic(),
            "every kernel culled or watched through",
            poll=0.5,
        )
        for run in self.runs:
            self.watcher.stop_counting(run.kernel_id)  # later activity (after a Stop, say) is not the watch's
            seen = self.watcher[run.kernel_id]
            run.outcome = self.outcome(run)
            run.gone_after = None if seen.gone_at is None else seen.gone_at - run.began
            run.activity_age, run.connections = seen.oldest, seen.fewest
            if run.page is not None:
                run.read_page()

    def wait_gone(self, runs: list[TrialRun], timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until the kernels of ``runs`` are gone."""
        with contextlib.suppress(TimeoutError):  # what went, and when, is for the caller to judge
            wait_for(lambda: all(self.watcher[r.kernel_id].gone_at is not None for r in runs), timeout, "", poll=0.5)


@dataclass
class CullingCase:
    """One pair of notebooks of a culling trial, open in ``frontend`` on ``server``: ``keep`` runs
    inject(), ``control`` idles without it. Times are seconds, filled in by culling_trial()."""

    server: JupyterServer
    frontend: str
    keep_run: TrialRun | None = None
    control_run: TrialRun | None = None
    control_culled_after: float | None = None  # culled by the culler this long after the control began
    keep_culled_after: float | None = None  # gone this long after inject() ran, while it beat
    watched_for: float = 0.0  # how long after inject() ran the server last listed the kernel, before Stop
    beats: int = 0  # the badge's count when the watch ended
    culled_after_stop: float | None = None  # culled by the culler this long after Stop was pressed
    # What the server's GET api/kernels said of the keep-alive's kernel during the watch: the oldest its
    # last_activity was seen (seconds before the answer), and the fewest connections it had.
    keep_activity_age: float = 0.0
    keep_connections: int | None = None
    control_activity_age: float = 0.0  # ... and the oldest the control's last_activity was seen

    def __post_init__(self) -> None:
        assert self.server.cull_idle_timeout, "a culling trial needs a server with an idle culler"
        self.keep_run = TrialRun(self.server, "idle, tab visible", keepalive=True)
        self.control_run = TrialRun(self.server, "idle, tab visible", keepalive=False)

    @property
    def keep(self) -> NotebookPage:
        return self.keep_run.page

    @property
    def control(self) -> NotebookPage:
        return self.control_run.page

    @property
    def cell(self) -> int:
        return self.keep_run.cell


def culling_trial(
    browser,
    cases: list[CullingCase],
    interval: float,
    watch: float,
    log=lambda line: None,
) -> list[CullingCase]:
    """The product's claim, run for real against each case's server's idle culler, every case side by
    side, by the one trial engine: every case's keep-alive notebook is set up, then every control; each
    kernel is watched for ``watch`` seconds from its set-up; then every Stop button is pressed, and the
    trial waits (at most six culler timeouts and 30 s) for the keep-alive kernels to be culled. Returns
    the cases filled in; what must have happened is for the caller to assert."""
    runs = [case.keep_run for case in cases] + [case.control_run for case in cases]
    with Trial(runs, watch) as trial:
        for case in cases:
            notebook = f"with-keepalive-{case.frontend}.ipynb"
            trial.set_up(case.keep_run, browser, case.frontend, interval, notebook, label="demo: keep me alive")
            log(f"inject() running in {case.frontend} at {case.server.url}: {case.keep.badge_data(case.cell)['text']}")
        for case in cases:
            trial.set_up(case.control_run, browser, case.frontend, interval, f"control-{case.frontend}.ipynb")
        trial.judge()
        for case in cases:
            keep, control = case.keep_run, case.control_run
            if keep.outcome != "survived":
                case.keep_culled_after = keep.gone_after
            if control.outcome == "culled":
                case.control_culled_after = control.gone_after
            case.keep_activity_age, case.keep_connections = keep.activity_age, keep.connections
            case.control_activity_age = control.activity_age
            case.watched_for = (trial.watcher[keep.kernel_id].listed_at or keep.began) - keep.began
            case.beats = int(case.keep.badge_data(case.cell)["beats"])
            log(
                f"{case.frontend}: keep-alive kernel watched for {case.watched_for:.0f} s, {case.beats} beats; "
                f"control kernel culled after {case.control_culled_after} s"
            )
        pressed = time.monotonic()
        for case in cases:
            case.keep.press_stop(case.cell)
        timeout = max(case.server.cull_idle_timeout for case in cases)
        trial.wait_gone([case.keep_run for case in cases], 6 * timeout + 30)
        for case in cases:
            gone_at = trial.watcher[case.keep_run.kernel_id].gone_at
            if gone_at is not None and gone_at < pressed:  # culled while it beat: the trial failed
                case.keep_culled_after = gone_at - case.keep_run.began
            elif gone_at is not None and case.server.culled(case.keep_run.kernel_id):
                case.culled_after_stop = gone_at - pressed
                log(f"{case.frontend}: after Stop, the keep-alive kernel was culled in {case.culled_after_stop:.0f} s")
    return cases
