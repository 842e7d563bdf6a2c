// Discovery and the class page: search with filters, sorting and cursor pagination; one
// class with booking (credits, discount code, the 402 shortfall), cancellation with the
// refund policy, the waitlist of a full class, and the way into the classroom.
"use strict";

(() => {
  const { h, call, busy, route, toast, user, when, credits, idempotencyKey } = Atrium;

  function stars(t) {
    return t.rating ? "★ " + t.rating.toFixed(1) + " (" + t.rating_count + ")" : "new teacher";
  }

  function seatsText(c) {
    if (c.status === "cancelled") return "cancelled";
    if (c.seats_left === 0) return "full · waitlist open";
    return c.seats_left + (c.seats_left === 1 ? " seat left" : " seats left");
  }

  // leftText says how long until something, coarser the further away it is.
  function leftText(s) {
    if (s >= 86400) return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
    if (s >= 3600) return Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
    return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
  }

  // countdown is an element counting secs down (on the monotonic clock, from a number of
  // seconds the server computed, so a wrong clock on this computer does not matter); at zero
  // it calls onZero once. It stops by itself once the element leaves the page.
  function countdown(secs, onZero) {
    const el = h("span", { class: "countdown", role: "timer" });
    const end = performance.now() + secs * 1000;
    let shown = false;
    (function tick() {
      if (shown && !el.isConnected) return;
      shown = true;
      const left = Math.max(0, Math.ceil((end - performance.now()) / 1000));
      el.textContent = leftText(left);
      if (left === 0) { onZero(); return; }
      setTimeout(tick, left > 7200 ? 30000 : 1000);
    })();
    return el;
  }

  // joinControl is the way into a class's room, from the join window the server sends with
  // classes and with the student's bookings (joinable_now, opens_in_seconds): the button
  // while the room admits people, a countdown before it opens (which turns into the button),
  // nothing when it will not open again. x is a class or a booking.
  function joinControl(x, label, id) {
    const classID = x.class_id || x.id;
    const button = () => h("a", { class: "button join", id, href: "#/class/" + classID + "/room", "data-join": classID }, label || "Enter classroom");
    if (x.joinable_now) return button();
    if (!x.joinable_from || !(x.opens_in_seconds > 0)) return null;
    const box = h("span", { class: "join-countdown", "data-join-countdown": classID }, "Classroom opens in ");
    box.append(countdown(x.opens_in_seconds, () => box.replaceWith(button())));
    return box;
  }

  function classCard(c) {
    return h("li", { class: "card class-card" },
      h("a", { href: "#/class/" + encodeURIComponent(c.id) },
        h("span", { class: "tag tier-" + c.tier }, c.tier === "vip" ? "VIP" : c.tier),
        h("h2", {}, c.title),
        h("p", { class: "meta" }, c.teacher.name + " · " + stars(c.teacher)),
        h("p", { class: "meta" }, when(c.starts_at) + " · " + c.duration_minutes + " min · " + c.topic),
        h("p", { class: "card-foot" }, h("strong", {}, credits(c.price_credits)),
          h("span", { class: c.seats_left === 0 ? "seats full" : c.seats_left <= 3 ? "seats low" : "seats" }, seatsText(c)))));
  }

  route(/^\/$/, (_, q, { mount }) => {
    const list = h("ul", { id: "classes", class: "grid", "aria-label": "Classes" });
    const more = h("button", { id: "more", class: "secondary", hidden: true }, "Show more");
    const status = h("p", { id: "discover-error", class: "meta", role: "status" });
    const form = h("form", { id: "search", class: "filters", role: "search" },
      h("input", { name: "q", type: "search", placeholder: "Search classes, topics, teachers", "aria-label": "Search", value: q.get("q") || "" }),
      h("input", { name: "topic", placeholder: "Topic", "aria-label": "Topic", value: q.get("topic") || "" }),
      h("select", { name: "tier", "aria-label": "Tier" }, h("option", { value: "" }, "Any tier"), h("option", { value: "basic" }, "Basic"),
        h("option", { value: "premium" }, "Premium"), h("option", { value: "vip" }, "VIP")),
      h("select", { name: "sort", "aria-label": "Sort by" }, h("option", { value: "start" }, "Soonest first"),
        h("option", { value: "price" }, "Cheapest first"), h("option", { value: "popularity" }, "Most popular")),
      h("label", { class: "inline" }, "From", h("input", { name: "from", type: "date" })),
      h("label", { class: "inline" }, "To", h("input", { name: "to", type: "date" })),
      h("input", { name: "max_price", type: "number", min: 0, placeholder: "Max price (credits)", "aria-label": "Maximum price in credits" }),
      h("button", { type: "submit" }, "Search"));
    let cursor = null;
    let seq = 0; // answers to superseded searches are dropped
    async function load(appendPage) {
      const mine = ++seq;
      const f = new FormData(form);
      const p = new URLSearchParams();
      for (const k of ["q", "topic", "tier", "sort", "max_price"]) if (f.get(k)) p.set(k, f.get(k));
      if (f.get("from")) p.set("from", new Date(f.get("from") + "T00:00:00").toISOString());
      if (f.get("to")) p.set("to", new Date(f.get("to") + "T23:59:59").toISOString());
      p.set("limit", "12");
      if (appendPage && cursor) p.set("cursor", cursor);
      status.className = "meta";
      try {
        const page = await call("GET", "/classes?" + p);
        if (mine !== seq) return;
        if (!appendPage) list.replaceChildren();
        page.items.forEach((c) => list.append(classCard(c)));
        cursor = page.next_cursor;
        more.hidden = !cursor;
        status.textContent = page.items.length || appendPage ? "" : "No classes match. Try fewer filters.";
      } catch (e) {
        status.className = "error";
        status.textContent = e.fields && Object.keys(e.fields).length ? Object.entries(e.fields).map(([k, v]) => k + " " + v).join("; ") : e.message;
      }
    }
    form.addEventListener("submit", (ev) => { ev.preventDefault(); load(false); });
    for (const s of form.querySelectorAll("select")) s.addEventListener("change", () => load(false));
    more.addEventListener("click", () => busy(more, () => load(true)));
    const u = user();
    const popular = h("section", { id: "popular", class: "popular", hidden: true, "aria-labelledby": "popular-h" },
      h("h2", { id: "popular-h" }, "Popular right now"), h("ul", { class: "grid" }));
    mount(h("section", {},
      h("div", { class: "hero" }, h("h1", {}, u ? "Find your next class" : "Live classes with great teachers"),
        h("p", {}, "Book a seat with credits, join from your browser, and learn live.")),
      form, popular, h("h2", { class: "sr-only" }, "All classes"), list, h("div", { class: "center" }, more), status));
    load(false);
    if (!q.toString()) {
      call("GET", "/classes/popular?limit=3").then((p) => {
        const items = (p.items || []).filter((c) => c.seats_taken > 0);
        if (!items.length) return;
        popular.querySelector("ul").replaceChildren(...items.map(classCard));
        popular.hidden = false;
      }).catch(() => {});
      form.addEventListener("submit", () => { popular.hidden = true; });
    }
  });

  // bookingFor returns the caller's confirmed booking of class id, or null.
  async function bookingFor(id) {
    const u = user();
    if (!u || u.role !== "student") return null;
    const b = await call("GET", "/me/bookings");
    return b.upcoming.concat(b.past).find((x) => x.class_id === id && x.status === "confirmed") || null;
  }

  async function waitlistFor(id) {
    try {
      return await call("GET", "/classes/" + encodeURIComponent(id) + "/waitlist");
    } catch (e) {
      if (e.status === 404) return null;
      throw e;
    }
  }

  route(/^\/class\/([0-9a-f-]{36})$/, async ([id], _q, { mount }) => {
    let c;
    try {
      c = await call("GET", "/classes/" + encodeURIComponent(id));
    } catch (e) {
      mount(h("section", { class: "card narrow" }, h("h1", { id: "c-title" }, "Class not found"), h("a", { href: "#/" }, "Back to classes")));
      return;
    }
    const u = user();
    const isTeacher = u && u.id === c.teacher.id;
    const [booking, wait] = u && u.role === "student" ? await Promise.all([bookingFor(id), c.seats_left === 0 ? waitlistFor(id) : null]) : [null, null];
    const actions = h("div", { class: "actions", id: "c-actions" });
    const msg = h("div", { id: "book-msg", role: "status", "aria-live": "polite" });
    const started = new Date(c.starts_at) <= new Date();
    const ended = new Date(c.ends_at) <= new Date();

    const enter = () => joinControl(c, isTeacher && !started ? "Start class" : "Enter classroom", "enter");
    if (c.status === "cancelled") {
      msg.append(h("p", { class: "notice" }, "This class was cancelled" + (c.cancel_reason ? ": " + c.cancel_reason : "") +
        ". Booked students got a full refund."));
    } else if (isTeacher) {
      Atrium.append(actions, [enter(), h("a", { class: "button secondary", href: "#/teach/" + id }, "Edit or cancel")]);
    } else if (booking) {
      msg.append(h("p", { class: "ok" }, "You are booked (" + credits(booking.paid_credits) + " paid)."));
      Atrium.append(actions, [enter()]);
      if (!started) actions.append(cancelButton(booking, msg));
    } else if (!ended && !started) {
      if (c.seats_left > 0) actions.append(...bookForm(c, msg));
      else actions.append(waitlistBox(c, wait, msg));
    } else if (!ended) {
      msg.append(h("p", { class: "meta" }, "This class has started; booking is closed."));
    }
    // Recordings (recording.js): for the teacher and booked students; a student on the
    // waitlist of the full class gets "Watch live" while the class is recorded.
    if (isTeacher || booking) actions.append(h("a", { class: "button secondary", id: "recordings-link", href: "#/class/" + id + "/recordings" }, "Recordings"));
    // Only a student on the waitlist asks (anyone else would get a 403 logged by the browser).
    else if (u && u.role === "student" && wait && c.status !== "cancelled" && c.seats_left === 0 && Atrium.recording) Atrium.recording.liveOffer(id, actions);

    mount(h("section", { class: "stack" },
      h("a", { href: "#/", class: "back" }, "← All classes"),
      h("article", { class: "card class-page" },
        h("span", { class: "tag tier-" + c.tier }, c.tier === "vip" ? "VIP" : c.tier),
        h("h1", { id: "c-title" }, c.title),
        h("p", { class: "meta", id: "c-meta" }, "with ", h("a", { href: "#/teacher/" + c.teacher.id }, c.teacher.name), " · " + stars(c.teacher)),
        h("dl", { class: "facts" },
          h("div", {}, h("dt", {}, "When"), h("dd", {}, when(c.starts_at) + " – " + when(c.ends_at))),
          h("div", {}, h("dt", {}, "Topic"), h("dd", {}, c.topic)),
          h("div", {}, h("dt", {}, "Price"), h("dd", { id: "c-price" }, credits(c.price_credits))),
          h("div", {}, h("dt", {}, "Seats"), h("dd", { id: "c-seats" }, c.seats_left + " of " + c.capacity + " left"))),
        h("p", { id: "c-desc", class: "desc" }, c.description || "No description yet."),
        msg, actions,
        !u && c.status !== "cancelled" ? h("p", {}, h("a", { class: "button", href: "#/login?next=" + encodeURIComponent("/class/" + id) }, "Sign in to book")) : null)));
  });

  function bookForm(c, msg) {
    const code = h("input", { name: "discount_code", placeholder: "Discount code (optional)", "aria-label": "Discount code", maxLength: 64 });
    const btn = h("button", { id: "book" }, "Book for " + credits(c.price_credits));
    const key = idempotencyKey(); // one key per page visit: a double click books once
    btn.addEventListener("click", () => busy(btn, async () => {
      msg.replaceChildren();
      try {
        const body = code.value.trim() ? { discount_code: code.value.trim() } : undefined;
        const b = await call("POST", "/classes/" + c.id + "/bookings", body, { headers: { "Idempotency-Key": key } });
        toast("Booked! " + credits(b.paid_credits) + " moved from your wallet.", "ok");
        Atrium.dispatch();
      } catch (e) {
        if (e.code === "insufficient_credits") {
          const d = e.details;
          msg.append(h("div", { class: "shortfall", id: "shortfall", role: "alert" },
            h("strong", {}, "Not enough credits: you need " + credits(d.shortfall) + " more."),
            h("p", {}, "Price " + credits(d.price) + ", your balance " + credits(d.balance) + "."),
            h("a", { class: "button", href: "#/wallet?need=" + d.shortfall }, "Buy credits")));
        } else if (e.code === "class_full") {
          msg.append(h("p", { class: "error", role: "alert" }, "The last seat was just taken."));
          Atrium.dispatch();
        } else {
          msg.append(h("p", { class: "error", role: "alert" }, e.message));
        }
      }
    }));
    return [code, btn];
  }

  function cancelButton(b, msg) {
    const hours = (new Date(b.class_starts_at) - new Date()) / 3.6e6;
    const policy = h("p", { class: "meta policy", id: "refund-policy" },
      "Refund policy: cancel at least 24 hours before the start for a full refund; later, a late-cancellation fee is kept; " +
      "no refund after the start. If the teacher cancels or does not show up, you get everything back automatically." +
      (hours < 24 ? " This class starts in less than 24 hours, so a fee applies." : ""));
    const btn = h("button", { class: "danger", id: "cancel-booking" }, "Cancel booking");
    btn.addEventListener("click", () => busy(btn, async () => {
      if (!confirm("Cancel your booking?" + (hours < 24 ? " A late-cancellation fee applies." : " You get a full refund."))) return;
      try {
        const r = await call("DELETE", "/bookings/" + b.id);
        toast("Booking cancelled: " + credits(r.refund.credits) + " refunded" + (r.refund.fee_credits ? ", fee " + credits(r.refund.fee_credits) : "") + ".", "ok");
        Atrium.dispatch();
      } catch (e) {
        msg.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
      }
    }));
    return h("div", { class: "cancel-box" }, btn, policy);
  }

  function waitlistBox(c, wait, msg) {
    const box = h("div", { class: "waitlist", id: "waitlist" });
    if (wait && wait.status === "offered") {
      box.append(h("p", { class: "ok" }, "A seat is free for you until " + when(wait.offer_expires_at) + "."), ...bookForm(c, msg));
      return box;
    }
    if (wait && wait.status === "waiting") {
      const leave = h("button", { class: "secondary" }, "Leave the waitlist");
      leave.addEventListener("click", () => busy(leave, async () => {
        await call("DELETE", "/classes/" + c.id + "/waitlist");
        Atrium.dispatch();
      }));
      box.append(h("p", {}, "You are number " + wait.position + " on the waitlist. We will email you when a seat frees up."), leave);
      return box;
    }
    const join = h("button", { id: "join-waitlist" }, "Join the waitlist");
    join.addEventListener("click", () => busy(join, async () => {
      try {
        const w = await call("POST", "/classes/" + c.id + "/waitlist");
        toast("You are number " + w.position + " on the waitlist.", "ok");
        Atrium.dispatch();
      } catch (e) {
        msg.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
      }
    }));
    box.append(h("p", {}, "This class is full."), join);
    return box;
  }

  route(/^\/teacher\/([0-9a-f-]{36})$/, async ([id], _q, { mount }) => {
    const t = await call("GET", "/teachers/" + encodeURIComponent(id));
    const classes = t.upcoming || t.classes || [];
    mount(h("section", { class: "stack" },
      h("div", { class: "card" }, h("h1", {}, t.name),
        h("p", { class: "meta" }, t.rating ? "★ " + Number(t.rating).toFixed(1) + " from " + t.rating_count + " ratings" : "No ratings yet"),
        h("p", { class: "desc" }, t.bio || "")),
      h("h2", {}, "Upcoming classes"),
      classes.length ? h("ul", { class: "grid" }, classes.map(classCard)) : h("p", { class: "meta" }, "No upcoming classes.")));
  });

  Atrium.classCard = classCard;
  Atrium.joinControl = joinControl;
  Atrium.countdown = countdown;
})();
