/* Qualibot widget loader: the launcher button only. The chat itself (chat.js) is fetched when the
   visitor first hovers, focuses or opens the launcher. Nothing is stored and no request is made
   before the visitor opens the chat; once they have a conversation, each further page of the site
   they open is reported as a page view. Works under a strict Content-Security-Policy: styles are
   constructable stylesheets, the chat script gets this script's nonce. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.Qualibot) return;
  var CHAT = "__CHAT_FILE__";
  var base = new URL(script.src, location.href).origin;
  var data = script.dataset;
  var lang = (data.locale || document.documentElement.lang || navigator.language || "ru").slice(0, 2).toLowerCase();
  var cfg = {
    base: base,
    flow: data.flow || "bant",
    locale: lang === "en" ? "en" : "ru",
    title: data.title || "",
    avatar: data.avatar || "",
    color: data.color || "",
    position: data.position === "left" ? "left" : "right",
    nonce: script.nonce || ""
  };
  var KEY = "qualibot:" + cfg.flow + ":" + cfg.locale;
  var VISITOR = "qualibot:visitor";
  var LABELS = { ru: ["Открыть чат", "Закрыть чат"], en: ["Open the chat", "Close the chat"] }[cfg.locale];

  var store = {
    get: function (key) {
      try { return JSON.parse(localStorage.getItem(key || KEY) || "null"); } catch (e) { return null; }
    },
    set: function (value, key) {
      try { localStorage.setItem(key || KEY, JSON.stringify(value)); } catch (e) { /* storage off: memory only */ }
    },
    clear: function () {
      try { localStorage.removeItem(KEY); } catch (e) { /* nothing stored */ }
    }
  };

  function el(tag, cls, parent) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (parent) parent.appendChild(node);
    return node;
  }

  function icon(d, parent) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
    parent.appendChild(svg);
    return svg;
  }

  function styles(root, css) {
    if (root.adoptedStyleSheets && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = root.adoptedStyleSheets.concat([sheet]);
    } else {
      var style = el("style", "", root);
      if (cfg.nonce) style.nonce = cfg.nonce;
      style.textContent = css;
    }
  }

  // A readable text colour on the theme colour (data-color), by its luminance.
  function ink(hex) {
    var m = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(hex || "");
    if (!m) return "";
    var h = m[1].length === 3 ? m[1].replace(/./g, "$&$&") : m[1];
    var lum = [0, 2, 4].map(function (i) {
      var c = parseInt(h.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2] > 0.3 ? "#111827" : "#ffffff";
  }

  var host = el("div");
  host.setAttribute("data-qualibot", "");
  host.setAttribute("data-side", cfg.position);
  var root = host.attachShadow({ mode: "open" });
  if (cfg.color) {
    host.style.setProperty("--qualibot-accent", cfg.color);
    if (ink(cfg.color)) host.style.setProperty("--qualibot-accent-text", ink(cfg.color));
  }
  styles(root,
    ":host{all:initial;position:fixed;z-index:var(--qualibot-z,2147483000);bottom:20px;right:20px;" +
    "font:15px/1.4 var(--qualibot-font,system-ui,-apple-system,'Segoe UI',Roboto,sans-serif)}" +
    ":host([data-side=left]){right:auto;left:20px}" +
    ".launcher{width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;display:grid;place-items:center;" +
    "background:var(--qualibot-accent,#1d4ed8);color:var(--qualibot-accent-text,#fff);" +
    "box-shadow:0 6px 20px rgba(0,0,0,.25);transition:transform .15s}" +
    ".launcher:hover{transform:scale(1.06)}" +
    ".launcher:focus-visible{outline:3px solid var(--qualibot-accent,#1d4ed8);outline-offset:3px}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    "@media (prefers-reduced-motion:reduce){.launcher{transition:none}}"
  );
  var launcher = el("button", "launcher", root);
  launcher.type = "button";
  launcher.setAttribute("aria-label", LABELS[0]);
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-haspopup", "dialog");
  icon("M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2zm3 6v2h2v-2H7zm4 0v2h2v-2h-2zm4 0v2h2v-2h-2z", launcher);

  // Pages that enforce Trusted Types allow a policy named "qualibot" for the one script it loads.
  var trusted = null;
  try {
    if (window.trustedTypes) {
      trusted = trustedTypes.createPolicy("qualibot", { createScriptURL: function (u) {
        if (u.indexOf(base + "/widget/") !== 0) throw new TypeError("not a Qualibot script");
        return u;
      } });
    }
  } catch (e) { trusted = null; }

  var loading = null;
  var chat = null;
  function load() {
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        window.__qualibotMount = function (mount) {
          delete window.__qualibotMount;
          chat = mount({ cfg: cfg, host: host, root: root, launcher: launcher, labels: LABELS,
            store: store, visitorKey: VISITOR, el: el, icon: icon, styles: styles });
          resolve(chat);
        };
        var s = document.createElement("script");
        var url = base + "/widget/" + CHAT;
        s.src = trusted ? trusted.createScriptURL(url) : url;
        s.async = true;
        if (cfg.nonce) s.nonce = cfg.nonce;
        s.onerror = function () { loading = null; reject(new Error("chat script")); };
        document.head.appendChild(s);
      });
    }
    return loading;
  }
  function open() { return load().then(function (c) { c.open(); }); }
  launcher.addEventListener("pointerenter", function () { load().catch(function () {}); });
  launcher.addEventListener("focus", function () { load().catch(function () {}); });
  launcher.addEventListener("click", function () {
    load().then(function (c) { c.toggle(); }, function () { launcher.disabled = false; });
  });

  function post(path, body, token) {
    return fetch(base + "/v1/conversations/" + path, {
      method: "POST", keepalive: true, mode: "cors", credentials: "omit",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token,
        "Idempotency-Key": "ev-" + Math.random().toString(36).slice(2) + Date.now().toString(36) },
      body: JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 401 || r.status === 404) store.clear();
    }, function () { /* offline: this page view is not counted */ });
  }

  // A visitor who has a conversation: this page is a page view; the chat opens again if it was open.
  var saved = store.get();
  if (saved && saved.id && saved.token) {
    var here = location.href;
    var now = Date.now();
    var events = [];
    if (saved.seen && now - saved.seen > 30 * 60 * 1000) events.push({ name: "returned" });
    if (saved.page !== here) events.push({ name: "page_view", url: here.slice(0, 2048), title: document.title.slice(0, 300) });
    saved.page = here;
    saved.seen = now;
    store.set(saved);
    events.reduce(function (prev, ev) {
      return prev.then(function () { return post(saved.id + "/events", ev, saved.token); });
    }, Promise.resolve());
    if (saved.open) load().then(function (c) { c.open(true); }, function () {});
  }

  function track(name) {
    var s = store.get();
    if (s && s.id && s.token && /^[a-z][a-z0-9_]{0,47}$/.test(name)) post(s.id + "/events", { name: name }, s.token);
  }

  window.Qualibot = {
    open: open,
    close: function () { if (chat) chat.close(); },
    track: track
  };
  if (document.body) document.body.appendChild(host);
  else document.addEventListener("DOMContentLoaded", function () { document.body.appendChild(host); });
})();
