// Class recordings in the browser (docs/recording.md). Three parts, kept out of the classroom
// page so that page only calls Atrium.recording.classroom():
//   - in the classroom: a "Recording" indicator everyone sees (livekit-client's isRecording,
//     from the room's active_recording flag the SFU sets while a recorder is in the room) and
//     the teacher's Start/Stop recording button (POST /classes/{id}/recordings,
//     POST /recordings/{id}/stop);
//   - #/class/{id}/recordings: the class's recordings for its teacher and booked students,
//     played with hls.js (served at /assets/vendor/hls.min.js) through the control plane's
//     authorizing proxy: every playlist and segment request carries the user's bearer token,
//     so nobody without a booking can fetch one. A recording still running plays live. The
//     teacher sets auto-record and retention and deletes recordings there;
//   - #/recordings: the teacher's recordings and the storage they use;
//   - liveOffer: on a full class's page, "Watch live" for a student on its waitlist while
//     the class is recorded (the server lists the running recording to them, live_only,
//     and its proxy serves them that recording only while it runs).
"use strict";

(() => {
  const { h, call, route, onLeave, user, toast, store, when } = Atrium;
  const HLS = "/assets/vendor/hls.min.js";

  function loadHls() {
    if (window.Hls) return Promise.resolve(window.Hls);
    return new Promise((resolve, reject) => {
      const s = h("script", { src: HLS });
      s.addEventListener("load", () => (window.Hls ? resolve(window.Hls) : reject(new Error("hls.js did not load"))));
      s.addEventListener("error", async () => {
        s.remove();
        const text = await fetch(HLS).then((r) => r.text()).catch(() => "");
        reject(new Error("The video player could not be loaded. " + (text || "The server did not answer.")));
      });
      document.head.append(s);
    });
  }

  const size = (b) => (b >= 1 << 30 ? (b / (1 << 30)).toFixed(2) + " GB" : b >= 1 << 20 ? (b / (1 << 20)).toFixed(1) + " MB" : Math.round(b / 1024) + " KB");
  const duration = (s) => { s = Math.round(s || 0); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); };
  const STATE = { starting: "starting", active: "recording now", ending: "finishing", complete: "ready", failed: "failed" };

  // ---- classroom ----

  // classroom adds the indicator (everyone) and the teacher's button to a connected or
  // connecting livekit-client room. ctx: {room, LK, classID, cls, isTeacher, controls, head}.
  function classroom(ctx) {
    const { room, LK, classID, cls, isTeacher, controls, head } = ctx;
    const indicator = h("span", { id: "rec-indicator", class: "rec-indicator", role: "status", hidden: true }, "● Recording");
    head.append(indicator);
    const show = () => { indicator.hidden = !room.isRecording; if (btn) label(); };
    room.on(LK.RoomEvent.RecordingStatusChanged, show);
    room.on(LK.RoomEvent.Connected, show);

    let btn = null, current = null, pending = false;
    function label() {
      btn.textContent = pending ? (current ? "Stopping…" : "Starting…") : current ? "Stop recording" : "Start recording";
      btn.classList.toggle("danger", !!current && !pending);
      btn.disabled = pending;
    }
    async function refresh() {
      const v = await call("GET", "/classes/" + classID + "/recordings");
      current = v.items.find((r) => r.live) || null;
      label();
      return v;
    }
    if (isTeacher && cls.recordable) {
      btn = h("button", { type: "button", id: "rec-toggle", class: "secondary", on: { click: toggle } }, "Start recording");
      controls.prepend(btn);
      refresh().catch((e) => console.warn("recordings:", e.message));
    }
    async function toggle() {
      pending = true;
      label();
      try {
        if (current) {
          await call("POST", "/recordings/" + current.id + "/stop");
          current = null;
          toast("Recording stopped. It is saved to the class's recordings.");
        } else {
          current = await call("POST", "/classes/" + classID + "/recordings");
          toast("Recording started: everyone in the class sees it.");
        }
      } catch (e) {
        toast("Recording: " + e.message, "err");
        await refresh().catch(() => {});
      } finally {
        pending = false;
        label();
      }
    }
    show();
  }

  // ---- playback ----

  // play attaches rec's HLS playlist to video through hls.js (or the browser's own HLS),
  // sending the bearer token with every request.
  async function play(video, rec, state) {
    if (state.hls) { state.hls.destroy(); state.hls = null; }
    const Hls = await loadHls();
    if (!Hls.isSupported()) throw new Error("This browser cannot play HLS video.");
    const hls = new Hls({
      enableWorker: false, // the page's CSP allows no blob: workers
      xhrSetup: (xhr) => {
        const t = store.tokens;
        if (t) xhr.setRequestHeader("Authorization", "Bearer " + t.access_token);
      },
    });
    state.hls = hls;
    hls.on(Hls.Events.ERROR, (_, d) => {
      if (!d.fatal) return;
      console.warn("player:", d.type, d.details, d.response ? d.response.code : "");
      if (state.onEnded && d.response && d.response.code === 403) state.onEnded();
    });
    hls.loadSource(rec.playlist_url);
    hls.attachMedia(video);
    video.dataset.recording = rec.id;
    await video.play().catch(() => {}); // autoplay may need a click; the controls are there
  }

  route(/^\/class\/([0-9a-f-]{36})\/recordings$/, async ([classID], _q, { mount, current }) => {
    const state = { hls: null };
    // Keep the access token fresh while the player runs (segments carry it, and call()
    // refreshes an expired one).
    const keepAlive = setInterval(() => call("GET", "/me").catch(() => {}), 60000);
    onLeave(() => { clearInterval(keepAlive); if (state.hls) state.hls.destroy(); });
    const msg = h("div", { id: "rec-msg", role: "status", "aria-live": "polite" });
    const video = h("video", { id: "rec-player", controls: true, playsInline: true, muted: true, hidden: true });
    const list = h("ul", { id: "rec-list", class: "list" });
    const settingsBox = h("div", { id: "rec-settings" });
    const title = h("h1", {}, "Recordings");
    mount(h("section", { class: "stack" }, title, msg, video, list, settingsBox,
      h("a", { href: "#/class/" + classID }, "Back to the class page")));
    let cls, v;
    try {
      [cls, v] = await Promise.all([call("GET", "/classes/" + classID), call("GET", "/classes/" + classID + "/recordings")]);
    } catch (e) {
      msg.append(h("p", { class: "err" }, e.code === "not_booked" ? "Only the teacher and students who booked this class can watch its recordings. " +
        "Students on the waitlist of a full class can watch it live while it is recorded." : e.message));
      return;
    }
    if (!current()) return;
    title.textContent = (v.live_only ? "Watch live · " : "Recordings · ") + cls.title;
    if (v.live_only) {
      // A waitlisted student's view-only seat: the running recording, until it ends.
      msg.append(h("p", { class: "meta", id: "rec-live-note" }, "The class is full, so you watch it live, view-only, while it is recorded. " +
        "The recording afterwards is for the students who booked."));
      state.onEnded = () => {
        if (state.hls) { state.hls.destroy(); state.hls = null; }
        video.hidden = true;
        msg.replaceChildren(h("p", { class: "meta", id: "rec-live-ended" }, "The live class has ended."));
      };
    }
    const render = () => {
      list.replaceChildren(...(v.items.length ? v.items.map((r) => {
        const watch = h("button", { type: "button", class: "rec-watch", on: { click: async () => {
          video.hidden = false;
          try { await play(video, r, state); } catch (e) { msg.replaceChildren(h("p", { class: "err" }, e.message)); }
        } } }, r.live ? "Watch live" : "Watch");
        const del = v.may_manage && !r.live ? h("button", { type: "button", class: "danger small rec-delete", on: { click: async () => {
          if (!confirm("Delete this recording for everyone?")) return;
          try {
            await call("DELETE", "/recordings/" + r.id);
            v.items = v.items.filter((x) => x.id !== r.id);
            render();
            toast("Recording deleted.");
          } catch (e) { toast(e.message, "err"); }
        } } }, "Delete") : null;
        return h("li", { class: "card row", "data-recording": r.id, "data-state": r.state },
          h("div", {}, h("strong", {}, r.started_at ? when(r.started_at) : "Starting"),
            h("p", { class: "meta" }, (STATE[r.state] || r.state) + " · " + duration(r.duration_seconds) + " · " + size(r.size_bytes) +
              (r.expires_at ? " · kept until " + when(r.expires_at) : "") + (r.details ? " · " + r.details : ""))),
          h("div", { class: "actions" }, r.state === "failed" ? null : watch, del));
      }) : [h("li", { class: "meta empty" }, v.live_only ? "The class is not being recorded right now." : "No recordings yet.")]));
    };
    render();
    if (v.may_manage) {
      const auto = h("input", { type: "checkbox", id: "rec-auto", checked: v.auto_record, disabled: !v.recordable });
      const days = h("input", { type: "number", id: "rec-days", min: 1, max: 3650, value: v.retention_days });
      const save = h("button", { type: "button", id: "rec-save", class: "secondary", on: { click: async () => {
        try {
          await call("PUT", "/classes/" + classID + "/recording-settings", { auto_record: auto.checked, retention_days: Number(days.value) });
          toast("Recording settings saved.");
        } catch (e) { toast(e.message, "err"); }
      } } }, "Save");
      settingsBox.append(h("h2", {}, "Settings"),
        v.recordable ? null : h("p", { class: "meta" }, "This class is not marked \"May be recorded\"; edit the class to allow recording."),
        h("label", {}, auto, " Start recording when I join the classroom"),
        h("label", { for: "rec-days" }, "Keep recordings for (days)"), days, save);
    }
  }, { role: "any" });

  route(/^\/recordings$/, async (_, __, { mount }) => {
    const u = await call("GET", "/teacher/recordings");
    mount(h("section", { class: "stack" },
      h("h1", {}, "Recordings"),
      h("p", { id: "rec-storage" }, "Storage used: " + size(u.storage_bytes) + " in " + u.items.length + " recording" + (u.items.length === 1 ? "" : "s") + "."),
      h("ul", { class: "list", id: "teacher-recordings" }, u.items.map((r) => h("li", { class: "card row" },
        h("div", {}, h("a", { href: "#/class/" + r.class_id + "/recordings" }, r.started_at ? when(r.started_at) : "Starting"),
          h("p", { class: "meta" }, (STATE[r.state] || r.state) + " · " + duration(r.duration_seconds) + " · " + size(r.size_bytes))))))));
  }, { role: "teacher" });

  // liveOffer adds "Watch live" to a full class's page actions when the server lets this
  // student watch its running recording (they are on its waitlist); otherwise nothing.
  async function liveOffer(classID, actions) {
    let v;
    try {
      v = await call("GET", "/classes/" + classID + "/recordings");
    } catch (e) {
      return; // not queued for this class (403), or recording is not set up
    }
    if (!v.live_only || !v.items.some((r) => r.live)) return;
    actions.append(h("a", { class: "button", id: "watch-live", href: "#/class/" + classID + "/recordings" }, "Watch live"));
  }

  Atrium.recording = { classroom, play, liveOffer, user };
})();
