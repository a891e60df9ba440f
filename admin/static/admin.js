// まるごと職員画面: the only script besides htmx (no inline script: CSP script-src 'self').
// When the live queue shows a crisis case newer than the last one seen, flag the tab title.
(function () {
  "use strict";
  var baseTitle = document.title;
  var lastSeen = null;
  function check() {
    var alert = document.querySelector("[data-crisis-id]");
    if (!alert) { document.title = baseTitle; return; }
    var id = parseInt(alert.getAttribute("data-crisis-id"), 10);
    if (lastSeen !== null && id > lastSeen) { alert.classList.add("new"); }
    lastSeen = Math.max(lastSeen || 0, id);
    document.title = "【緊急あり】" + baseTitle;
  }
  document.addEventListener("DOMContentLoaded", check);
  document.addEventListener("htmx:afterSwap", check);
})();
