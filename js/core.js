// The keep-alive's logic in the page: when to beat, what counts as unanswered, when to reconnect and
// when to stop. Nothing here touches the DOM, the network or the real clock: all of that comes in
// through `io`, so node --test drives this file with a mock clock (tests/js/core.test.mjs). The shapes
// of what comes and goes (View, Reply, Io) are written out in types.d.ts.
var JsaliveCore = (function () {
  "use strict";

  // Beats in flight at most. A kernel busy with a long cell answers them all once the cell ends; past
  // this many the page waits instead of queueing more (at the default 60 s interval: 16 hours of beats).
  var MAX_UNANSWERED = 1000;
  var BACKOFF_BASE_MS = 1000;
  var BACKOFF_CAP_MS = 30000;
  var STOP_REQUESTED = "stopped with the badge's Stop button";
  // What the badge says under itself in a page the browser had discarded (keepalive.js.jinja).
  var DISCARDED = "The browser discarded this tab while it was in the background (Chrome's Memory Saver, " +
    "for example), and nothing beat until it was reloaded. To keep the keep-alive going, keep this " +
    "site active: in Chrome, Settings, Performance, Always keep these sites active.";

  // Capped exponential backoff with "equal jitter": half of the delay is fixed, half random, so pages
  // cut off together do not all reconnect in the same instant. The cap is also never above one
  // interval, so beats resume within two intervals of the server answering again.
  /** @param {number} attempt @param {() => number} random @param {number} intervalMs @returns {number} */
  function backoffDelay(attempt, random, intervalMs) {
    var cap = Math.min(BACKOFF_CAP_MS, intervalMs);
    var ceiling = Math.min(cap, BACKOFF_BASE_MS * Math.pow(2, attempt));
    return ceiling / 2 + random() * (ceiling / 2);
  }

  // The first beat slot after `now` on the grid start, start + interval, ... Scheduling on a fixed grid
  // keeps drift from building up, and a late wake-up (a throttled background tab) skips the missed
  // slots: it sends one beat, not a burst.
  /** @param {number} start @param {number} intervalMs @param {number} now @returns {number} */
  function nextSlot(start, intervalMs, now) {
    return start + (Math.floor((now - start) / intervalMs) + 1) * intervalMs;
  }

  /** @param {number} ms @returns {string} */
  function formatDuration(ms) {
    var total = Math.max(0, Math.round(ms / 1000));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    if (h > 0) return h + " h " + m + " min";
    if (m > 0) return m + " min " + s + " s";
    return s + " s";
  }

  // The badge's words for a view of the keep-alive.
  /** @param {View} view @returns {string} */
  function describe(view) {
    var parts;
    switch (view.state) {
      case "starting": return "keep-alive starting";
      case "stopped": return "keep-alive stopped: " + view.reason;
      case "stopping": return "keep-alive stopping: waiting for the kernel to confirm";
      case "reconnecting":
        parts = ["keep-alive reconnecting", "server unreachable for " + formatDuration(view.unreachableMs)];
        break;
      case "busy":
        parts = ["keep-alive: kernel busy for " + formatDuration(view.busyMs), view.unanswered + " unanswered"];
        break;
      default: parts = ["keep-alive running"];
    }
    parts.push(view.beats + (view.beats === 1 ? " beat" : " beats"));
    if (view.remainingMs !== null) parts.push(formatDuration(view.remainingMs) + " left");
    return parts.join(" · ");
  }

  // The state in a few words, without the counts: what a screen reader announces when the state
  // changes (the badge's visible text changes with every beat, which would be too talkative to read).
  /** @param {View} view @returns {string} */
  function headline(view) {
    switch (view.state) {
      case "busy": return "keep-alive: kernel busy";
      case "reconnecting": return "keep-alive reconnecting: server unreachable";
      case "running": return "keep-alive running";
      default: return describe(view);
    }
  }

  // One keep-alive in one page.
  //   config: {interval (s), maxDuration (s or null)}
  //   io: {now() ms, setTimer(fn, ms) -> id, clearTimer(id), random() in [0, 1),
  //        connect() (answer with connected() / disconnected()), send(message) (true if sent),
  //        close(), onChange(view), and optionally probe(): ask the server whether the kernel still
  //        exists, when beats go unanswered or the connection fails (the channel stops the keep-alive
  //        if it does not, and calls kernelIdle() if the server reports it idle and quiet), with
  //        reconnect(): drop the connection and open a new one (answer with connected())}
  /**
   * @constructor
   * @param {KeepAliveConfig} config
   * @param {Io} io
   */
  function KeepAlive(config, io) {
    this.io = io;
    this.intervalMs = config.interval * 1000;
    this.deadline = config.maxDuration === null ? null : io.now() + config.maxDuration * 1000;
    this.state = "starting";
    this.reason = "";
    this.beats = 0; // answered, as the kernel counts them
    this.seq = 0; // beats sent
    /** @type {Map<number, number>} */
    this.pending = new Map(); // seq -> time sent, for beats not answered yet
    this.connected_ = false;
    this.attempt = 0; // failed connection attempts in a row
    /** @type {number | null} */
    this.unreachableSince = null; // when the connection was lost, while it stays lost
    /** @type {number | null} */
    this.start = null; // the beat grid's origin
    /** @type {number | null} */
    this.beatTimer = null;
    /** @type {number | null} */
    this.retryTimer = null;
  }

  /** @returns {View} */
  KeepAlive.prototype.view = function () {
    var now = this.io.now();
    var oldest = now;
    this.pending.forEach(function (sent) { oldest = Math.min(oldest, sent); });
    return {
      state: this.state,
      reason: this.reason,
      beats: this.beats,
      unanswered: this.pending.size,
      busyMs: now - oldest, // since the oldest beat still unanswered was sent
      unreachableMs: this.unreachableSince === null ? 0 : now - this.unreachableSince,
      remainingMs: this.deadline === null ? null : Math.max(0, this.deadline - now),
    };
  };

  KeepAlive.prototype.changed = function () { this.io.onChange(this.view()); };

  KeepAlive.prototype.run = function () {
    this.changed();
    this.io.connect();
  };

  KeepAlive.prototype.connected = function () {
    if (this.state === "stopped" || this.state === "stopping") return;
    this.connected_ = true;
    this.attempt = 0;
    this.unreachableSince = null;
    if (this.state === "reconnecting") this.state = "running";
    if (this.start === null) this.start = this.io.now();
    this.beat(); // right away, then on the grid
  };

  KeepAlive.prototype.disconnected = function () {
    if (this.state === "stopping") this.stop(STOP_REQUESTED);
    if (this.state === "stopped") return;
    this.connected_ = false;
    // Beats sent on the lost connection may or may not have reached the kernel; none will be answered
    // on this one, so they no longer count as waiting.
    this.pending.clear();
    this.state = "reconnecting";
    if (this.unreachableSince === null) this.unreachableSince = this.io.now();
    var self = this;
    this.io.clearTimer(this.retryTimer);
    this.retryTimer = this.io.setTimer(function () {
      self.retryTimer = null;
      if (self.state !== "stopped") self.io.connect();
    }, backoffDelay(this.attempt++, this.io.random, this.intervalMs));
    this.changed();
    this.probe(); // a server that answers but no longer has the kernel ends this at once
  };

  // At most once per failed connection or per beat sent while others are unanswered: a kernel that was
  // shut down or culled leaves the connection open and silent, like a busy one; only the server
  // can tell them apart.
  KeepAlive.prototype.probe = function () {
    if (this.io.probe && this.state !== "stopped") this.io.probe();
  };

  KeepAlive.prototype.beat = function () {
    this.io.clearTimer(this.beatTimer);
    this.beatTimer = null;
    if (this.state === "stopped" || this.state === "stopping") return;
    var now = this.io.now();
    if (this.deadline !== null && now >= this.deadline) {
      this.stop("max_duration reached");
      return;
    }
    if (this.connected_) {
      if (this.pending.size > 0) {
        this.state = "busy";
        this.probe();
        if (this.state === "stopped") return;
      }
      if (this.connected_ && this.pending.size < MAX_UNANSWERED) { // (a probe may have reconnected)
        var seq = ++this.seq;
        var unanswered = this.pending.size;
        if (this.io.send({op: "beat", seq: seq, unanswered: unanswered})) this.pending.set(seq, now);
      }
      this.changed();
    }
    // connected() set the grid's origin before the first beat; only beats follow beats.
    var next = nextSlot(/** @type {number} */ (this.start), this.intervalMs, now);
    if (this.deadline !== null) next = Math.min(next, this.deadline);
    var self = this;
    this.beatTimer = this.io.setTimer(function () { self.beat(); }, next - now);
  };

  // The server reports the kernel idle, with nothing published since it last answered, yet a beat sent
  // at least an interval ago is unanswered. An idle kernel answers within milliseconds, so that beat was
  // lost on this connection, and later ones may be: ipykernel 7.0 to 7.3 can stop reading one
  // connection's messages when one arrives as it sends a reply (ipython/ipykernel#1554, fixed in 7.4),
  // which the snippet's first beat, sent as its own cell ends, makes likely. A new connection is read,
  // and wakes the old one's messages too.
  KeepAlive.prototype.kernelIdle = function () {
    if (!this.connected_ || this.state === "stopped" || this.state === "stopping") return;
    var before = this.io.now() - this.intervalMs;
    var lost = false;
    this.pending.forEach(function (sent) { if (sent <= before) lost = true; });
    if (!lost) return;
    this.connected_ = false;
    this.pending.clear(); // their answers, if any come, are for the old connection's comm
    this.state = "running";
    this.changed();
    this.io.reconnect();
  };

  // A message from the kernel about this session (see colab_jsalive/_session.py for its keys).
  /** @param {Reply} message */
  KeepAlive.prototype.reply = function (message) {
    if (this.state === "stopped") return;
    if (this.state === "stopping" && message.state !== "stopped") return; // answers to earlier beats
    if (typeof message.seq === "number") this.pending.delete(message.seq);
    if (typeof message.beats === "number") this.beats = message.beats;
    if (typeof message.remaining === "number") this.deadline = this.io.now() + message.remaining * 1000;
    else if (message.remaining === null) this.deadline = null;
    if (message.state === "stopped") {
      this.stop(String(message.reason || "stopped by the kernel"));
      return;
    }
    if (this.connected_) this.state = this.pending.size > 0 ? "busy" : "running";
    this.changed();
  };

  // The user asked to stop (the badge's button): no more beats, and the kernel is told, so that every
  // page and status() agree. The connection stays open until the kernel confirms: a busy kernel
  // confirms once its running cell ends.
  KeepAlive.prototype.requestStop = function () {
    if (this.state === "stopped" || this.state === "stopping") return;
    this.halt();
    if (!this.connected_ || !this.io.send({op: "stop"})) {
      this.stop(STOP_REQUESTED);
      return;
    }
    this.state = "stopping";
    this.changed();
  };

  /** @param {string} reason */
  KeepAlive.prototype.stop = function (reason) {
    if (this.state === "stopped") return;
    this.state = "stopped";
    this.reason = reason;
    this.connected_ = false;
    this.halt();
    this.io.close();
    this.changed();
  };

  // No timer left running, no beat waited on.
  KeepAlive.prototype.halt = function () {
    this.io.clearTimer(this.beatTimer);
    this.io.clearTimer(this.retryTimer);
    this.beatTimer = this.retryTimer = null;
    this.pending.clear();
  };

  return {
    KeepAlive: KeepAlive,
    MAX_UNANSWERED: MAX_UNANSWERED,
    DISCARDED: DISCARDED,
    backoffDelay: backoffDelay,
    nextSlot: nextSlot,
    describe: describe,
    headline: headline,
    formatDuration: formatDuration,
  };
})();
