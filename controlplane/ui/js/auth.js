// Account pages: sign in, register, verify email, forgot/reset password, and the account
// page (profile, verification, signed-in devices).
"use strict";

(() => {
  const { h, call, store, signedIn, field, showErrors, busy, route, toast, renderNav, when } = Atrium;

  // afterLogin keeps the access token in this tab (the session cookie signs in the others).
  function afterLogin(tokens, next) {
    signedIn(tokens);
    renderNav();
    const role = tokens.user.role;
    location.hash = next ? "#" + next : role === "teacher" ? "#/teach" : role === "admin" ? "#/admin" : "#/";
  }

  route(/^\/login$/, (_, q, { mount }) => {
    const err = h("p", { class: "error", id: "login-error", role: "alert" });
    const totp = field("Two-factor code", { name: "totp", inputmode: "numeric", autocomplete: "one-time-code", maxLength: 6 });
    totp.hidden = true;
    totp.id = "totp-row";
    const submit = h("button", { type: "submit" }, "Sign in");
    const form = h("form", { id: "login-form", noValidate: false },
      field("Email", { name: "email", type: "email", autocomplete: "username", required: true }),
      field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
      totp, submit, err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const f = new FormData(form);
        const body = { email: f.get("email"), password: f.get("password") };
        if (f.get("totp")) body.totp = f.get("totp");
        try {
          afterLogin(await call("POST", "/auth/login", body), q.get("next"));
        } catch (e) {
          if (e.code === "totp_required") {
            totp.hidden = false;
            form.elements.totp.focus();
          }
          err.textContent = e.code === "account_locked" ? "Too many failed attempts: this account is locked for a while. Try again later or reset your password."
            : e.message;
        }
      });
    });
    mount(h("section", { class: "card narrow" }, h("h1", {}, "Sign in"), form,
      h("p", { class: "meta" }, h("a", { href: "#/forgot" }, "Forgot your password?"), " · ",
        h("a", { href: "#/register" }, "Create an account"))));
  });

  // browserZone is the IANA zone the browser runs in (emails show times in it).
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (_) { return "UTC"; }
  }

  route(/^\/register$/, (_, __, { mount }) => {
    const err = h("p", { class: "error", role: "alert" });
    const submit = h("button", { type: "submit" }, "Create account");
    const form = h("form", { id: "register-form" },
      field("Your name", { name: "name", autocomplete: "name", required: true, maxLength: 200 }),
      field("Email", { name: "email", type: "email", autocomplete: "email", required: true }),
      field("Password", { name: "password", type: "password", autocomplete: "new-password", required: true },
        "At least 10 characters; not a common password and not your email."),
      h("fieldset", { class: "roles" }, h("legend", {}, "I want to"),
        h("label", { class: "check" }, h("input", { type: "radio", name: "role", value: "student", checked: true }), " learn"),
        h("label", { class: "check" }, h("input", { type: "radio", name: "role", value: "teacher" }), " teach")),
      submit, err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        const f = new FormData(form);
        const body = { name: f.get("name"), email: f.get("email"), password: f.get("password"), role: f.get("role"),
          time_zone: browserZone() };
        try {
          await call("POST", "/auth/register", body);
          afterLogin(await call("POST", "/auth/login", { email: body.email, password: body.password }), "/account?welcome=1");
        } catch (e) {
          showErrors(form, err, e);
        }
      });
    });
    mount(h("section", { class: "card narrow" }, h("h1", {}, "Create your account"), form,
      h("p", { class: "meta" }, "Already have one? ", h("a", { href: "#/login" }, "Sign in"))));
  });

  route(/^\/verify$/, async (_, q, { mount }) => {
    const msg = h("p", { role: "status" }, "Confirming your email…");
    mount(h("section", { class: "card narrow" }, h("h1", {}, "Email verification"), msg));
    try {
      await call("POST", "/auth/verify-email", { token: q.get("token") || "" });
      msg.textContent = "Your email is confirmed. Thank you!";
      msg.after(h("a", { class: "button", href: store.tokens ? "#/" : "#/login" }, store.tokens ? "Find a class" : "Sign in"));
    } catch (e) {
      msg.className = "error";
      msg.textContent = "This link is invalid or has expired (" + e.message + "). Sign in and ask for a new one on your account page.";
    }
  });

  route(/^\/forgot$/, (_, __, { mount }) => {
    const out = h("p", { role: "status" });
    const submit = h("button", { type: "submit" }, "Email me a reset link");
    const form = h("form", {}, field("Email", { name: "email", type: "email", autocomplete: "email", required: true }), submit, out);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        try {
          await call("POST", "/auth/password/forgot", { email: new FormData(form).get("email") });
          out.className = "ok";
          out.textContent = "If an account uses this address, we sent it a link to reset the password. It is valid for one hour.";
        } catch (e) {
          out.className = "error";
          out.textContent = e.message;
        }
      });
    });
    mount(h("section", { class: "card narrow" }, h("h1", {}, "Reset your password"), form));
  });

  route(/^\/reset$/, (_, q, { mount }) => {
    const out = h("p", { role: "alert", class: "error" });
    const submit = h("button", { type: "submit" }, "Set new password");
    const form = h("form", {},
      field("New password", { name: "password", type: "password", autocomplete: "new-password", required: true },
        "At least 10 characters. Every device will be signed out."), submit, out);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(submit, async () => {
        try {
          await call("POST", "/auth/password/reset", { token: q.get("token") || "", password: new FormData(form).get("password") });
          store.tokens = null;
          toast("Password changed. Sign in with the new one.", "ok");
          location.hash = "#/login";
        } catch (e) {
          showErrors(form, out, e);
          if (e.code === "invalid_token") out.textContent = "This reset link is invalid, used or expired. Ask for a new one.";
        }
      });
    });
    mount(h("section", { class: "card narrow" }, h("h1", {}, "Choose a new password"), form));
  });

  // twoFactorCard turns TOTP on (enrol, show the secret, confirm a code) or off (password
  // and a current code).
  function twoFactorCard(me) {
    const card = h("div", { class: "card", id: "twofa" }, h("h2", {}, "Two-factor authentication"));
    const err = h("p", { class: "error", role: "alert" });
    if (me.two_factor_enabled) {
      const off = h("button", { type: "submit", class: "secondary" }, "Turn off");
      const form = h("form", { class: "inline-form" },
        field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
        field("Code from your app", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxLength: 6, required: true }), off, err);
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        busy(off, async () => {
          const f = new FormData(form);
          try {
            await call("POST", "/auth/2fa/disable", { password: f.get("password"), code: f.get("code") });
            toast("Two-factor authentication is off.", "ok");
            Atrium.dispatch();
          } catch (e) { showErrors(form, err, e); }
        });
      });
      card.append(h("p", { class: "ok" }, "On: signing in asks for a code from your authenticator app."), form);
      return card;
    }
    const start = h("button", { class: "secondary" }, "Turn on");
    start.addEventListener("click", () => busy(start, async () => {
      try {
        const e = await call("POST", "/auth/2fa/enroll");
        const ok = h("button", { type: "submit" }, "Confirm");
        const form = h("form", { class: "inline-form" },
          field("Code from your app", { name: "code", inputmode: "numeric", autocomplete: "one-time-code", maxLength: 6, required: true }), ok, err);
        form.addEventListener("submit", (ev) => {
          ev.preventDefault();
          busy(ok, async () => {
            try {
              await call("POST", "/auth/2fa/confirm", { code: new FormData(form).get("code") });
              toast("Two-factor authentication is on.", "ok");
              Atrium.dispatch();
            } catch (x) { showErrors(form, err, x); }
          });
        });
        start.replaceWith(h("div", {},
          h("p", {}, "Add this account to your authenticator app (open the link on your phone, or type the key), then enter the 6-digit code it shows."),
          h("p", {}, h("a", { href: e.otpauth_url }, "Open in authenticator app")),
          h("p", {}, "Key: ", h("code", { class: "secret" }, e.secret)), form));
      } catch (x) { err.textContent = x.message; }
    }));
    card.append(h("p", { class: "meta" }, "Protect your account with a code from an authenticator app at each sign-in."), start, err);
    return card;
  }

  // notificationsCard lets the user choose, per kind, in-app and email notifications.
  function notificationsCard() {
    const err = h("p", { class: "error", role: "alert" });
    const rows = h("tbody");
    const save = h("button", { type: "submit" }, "Save preferences");
    const form = h("form", { id: "notify-prefs" },
      h("div", { class: "table-wrap" }, h("table", { class: "prefs" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Notify me when"), h("th", { scope: "col" }, "In the app"),
          h("th", { scope: "col" }, "By email"))), rows)), save, err);
    call("GET", "/me/notification-preferences").then((p) => {
      rows.replaceChildren(...p.items.map((x) => h("tr", { "data-kind": x.kind },
        h("td", {}, x.label),
        h("td", {}, h("input", { type: "checkbox", name: "in_app", checked: x.in_app, "aria-label": x.label + " in the app" })),
        h("td", {}, x.has_email ? h("input", { type: "checkbox", name: "email", checked: x.email, "aria-label": x.label + " by email" }) : "—"))));
    }).catch((e) => { err.textContent = e.message; });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        const items = Array.from(rows.querySelectorAll("tr")).map((tr) => {
          const mail = tr.querySelector("input[name=email]");
          return { kind: tr.dataset.kind, in_app: tr.querySelector("input[name=in_app]").checked, email: mail ? mail.checked : false };
        });
        try {
          await call("PUT", "/me/notification-preferences", { items });
          err.textContent = "";
          toast("Notification preferences saved.", "ok");
        } catch (e) { err.textContent = e.message; }
      });
    });
    return h("div", { class: "card", id: "notifications-card" }, h("h2", {}, "Notifications"), form);
  }

  // calendarCard makes (or revokes) the private iCal feed URL that calendar apps subscribe to.
  function calendarCard() {
    const out = h("div", { id: "calendar-feed" });
    const err = h("p", { class: "error", role: "alert" });
    const make = h("button", { class: "secondary" }, "Make a calendar link");
    const revoke = h("button", { class: "ghost" }, "Turn off the link");
    async function show(state, url) {
      out.replaceChildren(state.active
        ? h("p", {}, url ? h("span", {}, "Subscribe to this address in your calendar app (keep it private): ", h("code", { class: "secret", id: "feed-url" }, url))
          : "A calendar link is active since " + when(state.created_at) + ". Make a new one to see it again (the old one stops working).")
        : h("p", { class: "meta" }, "Your booked and taught classes, in any calendar app, kept up to date."));
      revoke.hidden = !state.active;
    }
    make.addEventListener("click", () => busy(make, async () => {
      try { const f = await call("POST", "/me/calendar-feed"); show(f, f.url); } catch (e) { err.textContent = e.message; }
    }));
    revoke.addEventListener("click", () => busy(revoke, async () => {
      try { await call("DELETE", "/me/calendar-feed"); show({ active: false }); } catch (e) { err.textContent = e.message; }
    }));
    call("GET", "/me/calendar-feed").then((f) => show(f)).catch((e) => { err.textContent = e.message; });
    return h("div", { class: "card", id: "calendar-card" }, h("h2", {}, "Calendar"), out, h("div", { class: "actions" }, make, revoke), err);
  }

  route(/^\/account$/, async (_, q, { mount }) => {
    const me = await call("GET", "/me");
    const verify = me.email_verified ? null : h("div", { class: "notice" },
      h("p", {}, q.get("welcome") ? "Welcome to Atrium! We sent a confirmation link to " + me.email + "." :
        "Your email " + me.email + " is not confirmed yet."),
      h("button", { class: "secondary", on: { click: async (ev) => {
        await busy(ev.target, async () => {
          try { await call("POST", "/auth/verify-email/resend"); toast("Sent. Check your inbox.", "ok"); } catch (e) { toast(e.message, "err"); }
        });
      } } }, "Send the link again"));

    const err = h("p", { class: "error", role: "alert" });
    const save = h("button", { type: "submit" }, "Save");
    const form = h("form", {},
      field("Name", { name: "name", value: me.name, maxLength: 200 }),
      field("Time zone", { name: "time_zone", value: me.time_zone || Intl.DateTimeFormat().resolvedOptions().timeZone, maxLength: 64 }),
      field("About you", { name: "bio", type: "textarea", value: me.bio || "", maxLength: 8000 }), save, err);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      busy(save, async () => {
        const f = new FormData(form);
        try {
          const u = await call("PATCH", "/me", { name: f.get("name"), time_zone: f.get("time_zone"), bio: f.get("bio") });
          const t = store.tokens;
          t.user = Object.assign(t.user, { name: u.name });
          store.tokens = t;
          renderNav();
          showErrors(form, err, null);
          toast("Saved.", "ok");
        } catch (e) {
          showErrors(form, err, e);
        }
      });
    });

    const sessions = h("ul", { class: "list" });
    async function loadSessions() {
      const s = await call("GET", "/me/sessions");
      sessions.replaceChildren(...(s.items || []).map((x) => h("li", {},
        h("span", {}, (x.user_agent || "Unknown device").slice(0, 80), x.current ? h("strong", {}, " (this device)") : null,
          h("br"), h("small", { class: "meta" }, "last used " + when(x.last_used_at) + " · " + (x.ip || ""))),
        x.current ? null : h("button", { class: "ghost", on: { click: async () => {
          await call("DELETE", "/me/sessions/" + encodeURIComponent(x.id));
          loadSessions();
        } } }, "Sign out"))));
    }
    mount(h("section", { class: "stack" },
      h("h1", {}, "Your account"),
      verify,
      h("div", { class: "card" }, h("p", { class: "meta" }, me.email + " · " + me.role + (me.two_factor_enabled ? " · 2FA on" : "")), form),
      twoFactorCard(me),
      notificationsCard(),
      calendarCard(),
      h("div", { class: "card" }, h("h2", {}, "Signed-in devices"), sessions)));
    loadSessions().catch((e) => sessions.replaceChildren(h("li", { class: "error" }, e.message)));
  }, { role: "any" });
})();
