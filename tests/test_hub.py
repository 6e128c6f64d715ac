"""JupyterHub, for real: the hub, its proxy, its idle culler, and a kernel culler in every user's server.

Two cullers act on a hub (DESIGN.md section 7). Each single-user server's kernel culler removes kernels
idle for KERNEL_CULL seconds (an open tab does not protect one: cull_connected). The hub's
jupyterhub-idle-culler stops whole servers whose last activity, as the hub knows it, is older than
HUB_CULL seconds. Servers report activity every ACTIVITY_INTERVAL seconds, and the hub reads the
proxy's every ACTIVITY_INTERVAL seconds. The proxy counts every byte it carries as activity, the pages'
answers to their server's WebSocket pings among them: each server pings its kernel sockets every PING
seconds (30 by default, a small part of a production hub's timeout; here a third of HUB_CULL).

Twelve people, one after another, log in through the hub's login page and open a notebook through the
proxy, in JupyterLab unless said otherwise; their pages' sockets carry the hub's cookies:

- alice runs inject() in a visible tab, and presses Stop at the end;
- dave runs inject(max_duration=...) and then switches to another tab (the page becomes hidden);
- erin runs inject() and then a cell that prints nothing for longer than the hub culler's timeout
  (its beats queue behind the cell);
- frank runs inject() in the classic notebook;
- lena runs inject() and then a cell that prints a line every few seconds for longer than the watch;
- hank runs inject() and then closes his tab;
- bob, a control, leaves his notebook open without a keep-alive;
- carol, a control, runs a cell and closes her tab;
- gina, dave's control, leaves her notebook open and switches to another tab, without a keep-alive;
- ivy does as gina does, on a server that never pings its kernel sockets (what keeps gina's server?);
- kim, erin's control, runs the silent cell without a keep-alive;
- mia, lena's control, runs the printing cell without a keep-alive.

They are watched for several timeouts of both cullers (one trial, shared by the tests below, keeps this
to a few minutes); each test then asserts one fact of what was seen.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.hub import JupyterHub
from tests.support.pages import NotebookPage, hide_page
from tests.support.trials import endless_cell
from tests.support.waiting import Watcher, age, holds_for, wait_for

KERNEL_CULL = 10  # seconds: the single-user servers' cull_idle_timeout
HUB_CULL = 30  # seconds: jupyterhub-idle-culler's --timeout
PING = 10  # seconds: the single-user servers' ws_ping_interval (ivy's server: 0, no pings)
ACTIVITY_INTERVAL = 5  # JUPYTERHUB_ACTIVITY_INTERVAL, the hub's last_activity_interval, --cull-every
INTERVAL = 2.0  # the keep-alive's beat
WATCH = 3 * HUB_CULL + 10  # how long everyone is watched after the last inject()
MAX_DURATION = WATCH + 15  # dave's keep-alive ends by itself after this
# The long cells run until the hub stops: however long the others take to log in (minutes on a slow
# machine), a cell the watch relies on must not end before the watch does.
PRINTING_CELL = endless_cell(print_every=3)
SILENT_CELL = endless_cell()
PRELUDE = "import warnings\nwarnings.simplefilter('ignore')\nimport colab_jsalive\n"


@dataclass
class Person:
    """One user of the hub, their page, and what the watch saw of their kernel and server."""

    name: str
    page: NotebookPage | None = None
    kernel_id: str = ""
    cell: int = -1  # the inject() cell
    started: float = 0.0  # when the keep-alive (or, for a control, the notebook) was running
    # Seconds after `started` the kernel culler was first seen to have culled the kernel (gone from a
    # server that still ran), and the server first seen gone; watched from `started` until the hub stops.
    kernel_gone: float | None = None
    server_gone: float | None = None
    watched_until: float = 0.0  # seconds after `started` the watch ended
    # The oldest the hub's record of the server's last activity was seen until the watch ended, while the
    # kernel lived (and before dave's max_duration): what the hub's admin page shows, and what
    # jupyterhub-idle-culler reads.
    hub_activity_age: float = 0.0
    hub_record_age: float = 0.0  # ... while the server ran, kernel or not: for the controls
    notes: dict = field(default_factory=dict)

    def gone_in_watch(self, what: str) -> float | None:
        """When the ``what`` ("kernel" or "server") was first seen gone, if that was before the watch ended."""
        gone = self.kernel_gone if what == "kernel" else self.server_gone
        return gone if gone is not None and gone <= self.watched_until else None


def output_lines(page: NotebookPage, cell: int) -> list[str]:
    """The text of each output of cell ``cell``."""
    return page.cell(cell).locator(".jp-OutputArea-output").all_inner_texts()


def run_and_read(page: NotebookPage, code: str, timeout: float = 60) -> str:
    """Run ``code`` in a new cell of the page and return the text it printed."""
    cell = page.run(code)
    return wait_for(lambda: "".join(output_lines(page, cell)).strip(), timeout, f"the output of {code!r}")


def open_through_hub(browser, hub: JupyterHub, name: str, frontend: str = "jupyterlab") -> Person:
    """Log in as ``name`` on the hub's page and open a new notebook through the proxy."""
    person = Person(name)
    user = hub.user(name)
    notebook = user.new_notebook(f"{name}.ipynb")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    user.login(context, user.page_url(frontend, notebook))
    person.page = NotebookPage(browser, user, frontend, notebook, context=context)
    person.kernel_id = person.page.kernel_id
    person.page.run(PRELUDE)
    person.notes["user"] = user
    return person


def look(person: Person, watching: bool) -> None:
    """Note whether ``person``'s kernel and server are gone, asking the hub and the server directly
    (never through the proxy, so looking is not activity), and, ``watching``, how old the hub's record is.
    A kernel counts as culled only if its server still ran after it was found gone: a server the hub
    stopped takes its kernels with it, which is not the kernel culler's doing."""
    user = person.notes["user"]
    now = time.monotonic() - person.started
    kernel_missing = person.kernel_id not in user.kernel_ids()
    model = user.server_model()
    running = bool(model and model.get("ready"))
    if person.server_gone is None and not running:
        person.server_gone = now
    if person.kernel_gone is None and kernel_missing and running:
        person.kernel_gone = now
    # dave's keep-alive ends at its max_duration, counted from his inject(); everyone else's runs until
    # the hub stops.
    beating = person.name != "dave" or now < MAX_DURATION
    if watching and running:
        record_age = age(model["last_activity"])
        person.hub_record_age = max(person.hub_record_age, record_age)
        if person.kernel_gone is None and beating:
            person.hub_activity_age = max(person.hub_activity_age, record_age)


class Watch(Watcher):
    """Looks at everyone it is given, once a second, from the moment their notebook runs until the hub
    stops: a kernel or server that goes while the test is busy elsewhere (opening the next person's page,
    or after the watch) is seen going, and in which order. A slow answer on a loaded machine is looked at
    again; a minute without one fails the watch."""

    what = "watching the hub"

    def __init__(self) -> None:
        self.people: list[Person] = []
        self.watching = True  # the hub's record is read until the watch ends
        super().__init__()

    def look(self) -> None:
        for person in list(self.people):
            look(person, self.watching)

    def passing(self, error: BaseException) -> bool:
        return isinstance(error, (OSError, TimeoutError))


@pytest.fixture(scope="module")
def trial(browser, tmp_path_factory):
    hub = JupyterHub(
        tmp_path_factory.mktemp("hub"),
        kernel_cull_timeout=KERNEL_CULL,
        hub_cull_timeout=HUB_CULL,
        activity_interval=ACTIVITY_INTERVAL,
        ws_ping_intervals={"": PING, "ivy": 0},
    ).start()
    watcher = Watch()
    try:
        # One after another, each opening their notebook as soon as their server runs: a server idle
        # for HUB_CULL seconds before its page opens would be culled (seen when six started at once).
        people = {}
        # The controls first: their clocks start when their notebook runs.
        for name in ("bob", "carol", "gina", "ivy", "kim", "mia"):
            people[name] = open_through_hub(browser, hub, name)
            people[name].started = time.monotonic()
            watcher.people.append(people[name])
            if name == "carol":
                people[name].page.close()  # carol closes her tab
            elif name in ("gina", "ivy"):
                people[name].notes["visibility"] = hide_page(people[name].page)
            elif name == "kim":  # a cell that prints nothing until the hub is stopped
                people[name].page.run(SILENT_CELL)
            elif name == "mia":
                people[name].page.run(PRINTING_CELL)
        # dave last: his max_duration counts from his inject(), so it ends just after the watch
        # however long the others took to log in.
        for name, frontend, code in (
            ("alice", "jupyterlab", f"ka = colab_jsalive.inject(interval={INTERVAL}, label='alice')"),
            ("erin", "jupyterlab", f"ka = colab_jsalive.inject(interval={INTERVAL}, label='erin')"),
            ("frank", "nbclassic", f"ka = colab_jsalive.inject(interval={INTERVAL}, label='frank')"),
            ("hank", "jupyterlab", f"ka = colab_jsalive.inject(interval={INTERVAL}, label='hank')"),
            ("lena", "jupyterlab", f"ka = colab_jsalive.inject(interval={INTERVAL}, label='lena')"),
            ("dave", "jupyterlab", f"ka = colab_jsalive.inject(interval={INTERVAL}, max_duration={MAX_DURATION})"),
        ):
            person = people[name] = open_through_hub(browser, hub, name, frontend)
            person.cell, person.notes["session"] = person.page.start_keepalive(code)
            person.started = time.monotonic()
            watcher.people.append(person)
        people["dave"].notes["visibility"] = hide_page(people["dave"].page)
        people["hank"].notes["badge"] = people["hank"].page.badge_data(people["hank"].cell)
        people["hank"].page.close()  # hank closes his tab, keep-alive and all
        # erin's cell prints nothing for longer than the hub culler's timeout, then says it is done.
        people["erin"].notes["silent_cell"] = people["erin"].page.run(
            f"import time\ntime.sleep({WATCH})\nprint('silent cell done')"
        )
        people["lena"].notes["printing_cell"] = people["lena"].page.run(PRINTING_CELL)
        holds_for(lambda: watcher.check() is None, WATCH, "the watch of the hub", poll=1)
        watcher.watching = False
        for person in people.values():
            person.watched_until = time.monotonic() - person.started
        yield people, watcher
    finally:
        watcher.close()
        hub.stop()


def wait_culled(person: Person, watcher: Watch, after: str) -> None:
    """Wait until the kernel culler culls ``person``'s kernel, their server still running: a server the
    hub culled first takes its kernels with it, which is not what this waits for."""

    def decided() -> bool:
        watcher.check()
        return person.kernel_gone is not None or person.server_gone is not None

    wait_for(decided, 6 * KERNEL_CULL + 30, f"{person.name}'s kernel or server to go after {after}", poll=0.5)
    assert person.kernel_gone is not None, (
        f"the hub culled {person.name}'s server ({person.server_gone:.0f} s after it started) before the kernel "
        f"culler culled the kernel after {after}"
    )


def assert_survived(person: Person) -> None:
    """Both of ``person``'s kernel and server lived through the watch."""
    kernel, server = person.gone_in_watch("kernel"), person.gone_in_watch("server")
    assert kernel is None and server is None, f"{person.name}'s kernel gone after {kernel} s, server after {server} s"


def test_a_keepalive_user_keeps_the_kernel_through_the_kernel_culler_and_stop_lets_it_go(trial):
    """alice's kernel and server live through the watch, and after Stop the kernel culler takes her
    kernel. Her server is kept by her open page either way (bob's lives without a keep-alive)."""
    people, watcher = trial
    alice = people["alice"]
    assert_survived(alice)
    assert time.monotonic() - alice.started >= 3 * HUB_CULL
    badge = alice.page.badge_data(alice.cell)
    assert badge["state"] == "running"
    assert int(badge["beats"]) >= 3 * HUB_CULL / INTERVAL / 2  # a beat every 2 s, with room for a slow page
    status = json.loads(
        run_and_read(
            alice.page,
            "import dataclasses, json\nprint(json.dumps(dataclasses.asdict(colab_jsalive.status()), default=str))",
        )
    )
    assert status["active"] and status["frontend"] == "jupyterlab" and status["label"] == "alice"
    assert status["beats"] >= int(badge["beats"])
    alice.page.press_stop(alice.cell)
    wait_culled(alice, watcher, "Stop")


CONTROLS = {"alice": "bob", "dave": "gina"}  # the same tab without the keep-alive


@pytest.mark.parametrize("name", ["alice", "dave"])
def test_the_hubs_record_of_the_servers_activity_stays_fresh_while_the_keepalive_beats(trial, name):
    """What an administrator sees on the hub's admin page ("Last Activity"; GET /hub/api/users/NAME),
    and what jupyterhub-idle-culler reads: never older than the single-user server's reporting period
    (JUPYTERHUB_ACTIVITY_INTERVAL) plus the hub's own (last_activity_interval) and one beat, in a visible
    tab (alice) and in a hidden one (dave, whose JupyterLab stops polling: the beats count there, and
    the page's answers to the server's pings).

    Not credited to the keep-alive: each has a control whose record is kept over the same watch (bob's
    open tab, gina's hidden one, without it), and both controls' servers live too (the tests below). An
    open JupyterLab tab moves the record by itself; a hidden one whenever it answers the server's pings.
    The controls' ages are in the message, for the one who reads a failure."""
    people, _ = trial
    person, control = people[name], people[CONTROLS[name]]
    limit = 2 * ACTIVITY_INTERVAL + INTERVAL
    assert person.hub_activity_age <= limit, (
        f"{name}'s last activity was {person.hub_activity_age:.1f} s old "
        f"(without the keep-alive, {control.name}'s was {control.hub_record_age:.1f} s old)"
    )


def test_max_duration_ends_a_hidden_pages_keepalive_and_the_kernel_is_then_culled(trial):
    people, watcher = trial
    dave = people["dave"]
    assert dave.notes["visibility"] == "hidden"
    # dave opened his notebook last, so his keep-alive beat through the whole watch and ended after it
    # (the freshness test above reads the hub's record of him for the whole watch), and nothing went before.
    assert dave.watched_until < MAX_DURATION, f"dave's max_duration ended {MAX_DURATION} s in, inside the watch"
    assert dave.server_gone is None or dave.server_gone >= MAX_DURATION, (
        f"dave's server gone after {dave.server_gone} s, before his max_duration of {MAX_DURATION} s"
    )
    assert dave.kernel_gone is None or dave.kernel_gone >= MAX_DURATION, (
        f"dave's kernel gone after {dave.kernel_gone} s, before his max_duration of {MAX_DURATION} s"
    )
    badge = dave.page.wait_badge(dave.cell, "stopped", MAX_DURATION + 30)
    assert "max_duration reached" in badge["text"], badge["text"]
    wait_culled(dave, watcher, "max_duration")


def test_beats_queued_behind_a_long_silent_cell_are_answered_when_it_ends(trial):
    """erin's kernel and server live through the cell, but that credits the platform, as kim's show."""
    people, _ = trial
    erin = people["erin"]
    assert_survived(erin)
    cell = erin.notes["silent_cell"]
    wait_for(lambda: "silent cell done" in "".join(output_lines(erin.page, cell)), 60, "erin's cell to end")
    # The beats queued behind the cell are answered once it ends, and the keep-alive runs on.
    wait_for(
        lambda: (d := erin.page.badge_data(erin.cell))["state"] == "running" and d["unanswered"] == "0",
        60,
        "erin's queued beats answered",
    )
    # None was lost: once stopped (the stop travels behind every beat sent before it), the kernel has
    # counted every beat the page sent, those that waited behind the cell among them.
    erin.page.press_stop(erin.cell)
    counted = json.loads(run_and_read(erin.page, "print(colab_jsalive.status().beats)"))
    sent = erin.page.beats_sent(erin.notes["session"])
    assert sent > WATCH / INTERVAL / 2, f"erin's page sent only {sent} beats"
    assert counted == sent, f"erin's kernel counted {counted} of the {sent} beats her page sent"


def test_an_idle_kernel_in_an_open_tab_is_culled_while_its_server_lives(trial):
    people, _ = trial
    bob = people["bob"]
    assert bob.kernel_gone is not None, "bob's idle kernel was never culled"
    assert bob.gone_in_watch("server") is None, f"bob's server (tab open) was culled after {bob.server_gone} s"


def test_a_long_silent_cell_keeps_kernel_and_server_without_the_keepalive_too(trial):
    """kim, erin's control: the kernel culler keeps a busy kernel (cull_busy is off, its default) and
    the open tab keeps the server."""
    people, _ = trial
    kim = people["kim"]
    assert_survived(kim)


def test_a_cell_that_prints_keeps_kernel_and_server_with_or_without_the_keepalive(trial):
    """lena runs one with the keep-alive, mia without: both live (the kernel is busy, which the kernel
    culler spares with cull_busy off, and its output crosses the proxy), so the platform keeps them."""
    people, _ = trial
    for name in ("lena", "mia"):
        person = people[name]
        assert_survived(person)
    lena = people["lena"]
    assert output_lines(lena.page, lena.notes["printing_cell"]), "lena's cell printed nothing"
    assert lena.page.badge_data(lena.cell)["state"] == "busy"  # its beats wait behind the cell


def test_a_hidden_tab_keeps_its_server_without_the_keepalive_by_answering_the_servers_pings(trial):
    """gina's hidden JupyterLab stops polling and the kernel culler takes her idle kernel, yet her
    server lives: the page's kernel WebSocket stays open, the server pings it, and the proxy counts the
    answers. ivy's server, the same without pings, is culled: the pings are what keep gina's. On the
    hub, the keep-alive kept dave's kernel (as cull_connected=True requires), not his server."""
    people, _ = trial
    gina, ivy = people["gina"], people["ivy"]
    assert gina.notes["visibility"] == ivy.notes["visibility"] == "hidden"
    assert gina.kernel_gone is not None, "gina's idle kernel was never culled"
    assert gina.gone_in_watch("server") is None, f"gina's server (tab hidden) was culled after {gina.server_gone} s"
    assert ivy.gone_in_watch("server") is not None, "ivy's server (tab hidden, no pings) lived through the watch"


def test_a_closed_tabs_server_is_culled_by_the_hub_with_or_without_the_keepalive(trial):
    """Nothing in a page can help once the tab is closed: hank's keep-alive beat, then his tab closed."""
    people, _ = trial
    carol, hank = people["carol"], people["hank"]
    assert carol.gone_in_watch("server") is not None, "carol's server lived through the watch with her tab closed"
    assert hank.notes["badge"]["state"] == "running", (
        f"hank's keep-alive was not running as his tab closed: {hank.notes['badge']}"
    )
    assert hank.gone_in_watch("server") is not None, "hank's server lived through the watch with his tab closed"


def saved_notebook(person: Person) -> str:
    person.page.save()
    path = person.notes["user"].home / person.page.notebook
    wait_for(lambda: "application/javascript" in path.read_text(), 20, f"{person.name}'s notebook saved")
    return path.read_text()


def tokens(sockets) -> set[str]:
    """The tokens in the URLs of these WebSockets ("" for none)."""
    return {parse_qs(urlsplit(s.url).query).get("token", [""])[0] for s in sockets}


def socket_tokens(person: Person) -> set[str]:
    """The tokens in the URLs of the WebSockets the keep-alive opened ("" for none)."""
    sockets = person.page.keepalive_sockets()
    assert sockets, f"{person.name}'s keep-alive opened no WebSocket"
    assert all(f"/user/{person.name}/api/kernels/" in s.url for s in sockets)
    return tokens(sockets)


@pytest.mark.parametrize("name", ["alice", "frank"])
def test_through_the_proxy_the_keepalive_sends_the_hubs_cookies_as_the_frontend_does(trial, name):
    """JupyterHub's pages hold a token (JupyterLab's page config the user's OAuth token, the classic
    notebook's page the server's own hub API token), but neither frontend puts it on its kernel
    sockets: they carry the hub's cookies. The keep-alive's socket carries what the frontend's own
    kernel socket carries, and beats through the proxy with it."""
    people, _ = trial
    person = people[name]
    assert_survived(person)
    assert "token" not in person.page.page.url
    assert any(c["name"].startswith("jupyterhub-user-") for c in person.page.context.cookies())
    frontends = [s for s in person.page.sockets if not s.ours and "/channels" in s.url]
    assert frontends, f"{name}'s frontend opened no kernel socket of its own"
    assert socket_tokens(person) == tokens(frontends) == {""}
    assert int(person.page.badge_data(person.cell)["beats"]) >= 3 * HUB_CULL / INTERVAL / 2


def test_no_secret_of_the_hub_is_saved_into_the_notebooks(trial):
    people, _ = trial
    for person in (people["alice"], people["frank"]):
        saved = saved_notebook(person)
        assert person.kernel_id in saved  # the snippet is there
        user = person.notes["user"]
        secrets = {f"cookie {c['name']}": c["value"] for c in person.page.context.cookies() if len(c["value"]) >= 8}
        secrets["the server's JUPYTERHUB_API_TOKEN"] = user.server_environment()["JUPYTERHUB_API_TOKEN"]
        secrets["the page's token"] = person.page.page.evaluate("""() => {
            const el = document.getElementById('jupyter-config-data');
            return el ? JSON.parse(el.textContent).token : document.body.dataset.jupyterApiToken;
        }""")
        assert len(secrets["the page's token"]) >= 8  # JupyterHub gives each page one
        leaked = [name for name, value in secrets.items() if value in saved]
        assert not leaked, f"{person.name}'s saved notebook holds {leaked}"
