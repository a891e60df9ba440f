// まるごと職員画面: the only script besides htmx (no inline script: CSP script-src 'self').
//
// The queue's crisis alert, for a busy desk:
// - the tab title says 【緊急あり】 while a crisis case waits;
// - a NEW crisis case (one this tab has not seen yet) is announced once in the live region
//   #crisis-announce, which lives outside the part htmx replaces every 10 s, so a screen
//   reader hears it once and not at every poll;
// - opt-in, on a button click only (never on load): a desktop notification and a short sound
//   for each new crisis case. The notification says only the case number, never content.
(function () {
  "use strict";
  var baseTitle = document.title;
  var known = null; // ids of the crisis cases this tab has seen
  var audio = null;
  var STORE = "marugoto.crisisAlerts";

  function enabled() {
    try { return window.localStorage.getItem(STORE) === "on"; } catch (e) { return false; }
  }
  function remember(on) {
    try { window.localStorage.setItem(STORE, on ? "on" : "off"); } catch (e) { /* private mode */ }
  }

  function crisisIds() {
    var holder = document.querySelector("[data-crisis-ids]");
    if (!holder) { return []; }
    return holder.getAttribute("data-crisis-ids").split(",").filter(function (v) {
      return /^[0-9]+$/.test(v);
    }).map(function (v) { return parseInt(v, 10); });
  }

  function beep(times) { // two short tones per case (at most three cases in a row)
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) { return; }
    var offsets = [];
    for (var i = 0; i < Math.min(times || 1, 3); i += 1) { offsets.push(i * 0.8, i * 0.8 + 0.28); }
    try {
      if (!audio) { audio = new Ctx(); }
      if (audio.state === "suspended") { audio.resume(); }
      offsets.forEach(function (offset) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = 880;
        gain.gain.value = 0.2;
        osc.connect(gain);
        gain.connect(audio.destination);
        var at = audio.currentTime + offset;
        osc.start(at);
        osc.stop(at + 0.18);
      });
    } catch (e) { /* no sound device: the notification and the title still tell */ }
  }

  function notify(id) {
    if (!("Notification" in window) || window.Notification.permission !== "granted") { return; }
    try {
      var n = new window.Notification("緊急の相談 #" + id, {
        body: "担当を待っています。まるごと職員画面で開いてください。",
        tag: "marugoto-crisis-" + id,
        requireInteraction: true
      });
      n.onclick = function () { window.focus(); window.location.href = "/admin/cases/" + id; };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  function announce(text) {
    var region = document.getElementById("crisis-announce");
    if (region) { region.textContent = text; }
  }

  function check() {
    var ids = crisisIds();
    document.title = ids.length || document.querySelector("[data-crisis-id]")
      ? "【緊急あり】" + baseTitle : baseTitle;
    if (known === null) { // first look: what already waits is in the page's banner
      known = {};
      ids.forEach(function (id) { known[id] = true; });
      return;
    }
    var fresh = ids.filter(function (id) { return !known[id]; });
    ids.forEach(function (id) { known[id] = true; });
    var banner = document.querySelector("[data-crisis-id]");
    if (!fresh.length) { return; }
    if (banner) { banner.classList.add("new"); }
    announce("新しい緊急の相談があります(" + fresh.map(function (id) { return "#" + id; }).join("、") +
      ")。担当を待っています。");
    if (enabled()) {
      fresh.forEach(notify);
      beep(fresh.length);
    }
  }

  function showState() {
    var button = document.getElementById("alerts-on");
    var state = document.getElementById("alerts-state");
    if (!button) { return; }
    var on = enabled();
    var permission = "Notification" in window ? window.Notification.permission : "unsupported";
    button.setAttribute("data-state", on ? "on" : "off");
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "通知と音を止める" : "緊急の相談を通知と音で知らせる";
    if (!state) { return; }
    if (!on) {
      state.textContent = "(この画面を開いている間、新しい緊急の相談をデスクトップ通知と短い音で知らせます)";
    } else if (permission === "granted") {
      state.textContent = "通知と音: オン";
    } else if (permission === "denied") {
      state.textContent = "音: オン(通知はブラウザの設定で止められています)";
    } else {
      state.textContent = "音: オン(このブラウザではデスクトップ通知を使えません)";
    }
  }

  function toggle() {
    if (enabled()) { remember(false); showState(); return; }
    remember(true);
    beep(1); // a click is the gesture that lets this page play sound later
    if ("Notification" in window && window.Notification.permission === "default") {
      var asked = window.Notification.requestPermission(showState);
      if (asked && asked.then) { asked.then(showState); }
    }
    showState();
  }

  function wake() { // after a reload, sound needs one gesture on the page again
    if (audio && audio.state === "suspended") { audio.resume(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("alerts-on");
    if (button) { button.addEventListener("click", toggle); }
    document.addEventListener("pointerdown", wake);
    document.addEventListener("keydown", wake);
    showState();
    check();
    var filters = document.getElementById("filter-box"); // phones: the cases before the filters
    if (filters && !window.location.search && window.matchMedia &&
        window.matchMedia("(max-width: 640px)").matches) { filters.removeAttribute("open"); }
    var chat = document.getElementById("chat-scroll"); // the newest lines are at the bottom
    if (chat) { chat.scrollTop = chat.scrollHeight; }
  });
  document.addEventListener("htmx:afterSwap", check);
})();
