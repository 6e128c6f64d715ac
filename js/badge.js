// The badge in the cell's output: the keep-alive's state in words, and a Stop button.
// Everything the user or the kernel wrote goes in as text (textContent), never as HTML.
function JsaliveBadge(parent, label, onStop) {
  "use strict";
  var root = document.createElement("div");
  root.className = "colab-jsalive-badge";
  root.setAttribute("role", "status");
  root.style.cssText =
    "display:inline-flex;align-items:center;gap:8px;max-width:100%;box-sizing:border-box;" +
    "padding:4px 10px;margin:2px 0;border:1px solid #c9d1d9;border-radius:12px;" +
    "font:12px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;color:#24292f;background:#f6f8fa;";
  var dot = document.createElement("span");
  dot.style.cssText = "flex:none;width:8px;height:8px;border-radius:50%;background:#9a6700;";
  var labelEl = document.createElement("strong");
  labelEl.className = "colab-jsalive-label";
  labelEl.style.cssText = "overflow:hidden;text-overflow:ellipsis;white-space:nowrap;max-width:20em;";
  labelEl.textContent = label;
  var text = document.createElement("span");
  text.className = "colab-jsalive-text";
  var button = document.createElement("button");
  button.type = "button";
  button.className = "colab-jsalive-stop";
  button.textContent = "Stop";
  button.style.cssText = "flex:none;font:inherit;padding:0 8px;border:1px solid #c9d1d9;" +
    "border-radius:8px;background:#fff;color:inherit;cursor:pointer;";
  button.addEventListener("click", function () { onStop(); });
  root.appendChild(dot);
  if (label) root.appendChild(labelEl);
  root.appendChild(text);
  root.appendChild(button);
  parent.appendChild(root);

  var colors = {starting: "#9a6700", running: "#1a7f37", busy: "#9a6700", reconnecting: "#bc4c00", stopping: "#6e7781",
                stopped: "#6e7781"};
  this.root = root;
  this.update = function (view) {
    text.textContent = JsaliveCore.describe(view);
    dot.style.background = colors[view.state] || colors.stopped;
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
