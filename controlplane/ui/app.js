// Atrium's minimal browser UI: sign in, discover classes, open a class and get its join token.
// Plain DOM and fetch against /api/v1; no inline script (the CSP forbids it). Tokens live in
// sessionStorage for this tab only. All user-provided text is set with textContent, never HTML.
"use strict";

const api = {
  get tokens() { return JSON.parse(sessionStorage.getItem("atrium.tokens") || "null"); },
  set tokens(t) { t ? sessionStorage.setItem("atrium.tokens", JSON.stringify(t)) : sessionStorage.removeItem("atrium.tokens"); },

  async call(method, path, body, retried) {
    const headers = {};
    const t = api.tokens;
    if (t) headers.Authorization = "Bearer " + t.access_token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch("/api/v1" + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401 && t && !retried && path !== "/auth/refresh") {
      if (await api.refresh()) return api.call(method, path, body, true);
    }
    const data = res.status === 204 ? {} : await res.json().catch(() => ({}));
    if (!res.ok) {
      const e = new Error((data.error && data.error.message) || res.statusText);
      e.code = data.error && data.error.code;
      e.fields = data.error && data.error.fields;
      throw e;
    }
    return data;
  },

  async refresh() {
    const t = api.tokens;
    if (!t) return false;
    try {
      api.tokens = await fetch("/api/v1/auth/refresh", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: t.refresh_token }) }).then(r => r.ok ? r.json() : Promise.reject(r));
      return true;
    } catch (_) {
      api.tokens = null;
      renderNav();
      return false;
    }
  },
};

const $ = (sel, root = document) => root.querySelector(sel);
const view = $("#view");
const fmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });

function mount(id) {
  view.replaceChildren($(id).content.cloneNode(true));
  return view;
}

function renderNav() {
  const t = api.tokens;
  $("#who").textContent = t ? t.user.name + " (" + t.user.role + ")" : "";
  $("#login-link").hidden = !!t;
  $("#logout").hidden = !t;
}

function showLogin() {
  mount("#tpl-login");
  const form = $("#login-form");
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const f = new FormData(form);
    const body = { email: f.get("email"), password: f.get("password") };
    if (f.get("totp")) body.totp = f.get("totp");
    try {
      api.tokens = await api.call("POST", "/auth/login", body);
      renderNav();
      location.hash = "#/";
    } catch (e) {
      if (e.code === "totp_required") $("#totp-row").hidden = false;
      $("#login-error").textContent = e.message;
    }
  });
}

function classCard(c) {
  const li = document.createElement("li");
  li.className = "card";
  const a = document.createElement("a");
  a.href = "#/class/" + encodeURIComponent(c.id);
  const h = document.createElement("h2");
  h.textContent = c.title;
  const who = document.createElement("p");
  who.className = "meta";
  who.textContent = c.teacher.name + (c.teacher.rating ? " · ★ " + c.teacher.rating.toFixed(1) : "") + " · " + fmt.format(new Date(c.starts_at));
  const tags = document.createElement("p");
  const tag = document.createElement("span");
  tag.className = "tag";
  tag.textContent = c.topic + " · " + c.tier;
  tags.append(tag, " " + c.price_credits + " credits · " + c.seats_left + " seats left");
  a.append(h, who, tags);
  li.append(a);
  return li;
}

function showDiscover() {
  mount("#tpl-discover");
  const form = $("#search"), list = $("#classes"), more = $("#more");
  let cursor = null;
  async function load(append) {
    const f = new FormData(form);
    const q = new URLSearchParams();
    for (const k of ["q", "topic", "tier", "sort"]) if (f.get(k)) q.set(k, f.get(k));
    q.set("limit", "12");
    if (append && cursor) q.set("cursor", cursor);
    try {
      const page = await api.call("GET", "/classes?" + q);
      if (!append) list.replaceChildren();
      page.items.forEach(c => list.append(classCard(c)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      $("#discover-error").textContent = page.items.length || append ? "" : "No classes match.";
    } catch (e) {
      $("#discover-error").textContent = e.message;
    }
  }
  form.addEventListener("submit", ev => { ev.preventDefault(); load(false); });
  more.addEventListener("click", () => load(true));
  load(false);
}

async function showClass(id) {
  mount("#tpl-class");
  try {
    const c = await api.call("GET", "/classes/" + encodeURIComponent(id));
    $("#c-title").textContent = c.title;
    $("#c-meta").textContent = c.teacher.name + " · " + fmt.format(new Date(c.starts_at)) + " – " +
      fmt.format(new Date(c.ends_at)) + " · " + c.tier + " · " + c.price_credits + " credits" + (c.status === "cancelled" ? " · CANCELLED" : "");
    $("#c-desc").textContent = c.description;
    $("#c-seats").textContent = c.seats_left + " of " + c.capacity + " seats left";
  } catch (e) {
    $("#c-title").textContent = "Class not found";
    $("#join").hidden = true;
    return;
  }
  $("#join").addEventListener("click", async () => {
    $("#join-error").textContent = "";
    if (!api.tokens) { location.hash = "#/login"; return; }
    try {
      const j = await api.call("POST", "/classes/" + encodeURIComponent(id) + "/join");
      $("#j-url").textContent = j.url;
      $("#j-exp").textContent = fmt.format(new Date(j.expires_at));
      $("#j-token").value = j.token;
      $("#join-result").hidden = false;
    } catch (e) {
      $("#join-error").textContent = e.message;
    }
  });
}

function route() {
  renderNav();
  const h = location.hash || "#/";
  if (h === "#/login") return showLogin();
  const m = h.match(/^#\/class\/([0-9a-f-]{36})$/);
  if (m) return showClass(m[1]);
  return showDiscover();
}

$("#logout").addEventListener("click", async () => {
  try { await api.call("POST", "/auth/logout"); } catch (_) { /* signed out anyway */ }
  api.tokens = null;
  location.hash = "#/";
  route();
});
window.addEventListener("hashchange", route);
route();
