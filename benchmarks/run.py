"""`make bench`: what the keep-alive costs, measured side by side with the alternatives, on real parts.

Writes benchmarks/RESULTS.md, which the documentation site includes (docs/costs.md). Not part of
`make test`: figures vary with the machine, and no test asserts on timing. Every figure below is
measured in this run; none is assumed.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.browser import Chromium, show_snippet, write_apart_page
from tests.support.kernels import KernelClient, StandaloneKernel
from tests.support.pages import NotebookPage
from tests.support.servers import JupyterServer, StaticServer
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
PEERS = ROOT / "benchmarks" / ".peers"  # jupyter-keepalive lives here, never in the test environment
rows: list[tuple[str, str, str, str]] = []  # (measure, colab_jsalive, reference, verdict)


def record(measure: str, ours: str, reference: str = "", verdict: str = "") -> None:
    rows.append((measure, ours, reference, verdict))
    print(
        f"  {measure}: {ours}" + (f"  (vs {reference})" if reference else "") + (f"  {verdict}" if verdict else ""),
        flush=True,
    )


def check(value: float, target: float) -> str:
    return "meets target" if value <= target else "MISSES target"


# -- Python side ----------------------------------------------------------------------------------------


def bench_import() -> None:
    code = textwrap.dedent("""
        import sys, time, json
        t0 = time.perf_counter(); import IPython; t1 = time.perf_counter()
        import colab_jsalive; t2 = time.perf_counter()
        print(json.dumps([t1 - t0, t2 - t1, [m for m in ("tensorflow", "keras", "jinja2") if m in sys.modules]]))
    """)
    runs = [
        json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(15)
    ]
    ipython = statistics.median(r[0] for r in runs) * 1000
    ours = statistics.median(r[1] for r in runs) * 1000
    loaded = sorted({m for r in runs for m in r[2]})
    record(
        "import colab_jsalive (after IPython, median of 15 fresh processes)",
        f"{ours:.2f} ms",
        f"import IPython {ipython:.0f} ms; ratio {(ipython + ours) / ipython:.3f}x",
        check(ours, 10),
    )
    record("modules import colab_jsalive loads of tensorflow, keras, jinja2", ", ".join(loaded) or "none")


def bench_inject(tmp: Path) -> None:
    # A kernel named as a Jupyter server names them, so inject() takes the Jupyter channel.
    with StandaloneKernel(tmp / f"kernel-{uuid.uuid4()}.json") as kernel:
        first, median, p95 = json.loads(
            kernel.run(
                textwrap.dedent("""
            import json, time, warnings
            warnings.simplefilter("ignore")
            import colab_jsalive
            t = time.perf_counter(); colab_jsalive.inject(); first = time.perf_counter() - t
            times = []
            for _ in range(300):
                t = time.perf_counter(); colab_jsalive.inject(); times.append(time.perf_counter() - t)
            times.sort()
            print(json.dumps([first, times[len(times) // 2], times[int(len(times) * 0.95)]]))
        """)
            )
        )
    record("inject(), first call in a kernel (renders the snippet, loads Jinja)", f"{first * 1000:.1f} ms")
    record(
        "inject(), repeated (median / 95th percentile of 300)",
        f"{median * 1000:.3f} / {p95 * 1000:.3f} ms",
        "",
        check(median * 1000, 2),
    )


def bench_kernel_drain(tmp: Path) -> None:
    """1,000 beats queued behind a busy cell, sent straight to the kernel: how fast it answers them."""
    with StandaloneKernel(tmp / f"kernel-{uuid.uuid4()}.json") as kernel:
        token = kernel.run(
            textwrap.dedent("""
            import time, warnings
            warnings.simplefilter("ignore")
            from colab_jsalive._receiver import RECEIVER
            from colab_jsalive._session import Session
            from colab_jsalive._environment import comm_manager
            session = Session(60.0, None, "")
            RECEIVER.register_jupyter(comm_manager(get_ipython().kernel))
            RECEIVER.start(session)
            _answered = []
            _handle = RECEIVER._on_comm_msg
            def _timed(comm, msg):
                _handle(comm, msg)
                _answered.append(time.time())
            RECEIVER._on_comm_msg = _timed
            print(session.token)
        """)
        ).strip()
        kernel.send(
            "comm_open", {"comm_id": "drain", "target_name": "colab_jsalive", "data": {"op": "hello", "session": token}}
        )
        kernel.start("import time\ntime.sleep(3)\n_cell_end = time.time()")
        for seq in range(1, 1001):
            kernel.send(
                "comm_msg",
                {"comm_id": "drain", "data": {"op": "beat", "session": token, "seq": seq, "unanswered": seq - 1}},
            )
        wait_for(lambda: kernel.run("print(len(_answered))").strip() == "1000", 60, "1,000 beats answered", poll=0.5)
        value = float(kernel.run("print(_answered[-1] - _cell_end)"))
    record(
        "drain of 1,000 beats queued behind a busy cell, in the kernel (cell end to the last answer sent)",
        f"{value * 1000:.0f} ms",
        "",
        check(value, 1),
    )


def bench_snippet_size() -> None:
    """Bytes each inject() output adds to a saved notebook, for the snippet as js/ holds it (before
    minifying) and as inject() shows it (after)."""
    import nbformat

    from colab_jsalive._render import readable, snippet

    def saved_bytes(javascript: str) -> int:
        # A notebook with one code cell holding one inject() output, less the same cell without it: the
        # difference is what the output costs in the .ipynb (as JSON, escaped).
        output = nbformat.v4.new_output(
            "display_data",
            data={"application/javascript": javascript, "text/plain": "<IPython.core.display.Javascript object>"},
        )
        one = nbformat.v4.new_notebook()
        one.cells.append(nbformat.v4.new_code_cell("", outputs=[output]))
        bare = nbformat.v4.new_notebook()
        bare.cells.append(nbformat.v4.new_code_cell(""))
        return len(nbformat.writes(one).encode()) - len(nbformat.writes(bare).encode())

    for channel in ("jupyter", "colab"):
        config = {
            "channel": channel,
            "session": "0" * 32,
            "kernel_id": str(uuid.uuid4()),
            "target": "colab_jsalive",
            "interval": 60.0,
            "max_duration": 43200.0,
            "label": "resnet run 3",
        }
        before, after = readable(config), snippet(config)
        record(
            f"bytes per inject() output in the saved .ipynb, {channel} channel",
            f"{saved_bytes(after):,} B ({len(gzip.compress(after.encode())):,} gzipped)",
            f"not minified: {saved_bytes(before):,} B ({len(gzip.compress(before.encode())):,} gzipped)",
            check(saved_bytes(after), 8 * 1024),
        )


# -- In the browser -----------------------------------------------------------------------------------

KERNEL_STATS = """
import json, os, time
from comm import get_comm_manager
from colab_jsalive._receiver import RECEIVER
_bench = {"bare": [], "ours": []}
def _bare_open(comm, msg):
    def on_msg(m):
        t = time.perf_counter(); comm.send({"ok": True}); _bench["bare"].append(time.perf_counter() - t)
    comm.on_msg(on_msg)
get_comm_manager().register_target("bench_bare", _bare_open)
_ours = RECEIVER._on_comm_msg
def _timed(comm, msg):
    t = time.perf_counter(); _ours(comm, msg); _bench["ours"].append(time.perf_counter() - t)
RECEIVER._on_comm_msg = _timed
print(os.getpid())
"""

# A bare comm fed from the page at a fixed rate, over the same kind of WebSocket the snippet uses.
BARE_FEEDER = """async ([kernelId, count, intervalMs]) => {
    const c = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    const url = location.origin.replace(/^http/, 'ws') + c.baseUrl + 'api/kernels/' + kernelId +
        '/channels?session_id=bench-bare&token=' + c.token;
    const ws = new WebSocket(url);
    await new Promise(r => ws.onopen = r);
    const frame = (type, content) => JSON.stringify({channel: 'shell', header: {msg_id: crypto.randomUUID(),
        msg_type: type, username: '', session: 'bench-bare', date: new Date().toISOString(), version: '5.3'},
        parent_header: {}, metadata: {}, content, buffers: []});
    let answered = 0;
    ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        if (m.header.msg_type === 'comm_msg' && m.content.comm_id === 'bare') answered++;
    };
    ws.send(frame('comm_open', {comm_id: 'bare', target_name: 'bench_bare', data: {}}));
    for (let i = 0; i < count; i++) {
        ws.send(frame('comm_msg', {comm_id: 'bare', data: {op: 'beat', seq: i}}));
        await new Promise(r => setTimeout(r, intervalMs));
    }
    while (answered < count) await new Promise(r => setTimeout(r, 20));
    ws.close();
    return answered;
}"""


def bench_browser(browser, tmp: Path) -> None:
    import psutil

    server = JupyterServer(tmp / "bench-server").start()
    page = NotebookPage(browser, server, "jupyterlab", server.new_notebook("bench.ipynb"))
    client = KernelClient(server.connection_file(page.kernel_id))
    sizes = {"sent": [], "reply": [], "status": []}
    beat_ids: set[str] = set()

    def watch(ws):
        # Every frame of a beat: the comm_msg the page sends, and what the server relays back for it:
        # the reply and the kernel's busy/idle status messages whose parent is the beat.
        def sent(p):
            if isinstance(p, str) and '"unanswered"' in p:
                sizes["sent"].append(len(p.encode()))
                beat_ids.add(json.loads(p)["header"]["msg_id"])

        def received(p):
            if not isinstance(p, str) or '"parent_header"' not in p:
                return
            msg = json.loads(p)
            if msg.get("parent_header", {}).get("msg_id") not in beat_ids:
                return
            kind = msg["header"]["msg_type"]
            if kind in ("comm_msg", "status"):
                sizes["reply" if kind == "comm_msg" else "status"].append(len(p.encode()))

        ws.on("framesent", sent)
        ws.on("framereceived", received)

    page.page.on("websocket", watch)
    try:
        page.run("import warnings\nwarnings.simplefilter('ignore')\nimport colab_jsalive")
        pid = int(client.run(KERNEL_STATS).strip())
        kernel = psutil.Process(pid)

        # inject() to the first answered beat, as the page sees it.
        latencies = []
        for _ in range(5):
            page.page.evaluate("""() => { window.__firstBeat = null; new MutationObserver((_, obs) => {
                const b = [...document.querySelectorAll('.colab-jsalive-badge')].pop();
                if (b && Number(b.dataset.beats) >= 1 && b.dataset.state !== 'stopped') {
                    window.__firstBeat = Date.now(); obs.disconnect(); } }).observe(document.body,
                {subtree: true, attributes: true, attributeFilter: ['data-beats']}); }""")
            cell = page.run("import time as _t\n_t0 = _t.time()\nka = colab_jsalive.inject(60)")
            first = wait_for(lambda: page.page.evaluate("window.__firstBeat"), 30, "the first answered beat")
            t0 = float(client.run("print(repr(_t0))"))
            latencies.append(first / 1000 - t0)
            page.wait_badge(cell, "running")
        value = statistics.median(latencies) * 1000
        record("inject() to first answered beat in JupyterLab (median of 5)", f"{value:.0f} ms", "", check(value, 1000))

        # Kernel time per beat: our receiver against a bare comm target, same rate, same page.
        count, interval = 400, 0.02
        client.run("colab_jsalive.inject(stop=True)\n_bench['ours'].clear()")
        cpu0 = sum(kernel.cpu_times()[:2])
        cell = page.run(f"ka = colab_jsalive.inject({interval})")
        wait_for(lambda: int(client.run("print(len(_bench['ours']))")) >= count, 120, f"{count} beats")
        page.press_stop(cell)
        ours_beats = int(client.run("print(len(_bench['ours']))"))
        ours_cpu = (sum(kernel.cpu_times()[:2]) - cpu0) / ours_beats
        ours_handler = float(client.run("import statistics\nprint(statistics.median(_bench['ours']))"))
        cpu0 = sum(kernel.cpu_times()[:2])
        answered = page.page.evaluate(BARE_FEEDER, [page.kernel_id, count, interval * 1000])
        bare_cpu = (sum(kernel.cpu_times()[:2]) - cpu0) / answered
        bare_handler = float(client.run("print(statistics.median(_bench['bare']))"))
        record(
            "kernel time per beat, in the handler (median)",
            f"{ours_handler * 1e6:.0f} µs",
            f"bare comm target {bare_handler * 1e6:.0f} µs; ratio {ours_handler / bare_handler:.2f}x",
            check(ours_handler / bare_handler, 3),
        )
        record(
            "kernel CPU per beat, whole process (user+system, incl. ipykernel dispatch)",
            f"{ours_cpu * 1e6:.0f} µs",
            f"bare comm target {bare_cpu * 1e6:.0f} µs; ratio {ours_cpu / bare_cpu:.2f}x",
            check(ours_cpu / bare_cpu, 3),
        )

        # Bytes on the wire per beat.
        if sizes["sent"] and sizes["reply"] and sizes["status"]:
            reply, status = statistics.median(sizes["reply"]), statistics.median(sizes["status"])
            record("bytes per beat, page to server (one comm_msg frame)", f"{statistics.median(sizes['sent']):.0f} B")
            record(
                "bytes per beat, server to page (the reply, and the kernel's busy and idle status "
                "messages every kernel message causes)",
                f"{reply + 2 * status:.0f} B",
                f"reply {reply:.0f} B + 2 x status {status:.0f} B",
            )

        # Drain of 1,000 beats queued behind a busy cell.
        page.page.evaluate(DRAIN_OBSERVER)
        cell = page.run("ka = colab_jsalive.inject(0.02)")
        # at this rate the badge flips between running and busy; the first answered beat is enough
        wait_for(lambda: int(page.badge_data(cell)["beats"]) >= 1, 30, "the first beat")
        page.run("import time as _t\n_t.sleep(21)\n_cell_end = _t.time()")
        drained = wait_for(lambda: page.page.evaluate("window.__drained"), 90, "the queue to drain")
        cell_end = float(client.run("print(repr(_cell_end))"))
        peak = page.page.evaluate("window.__peak")
        value = drained / 1000 - cell_end
        record(
            f"drain of {peak:,} beats queued behind a busy cell, in JupyterLab (cell end to all answered)",
            f"{value * 1000:.0f} ms",
            "",
            check(value, 1),
        )
        page.press_stop(cell, 60)

        bench_peer_ping_loop(page, client)
    finally:
        client.close()
        page.close()
        server.stop()


# Records when the newest badge's unanswered count, after reaching 1,000, is back to at most the beat
# just sent (at a 20 ms interval one is nearly always in flight).
DRAIN_OBSERVER = """() => { window.__drained = null; window.__peak = 0; const obs = new MutationObserver(() => {
    const b = [...document.querySelectorAll('.colab-jsalive-badge')].pop();
    const u = Number(b.dataset.unanswered); window.__peak = Math.max(window.__peak, u);
    if (window.__peak >= 1000 && u <= 1 && window.__drained === null) window.__drained = Date.now(); });
    obs.observe(document.body, {subtree: true, attributes: true, attributeFilter: ['data-unanswered']}); }"""


def bench_heap(browser, tmp: Path) -> None:
    """JS heap growth over 10,000 beats, for the snippet alone on a bare page and inside JupyterLab."""
    from colab_jsalive._render import snippet

    bare_dir = tmp / "bare-page"
    bare_dir.mkdir()
    static = StaticServer(bare_dir)
    server = JupyterServer(
        tmp / "heap-server", args=(f"--ServerApp.allow_origin=http://127.0.0.1:{static.port}",)
    ).start()
    kernel_id = server.api("POST", "api/kernels", {"name": "python3"})["id"]
    client = KernelClient(server.connection_file(kernel_id))
    try:
        client.run(
            "import warnings\nwarnings.simplefilter('ignore')\nimport json, colab_jsalive\nfrom unittest import mock\n"
        )
        # The session is made by the kernel as inject() makes it; the snippet runs on a bare page whose
        # config points at the real server, as JupyterLab's would.
        token = client.run(
            "from colab_jsalive._receiver import RECEIVER\nfrom colab_jsalive._session import Session\n"
            "from colab_jsalive._environment import comm_manager\n"
            "s = Session(0.005, None, 'heap')\nRECEIVER.register_jupyter(comm_manager(get_ipython().kernel))\n"
            "RECEIVER.start(s)\n"
            "print(s.token)"
        ).strip()
        config = {
            "channel": "jupyter",
            "session": token,
            "kernel_id": kernel_id,
            "target": "colab_jsalive",
            "interval": 0.005,
            "max_duration": None,
            "label": "heap",
        }
        write_apart_page(bare_dir, server)
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{static.port}/index.html")
        cdp = context.new_cdp_session(page)

        def heap_after(beats: int) -> int:
            wait_for(
                lambda: int(page.evaluate("document.querySelector('.colab-jsalive-badge').dataset.beats")) >= beats,
                600,
                f"{beats} beats",
                poll=0.5,
            )
            cdp.send("HeapProfiler.collectGarbage")
            return cdp.send("Runtime.getHeapUsage")["usedSize"]

        show_snippet(page, snippet(config))
        start = heap_after(1000)
        end = heap_after(11000)
        growth = end - start
        record(
            "browser JS heap growth over 10,000 beats, snippet alone on a bare page (after GC)",
            f"{growth / 1024:+.0f} KB",
            f"heap {start / 1024:.0f} KB at beat 1,000",
            check(growth, 256 * 1024),
        )

        # The same drain as in JupyterLab, with the snippet alone on the page: the same server and
        # kernel, without a frontend's own connection handling every busy/idle message the drain causes.
        # The 5 ms keep-alive above saturates the kernel; the page stops sending the moment Stop is hit.
        page.click(".colab-jsalive-badge button.colab-jsalive-stop")
        wait_for(
            lambda: page.evaluate("document.querySelector('.colab-jsalive-badge').dataset.state") == "stopped",
            120,
            "the heap keep-alive to stop",
            poll=0.5,
        )
        # A fresh client: the first one holds every iopub message of 11,000 beats, unread.
        client.close()
        client = KernelClient(server.connection_file(kernel_id))
        token = client.run("s = Session(0.02, None, 'drain')\nRECEIVER.start(s)\nprint(s.token)").strip()
        page.evaluate("document.getElementById('out').textContent = ''")
        page.evaluate(DRAIN_OBSERVER)
        show_snippet(page, snippet({**config, "session": token, "interval": 0.02}))
        client.start("import time as _t\n_t.sleep(21)\n_cell_end = _t.time()")
        drained = wait_for(lambda: page.evaluate("window.__drained"), 90, "the queue to drain")
        value = drained / 1000 - float(client.run("print(repr(_cell_end))"))
        record(
            f"drain of {page.evaluate('window.__peak'):,} beats queued behind a busy cell, snippet alone on "
            "a bare page",
            f"{value * 1000:.0f} ms",
            "",
            check(value, 1),
        )
        context.close()
    finally:
        client.close()
        server.stop()
        static.stop()


def bench_peer_ping_loop(page, client) -> None:
    """The common approach: a loop in a cell that prints every so often. The next cell waits for it."""
    page.run("import time as _t\nfor _ in range(10):\n    _t.sleep(1)\n    print('ping', flush=True)")
    queued = time.time()
    page.run("import time as _t\n_next_started = _t.time()")
    started = float(
        wait_for(
            lambda: client.run("print(repr(globals().get('_next_started', '')))").strip("'\n") or None,
            60,
            "the next cell to run",
        )
    )
    loop_wait = started - queued
    cell = page.run("ka = colab_jsalive.inject(60)")
    page.wait_badge(cell, "running")
    queued = time.time()
    page.run("import time as _t\n_next_started2 = _t.time()")
    started = float(
        wait_for(
            lambda: client.run("print(repr(globals().get('_next_started2', '')))").strip("'\n") or None,
            60,
            "the next cell to run",
        )
    )
    ours_wait = started - queued
    record(
        "the next cell waits, with a keep-alive running",
        f"{ours_wait * 1000:.0f} ms",
        f"ping loop in a cell (10 x 1 s): {loop_wait:.1f} s",
        "the loop blocks the kernel; inject() does not",
    )
    page.run("colab_jsalive.inject(stop=True)")


def bench_peer_jupyter_keepalive(browser, tmp: Path) -> None:
    """jupyter-keepalive keeps the *server* looking active; the kernel culler still culls the kernel."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(PEERS),
            "jupyter-keepalive==0.3.0",
        ],
        check=True,
        capture_output=True,
    )
    timeout = 10
    server = JupyterServer(
        tmp / "peer-server",
        cull_idle_timeout=timeout,
        env={"PYTHONPATH": str(PEERS)},
        args=("--ServerApp.jpserver_extensions={'jupyter_keepalive': True}",),
    ).start()
    try:
        server.api("POST", "ext-keepalive", {"seconds": 600})
        remaining = server.api("GET", "ext-keepalive")["remaining"]
        peer = NotebookPage(browser, server, "jupyterlab", server.new_notebook("peer.ipynb"))
        ours = NotebookPage(browser, server, "jupyterlab", server.new_notebook("ours.ipynb"))
        ours.run("import warnings\nwarnings.simplefilter('ignore')\nimport colab_jsalive\nka = colab_jsalive.inject(2)")
        started = time.monotonic()
        wait_for(
            lambda: peer.kernel_id not in server.kernel_ids(), 10 * timeout, "the peer's kernel to be culled", poll=0.5
        )
        peer_culled = time.monotonic() - started
        server_activity = server.api("GET", "api/status")["last_activity"]
        wait_for(lambda: time.monotonic() - started > 3 * timeout, 10 * timeout, "three culler timeouts", poll=0.5)
        ours_alive = ours.kernel_id in server.kernel_ids()
        record(
            f"idle kernel under a {timeout} s kernel culler",
            "alive after " + f"{time.monotonic() - started:.0f} s" if ours_alive else "CULLED",
            f"jupyter-keepalive 0.3.0 (active, {remaining} s left): kernel culled after {peer_culled:.0f} s",
            "jupyter-keepalive keeps the server's own activity fresh (last_activity "
            f"{server_activity}), which JupyterHub reads; the kernel culler reads kernel activity",
        )
        peer.close()
        ours.close()
    finally:
        server.stop()


def write_results() -> None:
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        "Debian Chromium, jupyter_server with JupyterLab 4. Figures vary with the machine; "
        "they are measurements of one run, not guarantees.",
        "",
        "| measure | colab_jsalive | side by side | verdict |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {m} | {o} | {r} | {v} |" for m, o, r, v in rows]
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")


def main() -> int:
    print("Python side")
    bench_import()
    bench_snippet_size()
    with tempfile.TemporaryDirectory() as tmp:
        # The kernels started here by jupyter_client run before Playwright's loop exists (see KernelClient).
        bench_inject(Path(tmp))
        bench_kernel_drain(Path(tmp))
        with sync_playwright() as playwright:
            browser = Chromium(playwright, Path(tmp) / "chromium-profile")
            try:
                print("In the browser")
                bench_browser(browser, Path(tmp))
                bench_heap(browser, Path(tmp))
                print("Peers")
                bench_peer_jupyter_keepalive(browser, Path(tmp))
            finally:
                browser.close()
    write_results()
    return 0


if __name__ == "__main__":
    sys.exit(main())
