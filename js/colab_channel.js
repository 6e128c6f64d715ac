// The channel to the kernel in Google Colab. Each output runs in its own sandboxed, cross-origin frame;
// the only way back to the kernel is google.colab.kernel.invokeFunction, which Colab runs as kernel
// code (the callback colab_jsalive registered) and answers with the callback's JSON. This file uses
// nothing else: it never reaches for the notebook page outside its own frame.
/**
 * @constructor
 * @param {string} callbackName the callback colab_jsalive registered with google.colab.output
 * @param {JsaliveHandlers} handlers
 */
function JsaliveColabChannel(callbackName, handlers) {
  "use strict";
  // Rejected calls in a row before giving up: after a runtime restart the callback is gone and every
  // call fails with "Function not found", and a disconnected or deleted runtime refuses them too; a
  // single failure may be a passing hiccup.
  var MAX_REJECTED = 3;
  var kernel = typeof google !== "undefined" && google && google.colab && google.colab.kernel;
  var rejected = 0;

  /** @param {any} error whatever Colab rejected the call with */
  function onRejected(error) {
    rejected += 1;
    if (rejected >= MAX_REJECTED) {
      var detail = error && (error.message || error.evalue || error.ename) || String(error);
      handlers.lost("the runtime refused " + rejected + " beats in a row (" + detail + "): it was restarted, " +
                    "disconnected or deleted; once it runs again, run inject() again");
    }
  }

  this.frontend = "colab";

  this.connect = function () {
    if (!kernel || typeof kernel.invokeFunction !== "function") {
      // VS Code attached to a Colab runtime, or any page without Colab's output API.
      handlers.lost("inactive: this page has no google.colab, so there is no channel to the kernel");
    } else if (!kernel.accessAllowed) {
      // An output saved from an earlier browser session, run again when the notebook was opened.
      handlers.lost("inactive: this output is from an earlier session: run inject() again");
    } else {
      handlers.connected();
    }
  };

  /** @param {Record<string, unknown>} data @returns {boolean} */
  this.send = function (data) {
    var call;
    if (!kernel) return false; // connect() has already said why: there is no channel
    try {
      call = kernel.invokeFunction(callbackName, [data], {});
    } catch (error) {
      onRejected(error);
      return true;
    }
    Promise.resolve(call).then(function (result) {
      rejected = 0;
      var reply = result && result.data && result.data["application/json"];
      if (reply && typeof reply === "object") handlers.reply(/** @type {Reply} */ (reply));
    }, onRejected);
    return true;
  };

  this.close = function () {};
}
