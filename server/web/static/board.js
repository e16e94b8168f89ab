// Keeps the case table current from the live feed, resuming from the last position seen.
(function () {
  "use strict";
  var table = document.getElementById("cases");
  var status = document.getElementById("live-status");
  var position = Number(table.dataset.position || 0);
  var delay = 500;

  function cell(text, link) {
    var td = document.createElement("td");
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    return td;
  }

  function upsert(c) {
    var body = table.tBodies[0];
    var empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    var row = document.getElementById("case-" + c.id);
    var fresh = document.createElement("tr");
    fresh.id = "case-" + c.id;
    fresh.appendChild(cell(c.id, "/api/v1/cases/" + encodeURIComponent(c.id)));
    fresh.appendChild(cell(c.framework));
    fresh.appendChild(cell(c.stage));
    fresh.appendChild(cell(c.nature));
    fresh.appendChild(cell(c.awarenessDate));
    if (row) row.replaceWith(fresh); else body.insertBefore(fresh, body.firstChild);
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + location.host + "/api/v1/live?since=" + position);
    ws.onopen = function () { status.textContent = "Live: the list updates by itself."; delay = 500; };
    ws.onmessage = function (ev) {
      var msg = JSON.parse(ev.data);
      if (msg.position <= position && msg.type === "change") return;
      position = msg.position;
      if (msg.change && msg.change.case) upsert(msg.change.case);
    };
    ws.onclose = function () {
      status.textContent = "Live updates paused; reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
})();
