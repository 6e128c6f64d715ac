// The keep-alive's page logic (js/core.js) driven by a fake clock and a fake channel: no browser, no
// network, no real time. Run by tests/test_js_core.py through `node --test`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// tests/test_js_core.py hands over js/core.js minified, as the snippet carries it; run by hand, this
// reads js/core.js itself.
const source = readFileSync(process.env.COLAB_JSALIVE_CORE || new URL("../../js/core.js", import.meta.url), "utf8");
const core = new Function(source + "\nreturn JsaliveCore;")();

// A fake world: a clock that moves only when told, timers that fire only when due, a channel that
// records what it sends.
function world({ interval = 1, maxDuration = null, random = () => 0.5 } = {}) {
  const w = { t: 0, timers: new Map(), nextId: 1, sent: [], views: [], connects: 0, closed: 0, up: true };
  const io = {
    now: () => w.t,
    setTimer: (fn, ms) => { const id = w.nextId++; w.timers.set(id, { fn, at: w.t + ms }); return id; },
    clearTimer: (id) => { w.timers.delete(id); },
    random,
    connect: () => { w.connects++; },
    send: (m) => { if (!w.up) return false; w.sent.push(m); return true; },
    close: () => { w.closed++; },
    onChange: (v) => { w.views.push(v); },
  };
  w.ka = new core.KeepAlive({ interval, maxDuration }, io);
  // Move the clock to `t`, firing each timer that falls due on the way, at its own time.
  w.advance = (to) => {
    for (;;) {
      const due = [...w.timers.entries()].filter(([, x]) => x.at <= to).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      w.timers.delete(due[0]);
      w.t = Math.max(w.t, due[1].at);
      due[1].fn();
    }
    w.t = to;
  };
  // Jump the clock without firing anything (a throttled background tab), then fire what is due once.
  w.wakeLate = (to) => { w.t = to; const due = [...w.timers.entries()].filter(([, x]) => x.at <= to);
    for (const [id, x] of due) { w.timers.delete(id); x.fn(); } };
  w.beats = () => w.sent.filter((m) => m.op === "beat");
  w.view = () => w.views[w.views.length - 1];
  w.answer = (m, extra = {}) => w.ka.reply({ seq: m.seq, state: "running", beats: m.seq, remaining: null, ...extra });
  return w;
}

test("beats right after connecting, then on a fixed grid", () => {
  const w = world({ interval: 1 });
  w.ka.run();
  assert.equal(w.connects, 1);
  w.advance(250);
  w.ka.connected();
  assert.equal(w.beats().length, 1);
  w.advance(250 + 10_000);
  assert.equal(w.beats().length, 11);
  // the grid starts at the connection; the next beat is due one interval after the last
  const [next] = [...w.timers.values()];
  assert.equal(next.at, 250 + 11_000);
});

test("a late wake-up sends one beat, not a burst, and keeps the grid", () => {
  const w = world({ interval: 1 });
  w.ka.run();
  w.ka.connected();
  w.wakeLate(5_500); // slots at 1 s .. 5 s were missed
  assert.equal(w.beats().length, 2);
  const [next] = [...w.timers.values()];
  assert.equal(next.at, 6_000);
});

test("beats go on while the kernel is busy, counted as unanswered and bounded", () => {
  const w = world({ interval: 1 });
  w.ka.run();
  w.ka.connected();
  w.advance(3_000);
  assert.deepEqual(w.beats().map((m) => m.unanswered), [0, 1, 2, 3]);
  assert.equal(w.view().state, "busy");
  assert.equal(w.view().unanswered, 4);
  w.advance(3_000 + (core.MAX_UNANSWERED + 50) * 1_000);
  assert.equal(w.beats().length, core.MAX_UNANSWERED, "no more than MAX_UNANSWERED in flight");
  // The busy cell ends: the kernel answers every queued beat, none lost.
  for (const m of w.beats()) w.answer(m);
  assert.equal(w.view().unanswered, 0);
  assert.equal(w.view().state, "running");
  assert.equal(w.view().beats, core.MAX_UNANSWERED);
  w.advance(w.t + 1_000);
  assert.equal(w.beats().length, core.MAX_UNANSWERED + 1, "beating resumes");
});

test("lost connections are retried with capped exponential backoff and jitter", () => {
  const delays = [];
  for (const r of [0, 1]) {
    const w = world({ interval: 60, random: () => r });
    w.ka.run();
    const seen = [];
    for (let i = 0; i < 8; i++) {
      w.ka.disconnected();
      const [timer] = [...w.timers.values()].filter((x) => x.at > w.t);
      seen.push(timer.at - w.t);
      w.advance(timer.at);
    }
    assert.equal(w.connects, 9);
    assert.equal(w.view().state, "reconnecting");
    delays.push(seen);
  }
  assert.deepEqual(delays[0], [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  assert.deepEqual(delays[1], [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

// A server that is up or down: a connection attempt succeeds or fails at once.
function flakyWorld(interval) {
  const w = world({ interval, random: Math.random });
  w.serverUp = true;
  w.beatTimes = [];
  const send = w.ka.io.send;
  w.ka.io.send = (m) => { if (m.op === "beat") w.beatTimes.push(w.t); return send(m); };
  w.ka.io.connect = () => { w.connects++; if (w.serverUp) w.ka.connected(); else w.ka.disconnected(); };
  // The delay of every retry the keep-alive schedules when it loses the connection.
  w.retryDelays = [];
  const disconnected = w.ka.disconnected.bind(w.ka);
  w.ka.disconnected = () => {
    const first = w.nextId;
    disconnected();
    for (let id = first; id < w.nextId; id++) if (w.timers.has(id)) w.retryDelays.push(w.timers.get(id).at - w.t);
  };
  return w;
}

test("the backoff never waits longer than one interval", () => {
  const w = flakyWorld(3);
  w.ka.run();
  w.serverUp = false;
  w.ka.disconnected();
  w.advance(60_000);
  const delays = w.retryDelays;
  assert.ok(delays.length >= 20, `${delays.length} retries in a minute`);
  assert.ok(Math.max(...delays) <= 3_000, `retry delays ${delays}`);
  assert.ok(delays[0] <= delays[1], "the delays grow");
});

test("beats resume within two intervals of the server answering again", () => {
  for (let run = 0; run < 50; run++) { // random jitter: many runs
    const w = flakyWorld(3);
    w.ka.run();
    w.advance(10_000);
    w.serverUp = false;
    w.ka.disconnected(); // the connection drops; the server stays away for a minute
    w.advance(70_000);
    assert.equal(w.view().state, "reconnecting");
    w.serverUp = true;
    const back = w.t;
    w.advance(back + 6_000);
    const first = w.beatTimes.find((t) => t >= back);
    assert.ok(first !== undefined && first - back <= 6_000, `first beat ${first - back} ms after`);
    assert.notEqual(w.view().state, "reconnecting");
  }
});

test("reconnecting resets the backoff and beats at once", () => {
  const w = world({ random: () => 0 });
  w.ka.run();
  w.ka.connected();
  w.ka.disconnected();
  w.ka.disconnected();
  w.ka.connected();
  assert.equal(w.view().state, "running");
  assert.equal(w.beats().length, 2);
  w.ka.disconnected();
  const [retry] = [...w.timers.values()].filter((x) => x.at > w.t && x.at - w.t < 1000);
  assert.equal(retry.at - w.t, 500);
});

test("max_duration ends the keep-alive in the page even when the kernel never answers", () => {
  const w = world({ interval: 1, maxDuration: 3.5 });
  w.ka.run();
  w.ka.connected();
  w.advance(60_000);
  assert.equal(w.view().state, "stopped");
  assert.equal(w.view().reason, "max_duration reached");
  assert.equal(w.beats().length, 4); // at 0, 1, 2, 3 s; the deadline falls at 3.5 s
  assert.equal(w.timers.size, 0, "no timer left running");
  assert.equal(w.closed, 1);
});

test("the kernel's remaining time moves the page's deadline", () => {
  const w = world({ interval: 1, maxDuration: 100 });
  w.ka.run();
  w.ka.connected();
  w.answer(w.beats()[0], { remaining: 2 });
  w.advance(10_000);
  assert.equal(w.view().reason, "max_duration reached");
  assert.equal(w.beats().length, 2);
});

test("a stop reply from the kernel stops the page at once", () => {
  const w = world({ interval: 1 });
  w.ka.run();
  w.ka.connected();
  w.ka.reply({ seq: 1, state: "stopped", reason: "replaced by a newer inject()", beats: 1 });
  assert.equal(w.view().state, "stopped");
  assert.equal(w.view().reason, "replaced by a newer inject()");
  assert.equal(w.timers.size, 0);
  w.advance(10_000);
  assert.equal(w.beats().length, 1);
  w.ka.connected(); // late events after a stop change nothing
  w.ka.disconnected();
  assert.equal(w.beats().length, 1);
  assert.equal(w.timers.size, 0);
});

test("the Stop button asks the kernel, then stops on its confirmation", () => {
  const w = world({ interval: 1 });
  w.ka.run();
  w.ka.connected();
  w.ka.requestStop();
  assert.equal(w.view().state, "stopping");
  assert.equal(w.sent[w.sent.length - 1].op, "stop");
  w.advance(10_000);
  assert.equal(w.beats().length, 1, "no beats while stopping");
  w.answer(w.beats()[0]); // an answer to an earlier beat does not undo the stop
  assert.equal(w.view().state, "stopping");
  w.ka.reply({ seq: null, state: "stopped", reason: "stopped with the badge's Stop button", beats: 1 });
  assert.equal(w.view().state, "stopped");
  assert.equal(w.closed, 1);
});

test("the Stop button stops at once when the kernel cannot be told", () => {
  const w = world({ interval: 1 });
  w.ka.run();
  w.ka.requestStop(); // never connected
  assert.equal(w.view().state, "stopped");
  assert.equal(w.view().reason, "stopped with the badge's Stop button");
  assert.equal(w.timers.size, 0);
});

test("the badge's words", () => {
  const v = { state: "running", reason: "", beats: 1, unanswered: 0, remainingMs: 3_600_000 * 11 + 61_000 };
  assert.equal(core.describe(v), "keep-alive running · 1 beat · 11 h 1 min left");
  assert.equal(core.describe({ ...v, state: "busy", beats: 4, unanswered: 2, busyMs: 125_000, remainingMs: null }),
    "keep-alive: kernel busy for 2 min 5 s · 2 unanswered · 4 beats");
  assert.equal(core.describe({ ...v, state: "reconnecting", unreachableMs: 40_000, remainingMs: 90_000 }),
    "keep-alive reconnecting · server unreachable for 40 s · 1 beat · 1 min 30 s left");
  assert.equal(core.describe({ ...v, state: "stopped", reason: "max_duration reached" }),
    "keep-alive stopped: max_duration reached");
  assert.equal(core.formatDuration(-5), "0 s");
});

test("the headline, announced on a change of state, leaves out what changes with every beat", () => {
  const v = { state: "running", reason: "", beats: 1, unanswered: 0, remainingMs: 60_000 };
  const busy = { ...v, state: "busy", beats: 9, unanswered: 3, busyMs: 125_000 };
  assert.equal(core.headline(v), core.headline({ ...v, beats: 2, remainingMs: 0 }));
  assert.equal(core.headline(busy), core.headline({ ...busy, beats: 10, unanswered: 4, busyMs: 190_000 }));
  assert.equal(core.headline({ ...v, state: "reconnecting", unreachableMs: 40_000 }),
    "keep-alive reconnecting: server unreachable");
  assert.equal(core.headline({ ...v, state: "stopped", reason: "the kernel was shut down" }),
    "keep-alive stopped: the kernel was shut down");
  const words = ["starting", "running", "busy", "reconnecting", "stopping", "stopped"]
    .map((state) => core.headline({ ...v, state, reason: "x", busyMs: 0, unreachableMs: 0 }));
  assert.equal(new Set(words).size, words.length);
});

// A world whose channel can be asked whether the kernel still exists; `gone` decides the answer,
// given at once (the real channel answers later, from a request to the server).
function probingWorld(interval) {
  const w = world({ interval });
  w.probes = 0;
  w.gone = false;
  w.ka.io.probe = () => { w.probes++; if (w.gone) w.ka.stop("the kernel was shut down"); };
  return w;
}

test("the server is asked about the kernel only while beats go unanswered", () => {
  const w = probingWorld(1);
  w.ka.run();
  w.ka.connected();
  for (let t = 1_000; t <= 5_000; t += 1_000) { w.answer(w.beats()[w.beats().length - 1]); w.advance(t); }
  assert.equal(w.probes, 0, "answered beats need no probe");
  w.advance(8_000); // the kernel is busy: beats at 6, 7, 8 s find one unanswered
  assert.equal(w.probes, 3);
  assert.equal(w.view().state, "busy");
  assert.equal(w.view().busyMs, 3_000, "busy since the oldest unanswered beat was sent");
});

test("a kernel the server no longer has ends the keep-alive: no beat after, no timer left", () => {
  const w = probingWorld(1);
  w.ka.run();
  w.ka.connected();
  w.gone = true; // shut down: the connection stays open, and silent
  w.advance(1_000); // the beat at 1 s finds the one sent at 0 s unanswered, asks, and is not sent
  assert.equal(w.probes, 1);
  assert.equal(w.view().state, "stopped");
  assert.equal(w.view().reason, "the kernel was shut down");
  assert.equal(w.beats().length, 1);
  assert.equal(w.timers.size, 0, "no timer left running");
  assert.equal(w.closed, 1);
  w.advance(60_000);
  assert.equal(w.beats().length, 1);
});

// The server reports the kernel idle (the real channel says so after a probe); `reconnects` counts
// the new connections asked for.
function idleWorld(interval) {
  const w = probingWorld(interval);
  w.reconnects = 0;
  w.ka.io.reconnect = () => { w.reconnects++; };
  w.ka.io.probe = () => { w.probes++; w.ka.kernelIdle(); };
  return w;
}

test("an idle kernel that has not answered a beat for an interval gets a new connection", () => {
  const w = idleWorld(1);
  w.ka.run();
  w.ka.connected();
  w.advance(1_000); // the beat sent at 0 s is unanswered, and the server says the kernel is idle
  assert.equal(w.reconnects, 1);
  assert.equal(w.view().state, "running");
  assert.equal(w.view().unanswered, 0, "the lost beats are no longer waited on");
  w.advance(5_000);
  assert.equal(w.reconnects, 1, "no beat is sent, so none is lost, until the new connection is up");
  assert.equal(w.beats().length, 1);
  w.ka.connected(); // the new connection: a beat at once, then the grid goes on
  assert.equal(w.beats().length, 2);
  w.answer(w.beats()[1]);
  w.advance(6_000);
  assert.equal(w.beats().length, 3);
  assert.equal(w.reconnects, 1);
});

test("an idle kernel with a beat younger than an interval, or a stopped keep-alive, keeps the connection", () => {
  const w = idleWorld(10);
  w.ka.run();
  w.ka.connected();
  w.advance(5_000);
  w.ka.kernelIdle(); // the beat sent at 0 s may still be on its way
  assert.equal(w.reconnects, 0);
  w.answer(w.beats()[0]);
  w.advance(10_000);
  w.ka.kernelIdle(); // every beat answered
  assert.equal(w.reconnects, 0);
  w.ka.stop("x");
  w.t = 60_000;
  w.ka.kernelIdle();
  assert.equal(w.reconnects, 0);
});

test("a lost connection asks the server at each failed attempt and shows how long it has been", () => {
  const w = probingWorld(10);
  w.ka.run();
  w.ka.connected();
  w.ka.io.connect = () => { w.connects++; w.ka.disconnected(); }; // the server is away
  w.advance(2_000);
  w.ka.disconnected();
  w.advance(32_000);
  const view = w.view();
  assert.equal(view.state, "reconnecting");
  assert.ok(w.probes >= 4, `${w.probes} probes`);
  assert.ok(view.unreachableMs > 20_000 && view.unreachableMs <= 30_000, `${view.unreachableMs} ms`);
  w.gone = true; // it answers again, without the kernel (a restarted server)
  w.advance(45_000);
  assert.equal(w.view().state, "stopped");
  assert.equal(w.timers.size, 0, "no timer left running");
});

test("reconnecting clears the time unreachable", () => {
  const w = probingWorld(1);
  w.ka.run();
  w.ka.connected();
  w.advance(500);
  w.ka.disconnected();
  w.advance(900);
  w.ka.connected();
  assert.equal(w.view().state, "running");
  assert.equal(w.view().unreachableMs, 0);
});
