// The queue refreshes itself (every 15 s unless the page says otherwise): the filter stays (it is in the address), the scroll
// stays (only the rows are replaced), and rows not seen before are marked as new. A note being
// typed is never thrown away: the refresh waits while a form on the page is in use.
(function () {
  "use strict";
  var box = document.getElementById("queue");
  if (!box) { return; }
  var seen = {};
  function ids() {
    var rows = box.querySelectorAll("tr[data-item]"), found = [];
    for (var i = 0; i < rows.length; i++) { found.push(rows[i].getAttribute("data-item")); }
    return found;
  }
  ids().forEach(function (id) { seen[id] = true; });
  function busy() {
    var active = document.activeElement;
    if (active && box.contains(active) && active.tagName !== "A") { return true; }
    var notes = box.querySelectorAll("input.note");
    for (var i = 0; i < notes.length; i++) { if (notes[i].value) { return true; } }
    return false;
  }
  function refresh() {
    if (busy()) { return; }
    fetch(box.getAttribute("data-refresh"), { credentials: "same-origin" })
      .then(function (answer) {
        // Signed out or timed out: the page itself says so, and patient data leaves the screen.
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html === null || busy()) { return; }
        var x = window.scrollX, y = window.scrollY;
        box.innerHTML = html;
        ids().forEach(function (id) {
          if (!seen[id]) {
            seen[id] = true;
            var row = document.getElementById("item-" + id);
            if (row) { row.classList.add("new"); }
          }
        });
        window.scrollTo(x, y);
      })
      .catch(function () { /* the next refresh tries again */ });
  }
  var seconds = parseFloat(box.getAttribute("data-interval")) || 15;
  window.setInterval(refresh, seconds * 1000);
}());
