// The channel to the kernel in JupyterLab, Notebook 7 and the classic notebook: the snippet's own
// WebSocket to the Jupyter server's kernel channels, carrying one comm. The base URL and the token come
// from the page (never from Python: outputs are saved into notebooks), so this works behind a
// JupyterHub /user/NAME/ prefix, over https, and with cookie-only authentication.
/**
 * @constructor
 * @param {string} kernelId the server's id of the kernel
 * @param {string} target the comm target colab_jsalive registered in the kernel
 * @param {() => Record<string, unknown>} hello the data of the comm_open
 * @param {JsaliveHandlers} handlers
 */
function JsaliveJupyterChannel(kernelId, target, hello, handlers) {
  "use strict";
  var server = JsaliveJupyterChannel.pageServer();
  var clientSession = JsaliveJupyterChannel.newId();
  /** @type {WebSocket | null} */
  var socket = null;
  /** @type {string | null} */
  var commId = null;
  // Our messages the kernel has not finished handling: msg_id -> answered yet?
  /** @type {Map<string, boolean>} */
  var inFlight = new Map();
  var closed = false;
  var probing = false;
  /** @type {string | null} */
  var lastActivity = null; // the kernel's last_activity in the server's previous answer to probe()
  var RESTARTED = "the kernel restarted: run inject() again";
  var DIED = "the kernel died and the server restarted it: run inject() again";
  var DEAD = "the kernel died and the server could not restart it: run inject() in a new kernel";
  var GONE = "the kernel was shut down (the server no longer has it): run inject() in a new kernel";

  /** @param {string} msgType @param {Record<string, unknown>} content @returns {string} */
  function frame(msgType, content) {
    var msgId = JsaliveJupyterChannel.newId();
    if (msgType === "comm_msg") inFlight.set(msgId, false);
    return JSON.stringify({
      channel: "shell",
      header: {msg_id: msgId, msg_type: msgType, username: "",
               session: clientSession, date: new Date().toISOString(), version: "5.3"},
      parent_header: {}, metadata: {}, content: content, buffers: [],
    });
  }

  /** @param {MessageEvent} event */
  function onMessage(event) {
    if (typeof event.data !== "string") return; // binary frames carry other clients' buffers
    var msg;
    try { msg = JSON.parse(event.data); } catch (e) { return; }
    if (!msg || msg.channel !== "iopub" || !msg.header || !msg.content) return;
    var type = msg.header.msg_type;
    var parentId = msg.parent_header && msg.parent_header.msg_id;
    if (type === "comm_msg" && msg.content.comm_id === commId) {
      if (inFlight.has(parentId)) inFlight.set(parentId, true);
      handlers.reply(msg.content.data || {});
    } else if (type === "comm_close" && msg.content.comm_id === commId) {
      // The kernel closed our comm without a reply: its target is not registered, which means a new
      // kernel process (a restart) that has not run inject().
      handlers.lost(RESTARTED);
    } else if (type === "status" && inFlight.has(parentId) && msg.content.execution_state === "idle") {
      // The kernel finished with one of our beats. IOPub is ordered, so a reply would have come
      // before this: none means the kernel does not know our comm, i.e. a new kernel process.
      var answered = inFlight.get(parentId);
      inFlight.delete(parentId);
      if (!answered) handlers.lost(RESTARTED);
    } else if (type === "status" && msg.content.execution_state === "restarting") {
      handlers.lost(DIED); // the server's own message: its restarter replaced a kernel that died
    } else if (type === "status" && msg.content.execution_state === "dead") {
      handlers.lost(DEAD);
    }
  }

  // The kernel's replies reach every connection to the kernel, the page's own included. The classic
  // notebook logs an error for each comm message it does not know, so it is told that this comm needs
  // nothing from it.
  /** @param {string} id */
  function quietClassicNotebook(id) {
    var kernel = window.Jupyter && window.Jupyter.notebook && window.Jupyter.notebook.kernel;
    var comms = kernel && kernel.id === kernelId && kernel.comm_manager && kernel.comm_manager.comms;
    if (comms) comms[id] = Promise.resolve({handle_msg: function () {}, handle_close: function () {}});
  }

  this.frontend = server ? server.app : "unknown";

  this.connect = function () {
    if (!server) {
      handlers.lost("this page is not a Jupyter page this keep-alive knows");
      return;
    }
    var url = server.wsBase + "api/kernels/" + encodeURIComponent(kernelId) +
      "/channels?session_id=" + encodeURIComponent(clientSession) +
      (server.token ? "&token=" + encodeURIComponent(server.token) : "");
    /** @type {WebSocket} */
    var ws;
    try { ws = new WebSocket(url); } catch (e) { handlers.disconnected(); return; }
    socket = ws;
    inFlight.clear(); // what was sent on an earlier connection is no longer tracked
    ws.onopen = function () {
      if (socket !== ws) return;
      commId = JsaliveJupyterChannel.newId();
      quietClassicNotebook(commId);
      ws.send(frame("comm_open", {comm_id: commId, target_name: target, data: hello()}));
      handlers.connected();
    };
    ws.onmessage = function (event) { if (socket === ws) onMessage(event); };
    ws.onclose = function () {
      if (socket !== ws) return;
      socket = null;
      handlers.disconnected();
    };
  };

  /** @param {Record<string, unknown>} data @returns {boolean} */
  this.send = function (data) {
    if (!socket || socket.readyState !== WebSocket.OPEN || commId === null) return false;
    socket.send(frame("comm_msg", {comm_id: commId, data: data}));
    return true;
  };

  // Is the kernel still there? Asked of the server the page talks to, with the credentials its
  // frontend's own requests carry: the server's list of kernels, which answers with a 200 whether or
  // not ours is in it (a 404 for one kernel carries no CORS headers, so a page served apart from its
  // server could not read it). `no_track_activity`: this is the page checking, not the user working;
  // the beats are the keep-alive's activity, and a check must not keep a server alive for a kernel
  // that is gone. (A proxy in front, such as JupyterHub's, may count the request anyway; it counts the
  // beats it carries too, so that changes nothing.) Only a list without our kernel decides anything:
  // any other answer, or none, leaves things as they are (busy, or reconnecting).
  this.probe = function () {
    if (probing || closed || !server || typeof fetch !== "function") return;
    probing = true;
    /** @type {Record<string, string>} */
    var headers = {};
    if (server.httpToken) headers.Authorization = "token " + server.httpToken;
    fetch(server.httpBase + "api/kernels?no_track_activity=1",
          {credentials: "same-origin", cache: "no-store", headers: headers})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (kernels) {
        probing = false;
        /** @param {KernelModel} k */
        var listed = function (k) { return k && k.id === kernelId; };
        if (closed || !Array.isArray(kernels)) return;
        var ours = kernels.filter(listed)[0];
        if (!ours) {
          handlers.lost(GONE);
          return;
        }
        // Idle, and nothing published since the last answer (the server moves last_activity with
        // every message the kernel publishes): the kernel has not heard our beats. An idle state alone
        // also shows for a moment between the messages of a kernel working through many.
        var quiet = ours.execution_state === "idle" && ours.last_activity === lastActivity;
        lastActivity = ours.last_activity;
        if (quiet) handlers.idle();
      }, function () { probing = false; });
  };

  // A new connection in place of one whose beats the kernel does not hear (see KeepAlive.kernelIdle).
  this.reconnect = function () {
    release();
    if (!closed) this.connect();
  };

  this.close = function () {
    closed = true;
    release();
  };

  // Lets go of the current socket without telling handlers: the caller decides what comes next.
  function release() {
    var ws = socket;
    socket = null;
    if (!ws) return;
    ws.onmessage = ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING) {
      // Closing a socket that has not opened makes the browser log a warning; let it open, then close.
      ws.onopen = function () { this.close(); };
      return;
    }
    if (ws.readyState === WebSocket.OPEN && commId !== null) {
      ws.send(frame("comm_close", {comm_id: commId, data: {}}));
    }
    ws.close();
  }
}

// Where the Jupyter server is, as this page knows it, and the credential its own frontend sends on a
// kernel WebSocket. The page may hold a token the frontend never puts on a socket (under JupyterHub the
// classic notebook's page holds the single-user server's own hub API token, JupyterLab's the user's
// OAuth token); the keep-alive sends what the frontend sends and no more, so a token goes into a URL,
// and so into proxies' logs, only where the frontend's own sockets carry it.
/** @returns {PageServer | null} */
JsaliveJupyterChannel.pageServer = function () {
  "use strict";
  var origin = location.protocol.replace(/^http/, "ws") + "//" + location.host;
  // A base URL may be a path on the page's host or a whole URL (a page served apart from its server),
  // as @jupyterlab/coreutils' PageConfig.getBaseUrl() allows.
  /** @param {string | undefined} base @returns {string} */
  function resolve(base) { return new URL(base || "/", location.href).href.replace(/\/?$/, "/"); }
  var el = document.getElementById("jupyter-config-data");
  if (el) { // JupyterLab 4 and Notebook 7
    var c;
    try { c = JSON.parse(el.textContent); } catch (e) { return null; }
    /** @type {Record<string, string>} */
    var apps = {"JupyterLab": "jupyterlab", "Jupyter Notebook": "notebook"};
    var httpBase = resolve(c.baseUrl);
    var wsBase = c.wsUrl ? c.wsUrl.replace(/\/?$/, "/") : httpBase.replace(/^http/, "ws");
    // @jupyterlab/services' rule: the page option "appendToken" if set, else only for a socket on
    // another host than the base URL's (a same-host socket carries the page's cookies).
    var append = String(c.appendToken || "").toLowerCase();
    var otherHost = new URL(wsBase.replace(/^ws/, "http")).hostname !== new URL(httpBase).hostname;
    var sendToken = append === "" ? otherHost : append === "true";
    return {app: apps[c.appName] || "jupyterlab", token: sendToken ? c.token || "" : "", wsBase: wsBase,
            // Its HTTP requests always carry the token, in a header (never logged as URLs are).
            httpBase: httpBase, httpToken: c.token || ""};
  }
  var d = document.body && document.body.dataset;
  if (d && d.baseUrl !== undefined) { // the classic notebook (nbclassic): data-ws-url is a host only
    // Its own kernel sockets carry cookies only, never data-jupyter-api-token.
    return {app: "nbclassic", token: "", wsBase: (d.wsUrl || origin) + d.baseUrl,
            httpBase: resolve(d.baseUrl), httpToken: ""};
  }
  return null;
};

// A random id for messages and comms. crypto.randomUUID exists only in secure contexts (https,
// localhost); getRandomValues exists everywhere.
/** @returns {string} */
JsaliveJupyterChannel.newId = function () {
  "use strict";
  var bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
};
