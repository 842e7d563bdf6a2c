// Teacher pages: my classes, create/edit/cancel/end a class, its roster (booked students,
// waitlist, attendance, CSV export, a message to everyone booked), earnings with the CSV
// export, and payout requests.
"use strict";

(() => {
  const { h, call, field, showErrors, busy, route, toast, user, when, day, credits, money } = Atrium;

  // download fetches an authenticated file and hands it to the browser as a download.
  async function download(path, name) {
    const res = await call("GET", path, undefined, { raw: true });
    const url = URL.createObjectURL(await res.blob());
    const a = h("a", { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  route(/^\/teach$/, async (_, __, { mount }) => {
    const me = user();
    // From a day back, so a class in progress (or one that just ended) is still here.
    const from = new Date(Date.now() - 24 * 3.6e6).toISOString();
    const page = await call("GET", "/classes?limit=50&teacher=" + encodeURIComponent(me.id) + "&from=" + encodeURIComponent(from));
    const now = new Date();
    const rows = page.items.filter((c) => new Date(c.ends_at) > new Date(now - 6 * 3.6e6)).map((c) => {
      const live = new Date(c.starts_at) <= now && now < new Date(c.ends_at);
      const ended = new Date(c.ends_at) <= now;
      return h("li", { class: "card row" + (live ? " live" : "") },
        h("div", {}, h("a", { href: "#/class/" + c.id }, h("strong", {}, c.title)), live ? h("span", { class: "status status-live" }, " live now") : null,
          h("p", { class: "meta" }, when(c.starts_at) + " · " + c.seats_taken + "/" + c.capacity + " booked · " + credits(c.price_credits) +
            (c.status === "cancelled" ? " · cancelled" : ended ? " · ended" : ""))),
        h("div", { class: "actions" },
          Atrium.joinControl(c, live ? "Rejoin class" : "Start class"),
          h("a", { class: "button secondary", href: "#/teach/" + c.id }, "Manage")));
    });
    mount(h("section", { class: "stack" },
      h("div", { class: "row" }, h("h1", {}, "Your classes"), h("a", { class: "button", id: "new-class", href: "#/teach/new" }, "Schedule a class")),
      rows.length ? h("ul", { class: "list", id: "my-classes" }, rows) : h("p", { class: "meta" }, "No upcoming classes. Schedule your first one!")));
  }, { role: "teacher" });

  function localInput(iso) {
    const d = iso ? new Date(iso) : new Date(Date.now() + 24 * 3.6e6);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  route(/^\/teach\/(new|[0-9a-f-]{36})$/, async ([id], _q, { mount }) => {
    const isNew = id === "new";
    const c = isNew ? { tier: "basic", duration_minutes: 60, capacity: 10, price_credits: 10, students_can_publish: true } : await call("GET", "/classes/" + id);
    const err = h("p", { class: "error", role: "alert" });
    const save = h("button", { type: "submit" }, isNew ? "Schedule class" : "Save changes");
    const form = h("form", { id: "class-form", class: "grid-form" },
      field("Title", { name: "title", value: c.title || "", required: true, maxLength: 400 }),
      field("Topic", { name: "topic", value: c.topic || "", required: true, maxLength: 120 }),
      field("Starts", { name: "starts_at", type: "datetime-local", value: localInput(c.starts_at), required: true }),
      field("Duration (minutes)", { name: "duration_minutes", type: "number", min: 15, max: 480, value: c.duration_minutes }),
      field("Seats", { name: "capacity", type: "number", min: 1, value: c.capacity }),
      field("Tier", { name: "tier", type: "select", value: c.tier, options: [["basic", "Basic"], ["premium", "Premium"], ["vip", "VIP"]] }),
      field("Price (credits)", { name: "price_credits", type: "number", min: 0, value: c.price_credits }),
      h("div", { class: "field wide" }, field("Description", { name: "description", type: "textarea", value: c.description || "", maxLength: 10000 })),
      field("Students may use camera and microphone", { name: "students_can_publish", type: "checkbox", checked: !!c.students_can_publish }),
      field("May be recorded", { name: "recordable", type: "checkbox", checked: !!c.recordable }),
      h("div", { class: "wide" }, save, err));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        const f = new FormData(form);
        const body = {
          title: f.get("title"), topic: f.get("topic"), description: f.get("description"),
          starts_at: new Date(f.get("starts_at")).toISOString(), time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
          duration_minutes: Number(f.get("duration_minutes")), capacity: Number(f.get("capacity")), tier: f.get("tier"),
          price_credits: Number(f.get("price_credits")), recordable: f.get("recordable") === "on",
          students_can_publish: f.get("students_can_publish") === "on",
        };
        try {
          const out = await call(isNew ? "POST" : "PATCH", isNew ? "/classes" : "/classes/" + id, body);
          toast(isNew ? "Class scheduled." : "Saved.", "ok");
          location.hash = "#/class/" + out.id;
        } catch (e) {
          showErrors(form, err, e);
          if (e.code === "email_not_verified") err.textContent = "Confirm your email address first (see your account page).";
        }
      });
    });

    const extra = [];
    if (!isNew && c.status !== "cancelled") {
      const reason = h("input", { name: "reason", placeholder: "Reason (shown to students)", "aria-label": "Cancellation reason", maxLength: 2000 });
      const cancel = h("button", { class: "danger", id: "cancel-class" }, "Cancel class");
      cancel.addEventListener("click", () => busy(cancel, async () => {
        if (!confirm("Cancel this class? Every booked student gets a full refund.")) return;
        try {
          await call("POST", "/classes/" + id + "/cancel", { reason: reason.value });
          toast("Class cancelled; students are refunded.", "ok");
          location.hash = "#/teach";
        } catch (e) { toast(e.message, "err"); }
      }));
      extra.push(h("div", { class: "card" }, h("h2", {}, "Cancel the class"),
        h("p", { class: "meta" }, "Students get a full refund and an email."), h("div", { class: "actions" }, reason, cancel)));
    }
    if (!isNew && c.status !== "cancelled") extra.push(discountCard(id));
    if (!isNew && c.status !== "cancelled") extra.push(endCard(id));
    if (!isNew) extra.push(rosterCard(id));
    mount(h("section", { class: "stack" },
      h("a", { class: "back", href: "#/teach" }, "← Your classes"),
      h("div", { class: "card" }, h("h1", {}, isNew ? "Schedule a class" : "Edit " + c.title), form), extra));
  }, { role: "teacher" });

  // endCard offers "End class for everyone" while the class is live, saying first what it
  // does to the students' credits (GET /classes/{id}/lifecycle's end_preview).
  function endCard(classID) {
    const card = h("div", { class: "card", id: "end-class-card", hidden: true });
    call("GET", "/classes/" + classID + "/lifecycle").then((l) => {
      if (l.ended_at) {
        card.replaceChildren(h("h2", {}, "Class ended"), h("p", { class: "meta" }, "Ended for everyone at " + when(l.ended_at) +
          (l.outcome ? " · settled: " + l.outcome.replace("_", " ") : " · settles at " + when(l.settles_at)) + "."));
        card.hidden = false;
        return;
      }
      if (!l.end_preview) return;
      const end = h("button", { class: "danger", id: "end-class" }, "End class for everyone");
      end.addEventListener("click", () => busy(end, async () => {
        // Ask again at click time: the preview depends on how long you have taught so far.
        const fresh = await call("GET", "/classes/" + classID + "/lifecycle").catch(() => l);
        const preview = fresh.end_preview || l.end_preview;
        if (!confirm("End this class for everyone?\n\n" + preview.message)) return;
        try {
          const out = await call("POST", "/classes/" + classID + "/end");
          toast(out.already_ended ? "The class had already ended." : "Class ended. " + out.effect.message, "ok");
          Atrium.dispatch();
        } catch (e) { toast(e.message, "err"); }
      }));
      card.replaceChildren(h("h2", {}, "End the class"),
        h("p", { class: "meta" }, "Leaving the classroom does not end the class: you and your students can come back until " +
          when(l.closes_at) + ". Ending it disconnects everyone for good."),
        h("p", { id: "end-preview" }, l.end_preview.message), h("div", { class: "actions" }, end));
      card.hidden = false;
    }).catch(() => {});
    return card;
  }

  // rosterCard lists who booked (names and avatars), who waits, who attended and for how
  // long; exports it as CSV and messages every booked student.
  function rosterCard(classID) {
    const students = h("tbody", { id: "roster-students" });
    const waiting = h("tbody", { id: "roster-waitlist" });
    const summary = h("p", { class: "meta", id: "roster-summary" });
    // Initials on the student's colour; styled through the CSSOM (the CSP allows no inline style attributes).
    const avatar = (a) => {
      const el = h("span", { class: "roster-avatar", "aria-hidden": "true" }, a.initials);
      Object.assign(el.style, { display: "inline-flex", alignItems: "center", justifyContent: "center", width: "2rem", height: "2rem",
        borderRadius: "50%", color: "#fff", fontWeight: "700", fontSize: ".8rem", marginRight: ".5rem", background: a.color });
      return el;
    };
    const mins = (s) => Math.round(s / 60);
    async function load() {
      const r = await call("GET", "/classes/" + classID + "/roster");
      const attended = r.students.filter((s) => s.attended).length;
      summary.textContent = r.students.length + " booked of " + r.capacity + " seats · " + attended + " attended · " +
        r.waitlist.length + " waiting · you were in the class for " + mins(r.teacher_attended_seconds) + " min";
      students.replaceChildren(...r.students.map((s) => h("tr", { "data-user": s.user_id },
        h("td", {}, avatar(s.avatar), h("span", { class: "roster-name" }, s.name)),
        h("td", {}, h("span", { class: "status status-" + s.booking_status }, s.booking_status),
          s.banned ? h("span", { class: "status status-cancelled" }, " banned") : null),
        h("td", {}, s.in_room ? "in the room" : s.attended ? "attended" : "not yet"),
        h("td", { class: "num" }, s.attended ? mins(s.attended_seconds) : "—"),
        h("td", {}, when(s.first_joined_at)))));
      if (!r.students.length) students.append(h("tr", {}, h("td", { colSpan: 5, class: "meta" }, "Nobody has booked yet.")));
      waiting.replaceChildren(...r.waitlist.map((q) => h("tr", {},
        h("td", {}, avatar(q.avatar), q.name), h("td", {}, q.status === "offered" ? "seat offered until " + when(q.offer_expires_at) : "#" + q.position),
        h("td", {}, when(q.since)))));
      if (!r.waitlist.length) waiting.append(h("tr", {}, h("td", { colSpan: 3, class: "meta" }, "Nobody is waiting.")));
    }
    const text = h("textarea", { name: "message", id: "roster-message", maxLength: 2000, rows: 3, required: true,
      placeholder: "Write to every booked student (sent by email and shown in their notifications)", "aria-label": "Message to booked students" });
    const send = h("button", { type: "submit", id: "roster-send" }, "Send to all booked students");
    const err = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "stack", id: "roster-message-form" }, text, h("div", { class: "actions" }, send), err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(send, async () => {
        try {
          const out = await call("POST", "/classes/" + classID + "/message", { message: text.value });
          text.value = "";
          showErrors(form, err, null);
          toast("Message sent to " + out.recipients + " student" + (out.recipients === 1 ? "" : "s") + ".", "ok");
        } catch (e) { showErrors(form, err, e); }
      });
    });
    const csv = h("button", { class: "secondary", id: "roster-csv", on: { click: () =>
      download("/classes/" + classID + "/roster.csv", "atrium-roster-" + classID + ".csv").catch((x) => toast(x.message, "err")) } }, "Download CSV");
    const refresh = h("button", { class: "ghost small", on: { click: () => load().catch((e) => toast(e.message, "err")) } }, "Refresh");
    load().catch((e) => students.replaceChildren(h("tr", {}, h("td", { class: "error", colSpan: 5 }, e.message))));
    return h("div", { class: "card", id: "roster" },
      h("div", { class: "row" }, h("h2", {}, "Roster"), h("div", { class: "actions" }, refresh, csv)), summary,
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Student", "Booking", "Attendance", "Minutes", "First joined"]
        .map((x) => h("th", { scope: "col" }, x)))), students)),
      h("h3", {}, "Waitlist"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Student", "Place", "Since"].map((x) => h("th", { scope: "col" }, x)))), waiting)),
      h("h3", {}, "Message the class"), form);
  }

  // discountCard lists the teacher's codes valid for this class and creates new ones.
  function discountCard(classID) {
    const rows = h("tbody");
    async function load() {
      const d = await call("GET", "/discount-codes");
      const mine = d.items.filter((x) => !x.class_id || x.class_id === classID);
      rows.replaceChildren(...mine.map((x) => h("tr", {}, h("td", {}, h("code", {}, x.code)),
        h("td", {}, x.kind === "percent" ? x.amount + "% off" : credits(x.amount) + " off"), h("td", {}, x.class_id ? "this class" : "all your classes"),
        h("td", {}, x.uses + " / " + x.max_uses), h("td", {}, day(x.valid_until)),
        h("td", {}, x.disabled_at ? "disabled" : h("button", { class: "ghost small", on: { click: async () => {
          await call("DELETE", "/discount-codes/" + x.id).catch((e) => toast(e.message, "err"));
          load();
        } } }, "Disable")))));
      if (!mine.length) rows.append(h("tr", {}, h("td", { colSpan: 6, class: "meta" }, "No codes yet.")));
    }
    const err = h("p", { class: "error", role: "alert" });
    const add = h("button", { type: "submit" }, "Create code");
    const until = new Date(Date.now() + 14 * 864e5).toISOString().slice(0, 10);
    const form = h("form", { class: "inline-form", id: "discount-form" },
      field("Code", { name: "code", required: true, maxLength: 32, placeholder: "SPRING10" }),
      field("Kind", { name: "kind", type: "select", value: "percent", options: [["percent", "Percent"], ["fixed", "Credits"]] }),
      field("Amount", { name: "amount", type: "number", min: 1, value: 10, required: true }),
      field("Uses", { name: "max_uses", type: "number", min: 1, value: 20, required: true }),
      field("Valid until", { name: "valid_until", type: "date", value: until, required: true }), add, err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(add, async () => {
        const f = new FormData(form);
        try {
          await call("POST", "/discount-codes", { code: f.get("code"), class_id: classID, kind: f.get("kind"), amount: Number(f.get("amount")),
            max_uses: Number(f.get("max_uses")), valid_until: new Date(f.get("valid_until") + "T23:59:59").toISOString() });
          form.elements.code.value = "";
          showErrors(form, err, null);
          load();
        } catch (e) { showErrors(form, err, e); }
      });
    });
    load().catch((e) => rows.replaceChildren(h("tr", {}, h("td", { class: "error" }, e.message))));
    return h("div", { class: "card" }, h("h2", {}, "Discount codes"), form,
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Code", "Discount", "For", "Used", "Until", ""].map((x) => h("th", { scope: "col" }, x)))), rows)));
  }

  route(/^\/earnings$/, async (_, __, { mount }) => {
    const [e, p] = await Promise.all([call("GET", "/teacher/earnings"), call("GET", "/teacher/payouts")]);
    const t = e.totals;
    const stat = (label, v, id) => h("div", { class: "card stat" }, h("span", { class: "meta" }, label), h("strong", { id }, credits(v)));
    const err = h("p", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit" }, "Request payout");
    const form = h("form", { id: "payout-form", class: "inline-form" },
      field("Credits", { name: "credits", type: "number", min: 1, max: t.available_credits, value: t.available_credits || "" }),
      field("Stripe account", { name: "destination", placeholder: "acct_…", required: true, maxLength: 80 }), submit, err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const f = new FormData(form);
        try {
          await call("POST", "/teacher/payouts", { credits: Number(f.get("credits")), destination: f.get("destination") });
          toast("Payout requested; an admin will approve it.", "ok");
          Atrium.dispatch();
        } catch (x) {
          showErrors(form, err, x);
        }
      });
    });
    const csv = h("button", { class: "secondary", on: { click: () => download("/teacher/earnings.csv", "atrium-earnings.csv").catch((x) => toast(x.message, "err")) } }, "Download CSV");
    mount(h("section", { class: "stack" },
      h("div", { class: "row" }, h("h1", {}, "Earnings"), csv),
      h("div", { class: "stats" }, stat("Available", t.available_credits, "available"), stat("Reserved for payouts", t.reserved_credits),
        stat("Paid out", t.paid_out_credits), stat("Net earned", t.net_credits), stat("Commission", t.commission_credits)),
      h("div", { class: "card" }, h("h2", {}, "Request a payout"), form),
      h("h2", {}, "By month"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Month", "Classes", "Gross", "Refunded", "Commission", "Net"].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, e.by_month.map((m) => h("tr", {}, h("td", {}, m.month), [m.classes, m.gross_credits, m.refunded_credits, m.commission_credits, m.net_credits].map((v) => h("td", { class: "num" }, v))))))),
      h("h2", {}, "Per class"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Class", "Date", "Outcome", "Gross", "Net"].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, e.classes.map((c) => h("tr", {}, h("td", {}, h("a", { href: "#/class/" + c.class_id }, c.title)), h("td", {}, day(c.starts_at)),
          h("td", {}, c.outcome), h("td", { class: "num" }, c.gross_credits), h("td", { class: "num" }, c.net_credits)))))),
      h("h2", {}, "Payouts"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Requested", "Credits", "Amount", "Status"].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, p.items.map((x) => h("tr", {}, h("td", {}, day(x.created_at)), h("td", { class: "num" }, x.credits),
          h("td", {}, money(x.amount_cents, x.currency)), h("td", {}, h("span", { class: "status status-" + x.status }, x.status)))))))));
  }, { role: "teacher" });
})();
