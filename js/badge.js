// The badge in the cell's output: the keep-alive's state in words, and a Stop button.
// Everything the user or the kernel wrote goes in as text (textContent), never as HTML.
//
// Colours: JupyterLab's and Notebook 7's theme variables (--jp-*), so that the badge follows the
// page's theme, light or dark, as the theme changes; where the page has none (the classic notebook,
// Colab's output frame) the fallback palette: dark in a Colab frame whose theme is dark (Colab marks
// its output frames' <html> with theme="dark", googlecolab/colabtools#1214), else light. The classic
// notebook is light whatever the system prefers, so prefers-color-scheme is asked only in Colab.
/**
 * @constructor
 * @param {HTMLElement} parent where the badge goes
 * @param {string} label the user's label ("" for none)
 * @param {() => void} onStop what the Stop button does
 * @param {boolean} colab in a Colab output frame
 */
function JsaliveBadge(parent, label, onStop, colab) {
  "use strict";
  var html = document.documentElement;
  var dark = !!colab && (html.getAttribute("theme") === "dark" ||
    (!html.hasAttribute("theme") && !!window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches));
  // [theme variable, light fallback, dark fallback]; each pair of text and background is at least
  // 4.5:1 (WCAG AA), and so is JupyterLab's own, in its light and dark themes (tests/test_badge.py).
  /** @type {Record<string, string[]>} */
  var palette = {
    text: ["--jp-ui-font-color1", "#24292f", "#e6edf3"],
    background: ["--jp-layout-color2", "#f6f8fa", "#262c36"],
    border: ["--jp-border-color1", "#c9d1d9", "#545d68"],
    button: ["--jp-layout-color1", "#ffffff", "#161b22"],
    running: ["--jp-success-color1", "#1a7f37", "#3fb950"],
    busy: ["--jp-warn-color1", "#9a6700", "#d29922"],
    reconnecting: ["--jp-error-color1", "#cf222e", "#f85149"],
    stopped: ["--jp-ui-font-color3", "#6e7781", "#8b949e"],
  };
  /** @param {string} name @returns {string} */
  function color(name) {
    var entry = palette[name];
    return "var(" + entry[0] + "," + entry[dark ? 2 : 1] + ")";
  }
  /** @type {Record<string, string>} */
  var dotColors = {starting: "busy", running: "running", busy: "busy", reconnecting: "reconnecting",
                   stopping: "stopped", stopped: "stopped"};
  var name = label ? "keep-alive \u201c" + label + "\u201d" : "keep-alive";

  // A group named for the keep-alive; inside it, the visible words (readable at any time, but not a
  // live region: they change with every beat, and reading each out would drown the page) and a
  // hidden live region that speaks only when the state changes.
  var root = document.createElement("div");
  root.className = "colab-jsalive-badge";
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", name);
  root.style.cssText =
    "display:inline-flex;align-items:center;gap:8px;max-width:100%;box-sizing:border-box;" +
    "padding:4px 10px;margin:2px 0;border-radius:12px;" +
    "font:12px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;";
  root.style.color = color("text");
  root.style.background = color("background");
  root.style.border = "1px solid " + color("border");
  var dot = document.createElement("span");
  dot.setAttribute("aria-hidden", "true");
  dot.style.cssText = "flex:none;width:8px;height:8px;border-radius:50%;";
  var labelEl = document.createElement("strong");
  labelEl.className = "colab-jsalive-label";
  labelEl.style.cssText = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:20em;";
  labelEl.textContent = label;
  var text = document.createElement("span");
  text.className = "colab-jsalive-text";
  var live = document.createElement("span");
  live.className = "colab-jsalive-live";
  live.setAttribute("role", "status");
  // Visually hidden, still read: the usual clip pattern.
  live.style.cssText = "position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;" +
    "overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap;";
  var button = document.createElement("button");
  button.type = "button";
  button.className = "colab-jsalive-stop";
  button.textContent = "Stop";
  button.setAttribute("aria-label", "Stop " + name);
  button.style.cssText = "flex:none;font:inherit;padding:0 8px;border-radius:8px;color:inherit;cursor:pointer;";
  button.style.border = "1px solid " + color("border");
  button.style.background = color("button");
  button.addEventListener("click", function () { onStop(); });
  root.appendChild(dot);
  if (label) root.appendChild(labelEl);
  root.appendChild(text);
  root.appendChild(live);
  root.appendChild(button);
  parent.appendChild(root);

  this.root = root;
  // A sentence under the badge, in its colours, about something the person should know (a tab the
  // browser discarded); a note for screen readers, read where it stands.
  /** @param {string} words */
  this.note = function (words) {
    var note = document.createElement("div");
    note.className = "colab-jsalive-note";
    note.setAttribute("role", "note");
    note.style.cssText = "max-width:60em;margin:2px 0;padding:4px 10px;border-radius:12px;" +
      "font:12px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;";
    note.style.color = color("text");
    note.style.background = color("background");
    note.style.border = "1px solid " + color("busy");
    note.textContent = words;
    parent.insertBefore(note, root.nextSibling);
  };
  /** @param {View} view */
  this.update = function (view) {
    text.textContent = JsaliveCore.describe(view);
    var headline = JsaliveCore.headline(view);
    if (live.textContent !== headline) live.textContent = headline;
    dot.style.background = color(dotColors[view.state] || "stopped");
    var ended = view.state === "stopped" || view.state === "stopping";
    button.disabled = ended;
    button.style.display = ended ? "none" : "";
    // Read by tests and by anyone inspecting the page; never parsed back by the snippet.
    root.dataset.state = view.state;
    root.dataset.beats = String(view.beats);
    root.dataset.unanswered = String(view.unanswered);
    root.dataset.reason = view.reason;
  };
}
