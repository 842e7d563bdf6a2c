// Shared core of Atrium's browser UI: the API client, DOM helpers, formatting and the router.
// Plain DOM and fetch against /api/v1, no framework and no build step; no inline script (the
// CSP forbids it). The session is an httpOnly cookie shared by every tab (docs/notifications.md);
// the access token lives in this tab's memory only. All user-provided text is set with
// textContent (h() never parses HTML), so nothing a user types can become markup.
// Pages register themselves with Atrium.route(); app.js starts the router.
"use strict";

const Atrium = (() => {
  // Session (docs/notifications.md): the refresh token is an httpOnly cookie (path
  // /api/v1/auth) that the server sets for requests with the CSRF header; this tab keeps only
  // the short-lived access token and the user, in memory. A new tab gets its own from
  // /auth/refresh. Sign-ins and sign-outs are broadcast to the other tabs.
  let tokens = null;
  const store = {
    get tokens() { return tokens; },
    set tokens(t) { tokens = t ? Object.assign({}, t, { refresh_token: undefined }) : null; },
  };
  const CSRF = { "X-Atrium-CSRF": "1" };
  const tabs = "BroadcastChannel" in window ? new BroadcastChannel("atrium.session") : null;
  const hasSession = () => /(?:^|;\s*)atrium_session=1/.test(document.cookie);

  // ApiError carries the API's stable error code, field problems and details (e.g. the
  // shortfall of a 402).
  class ApiError extends Error {
    constructor(status, body, fallback) {
      const e = (body && body.error) || {};
      super(e.message || fallback || "request failed (" + status + ")");
      this.status = status;
      this.code = e.code || "";
      this.fields = e.fields || {};
      this.details = e.details || {};
    }
  }

  let refreshing = null; // one refresh at a time per tab, and across tabs (Web Locks): each rotates the shared cookie

  async function refresh() {
    if (!hasSession()) {
      store.tokens = null;
      return false;
    }
    if (!refreshing) {
      const run = async () => {
        try {
          const res = await fetch("/api/v1/auth/refresh", { method: "POST", headers: CSRF, credentials: "same-origin" });
          if (!res.ok) throw new Error("refresh refused");
          store.tokens = await res.json();
          return true;
        } catch (_) {
          store.tokens = null;
          renderNav();
          return false;
        }
      };
      refreshing = (navigator.locks ? navigator.locks.request("atrium.refresh", run) : run())
        .finally(() => { refreshing = null; });
    }
    return refreshing;
  }

  // signedIn keeps a login's tokens and tells the other tabs (anonymous ones refresh).
  function signedIn(t) {
    store.tokens = t;
    if (tabs) tabs.postMessage("login");
  }

  // call sends one API request. opts: {headers, raw (return the Response)}. A 401 with a
  // session refreshes the tokens once and retries.
  async function call(method, path, body, opts = {}, retried = false) {
    const headers = Object.assign({}, CSRF, opts.headers || {});
    const t = store.tokens;
    if (t) headers.Authorization = "Bearer " + t.access_token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) {
      throw new ApiError(0, null, "cannot reach the server; check your connection");
    }
    if (res.status === 401 && t && !retried && !path.startsWith("/auth/")) {
      if (await refresh()) return call(method, path, body, opts, true);
    }
    if (opts.raw && res.ok) return res;
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  // idempotencyKey is a fresh key per user intent (one click), so a retried request repeats
  // the first result instead of paying twice.
  function idempotencyKey() {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  // h builds an element. attrs: properties and attributes; "class", "for", "aria-*", "data-*"
  // and "role" become attributes, "on" maps event names to handlers, everything else is set as
  // a property (so text never goes through HTML parsing). Children: nodes, strings (text),
  // arrays; null/false/undefined are skipped.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (k === "class") el.className = v;
      else if (k === "for" || k === "role" || k.startsWith("aria-") || k.startsWith("data-") || k === "autocomplete" ||
        k === "inputmode" || k === "list" || k === "form") el.setAttribute(k, v === true ? "" : String(v));
      else el[k] = v;
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // Stroke icons (24x24, currentColor), drawn as SVG elements so they need no font or markup.
  const ICONS = {
    mic: ["M9 6a3 3 0 0 1 6 0v5a3 3 0 0 1-6 0z", "M5 11a7 7 0 0 0 14 0", "M12 18v3"],
    "mic-off": ["M9 6a3 3 0 0 1 6 0v5a3 3 0 0 1-6 0z", "M5 11a7 7 0 0 0 14 0", "M12 18v3", "M4 4l16 16"],
    cam: ["M3 9a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z", "M15 10l6-3v10l-6-3z"],
    "cam-off": ["M3 9a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z", "M15 10l6-3v10l-6-3z", "M3 4l16 16"],
    screen: ["M3 6a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z", "M8 20h8", "M12 16v4"],
    hand: ["M8 13V6a1.5 1.5 0 0 1 3 0v5", "M11 11V4.5a1.5 1.5 0 0 1 3 0V11", "M14 11V6a1.5 1.5 0 0 1 3 0v7a6 6 0 0 1-6 6h-1a5 5 0 0 1-4-2l-3-4a1.5 1.5 0 0 1 2.3-1.9L8 13"],
    sound: ["M4 9h4l5-4v14l-5-4H4z", "M16 9a4 4 0 0 1 0 6", "M18.5 6.5a7.5 7.5 0 0 1 0 11"],
    leave: ["M10 17l-5-5 5-5", "M5 12h11", "M14 4h4a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-4"],
  };
  function icon(name) {
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "icon");
    svg.setAttribute("aria-hidden", "true");
    for (const d of ICONS[name] || []) {
      const p = document.createElementNS(NS, "path");
      p.setAttribute("d", d);
      svg.append(p);
    }
    return svg;
  }

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  const fmtDate = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const fmtDay = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", year: "numeric" });
  const when = (iso) => (iso ? fmtDate.format(new Date(iso)) : "—");
  const day = (iso) => (iso ? fmtDay.format(new Date(iso)) : "—");
  const credits = (n) => (n === 1 || n === -1 ? n + " credit" : n + " credits");
  const money = (cents, cur) => new Intl.NumberFormat(undefined, { style: "currency", currency: (cur || "usd").toUpperCase() }).format(cents / 100);

  // field renders a labelled input; opts are h() attributes of the input (name, type...).
  function field(label, opts, hint) {
    const id = "f-" + (opts.name || Math.random().toString(36).slice(2));
    let input;
    if (opts.type === "select") {
      const { options, ...rest } = opts;
      input = h("select", Object.assign({ id }, rest, { type: undefined }),
        options.map(([v, t]) => h("option", { value: v, selected: String(opts.value) === String(v) }, t)));
    } else if (opts.type === "textarea") {
      input = h("textarea", Object.assign({ id, rows: 4 }, opts, { type: undefined }));
    } else {
      input = h("input", Object.assign({ id }, opts));
    }
    const err = h("span", { class: "field-error", id: id + "-err", "aria-live": "polite" });
    input.setAttribute("aria-describedby", id + "-err");
    if (opts.type === "checkbox") return h("label", { class: "check", for: id }, input, " ", label, err);
    return h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("small", { class: "hint" }, hint) : null, err);
  }

  // showErrors puts an ApiError's message in box and its field problems next to the inputs
  // of form (matched by name).
  function showErrors(form, box, err) {
    for (const s of $$(".field-error", form)) s.textContent = "";
    for (const i of $$("[aria-invalid]", form)) i.removeAttribute("aria-invalid");
    let first = null;
    for (const [name, msg] of Object.entries((err && err.fields) || {})) {
      const input = form.elements[name];
      if (!input) continue;
      input.setAttribute("aria-invalid", "true");
      const s = document.getElementById(input.id + "-err");
      if (s) s.textContent = msg;
      first = first || input;
    }
    if (box) box.textContent = err ? err.message : "";
    if (first) first.focus();
  }

  // busy disables a button while fn runs (no double submissions) and returns fn's result.
  async function busy(button, fn) {
    if (button.disabled) return undefined;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      return await fn();
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  let toastTimer = null;
  function toast(text, kind) {
    const t = $("#toast");
    t.textContent = text;
    t.className = "toast show " + (kind || "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = "toast"; }, 5000);
  }

  // ---- router ----
  const routes = [];
  let cleanup = null; // the current page's teardown (the classroom disconnects)

  // route registers a page: pattern (RegExp against the hash path), render(params, query,
  // {mount, current}), opts.role: "any" (signed in) or a role name, or undefined (public).
  function route(pattern, render, opts = {}) {
    routes.push({ pattern, render, role: opts.role, title: opts.title });
  }

  function user() {
    const t = store.tokens;
    return t ? t.user : null;
  }

  // mount replaces the page content, focuses its heading for screen readers and keyboard
  // users, and sets the document title.
  function mount(...nodes) {
    const view = $("#view");
    view.replaceChildren(...nodes.flat());
    const h1 = $("h1", view);
    if (h1) {
      h1.tabIndex = -1;
      document.title = h1.textContent + " · Atrium";
      h1.focus({ preventScroll: true });
    }
    return view;
  }

  function onLeave(fn) { cleanup = fn; }

  // dispatch renders the page of the current hash. Renders are async (they fetch first), so
  // each gets its own mount, which does nothing once a newer navigation has started: a slow
  // page can never paint over the page the user went to next. current() tells a render
  // whether it is still the page on screen (the classroom checks it before connecting).
  let navSeq = 0;
  async function dispatch() {
    const seq = ++navSeq;
    const ctx = {
      current: () => seq === navSeq,
      mount: (...nodes) => (seq === navSeq ? mount(...nodes) : $("#view")),
    };
    if (cleanup) {
      const c = cleanup;
      cleanup = null;
      try { await c(); } catch (_) { /* leaving anyway */ }
    }
    if (!ctx.current()) return;
    renderNav();
    const raw = (location.hash || "#/").slice(1);
    const [path, qs] = raw.split("?");
    const query = new URLSearchParams(qs || "");
    for (const r of routes) {
      const m = path.match(r.pattern);
      if (!m) continue;
      const u = user();
      if (r.role && !u) {
        location.hash = "#/login?next=" + encodeURIComponent(raw);
        return;
      }
      if (r.role && r.role !== "any" && u.role !== r.role) {
        ctx.mount(h("section", { class: "card narrow" }, h("h1", {}, "Not for your account"),
          h("p", {}, "This page is for " + r.role + "s."), h("a", { href: "#/" }, "Back to classes")));
        return;
      }
      try {
        await r.render(m.slice(1).map(decodeURIComponent), query, ctx);
      } catch (e) {
        ctx.mount(h("section", { class: "card narrow" }, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message)));
      }
      return;
    }
    ctx.mount(h("section", { class: "card narrow" }, h("h1", {}, "Page not found"), h("a", { href: "#/" }, "Back to classes")));
  }

  // fromEmailLink maps the paths the server puts in emails and redirects (/verify-email?token=,
  // /reset-password?token=, /classes/ID, /wallet?purchase=) to hash routes.
  function fromEmailLink() {
    const p = location.pathname;
    const q = location.search;
    let hash = null;
    if (p === "/verify-email") hash = "#/verify" + q;
    else if (p === "/reset-password") hash = "#/reset" + q;
    else if (p.startsWith("/classes/")) hash = "#/class/" + p.slice("/classes/".length);
    else if (p === "/wallet") hash = "#/wallet" + q;
    else if (p === "/bookings") hash = "#/bookings";
    else if (p === "/login" || p === "/register") hash = "#" + p;
    if (hash) history.replaceState(null, "", "/" + hash);
  }

  function renderNav() {
    const u = user();
    $("#who").textContent = u ? u.name + " (" + u.role + ")" : "";
    $("#login-link").hidden = !!u;
    $("#register-link").hidden = !!u;
    $("#logout").hidden = !u;
    for (const a of $$("[data-role]", $("#nav"))) {
      const need = a.dataset.role;
      a.hidden = !u || (need !== "any" && u.role !== need);
    }
    const cur = "#" + ((location.hash || "#/").slice(1).split("?")[0]);
    for (const a of $$("#nav a")) {
      if (a.getAttribute("href") === cur) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  async function logout() {
    try { await call("POST", "/auth/logout"); } catch (_) { /* signed out anyway */ }
    store.tokens = null;
    if (tabs) tabs.postMessage("logout");
    location.hash = "#/";
    dispatch();
  }

  // start signs this tab in from the shared session cookie (a new tab, an email link), then
  // renders; other tabs' sign-ins and sign-outs are followed as they happen.
  async function start() {
    fromEmailLink();
    if (tabs) {
      tabs.onmessage = async (ev) => {
        if (ev.data === "logout" && store.tokens) {
          store.tokens = null;
          location.hash = "#/";
          dispatch();
        } else if (ev.data === "login" && !store.tokens && await refresh()) {
          dispatch();
        }
      };
    }
    await refresh();
    $("#logout").addEventListener("click", logout);
    $("#menu-toggle").addEventListener("click", () => {
      const nav = $("#nav");
      const open = nav.classList.toggle("open");
      $("#menu-toggle").setAttribute("aria-expanded", String(open));
    });
    window.addEventListener("hashchange", () => { $("#nav").classList.remove("open"); dispatch(); });
    dispatch();
  }

  return { store, call, refresh, signedIn, ApiError, idempotencyKey, h, icon, append, $, $$, when, day, credits, money, field, showErrors, busy,
    toast, route, onLeave, user, renderNav, start, dispatch };
})();
