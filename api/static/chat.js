/* Qualibot chat: the panel the loader (widget.js) mounts in its shadow root when the visitor
   first opens the launcher. Every text is rendered with textContent, never as markup. An answer
   is sent with the question id and version it was given for and an idempotency key; when the
   network drops it is retried with the same key until it arrives (never lost, never doubled),
   also after a reload. */
(function () {
  "use strict";
  var hook = window.__qualibotMount;
  if (!hook) return;

  var TEXTS = {
    ru: {
      title: "Чат с нами", hello: "Ответим сразу", step: "Вопрос {n} из {t}", thanks: "Спасибо!",
      close: "Закрыть чат", send: "Отправить", answer: "Ваш ответ", placeholder: "Напишите ответ…",
      done: "Готово", log: "Сообщения", area: "Разговор", choices: "Варианты ответа", progress: "Ход разговора",
      offline: "Нет связи. Переподключаемся…", typing: "Печатает…", restart: "Начать заново",
      fresh: "Начать новый разговор", lost: "Этот разговор больше недоступен.",
      unavailable: "Чат сейчас недоступен. Попробуйте позже.", telegram: "Продолжить в Telegram",
      telegramOpen: "Открыть Telegram", sending: "отправляется", tooLong: "Слишком длинное сообщение."
    },
    en: {
      title: "Chat with us", hello: "We reply at once", step: "Question {n} of {t}", thanks: "Thank you!",
      close: "Close the chat", send: "Send", answer: "Your answer", placeholder: "Type your answer…",
      done: "Done", log: "Messages", area: "Conversation", choices: "Answer options", progress: "Progress",
      offline: "Connection lost. Reconnecting…", typing: "Typing…", restart: "Start over",
      fresh: "Start a new conversation", lost: "This conversation is no longer available.",
      unavailable: "The chat is unavailable right now. Please try again later.", telegram: "Continue in Telegram",
      telegramOpen: "Open Telegram", sending: "sending", tooLong: "This message is too long."
    }
  };

  // Input field per question kind: [type, inputmode, autocomplete].
  var INPUTS = {
    text: ["text", "text", "off"], name: ["text", "text", "name"], email: ["email", "email", "email"],
    tel: ["tel", "tel", "tel"], number: ["text", "decimal", "off"], money: ["text", "text", "off"],
    date: ["text", "text", "off"]
  };

  var ICONS = {
    close: "M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z",
    send: "M3 20.5 21 12 3 3.5v6.6l12 1.9-12 1.9z",
    bot: "M12 2a2 2 0 0 1 2 2c0 .7-.4 1.4-1 1.7V7h4a3 3 0 0 1 3 3v7a3 3 0 0 1-3 3H7a3 3 0 0 1-3-3v-7a3 3 0 0 1 3-3h4V5.7A2 2 0 0 1 12 2zM9 11.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm6 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z",
    telegram: "M21.9 4.3 18.8 19c-.2 1-.8 1.3-1.7.8l-4.6-3.4-2.2 2.1c-.3.3-.5.5-1 .5l.3-4.7 8.6-7.8c.4-.3-.1-.5-.6-.2L7 13 2.4 11.6c-1-.3-1-1 .2-1.5l18-6.9c.8-.3 1.6.2 1.3 1.1z"
  };

  var CSS =
    ".panel{position:fixed;bottom:88px;right:20px;width:380px;max-width:calc(100vw - 40px);" +
    "height:min(620px,calc(100vh - 110px));height:min(620px,calc(100dvh - 110px));display:flex;flex-direction:column;" +
    "background:var(--qualibot-bg,#fff);color:var(--qualibot-text,#0f172a);border-radius:var(--qualibot-radius,16px);" +
    "box-shadow:0 12px 48px rgba(15,23,42,.28);overflow:hidden;font:inherit}" +
    ":host([data-side=left]) .panel{right:auto;left:20px}.panel[hidden]{display:none}" +
    ".head{display:flex;align-items:center;gap:12px;padding:14px 12px 14px 16px;" +
    "background:var(--qualibot-accent,#1d4ed8);color:var(--qualibot-accent-text,#fff)}" +
    ".avatar{width:40px;height:40px;border-radius:50%;flex:none;object-fit:cover;display:grid;place-items:center;" +
    "background:rgba(255,255,255,.18)}" +
    ".avatar svg{width:24px;height:24px;fill:currentColor}" +
    ".titles{flex:1;min-width:0}" +
    ".titles h2{margin:0;font-size:16px;font-weight:600;line-height:1.25;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}" +
    ".titles p{margin:2px 0 0;font-size:13px;line-height:1.3}" +
    ".icon{width:40px;height:40px;border:0;border-radius:50%;background:transparent;color:inherit;cursor:pointer;" +
    "display:grid;place-items:center;flex:none}" +
    ".icon:hover{background:rgba(255,255,255,.16)}" +
    ".icon svg{width:22px;height:22px;fill:currentColor}" +
    "button:focus-visible,input:focus-visible,.scroll:focus-visible{outline:2px solid var(--qualibot-focus,var(--qualibot-accent,#1d4ed8));" +
    "outline-offset:2px}" +
    ".head button:focus-visible{outline-color:var(--qualibot-accent-text,#fff)}.scroll:focus-visible{outline-offset:-2px}" +
    ".bar{height:4px;background:#e2e8f0;flex:none}" +
    ".bar span{display:block;height:100%;background:var(--qualibot-accent,#1d4ed8);transform-origin:0 50%;" +
    "transform:scaleX(0);transition:transform .3s}" +
    ".status{flex:none;font-size:13px;padding:6px 16px;background:#fef3c7;color:#78350f}" +
    ".status:empty{display:none}" +
    ".scroll{flex:1;overflow-y:auto;overscroll-behavior:contain;position:relative;display:flex;flex-direction:column}" +
    ".log{padding:16px 16px 10px;display:flex;flex-direction:column;gap:8px}" +
    ".msg{max-width:85%;padding:9px 13px;border-radius:16px;white-space:pre-line;overflow-wrap:anywhere;" +
    "unicode-bidi:isolate;margin:0;animation:qb-in .18s ease-out}" +
    ".bot{align-self:flex-start;background:var(--qualibot-bot-bg,#f1f5f9);border-bottom-left-radius:4px}" +
    ".me{align-self:flex-end;background:var(--qualibot-accent,#1d4ed8);color:var(--qualibot-accent-text,#fff);" +
    "border-bottom-right-radius:4px}" +
    ".me.pending{opacity:.72}" +
    ".sys{align-self:center;text-align:center;font-size:13px;color:#475569;max-width:100%}" +
    ".typing{align-self:flex-start;display:flex;gap:4px;padding:14px 14px;background:#f1f5f9;border-radius:16px}" +
    ".typing i{width:7px;height:7px;border-radius:50%;background:#64748b;animation:qb-dot 1s infinite}" +
    ".typing i:nth-child(2){animation-delay:.15s}.typing i:nth-child(3){animation-delay:.3s}" +
    ".choices{display:flex;flex-wrap:wrap;gap:8px;padding:0 16px 14px}" +
    ".choices:empty{display:none}" +
    ".choice{font:inherit;font-size:14px;line-height:1.3;min-height:38px;padding:7px 13px;border-radius:19px;cursor:pointer;" +
    "background:#fff;color:var(--qualibot-accent,#1d4ed8);border:1.5px solid currentColor;text-align:left}" +
    ".choice:hover{background:#eff6ff}" +
    ".choice[aria-pressed=true]{background:var(--qualibot-accent,#1d4ed8);color:var(--qualibot-accent-text,#fff);" +
    "border-color:var(--qualibot-accent,#1d4ed8)}" +
    ".choice.primary{background:var(--qualibot-accent,#1d4ed8);color:var(--qualibot-accent-text,#fff);" +
    "border-color:var(--qualibot-accent,#1d4ed8)}" +
    ".choice.quiet{color:#334155;border-color:#cbd5e1}" +
    ".choice:disabled{opacity:.5;cursor:default}" +
    ".composer{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e2e8f0;flex:none;margin:0}" +
    ".composer[hidden]{display:none}" +
    ".composer input{flex:1;min-width:0;font:inherit;font-size:16px;padding:10px 14px;border:1.5px solid #94a3b8;" +
    "border-radius:22px;background:#fff;color:#0f172a}" +
    ".composer input::placeholder{color:#64748b}" +
    ".composer .icon{background:var(--qualibot-accent,#1d4ed8);color:var(--qualibot-accent-text,#fff);width:44px;height:44px}" +
    ".composer .icon:disabled{opacity:.5}" +
    ".foot{flex:none;display:flex;justify-content:center;padding:0 12px 10px}" +
    ".foot:empty{display:none}" +
    ".tg{font:inherit;font-size:13px;display:inline-flex;align-items:center;gap:6px;padding:6px 12px;border-radius:16px;" +
    "border:0;background:#e0f2fe;color:#075985;cursor:pointer;text-decoration:none}" +
    ".tg svg{width:16px;height:16px;fill:currentColor}" +
    ".sr{position:absolute;width:1px;height:1px;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}" +
    "@keyframes qb-in{from{opacity:0;transform:translateY(4px)}}" +
    "@keyframes qb-dot{0%,60%,100%{opacity:.3}30%{opacity:1}}" +
    "@media (max-width:520px){.panel{left:0;right:0;bottom:auto;top:var(--qb-top,0);width:100%;max-width:none;" +
    "height:100vh;height:var(--qb-vh,100dvh);border-radius:0}:host(.open) .launcher{display:none}}" +
    "@media (prefers-reduced-motion:reduce){.msg,.typing i,.bar span{animation:none;transition:none}}";

  hook(function mount(ctx) {
    var cfg = ctx.cfg, root = ctx.root, host = ctx.host, launcher = ctx.launcher, el = ctx.el, store = ctx.store;
    var T = TEXTS[cfg.locale];
    ctx.styles(root, CSS);

    var panel = el("div", "panel", root);
    panel.id = "qb-panel";
    panel.hidden = true;
    panel.setAttribute("role", "dialog");
    panel.setAttribute("aria-labelledby", "qb-title");
    launcher.setAttribute("aria-controls", "qb-panel");

    var head = el("div", "head", panel);
    var avatar;
    if (/^https?:\/\//i.test(cfg.avatar)) {
      avatar = el("img", "avatar", head);
      avatar.alt = "";
      avatar.src = cfg.avatar;
    } else {
      avatar = el("span", "avatar", head);
      ctx.icon(ICONS.bot, avatar);
    }
    var titles = el("div", "titles", head);
    var title = el("h2", "", titles);
    title.id = "qb-title";
    title.textContent = cfg.title || T.title;
    var subtitle = el("p", "", titles);
    subtitle.textContent = T.hello;
    var closer = el("button", "icon", head);
    closer.type = "button";
    closer.setAttribute("aria-label", T.close);
    ctx.icon(ICONS.close, closer);

    var bar = el("div", "bar", panel);
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-label", T.progress);
    bar.setAttribute("aria-valuemin", "0");
    var fill = el("span", "", bar);
    var status = el("div", "status", panel);
    status.setAttribute("role", "status");
    // The history and the waiting question's options scroll together, so options never squeeze it.
    var scroll = el("div", "scroll", panel);
    scroll.setAttribute("role", "region");
    scroll.setAttribute("aria-label", T.area);
    scroll.tabIndex = 0;  // keyboard users scroll the history too
    var log = el("div", "log", scroll);
    log.setAttribute("role", "log");
    log.setAttribute("aria-live", "polite");
    log.setAttribute("aria-label", T.log);
    var choices = el("div", "choices", scroll);
    choices.setAttribute("role", "group");
    choices.setAttribute("aria-label", T.choices);
    var form = el("form", "composer", panel);
    form.noValidate = true;
    var label = el("label", "sr", form);
    label.htmlFor = "qb-input";
    label.textContent = T.answer;
    var input = el("input", "", form);
    input.id = "qb-input";
    var maxChars = 4000;
    input.maxLength = 2 * maxChars;  // in UTF-16 units; the limit in characters is checked on send
    input.setAttribute("enterkeyhint", "send");
    var sendButton = el("button", "icon", form);
    sendButton.type = "submit";
    sendButton.setAttribute("aria-label", T.send);
    ctx.icon(ICONS.send, sendButton);
    var foot = el("div", "foot", panel);

    var conv = { id: null, token: null, version: null, question: null, reply: null, done: false, handover: [] };
    var busy = false;
    var started = null;
    var typingEl = null;
    var wake = null;
    var picked = [];  // the options chosen so far of a multi-choice question
    var multiDone = null;  // its "done" button

    // ------------------------------------------------------------------ storage

    function save(patch) {
      var saved = store.get() || {};
      for (var k in patch) saved[k] = patch[k];
      store.set(saved);
    }

    function randomId() {
      if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }

    function visitor() {
      var id = store.get(ctx.visitorKey);
      if (typeof id !== "string" || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
        id = randomId().replace(/-/g, "");
        store.set(id, ctx.visitorKey);
      }
      return id;
    }

    // ------------------------------------------------------------------ network

    function request(method, path, body, key) {
      var headers = { "Accept": "application/json" };
      if (body) headers["Content-Type"] = "application/json";
      if (conv.token) headers.Authorization = "Bearer " + conv.token;
      if (key) headers["Idempotency-Key"] = key;
      var abort = new AbortController();
      var timer = setTimeout(function () { abort.abort(); }, 15000);
      return fetch(cfg.base + "/v1/conversations" + path, {
        method: method, headers: headers, body: body ? JSON.stringify(body) : undefined,
        mode: "cors", credentials: "omit", signal: abort.signal
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (json) {
          return { status: r.status, json: json, retryAfter: Number(r.headers.get("Retry-After")) || 0 };
        });
      }).finally(function () { clearTimeout(timer); });
    }

    // Resolves with the first answer that is not worth retrying; network failures, timeouts, 5xx,
    // 409 and 429 are retried with the same idempotency key, sooner when the browser is online again.
    function reliable(method, path, body, key) {
      var attempt = 0;
      return new Promise(function (resolve) {
        function go() {
          wake = null;
          request(method, path, body, key).then(function (res) {
            if (res.status >= 500 || res.status === 409 || res.status === 429 || res.status === 408) {
              retry(res.status === 429 ? res.retryAfter * 1000 : 0, res.status !== 409);
            } else {
              status.textContent = "";
              resolve(res);
            }
          }, function () { retry(0, true); });
        }
        function retry(wait, show) {
          attempt += 1;
          if (show) status.textContent = T.offline;
          var timer = setTimeout(go, wait || Math.min(15000, 400 * Math.pow(2, attempt)));
          wake = function () { clearTimeout(timer); go(); };
        }
        go();
      });
    }

    window.addEventListener("online", function () { if (wake) wake(); });

    // ------------------------------------------------------------------ rendering

    function scrollDown() { scroll.scrollTop = scroll.scrollHeight; }

    // After a turn: to the bottom, unless that would hide the start of the question just asked.
    function reveal() {
      var asked = log.querySelectorAll(".bot");
      var last = asked.length ? asked[asked.length - 1] : null;
      var bottom = scroll.scrollHeight - scroll.clientHeight;
      scroll.scrollTop = last ? Math.min(bottom, Math.max(0, last.offsetTop - 12)) : bottom;
    }

    function line(cls, text) {
      var p = el("p", "msg " + cls);
      p.dir = "auto";
      p.textContent = text;
      if (typingEl && typingEl.parentNode === log) log.insertBefore(p, typingEl);
      else log.appendChild(p);
      scrollDown();
      return p;
    }

    function typing(on) {
      if (on && !typingEl) {
        typingEl = el("div", "typing", log);
        typingEl.setAttribute("aria-hidden", "true");
        el("i", "", typingEl); el("i", "", typingEl); el("i", "", typingEl);
        scrollDown();
      } else if (!on && typingEl) {
        typingEl.remove();
        typingEl = null;
      }
    }

    function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

    function focusInside() {
      var active = document.activeElement;
      return !panel.hidden && (active === host || active === document.body || !active);
    }

    // Where the focus goes once the bot has answered: the answer field, else the first option;
    // never a "start over" button, and on touch screens nowhere (no keyboard popping up unasked).
    function focusNext() {
      if (!focusInside()) return;
      var coarse = window.matchMedia && matchMedia("(pointer: coarse)").matches;
      var first = choices.querySelector("button:not(:disabled)");
      if (coarse || conv.done) scroll.focus({ preventScroll: true });
      else if (!form.hidden && !input.disabled) input.focus({ preventScroll: true });
      else if (first) first.focus({ preventScroll: true });
      else scroll.focus({ preventScroll: true });
    }

    function button(text, cls, onClick) {
      var b = el("button", "choice" + (cls ? " " + cls : ""), choices);
      b.type = "button";
      b.textContent = text;
      b.addEventListener("click", onClick);
      return b;
    }

    function setBusy(on) {
      busy = on;
      input.disabled = on;
      sendButton.disabled = on;
      Array.prototype.forEach.call(choices.querySelectorAll("button"), function (b) {
        b.disabled = on || (b === multiDone && !picked.length);
      });
    }

    function showProgress(state) {
      var p = state.progress || { answered: 0, total: 0 };
      var total = Math.max(p.total, p.answered, 1);
      fill.style.transform = "scaleX(" + (conv.done ? 1 : p.answered / total) + ")";
      bar.setAttribute("aria-valuemax", String(total));
      bar.setAttribute("aria-valuenow", String(conv.done ? total : p.answered));
      subtitle.textContent = conv.done ? T.thanks
        : p.total ? T.step.replace("{n}", Math.min(p.answered + 1, total)).replace("{t}", total) : T.hello;
    }

    // The waiting question's buttons and input field (the reply that asks it is the last one).
    function compose(reply) {
      clear(choices);
      var kind = reply && reply.input ? reply.input.kind : "none";
      if (conv.done) {
        form.hidden = true;
        button(T.restart, "quiet", function () { answer({ choice: "cmd:restart" }, T.restart); });
        return;
      }
      multiDone = null;
      picked = [];
      if (reply && reply.buttons && reply.buttons.length) {
        reply.buttons.forEach(function (b) {
          var cmd = b.id.indexOf("cmd:") === 0;
          var node = button(b.label, cmd ? "quiet" : "", function () {
            if (!reply.multi || cmd) {
              answer({ choice: b.id }, b.label);
              return;
            }
            var at = picked.indexOf(b);
            if (at < 0) picked.push(b); else picked.splice(at, 1);
            node.setAttribute("aria-pressed", at < 0 ? "true" : "false");
            multiDone.disabled = !picked.length;
          });
          if (reply.multi && !cmd) node.setAttribute("aria-pressed", "false");
        });
        if (reply.multi) {
          multiDone = button(T.done, "primary", function () {
            answer({ choice: picked.map(function (b) { return b.id; }) },
              picked.map(function (b) { return b.label; }).join(", "));
          });
          multiDone.disabled = true;
        }
      }
      var spec = INPUTS[kind];
      form.hidden = !spec;
      if (spec) {
        input.type = spec[0];
        input.inputMode = spec[1];
        input.autocomplete = spec[2];
        input.autocapitalize = kind === "name" ? "words" : kind === "email" ? "off" : "sentences";
        input.spellcheck = kind === "text";
        input.placeholder = (reply && reply.input.placeholder) || T.placeholder;
      }
    }

    function adopt(turn) {
      conv.done = !!turn.done;
      conv.question = turn.state ? turn.state.question_id : null;
      conv.version = turn.state ? turn.state.version : null;
      if (turn.handover) conv.handover = turn.handover;
      if (turn.limits && turn.limits.message_chars) maxChars = turn.limits.message_chars;
      showProgress(turn.state || {});
      showHandover();
      var replies = turn.replies || [];
      conv.reply = replies.length ? replies[replies.length - 1] : null;
      compose(conv.reply);
    }

    function showReplies(turn) {
      (turn.replies || []).forEach(function (r) { line("bot", r.text); });
      adopt(turn);
      setBusy(false);
      reveal();
      focusNext();
    }

    function system(text, actionText, action) {
      line("sys", text);
      clear(choices);
      form.hidden = true;
      if (actionText) button(actionText, "primary", action);
      setBusy(false);
      focusNext();
    }

    function showHandover() {
      clear(foot);
      if (conv.handover.indexOf("telegram") < 0 || !conv.id) return;
      var tg = el("button", "tg", foot);
      tg.type = "button";
      ctx.icon(ICONS.telegram, tg);
      el("span", "", tg).textContent = T.telegram;
      tg.addEventListener("click", function () {
        tg.disabled = true;
        request("POST", "/" + conv.id + "/handover/telegram", {}, null).then(function (res) {
          tg.disabled = false;
          if (res.status !== 200 || !/^https:\/\/t\.me\//.test(res.json.url || "")) return;
          if (!window.open(res.json.url, "_blank", "noopener")) {
            clear(foot);
            var a = el("a", "tg", foot);
            a.href = res.json.url;
            a.target = "_blank";
            a.rel = "noopener";
            ctx.icon(ICONS.telegram, a);
            el("span", "", a).textContent = T.telegramOpen;
          }
        }, function () { tg.disabled = false; });
      });
    }

    // ------------------------------------------------------------------ conversation

    function lost() {
      store.clear();
      conv = { id: null, token: null, version: null, question: null, reply: null, done: false, handover: [] };
      system(T.lost, T.fresh, function () { clear(log); started = begin(); });
    }

    function begin() {
      setBusy(true);
      typing(true);
      var params = new URLSearchParams(location.search);
      var utm = {};
      ["source", "medium", "campaign", "term", "content"].forEach(function (k) {
        var v = params.get("utm_" + k);
        if (v) utm[k] = v.slice(0, 200);
      });
      var body = {
        flow: cfg.flow, locale: cfg.locale,
        context: { page_url: location.href.slice(0, 2048), referrer: document.referrer.slice(0, 2048), utm: utm, visitor_id: visitor() }
      };
      return reliable("POST", "", body, randomId()).then(function (res) {
        typing(false);
        if (res.status !== 201) {
          system(T.unavailable);
          started = null;
          return;
        }
        conv.id = res.json.conversation_id;
        conv.token = res.json.token;
        save({ id: conv.id, token: conv.token, open: true, page: location.href, seen: Date.now(), pending: null });
        showReplies(res.json);
      });
    }

    function resume(saved) {
      conv.id = saved.id;
      conv.token = saved.token;
      setBusy(true);
      typing(true);
      var pending = saved.pending;
      var before = pending && pending.key
        ? reliable("POST", "/" + conv.id + "/messages", pending.body, pending.key)
        : Promise.resolve(null);
      return before.then(function () {
        return reliable("GET", "/" + conv.id, null, null);
      }).then(function (res) {
        typing(false);
        save({ pending: null });
        if (res.status === 401 || res.status === 404) {
          store.clear();
          conv.token = null;
          return begin();
        }
        if (res.status !== 200) return system(T.unavailable);
        (res.json.messages || []).forEach(function (m) { line(m.sender === "visitor" ? "me" : "bot", m.text); });
        adopt(res.json);
        setBusy(false);
        reveal();
        focusNext();
      });
    }

    function answer(body, shown) {
      if (busy || !conv.id) return;
      body.question_id = conv.question || undefined;
      body.version = conv.version === null ? undefined : conv.version;
      var key = randomId();
      save({ pending: { body: body, key: key } });
      var mine = line("me pending", shown);
      var note = el("span", "sr", mine);
      note.textContent = " (" + T.sending + ")";
      clear(choices);
      setBusy(true);
      typing(true);
      var restore = input.value;
      input.value = "";
      reliable("POST", "/" + conv.id + "/messages", body, key).then(function (res) {
        typing(false);
        save({ pending: null });
        mine.classList.remove("pending");
        note.remove();
        if (res.status === 200) return showReplies(res.json);
        if (res.status === 401 || res.status === 404) return lost();
        mine.remove();
        line("sys", res.json.error === "message_too_long" ? T.tooLong : T.unavailable);
        input.value = restore;
        compose(conv.reply);
        setBusy(false);
        focusNext();
      });
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = input.value.trim();
      if (!text || busy) return;
      if (Array.from(input.value).length > maxChars) {
        line("sys", T.tooLong);
        return;
      }
      answer({ text: input.value }, text);
    });

    choices.addEventListener("keydown", function (e) {
      var keys = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
      if (!keys[e.key]) return;
      var all = Array.prototype.slice.call(choices.querySelectorAll("button:not(:disabled)"));
      var at = all.indexOf(root.activeElement);
      if (at < 0) return;
      e.preventDefault();
      all[(at + keys[e.key] + all.length) % all.length].focus();
    });

    panel.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { e.stopPropagation(); close(); }
    });
    closer.addEventListener("click", function () { close(); });

    // On phones the panel fills the visual viewport, so the on-screen keyboard never covers the input.
    function fit() {
      var vv = window.visualViewport;
      if (!vv) return;
      host.style.setProperty("--qb-vh", vv.height + "px");
      host.style.setProperty("--qb-top", vv.offsetTop + "px");
      if (!panel.hidden) reveal();
    }
    if (window.visualViewport) {
      visualViewport.addEventListener("resize", fit);
      visualViewport.addEventListener("scroll", fit);
    }

    // ``quietly``: reopened on a new page of the site, without taking the focus from the page.
    function open(quietly) {
      if (!panel.hidden) return;
      fit();
      panel.hidden = false;
      host.classList.add("open");
      launcher.setAttribute("aria-expanded", "true");
      launcher.setAttribute("aria-label", ctx.labels[1]);
      if (!started) {
        var saved = store.get();
        started = saved && saved.id && saved.token ? resume(saved) : begin();
      } else {
        save({ open: true });
      }
      reveal();
      if (quietly) return;
      scroll.focus({ preventScroll: true });
      if (!busy) focusNext();
    }

    function close() {
      if (panel.hidden) return;
      panel.hidden = true;
      host.classList.remove("open");
      launcher.setAttribute("aria-expanded", "false");
      launcher.setAttribute("aria-label", ctx.labels[0]);
      if (conv.id) save({ open: false });
      launcher.focus();
    }

    return { open: open, close: close, toggle: function () { if (panel.hidden) open(false); else close(); } };
  });
})();
