// Marugoto simulator: what you do becomes a signed LINE webhook event (POST /simulator/send);
// what the bot sent to the (fake) LINE API is polled (GET /simulator/messages) and drawn the
// way LINE draws it. Plain DOM, no libraries; resident text is always set as textContent.
(function () {
  "use strict";
  var KEY = "marugoto-simulator-user";
  var chat = document.getElementById("chat");
  var quick = document.getElementById("quick");
  var input = document.getElementById("input");
  var tools = document.getElementById("tools");
  var more = document.getElementById("more");
  var lastSeq = 0;
  var polling = false;
  var userId = localStorage.getItem(KEY) || newUser();

  function newUser() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    var id = "U" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
    localStorage.setItem(KEY, id);
    return id;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function scrollDown() { chat.scrollTop = chat.scrollHeight; }

  // Phone numbers become tap-to-call links, as LINE does.
  var PHONE = /(#\d{4}|0\d{1,4}-\d{1,4}-\d{3,5}|\b1[18][089]\b|\b110\b|\b119\b)/g;
  function linkified(text) {
    var frag = document.createDocumentFragment();
    var last = 0;
    text.replace(PHONE, function (match, _g, offset) {
      frag.appendChild(document.createTextNode(text.slice(last, offset)));
      var a = el("a", null, match);
      a.href = "tel:" + match.replace(/-/g, "");
      frag.appendChild(a);
      last = offset + match.length;
      return match;
    });
    frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  function row(who) {
    var r = el("div", "row " + who);
    chat.appendChild(r);
    return r;
  }

  function userBubble(text) {
    var b = el("div", "bubble", text);
    row("user").appendChild(b);
    scrollDown();
  }

  function systemLine(text) {
    row("system").appendChild(el("div", "bubble", text));
    scrollDown();
  }

  // --- LINE message objects ----------------------------------------------------------------

  function renderMessage(message) {
    var r = row("bot");
    r.dataset.type = message.type;
    if (message.type === "text") {
      var b = el("div", "bubble");
      b.appendChild(linkified(message.text || ""));
      r.appendChild(b);
    } else if (message.type === "flex") {
      r.appendChild(renderContainer(message.contents || {}));
      r.title = message.altText || "";
    } else if (message.type === "sticker") {
      r.appendChild(el("div", "bubble sticker", "🙂"));
    } else {
      r.appendChild(el("div", "bubble", "[" + message.type + "] " + (message.altText || "")));
    }
  }

  function renderContainer(container) {
    if (container.type === "carousel") {
      var scroll = el("div", "flex-scroll");
      (container.contents || []).forEach(function (bubble) {
        scroll.appendChild(renderBubble(bubble, false));
      });
      return scroll;
    }
    var wrap = el("div", "flex-scroll");
    wrap.appendChild(renderBubble(container, true));
    return wrap;
  }

  function renderBubble(bubble, single) {
    var card = el("div", "flex-bubble" + (single ? " single" : ""));
    ["header", "hero", "body", "footer"].forEach(function (part) {
      if (!bubble[part]) return;
      var section = el("div", part === "footer" ? "fx-footer" : "fx-body");
      section.appendChild(renderComponent(bubble[part], "vertical"));
      card.appendChild(section);
    });
    return card;
  }

  var SPACING = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };

  function renderComponent(c, parentLayout) {
    var node;
    if (c.type === "box") {
      node = el("div", "fx-box " + (c.layout || "vertical"));
      var gap = SPACING[c.spacing] || 0;
      node.style.gap = gap + "px";
      (c.contents || []).forEach(function (child) {
        node.appendChild(renderComponent(child, c.layout || "vertical"));
      });
    } else if (c.type === "text") {
      node = el("div", "fx-text " + (c.size || "md") + (c.weight === "bold" ? " bold" : "") +
        (c.wrap ? "" : " nowrap"));
      node.appendChild(linkified(c.text || ""));
      if (c.color) node.style.color = c.color;
    } else if (c.type === "separator") {
      node = el("div", "fx-sep");
    } else if (c.type === "button") {
      node = el("button", "fx-button " + (c.style || "link"), (c.action && c.action.label) || "");
      node.type = "button";
      if (c.color && c.style === "primary") node.style.background = c.color;
      node.addEventListener("click", function () { act(c.action); });
    } else if (c.type === "spacer" || c.type === "filler") {
      node = el("div");
    } else {
      node = el("div", "fx-text xs", "[" + c.type + "]");
    }
    if (c.margin && SPACING[c.margin] !== undefined) {
      node.style[parentLayout === "vertical" ? "marginTop" : "marginLeft"] = SPACING[c.margin] + "px";
    }
    if (typeof c.flex === "number" && parentLayout !== "vertical") node.style.flex = String(c.flex);
    return node;
  }

  function showQuickReplies(message) {
    quick.textContent = "";
    var items = (message && message.quickReply && message.quickReply.items) || [];
    items.forEach(function (item) {
      var chip = el("button", "chip", item.action.label || "");
      chip.type = "button";
      chip.addEventListener("click", function () { act(item.action); });
      quick.appendChild(chip);
    });
  }

  // --- what the resident does ----------------------------------------------------------------

  function act(action) {
    if (!action) return;
    if (action.type === "postback") {
      quick.textContent = "";
      if (action.displayText) userBubble(action.displayText);
      send({ kind: "postback", data: action.data });
    } else if (action.type === "message") {
      quick.textContent = "";
      userBubble(action.text);
      send({ kind: "text", text: action.text });
    } else if (action.type === "datetimepicker") {
      showPicker(action);
    } else if (action.type === "uri") {
      systemLine("（デモ）" + action.uri.replace(/^tel:/, "電話をかける: "));
    }
  }

  // LINE opens a date picker for a datetimepicker action; the simulator shows one in the
  // quick-reply area: a real <input type="date"> bounded by the action's min and max.
  function showPicker(action) {
    quick.textContent = "";
    var mode = action.mode === "datetime" ? "datetime-local" : action.mode === "time" ? "time" : "date";
    var input = el("input", "picker");
    input.type = mode;
    input.id = "picker";
    input.setAttribute("aria-label", action.label || "日付");
    if (action.min) input.min = action.min;
    if (action.max) input.max = action.max;
    input.value = action.initial || action.min || "";
    var ok = el("button", "chip", "この日にする");
    ok.type = "button";
    ok.id = "picker-ok";
    ok.addEventListener("click", function () {
      if (!input.value) return;
      quick.textContent = "";
      var params = {};
      params[action.mode === "datetime" ? "datetime" : action.mode || "date"] = input.value;
      userBubble(input.value);
      send({ kind: "postback", data: action.data, params: params });
    });
    var back = el("button", "chip", "もどる");
    back.type = "button";
    back.addEventListener("click", function () { quick.textContent = ""; });
    quick.appendChild(input);
    quick.appendChild(ok);
    quick.appendChild(back);
  }

  function send(body) {
    body.userId = userId;
    return fetch("/simulator/send", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (!response.ok) systemLine("送信できませんでした（" + response.status + "）");
      return response.json().catch(function () { return {}; });
    }).then(function (answer) {
      if (answer && answer.webhook && answer.webhook !== 200) {
        systemLine("Webhook が " + answer.webhook + " を返しました");
      }
      poll();
    }).catch(function () { systemLine("送信できませんでした"); });
  }

  function poll() {
    if (polling) return;
    polling = true;
    fetch("/simulator/messages?user=" + encodeURIComponent(userId) + "&after=" + lastSeq)
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data || !data.messages || !data.messages.length) return;
        var start = document.getElementById("start");
        if (start) start.remove();
        data.messages.forEach(function (entry) { renderMessage(entry.message); });
        lastSeq = data.last;
        showQuickReplies(data.messages[data.messages.length - 1].message);
        scrollDown();
      })
      .catch(function () {})
      .then(function () { polling = false; });
  }

  function startButton() {
    var r = row("system");
    r.id = "start";
    var button = el("button", "chip", "友だち追加して はじめる");
    button.type = "button";
    button.addEventListener("click", function () { follow(); });
    r.appendChild(button);
  }

  function follow() {
    var start = document.getElementById("start");
    if (start) start.remove();
    systemLine("Marugoto を友だち追加しました");
    send({ kind: "follow" });
  }

  document.getElementById("composer").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    quick.textContent = "";
    userBubble(text);
    send({ kind: "text", text: text });
  });

  more.addEventListener("click", function () {
    tools.hidden = !tools.hidden;
    more.setAttribute("aria-expanded", String(!tools.hidden));
  });

  Array.prototype.forEach.call(tools.querySelectorAll("button[data-kind]"), function (button) {
    button.addEventListener("click", function () {
      var kind = button.dataset.kind;
      tools.hidden = true;
      if (kind === "follow") return follow();
      var labels = { unfollow: "ブロックしました", sticker: "（スタンプ）", image: "（写真）", location: "（位置情報）" };
      if (kind === "unfollow") systemLine(labels[kind]); else userBubble(labels[kind]);
      send({ kind: kind });
    });
  });

  document.getElementById("reset").addEventListener("click", function () {
    localStorage.removeItem(KEY);
    userId = newUser();
    lastSeq = 0;
    chat.textContent = "";
    quick.textContent = "";
    tools.hidden = true;
    startButton();
  });

  startButton();
  poll();
  setInterval(poll, 700);
})();
