// Live notifications (docs/notifications.md): while signed in, the page reads the server-sent
// event stream /api/v1/me/notifications/stream with fetch (EventSource cannot send the
// access token), shows each new notice in its own corner (#live-notices, apart from the
// pages' toasts; "Dismiss" marks it read on the server) and re-broadcasts it as DOM events
// for the pages that list notices:
//   atrium:notification  (detail: the notification)
//   atrium:notifications-read  (detail: {ids, all})
// The stream resumes after the last id it saw, so nothing is lost across reconnects; a
// session_ended event (signed out elsewhere) signs this tab out.
"use strict";

(() => {
  const { store, refresh, call, h, dispatch } = Atrium;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const received = []; // {id, kind, title, at} of this page's notices (tests read it)
  let lastID = 0;
  let state = "closed";

  function setState(s) {
    state = s;
    document.documentElement.dataset.notifyStream = s;
  }

  function handle(event, data, id) {
    if (event === "notification") {
      if (id) lastID = Math.max(lastID, Number(id));
      received.push({ id: data.id, kind: data.kind, title: data.title, at: Date.now() });
      if (received.length > 100) received.shift();
      show(data);
      window.dispatchEvent(new CustomEvent("atrium:notification", { detail: data }));
    } else if (event === "read") {
      for (const el of Array.from(document.querySelectorAll("#live-notices [data-id]"))) {
        if (data.all || (data.ids || []).includes(Number(el.dataset.id))) el.remove();
      }
      window.dispatchEvent(new CustomEvent("atrium:notifications-read", { detail: data }));
    } else if (event === "session_ended") {
      store.tokens = null;
      location.hash = "#/";
      dispatch();
    }
  }

  // show puts a notice in the corner for 10 s, at most three at a time; Dismiss marks it read.
  function show(n) {
    let box = document.getElementById("live-notices");
    if (!box) {
      box = h("div", { id: "live-notices", role: "status", "aria-live": "polite" });
      document.body.append(box);
    }
    const item = h("div", { class: "live-notice", "data-id": n.id, "data-kind": n.kind },
      h("strong", { class: "notice-title" }, n.title), h("span", {}, n.body || ""),
      h("button", { class: "ghost", "aria-label": "Dismiss: " + n.title, on: { click: () => {
        item.remove();
        call("POST", "/me/notifications/" + encodeURIComponent(n.id) + "/read").catch(() => { /* stays unread */ });
      } } }, "Dismiss"));
    box.prepend(item);
    while (box.children.length > 3) box.lastChild.remove();
    setTimeout(() => item.remove(), 10000);
  }

  // parse splits a chunk of the stream into events (text/event-stream framing).
  function parse(buffer, emit) {
    let i;
    while ((i = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, i);
      buffer = buffer.slice(i + 2);
      let event = "message", data = "", id = "";
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const c = line.indexOf(":");
        const k = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? "" : line.slice(c + 1).replace(/^ /, "");
        if (k === "event") event = v;
        else if (k === "data") data += (data ? "\n" : "") + v;
        else if (k === "id") id = v;
      }
      if (data) {
        try { emit(event, JSON.parse(data), id); } catch (_) { /* a malformed event is skipped */ }
      }
    }
    return buffer;
  }

  // once reads one stream until it ends; returns false when the token was refused.
  async function once(signal) {
    const t = store.tokens;
    const headers = { Authorization: "Bearer " + t.access_token, Accept: "text/event-stream" };
    if (lastID) headers["Last-Event-ID"] = String(lastID);
    const res = await fetch("/api/v1/me/notifications/stream", { headers, signal });
    if (res.status === 401) return false;
    if (!res.ok || !res.body) throw new Error("stream refused (" + res.status + ")");
    setState("open");
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return true;
      buf = parse(buf + dec.decode(value, { stream: true }), handle);
      if (!store.tokens || store.tokens.user.id !== t.user.id) { // signed out, or someone else signed in
        reader.cancel();
        return true;
      }
    }
  }

  // run keeps one stream open while signed in, reconnecting with a bounded backoff.
  async function run() {
    let backoff = 500;
    for (;;) {
      if (!store.tokens) {
        setState("closed");
        lastID = 0;
        await sleep(500);
        continue;
      }
      const ctl = new AbortController();
      const watch = setInterval(() => { if (!store.tokens) ctl.abort(); }, 500);
      try {
        const ok = await once(ctl.signal);
        backoff = 500;
        if (!ok && !(await refresh())) store.tokens = null;
      } catch (_) {
        backoff = Math.min(backoff * 2, 15000);
      } finally {
        clearInterval(watch);
        setState("closed");
      }
      await sleep(backoff);
    }
  }

  Atrium.notices = received;
  Atrium.noticeStream = () => state;
  window.addEventListener("load", run);
})();
