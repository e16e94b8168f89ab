// Live board: follows the live feed and, when a case on the board changes, fetches the board's
// rows again from the server (with the page's own filter and sort) and swaps them in.
(function () {
  "use strict";
  var table = document.getElementById("cases");
  var rows = document.getElementById("case-rows");
  var status = document.getElementById("live-status");
  if (!table || !rows || !window.WebSocket) { return; }
  var position = table.getAttribute("data-position") || "0";
  var pending = null;
  var delay = 1000;

  function say(text) { if (status) { status.textContent = text; } }

  function refresh() {
    pending = null;
    fetch("/board/rows" + window.location.search, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok || r.redirected) { throw new Error("status " + r.status); } return r.text(); })
      .then(function (html) {
        rows.innerHTML = html;
        say("The case list was updated at " + new Date().toLocaleTimeString("en-GB") + ".");
      })
      .catch(function () { say("Could not update the case list; reload the page to see the latest."); });
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + window.location.host + "/api/v1/live?checkpoints=1&since=" + encodeURIComponent(position));
    ws.onopen = function () { delay = 1000; };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      // Resume only from a checkpoint: it says every change up to there has arrived.
      if (msg.type === "checkpoint" && msg.position) { position = String(msg.position); }
      if (msg.change && msg.change.model === "board" && !pending) {
        pending = window.setTimeout(refresh, 150);
      }
    };
    ws.onclose = function () {
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
}());
