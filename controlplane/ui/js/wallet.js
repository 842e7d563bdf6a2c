// The student's money pages: wallet (balance, credit packages through Stripe Checkout,
// purchases with receipts, wallet movements) and "My classes" (bookings, ratings, disputes).
"use strict";

(() => {
  const { h, call, busy, route, toast, when, day, credits, money, idempotencyKey } = Atrium;

  // isDevHost: on a loopback host the control plane talks to stripe-mock, whose Checkout URL
  // leads nowhere; the UI then explains what would happen instead of navigating away.
  const isDevHost = () => ["127.0.0.1", "localhost", "[::1]"].includes(location.hostname);

  function purchaseRow(p) {
    const status = h("span", { class: "status status-" + p.status }, p.status);
    const receipt = p.status === "paid" ? h("button", { class: "link", on: { click: async () => {
      const res = await call("GET", "/wallet/purchases/" + p.id + "/receipt", undefined, { raw: true });
      const url = URL.createObjectURL(await res.blob());
      const a = h("a", { href: url, download: "atrium-receipt-" + p.id.slice(0, 8) + ".html" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } } }, "Receipt") : null;
    return h("tr", {}, h("td", {}, day(p.created_at)), h("td", {}, credits(p.credits)), h("td", {}, money(p.amount_cents, p.currency)),
      h("td", {}, status, p.failure_reason ? h("small", { class: "meta" }, " " + p.failure_reason) : null), h("td", {}, receipt));
  }

  function kindText(l) {
    const k = { purchase: "Credits bought", booking: "Class booked", refund: "Refund", grant: "Credits granted" }[l.kind];
    return k || l.kind.replace(/_/g, " ");
  }

  route(/^\/wallet$/, async (_, q, { mount }) => {
    const w = await call("GET", "/wallet");
    const balance = h("strong", { id: "balance", class: "balance" }, credits(w.balance_credits));
    const notice = h("div", { role: "status", "aria-live": "polite", id: "wallet-notice" });
    if (q.get("need")) notice.append(h("p", { class: "notice" }, "You need " + credits(Number(q.get("need"))) + " more to book that class."));
    if (q.get("purchase") === "success") {
      notice.append(h("p", { class: "ok" }, "Payment received. Your credits appear as soon as Stripe confirms it (usually a few seconds)."));
      pollBalance(w.balance_credits, balance);
    } else if (q.get("purchase") === "cancelled") {
      notice.append(h("p", { class: "notice" }, "Checkout was cancelled; nothing was charged."));
    }

    const dev = h("div", { id: "checkout-dev", class: "notice", hidden: true, role: "dialog", "aria-label": "Development checkout" });
    const packages = h("div", { class: "packages" }, w.packages.map((p) => {
      const buy = h("button", { "data-package": p.id }, "Buy " + p.name);
      const key = idempotencyKey();
      buy.addEventListener("click", () => busy(buy, async () => {
        try {
          const pur = await call("POST", "/wallet/purchases", { package_id: p.id }, { headers: { "Idempotency-Key": key } });
          if (!pur.checkout_url) throw new Error("the payment provider returned no checkout page");
          if (!isDevHost()) {
            location.assign(pur.checkout_url);
            return;
          }
          dev.hidden = false;
          dev.replaceChildren(h("h3", {}, "Development mode: no real payment"),
            h("p", {}, "In production your browser now goes to Stripe Checkout to pay " + money(pur.amount_cents, pur.currency) +
              " for " + credits(pur.credits) + ". When Stripe's signed webhook confirms the payment, the credits are added to your wallet."),
            h("p", { class: "meta" }, "Checkout session " + (pur.checkout_session_id || "?") + " · purchase " + pur.id + " · status " + pur.status),
            h("p", {}, h("a", { href: pur.checkout_url, rel: "noopener" }, "Open the checkout URL anyway")));
          dev.focus();
          loadPurchases();
        } catch (e) {
          toast(e.message, "err");
        }
      }));
      return h("div", { class: "card package" }, h("h3", {}, p.name), h("p", { class: "big" }, credits(p.credits)),
        h("p", { class: "meta" }, money(p.amount_cents, "usd")), buy);
    }));
    dev.tabIndex = -1;

    const purchases = h("tbody");
    async function loadPurchases() {
      const ps = await call("GET", "/wallet/purchases");
      purchases.replaceChildren(...ps.items.map(purchaseRow));
      if (!ps.items.length) purchases.append(h("tr", {}, h("td", { colSpan: 5, class: "meta" }, "No purchases yet.")));
    }
    const lines = h("tbody");
    const more = h("button", { class: "secondary", hidden: true }, "Older movements");
    let cursor = null;
    async function loadLines(next) {
      const p = new URLSearchParams({ limit: "20" });
      if (next && cursor) p.set("cursor", cursor);
      const page = await call("GET", "/wallet/transactions?" + p);
      if (!next) lines.replaceChildren();
      for (const l of page.items) {
        lines.append(h("tr", {}, h("td", {}, when(l.created_at)), h("td", {}, kindText(l), l.memo ? h("small", { class: "meta" }, " " + l.memo) : null),
          h("td", { class: l.credits < 0 ? "neg num" : "pos num" }, (l.credits > 0 ? "+" : "") + l.credits)));
      }
      if (!next && !page.items.length) lines.append(h("tr", {}, h("td", { colSpan: 3, class: "meta" }, "No movements yet.")));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    }
    more.addEventListener("click", () => busy(more, () => loadLines(true)));

    mount(h("section", { class: "stack" },
      h("h1", {}, "Wallet"),
      h("div", { class: "card balance-card" }, h("span", { class: "meta" }, "Balance"), balance), notice,
      h("h2", {}, "Buy credits"), packages, dev,
      h("h2", {}, "Purchases"),
      h("div", { class: "table-wrap" }, h("table", {}, h("thead", {}, h("tr", {}, ["Date", "Credits", "Amount", "Status", ""].map((x) => h("th", { scope: "col" }, x)))), purchases)),
      h("h2", {}, "Movements"),
      h("div", { class: "table-wrap" }, h("table", { id: "transactions" }, h("thead", {}, h("tr", {}, ["When", "What", "Credits"].map((x) => h("th", { scope: "col" }, x)))), lines)),
      more));
    await Promise.all([loadPurchases(), loadLines(false)]);
  }, { role: "student" });

  // pollBalance re-reads the balance a few times after a Checkout redirect, until the webhook
  // has credited the purchase (bounded: 10 tries, 2 s apart).
  async function pollBalance(start, el) {
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 2000));
      if (!document.body.contains(el)) return;
      const w = await call("GET", "/wallet").catch(() => null);
      if (w && w.balance_credits !== start) {
        el.textContent = credits(w.balance_credits);
        toast("Credits added.", "ok");
        return;
      }
    }
  }

  function bookingRow(b, past) {
    const actions = h("div", { class: "actions" });
    if (!past && b.status === "confirmed" && b.class_status !== "cancelled") Atrium.append(actions, [Atrium.joinControl(b, "Enter classroom")]);
    if (past && b.status === "confirmed" && b.class_status !== "cancelled") {
      const rate = h("select", { "aria-label": "Rate " + b.class_title }, h("option", { value: "" }, "Rate…"),
        [5, 4, 3, 2, 1].map((n) => h("option", { value: n }, "★".repeat(n))));
      rate.addEventListener("change", async () => {
        if (!rate.value) return;
        try {
          await call("POST", "/classes/" + b.class_id + "/rating", { stars: Number(rate.value) });
          toast("Thanks for rating!", "ok");
          rate.disabled = true;
        } catch (e) { toast(e.message, "err"); }
      });
      const dispute = h("button", { class: "ghost" }, "Report a problem");
      dispute.addEventListener("click", () => busy(dispute, async () => {
        const reason = prompt("What went wrong? An admin will review it and may refund you.");
        if (!reason) return;
        try {
          await call("POST", "/bookings/" + b.id + "/disputes", { reason });
          toast("Thanks, we will look into it.", "ok");
        } catch (e) { toast(e.message, "err"); }
      }));
      actions.append(rate, dispute);
    }
    const refund = b.refunded_credits ? " · refunded " + credits(b.refunded_credits) : "";
    return h("li", { class: "card row" },
      h("div", {}, h("a", { href: "#/class/" + b.class_id }, h("strong", {}, b.class_title)),
        h("p", { class: "meta" }, when(b.class_starts_at) + " · " + b.status + " · paid " + credits(b.paid_credits) + refund +
          (b.class_status === "cancelled" ? " · class cancelled" : ""))),
      actions);
  }

  // Notices can be dismissed. The server marks them read (POST /me/notifications/ID/read)
  // where it can; this browser also remembers the dismissal (localStorage, per user), so a
  // notice stays gone on a server without that endpoint.
  const dismissedKey = () => "atrium.dismissed." + ((Atrium.user() || {}).id || "");
  const dismissed = () => new Set(JSON.parse(localStorage.getItem(dismissedKey()) || "[]"));

  async function dismiss(n, el) {
    el.remove();
    const d = dismissed();
    d.add(n.id);
    localStorage.setItem(dismissedKey(), JSON.stringify([...d].slice(-200)));
    try { await call("POST", "/me/notifications/" + n.id + "/read"); } catch (_) { /* remembered here */ }
  }

  function notice(n) {
    const el = h("div", { class: "notice dismissable", "data-notification": n.id }, h("div", {}, h("strong", {}, n.title), h("p", {}, n.body)));
    el.append(h("button", { type: "button", class: "ghost small dismiss", "aria-label": "Dismiss: " + n.title, on: { click: () => dismiss(n, el) } }, "Dismiss"));
    return el;
  }

  // splitBookings sorts the student's bookings into upcoming (confirmed, class not cancelled,
  // not over), past (attended or missed) and cancelled (by them or the teacher, or refunded).
  function splitBookings(b) {
    const gone = (x) => x.status !== "confirmed" || x.class_status === "cancelled";
    const cancelled = b.upcoming.concat(b.past).filter(gone)
      .sort((x, y) => String(y.cancelled_at || y.class_starts_at).localeCompare(String(x.cancelled_at || x.class_starts_at)));
    return { upcoming: b.upcoming.filter((x) => !gone(x)), past: b.past.filter((x) => !gone(x)), cancelled };
  }

  route(/^\/bookings$/, async (_, __, { mount }) => {
    const b = splitBookings(await call("GET", "/me/bookings"));
    const n = await call("GET", "/me/notifications").catch(() => ({ items: [] }));
    const hidden = dismissed();
    const list = (id, items, past, empty) => items.length ? h("ul", { class: "list", id }, items.map((x) => bookingRow(x, past)))
      : h("p", { class: "meta", id: id + "-empty" }, empty);
    mount(h("section", { class: "stack" },
      h("h1", {}, "My classes"),
      h("div", { id: "notices", class: "stack" }, n.items.filter((x) => !x.read && !hidden.has(x.id)).slice(0, 5).map(notice)),
      h("h2", {}, "Upcoming"),
      b.upcoming.length ? list("upcoming", b.upcoming, false) : h("p", { class: "meta", id: "upcoming-empty" }, "Nothing booked. ", h("a", { href: "#/" }, "Find a class")),
      h("h2", {}, "Past"),
      list("past", b.past, true, "No past classes yet."),
      b.cancelled.length ? [h("h2", {}, "Cancelled"), list("cancelled", b.cancelled, true)] : null));
  }, { role: "student" });

  Atrium.isDevHost = isDevHost;
})();
