// Admin pages: users (role, suspension, credit grants), refunds with statistics and manual
// refunds, disputes, payouts, the ledger check and the audit log.
"use strict";

(() => {
  const { h, call, field, showErrors, busy, route, toast, when, credits, money, idempotencyKey } = Atrium;

  const TABS = [["users", "Users"], ["refunds", "Refunds"], ["disputes", "Disputes"], ["payouts", "Payouts"], ["ledger", "Ledger"], ["audit", "Audit log"]];

  function shell(mount, active, ...content) {
    return mount(h("section", { class: "stack" },
      h("h1", {}, "Admin · " + TABS.find((t) => t[0] === active)[1]),
      h("nav", { class: "tabs", "aria-label": "Admin sections" }, TABS.map(([k, label]) =>
        h("a", { href: "#/admin/" + k, "aria-current": k === active ? "page" : undefined }, label))),
      content));
  }

  const table = (heads, rows, id) => h("div", { class: "table-wrap" }, h("table", { id },
    h("thead", {}, h("tr", {}, heads.map((x) => h("th", { scope: "col" }, x)))), h("tbody", {}, rows)));

  route(/^\/admin(?:\/users)?$/, async (_, q, { mount }) => {
    const p = new URLSearchParams({ limit: "50" });
    if (q.get("q")) p.set("q", q.get("q"));
    if (q.get("role")) p.set("role", q.get("role"));
    const page = await call("GET", "/admin/users?" + p);
    const search = h("form", { class: "filters small", role: "search" },
      h("input", { name: "q", type: "search", value: q.get("q") || "", placeholder: "Name or email", "aria-label": "Search users" }),
      h("select", { name: "role", "aria-label": "Role" }, [["", "Any role"], ["student", "Students"], ["teacher", "Teachers"], ["admin", "Admins"]]
        .map(([v, t]) => h("option", { value: v, selected: q.get("role") === v }, t))),
      h("button", { type: "submit" }, "Search"));
    search.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = new FormData(search);
      location.hash = "#/admin/users?" + new URLSearchParams({ q: f.get("q"), role: f.get("role") });
    });
    const rows = page.items.map((u) => {
      const role = h("select", { "aria-label": "Role of " + u.name }, ["student", "teacher", "admin"].map((r) => h("option", { value: r, selected: u.role === r }, r)));
      role.addEventListener("change", async () => {
        try { await call("PATCH", "/admin/users/" + u.id, { role: role.value }); toast("Role changed.", "ok"); } catch (e) { toast(e.message, "err"); role.value = u.role; }
      });
      const sus = h("button", { class: u.suspended ? "secondary small" : "danger small" }, u.suspended ? "Reinstate" : "Suspend");
      sus.addEventListener("click", () => busy(sus, async () => {
        try { await call("PATCH", "/admin/users/" + u.id, { suspended: !u.suspended }); Atrium.dispatch(); } catch (e) { toast(e.message, "err"); }
      }));
      const grant = h("button", { class: "ghost small" }, "Grant credits");
      grant.addEventListener("click", () => busy(grant, async () => {
        const n = Number(prompt("Credits to grant to " + u.name + "?", "10"));
        if (!n) return;
        const reason = prompt("Reason (goodwill, promotion…)?", "goodwill");
        if (!reason) return;
        try {
          await call("POST", "/admin/credits/grants", { user_id: u.id, credits: n, reason }, { headers: { "Idempotency-Key": idempotencyKey() } });
          toast("Granted " + credits(n) + ".", "ok");
        } catch (e) { toast(e.message, "err"); }
      }));
      return h("tr", {}, h("td", {}, u.name, h("br"), h("small", { class: "meta" }, u.email)), h("td", {}, role),
        h("td", {}, (u.email_verified ? "verified" : "unverified") + (u.suspended ? " · suspended" : "") + (u.locked_until ? " · locked" : "")),
        h("td", {}, when(u.created_at)), h("td", { class: "actions" }, sus, grant));
    });
    shell(mount, "users", search, table(["User", "Role", "State", "Joined", ""], rows, "users"));
  }, { role: "admin" });

  route(/^\/admin\/refunds$/, async (_, __, { mount }) => {
    const r = await call("GET", "/admin/refunds?limit=100");
    const err = h("p", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit" }, "Refund");
    const form = h("form", { class: "inline-form", id: "refund-form" },
      field("Booking id", { name: "booking_id", required: true }),
      field("Credits (empty = all)", { name: "credits", type: "number", min: 1 }),
      field("Reason", { name: "reason", required: true, maxLength: 2000 }), submit, err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const f = new FormData(form);
        const body = { booking_id: f.get("booking_id").trim(), reason: f.get("reason") };
        if (f.get("credits")) body.credits = Number(f.get("credits"));
        try { await call("POST", "/admin/refunds", body); toast("Refunded.", "ok"); Atrium.dispatch(); } catch (e) { showErrors(form, err, e); }
      });
    });
    const s = r.statistics;
    shell(mount, "refunds",
      h("div", { class: "stats" }, s.by_rule.concat([s.total]).map((x) => h("div", { class: "card stat" },
        h("span", { class: "meta" }, x.rule.replace(/_/g, " ")), h("strong", {}, x.count + " · " + credits(x.credits))))),
      h("div", { class: "card" }, h("h2", {}, "Manual refund"), form),
      table(["When", "Class", "Rule", "Credits", "Fee", "Reason"], r.items.map((x) => h("tr", {}, h("td", {}, when(x.created_at)),
        h("td", {}, h("a", { href: "#/class/" + x.class_id }, x.class_title || x.class_id.slice(0, 8))), h("td", {}, x.rule),
        h("td", { class: "num" }, x.credits), h("td", { class: "num" }, x.fee_credits), h("td", {}, x.reason))), "refunds"));
  }, { role: "admin" });

  route(/^\/admin\/disputes$/, async (_, __, { mount }) => {
    const d = await call("GET", "/admin/disputes?status=open");
    const rows = d.items.map((x) => {
      const decide = (decision) => async (ev) => busy(ev.target, async () => {
        const note = prompt(decision === "refund" ? "Note for the student (refund)" : "Why is it rejected?");
        if (!note) return;
        try { await call("POST", "/admin/disputes/" + x.id + "/resolve", { decision, note }); Atrium.dispatch(); } catch (e) { toast(e.message, "err"); }
      });
      return h("tr", {}, h("td", {}, when(x.created_at)), h("td", {}, x.booking_id.slice(0, 8)), h("td", {}, x.reason),
        h("td", { class: "actions" }, h("button", { class: "small", on: { click: decide("refund") } }, "Refund"),
          h("button", { class: "secondary small", on: { click: decide("reject") } }, "Reject")));
    });
    shell(mount, "disputes", rows.length ? table(["Opened", "Booking", "Reason", ""], rows) : h("p", { class: "meta" }, "No open disputes."));
  }, { role: "admin" });

  route(/^\/admin\/payouts$/, async (_, __, { mount }) => {
    const p = await call("GET", "/admin/payouts");
    const rows = p.items.map((x) => {
      const act = (what) => async (ev) => busy(ev.target, async () => {
        try { await call("POST", "/admin/payouts/" + x.id + "/" + what); Atrium.dispatch(); } catch (e) { toast(e.message, "err"); }
      });
      return h("tr", {}, h("td", {}, when(x.created_at)), h("td", {}, x.teacher_id.slice(0, 8)), h("td", { class: "num" }, x.credits),
        h("td", {}, money(x.amount_cents, x.currency)), h("td", {}, h("span", { class: "status status-" + x.status }, x.status), x.last_error ? h("small", { class: "error" }, " " + x.last_error) : null),
        h("td", { class: "actions" }, x.status === "pending" ? [h("button", { class: "small", on: { click: act("approve") } }, "Approve"),
          h("button", { class: "secondary small", on: { click: act("reject") } }, "Reject")] : null));
    });
    shell(mount, "payouts", rows.length ? table(["Requested", "Teacher", "Credits", "Amount", "Status", ""], rows) : h("p", { class: "meta" }, "No payout requests."));
  }, { role: "admin" });

  route(/^\/admin\/ledger$/, async (_, __, { mount }) => {
    const out = h("div", { id: "ledger-report", role: "status", "aria-live": "polite" });
    const run = h("button", { id: "ledger-run" }, "Check the ledger now");
    async function check() {
      const rep = await call("GET", "/admin/ledger/check");
      const bad = rep.discrepancies || [];
      out.replaceChildren();
      Atrium.append(out, [h("p", { class: rep.ok ? "ok big" : "error big" }, rep.ok ? "✓ The ledger is balanced." : "✗ " + bad.length + " discrepancies"),
        h("p", { class: "meta" }, "Checked " + when(rep.checked_at) + ": " + rep.transactions + " transactions, " + rep.entries +
          " entries, " + rep.accounts + " accounts."),
        h("ul", { class: "checks" }, (rep.checks || []).map((k) => h("li", {}, k.replace(/_/g, " ")))),
        bad.length ? table(["Check", "Subject", "Detail"], bad.map((d) => h("tr", {}, h("td", {}, d.check), h("td", {}, d.subject), h("td", {}, d.detail)))) : null]);
    }
    run.addEventListener("click", () => busy(run, () => check().catch((e) => out.replaceChildren(h("p", { class: "error" }, e.message)))));
    shell(mount, "ledger", h("div", { class: "card" }, run, out));
    await check();
  }, { role: "admin" });

  route(/^\/admin\/audit$/, async (_, q, { mount }) => {
    const body = h("tbody");
    const more = h("button", { class: "secondary", hidden: true }, "Older entries");
    let cursor = null;
    async function load(next) {
      const p = new URLSearchParams({ limit: "50" });
      if (q.get("action")) p.set("action", q.get("action"));
      if (next && cursor) p.set("cursor", cursor);
      const page = await call("GET", "/admin/audit-log?" + p);
      for (const e of page.items) {
        body.append(h("tr", {}, h("td", {}, when(e.at)), h("td", {}, h("code", {}, e.action)), h("td", {}, (e.actor_id || "system").slice(0, 8)),
          h("td", {}, e.target_type + " " + (e.target_id || "").slice(0, 8)), h("td", {}, h("small", {}, JSON.stringify(e.details || {})))));
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    const filter = h("form", { class: "filters small" }, h("input", { name: "action", value: q.get("action") || "", placeholder: "Action, e.g. auth.login", "aria-label": "Action" }),
      h("button", { type: "submit" }, "Filter"));
    filter.addEventListener("submit", (ev) => { ev.preventDefault(); location.hash = "#/admin/audit?action=" + encodeURIComponent(new FormData(filter).get("action")); });
    more.addEventListener("click", () => busy(more, () => load(true)));
    shell(mount, "audit", filter, h("div", { class: "table-wrap" }, h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, ["When", "Action", "Actor", "Target", "Details"].map((x) => h("th", { scope: "col" }, x)))), body)), more);
    await load(false);
  }, { role: "admin" });
})();
