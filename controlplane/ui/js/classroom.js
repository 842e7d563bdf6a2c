// The live classroom (#/class/ID/room). Before connecting, a pre-join screen: camera and
// microphone preview, device pickers, the display name. Then it asks the control plane for a
// join token (POST /classes/{id}/join) and connects to the SFU with livekit-client (served
// by the control plane at /assets/vendor/livekit-client.umd.js, loaded only here).
//
// The room page uses the whole window: the stage (room-stage.js: grid or speaker view, pin,
// full screen) with the controls under it, and a side panel with the raised hands, the
// people (room-people.js, hands first) and the persisted chat, Q&A and polls (room-talk.js).
// The teacher can mute, remove (with an optional ban), lock the room, mute everyone, lower
// every hand and end the class for everyone. Raised hands are the participant attribute
// "hand"; everything the server relays arrives as data messages (docs/classroom.md).
// Errors are shown in plain words: camera denied, connection lost (livekit-client reconnects
// by itself; the banner says so), removed from the room, replaced by another tab.
"use strict";

(() => {
  const { h, icon, call, route, onLeave, user, toast } = Atrium;
  const VENDOR = "/assets/vendor/livekit-client.umd.js";
  const HAND = "hand"; // attribute and topic (docs/classroom.md)
  const rejoining = new Map(); // classID -> the pre-join choice, for Rejoin

  // loadLivekit adds the livekit-client script once. When the server has no copy, it reads
  // the server's 404 text (which says how to install it) into the error.
  function loadLivekit() {
    if (window.LivekitClient) return Promise.resolve(window.LivekitClient);
    return new Promise((resolve, reject) => {
      const s = h("script", { src: VENDOR });
      s.addEventListener("load", () => (window.LivekitClient ? resolve(window.LivekitClient) : reject(new Error("livekit-client did not load"))));
      s.addEventListener("error", async () => {
        s.remove();
        const text = await fetch(VENDOR).then((r) => r.text()).catch(() => "");
        reject(new Error("The video library could not be loaded. " + (text || "The server did not answer.")));
      });
      document.head.append(s);
    });
  }

  function mediaErrorText(e) {
    const n = e && e.name;
    if (n === "NotAllowedError" || n === "SecurityError" || /permission/i.test(String(e && e.message))) {
      return "Camera or microphone access was denied. Allow it for this site in your browser's settings, then press the camera or microphone button again.";
    }
    if (n === "NotFoundError" || n === "OverconstrainedError") return "No camera or microphone was found. Plug one in and try again.";
    if (n === "NotReadableError") return "Your camera or microphone is in use by another application.";
    return "Could not start your camera or microphone: " + (e && e.message ? e.message : String(e));
  }

  // closedPage explains why the room is not open now, from the server's join window; before
  // it opens it counts down and lets the person in by itself.
  function closedPage(c) {
    const msg = h("p", { id: "room-closed-msg", role: "status" });
    if (c.status === "cancelled") msg.textContent = "This class was cancelled.";
    else if (c.opens_in_seconds > 0) {
      msg.append("The classroom opens in ", Atrium.countdown(c.opens_in_seconds, () => Atrium.dispatch()), ". This page lets you in when it does.");
    } else msg.textContent = "This class has ended.";
    return h("section", { class: "card narrow" }, h("h1", {}, c.title), msg, h("a", { href: "#/class/" + c.id }, "Back to the class page"));
  }

  route(/^\/class\/([0-9a-f-]{36})\/room$/, async ([classID], _q, ctx) => {
    const me = user();
    let c;
    try {
      c = await call("GET", "/classes/" + classID);
    } catch (e) {
      ctx.mount(h("section", { class: "card narrow" }, h("h1", {}, "Class not found"), h("p", { class: "error" }, e.message), h("a", { href: "#/" }, "Back to classes")));
      return;
    }
    if (!ctx.current()) return;
    if (!c.joinable_now) {
      ctx.mount(closedPage(c));
      return;
    }
    const isTeacher = me.id === c.teacher.id;
    const canPublish = isTeacher || c.students_can_publish;
    let choice = rejoining.get(classID);
    rejoining.delete(classID);
    if (!choice) choice = await preJoin({ c, me, isTeacher, canPublish, ctx });
    if (!choice || !ctx.current()) return;
    await enterRoom({ c, me, choice, ctx });
  }, { role: "any" });

  // ---- pre-join ----

  // preJoin shows the device check and resolves with the person's choice ({name, cam, mic,
  // videoDevice, audioDevice, speakerDevice}), or null if they navigate away.
  function preJoin({ c, me, isTeacher, canPublish, ctx }) {
    return new Promise((resolve) => {
      const prefs = JSON.parse(localStorage.getItem("atrium.prejoin." + me.id) || "{}");
      let camOn = canPublish && isTeacher;
      let micOn = canPublish && isTeacher;
      let stream = null;
      let seq = 0;
      const video = h("video", { id: "prejoin-video", autoplay: true, playsInline: true, muted: true });
      const avatar = h("div", { class: "avatar", "aria-hidden": "true" }, Atrium.roomStage.initials(me.name));
      const preview = h("div", { class: "tile prejoin-preview local no-video" }, video, avatar);
      const status = h("p", { id: "prejoin-status", class: "meta", role: "status", "aria-live": "polite" });
      const camBtn = h("button", { type: "button", id: "prejoin-cam", class: "control" });
      const micBtn = h("button", { type: "button", id: "prejoin-mic", class: "control" });
      const name = h("input", { id: "prejoin-name", name: "name", required: true, maxLength: 64, autocomplete: "nickname", value: prefs.name || me.name });
      const pick = (id, label) => {
        const sel = h("select", { id, name: id });
        return [sel, h("div", { class: "field" }, h("label", { for: id }, label), sel)];
      };
      const [camSel, camField] = pick("prejoin-camera", "Camera");
      const [micSel, micField] = pick("prejoin-microphone", "Microphone");
      const [spkSel, spkField] = pick("prejoin-speaker", "Speaker");
      const join = h("button", { type: "submit", id: "prejoin-join" }, isTeacher ? "Start class" : "Join class");
      const form = h("form", { id: "prejoin-form", class: "prejoin-form" },
        h("div", { class: "field" }, h("label", { for: "prejoin-name" }, "Your name in the class"), name),
        canPublish ? [camField, micField] : null, spkField, status, join);

      function paint() {
        camBtn.replaceChildren(icon(camOn ? "cam" : "cam-off"), " ", camOn ? "Camera on" : "Camera off");
        micBtn.replaceChildren(icon(micOn ? "mic" : "mic-off"), " ", micOn ? "Microphone on" : "Microphone off");
        camBtn.setAttribute("aria-pressed", String(camOn));
        micBtn.setAttribute("aria-pressed", String(micOn));
        camBtn.classList.toggle("off", !camOn);
        micBtn.classList.toggle("off", !micOn);
        preview.classList.toggle("no-video", !(camOn && stream && stream.getVideoTracks().length));
      }

      function stop() {
        if (stream) stream.getTracks().forEach((t) => t.stop());
        stream = null;
        video.srcObject = null;
      }

      async function fillDevices() {
        let devs = [];
        try { devs = await navigator.mediaDevices.enumerateDevices(); } catch (_) { /* none */ }
        const fill = (sel, kind, fallback, want) => {
          const list = devs.filter((d) => d.kind === kind);
          const cur = sel.value || want || "";
          sel.replaceChildren(...list.map((d, i) => h("option", { value: d.deviceId, selected: d.deviceId === cur }, d.label || fallback + " " + (i + 1))));
          sel.parentNode.hidden = list.length === 0;
        };
        fill(camSel, "videoinput", "Camera", prefs.videoDevice);
        fill(micSel, "audioinput", "Microphone", prefs.audioDevice);
        fill(spkSel, "audiooutput", "Speaker", prefs.speakerDevice);
      }

      // restart opens the camera and microphone as chosen (or nothing) for the preview.
      async function restart() {
        const mine = ++seq;
        stop();
        paint();
        if (!camOn && !micOn) return;
        const dev = (sel) => (sel.value ? { deviceId: { exact: sel.value } } : {});
        try {
          const s = await navigator.mediaDevices.getUserMedia({
            video: camOn ? Object.assign({ width: { ideal: 960 }, height: { ideal: 540 } }, dev(camSel)) : false,
            audio: micOn ? dev(micSel) : false,
          });
          if (mine !== seq || !ctx.current()) { s.getTracks().forEach((t) => t.stop()); return; }
          stream = s;
          video.srcObject = s;
          status.textContent = "";
          status.className = "meta";
        } catch (e) {
          if (mine !== seq) return;
          camOn = micOn = false;
          status.textContent = mediaErrorText(e) + " You can join without them.";
          status.className = "error";
        }
        paint();
        await fillDevices();
      }

      camBtn.addEventListener("click", () => { camOn = !camOn; restart(); });
      micBtn.addEventListener("click", () => { micOn = !micOn; restart(); });
      camSel.addEventListener("change", restart);
      micSel.addEventListener("change", restart);
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const chosen = { name: name.value.trim() || me.name, cam: camOn, mic: micOn, videoDevice: camSel.value, audioDevice: micSel.value,
          speakerDevice: spkSel.value };
        localStorage.setItem("atrium.prejoin." + me.id, JSON.stringify({ name: chosen.name === me.name ? "" : chosen.name,
          videoDevice: chosen.videoDevice, audioDevice: chosen.audioDevice, speakerDevice: chosen.speakerDevice }));
        stop();
        onLeave(null);
        resolve(chosen);
      });
      onLeave(() => { seq++; stop(); resolve(null); });

      ctx.mount(h("section", { class: "prejoin" },
        h("div", { class: "card prejoin-card" },
          h("h1", {}, c.title),
          h("p", { class: "meta" }, "with " + c.teacher.name + " · " + Atrium.when(c.starts_at) + " – " + Atrium.when(c.ends_at)),
          h("div", { class: "prejoin-body" },
            h("div", { class: "prejoin-media" }, preview,
              canPublish ? h("div", { class: "controls" }, micBtn, camBtn)
                : h("p", { class: "meta" }, "In this class only the teacher speaks and shows video; you can chat, ask and vote.")),
            form),
          h("a", { href: "#/class/" + c.id, class: "back" }, "← Back to the class page"))));
      paint();
      fillDevices();
      restart();
    });
  }

  // ---- the room ----

  async function enterRoom({ c, me, choice, ctx }) {
    const classID = c.id;
    const banner = h("div", { id: "room-status", class: "room-status", role: "status", "aria-live": "polite" }, "Connecting…");
    const title = h("h1", { id: "room-title" }, c.title);
    const head = h("div", { class: "room-head" }, title, banner);
    const controls = h("div", { class: "controls", role: "group", "aria-label": "Classroom controls" });
    const main = h("div", { class: "room-main" });
    const side = h("aside", { class: "room-side", "aria-label": "People and conversation" });
    const section = h("section", { class: "classroom" }, head, h("div", { class: "room-body" }, main, side));
    document.body.classList.add("in-room");
    const topbar = document.querySelector(".topbar");
    document.documentElement.style.setProperty("--topbar-h", (topbar ? topbar.offsetHeight : 0) + "px");
    ctx.mount(section);

    let room = null;
    let leaving = false;
    onLeave(async () => {
      leaving = true;
      document.body.classList.remove("in-room");
      if (room) await room.disconnect();
    });

    function status(text, kind) {
      banner.textContent = text;
      banner.className = "room-status " + (kind || "");
    }
    function fail(text, retry) {
      status(text, "err");
      if (retry) {
        banner.append(" ", h("button", { class: "secondary", id: "rejoin", on: { click: () => {
          rejoining.set(classID, choice);
          Atrium.dispatch();
        } } }, "Rejoin"));
      }
    }

    let grant, LK;
    try {
      [grant, LK] = await Promise.all([call("POST", "/classes/" + classID + "/join"), loadLivekit()]);
    } catch (e) {
      if (e.code === "join_too_early") fail("The classroom opens at " + Atrium.when(e.details.opens_at) + ". Come back a little before the start.");
      else if (e.code === "not_booked") fail("Book a seat to join this class.");
      else if (e.code === "class_ended") fail("This class has ended.");
      else if (e.code === "class_cancelled") fail("This class was cancelled.");
      else if (e.code === "banned_from_class") fail("The teacher removed you from this class; you cannot join it again.");
      else if (e.code === "room_locked") fail("The teacher has locked the classroom. Try again when they unlock it.", true);
      else fail(e.message);
      banner.after(h("a", { href: "#/class/" + classID }, "Back to the class page"));
      return;
    }
    if (!ctx.current() || leaving) return;
    document.title = c.title + " · Classroom · Atrium";
    const teacherID = c.teacher.id;
    const isTeacher = grant.role === "teacher";
    const canPublish = grant.can_publish;

    const E = LK.RoomEvent;
    const Source = LK.Track.Source;
    room = new LK.Room({
      adaptiveStream: true,
      dynacast: true,
      // Atrium's SFU speaks the dual-PeerConnection /rtc path; going there directly saves the
      // /rtc/v1 attempt and its fallback round trip.
      singlePeerConnection: false,
      videoCaptureDefaults: { resolution: LK.VideoPresets.h540.resolution, deviceId: choice.videoDevice || undefined },
      audioCaptureDefaults: { deviceId: choice.audioDevice || undefined },
      // A recordable class publishes H.264, which the recorder stores without transcoding.
      publishDefaults: c.recordable ? { videoCodec: "h264" } : undefined,
    });
    if (Atrium.recording) Atrium.recording.classroom({ room, LK, classID, cls: c, isTeacher, controls, head });

    // ---- moderation (the teacher) ----
    const base = "/classes/" + classID;
    const who = (p) => p.name || p.identity;
    // missing: the server has no such route (an older control plane). Unknown POST paths are
    // 405, since the UI answers GET on every path outside the API's routes.
    const missing = (e) => e.status === 405 || (e.status === 404 && /no route/.test(e.message));

    async function mute(p, btn) {
      if (btn) btn.disabled = true;
      try {
        await call("POST", base + "/participants/" + encodeURIComponent(p.identity) + "/mute", { kind: "audio" });
        toast("You muted " + who(p) + ".");
      } catch (e) {
        toast(e.code === "not_found" ? who(p) + " is no longer in the class." : "Could not mute " + who(p) + ": " + e.message, "err");
      } finally {
        if (btn) btn.disabled = false;
      }
    }

    async function remove(p) {
      const ask = await Atrium.roomPeople.askRemove(p);
      if (!ask) return;
      try {
        const res = await call("POST", base + "/participants/" + encodeURIComponent(p.identity) + "/remove", { ban: ask.ban, reason: ask.reason });
        if (ask.ban && !res.banned) toast(who(p) + " was removed, but this server does not keep bans yet: they can rejoin.", "err");
        else toast(who(p) + (ask.ban ? " was removed and banned from this class." : " was removed from the class."));
      } catch (e) {
        toast(e.code === "not_found" ? who(p) + " is no longer in the class." : "Could not remove " + who(p) + ": " + e.message, "err");
      }
    }

    async function send(topic, obj, to) {
      await room.localParticipant.publishData(new TextEncoder().encode(JSON.stringify(obj)), { reliable: true, topic, destinationIdentities: to || [] });
    }

    async function lower(p) {
      try { await send(HAND, { raised: false }, [p.identity]); } catch (_) { /* they left */ }
    }

    const students = () => [...room.remoteParticipants.values()].filter((p) => p.identity !== teacherID);

    function moderationBar(p) {
      if (!isTeacher || p.isLocal || p.identity === teacherID) return null;
      const m = h("button", { type: "button", class: "secondary small mod-mute", "aria-label": "Mute " + who(p) + "'s microphone",
        on: { click: () => mute(p, m) } }, icon("mic-off"), " Mute");
      const r = h("button", { type: "button", class: "danger small mod-remove", "aria-label": "Remove " + who(p) + " from the class",
        on: { click: () => remove(p) } }, " Remove");
      return h("div", { class: "moderation", role: "group", "aria-label": "Moderate " + who(p) }, m, r);
    }

    // ---- the parts ----
    const handOf = Atrium.roomPeople.handOf;
    const stage = Atrium.roomStage.create({ LK, teacherID, moderationBar, handOf,
      onScreenShare: (p, label) => { if (!p.isLocal) toast(label + " is sharing the screen"); } });
    const people = Atrium.roomPeople.create({ room, teacherID, isTeacher, actions: { lower, mute, remove } });
    const tabs = {};
    const talk = Atrium.roomTalk.create({ classID, me, isTeacher, teacherID, unread: (t) => tabs[t] && tabs[t].unread() });

    // Device pickers (switch the live track without leaving the room).
    const pickers = {
      videoinput: h("select", { id: "pick-camera", "aria-label": "Camera" }),
      audioinput: h("select", { id: "pick-mic", "aria-label": "Microphone" }),
      audiooutput: h("select", { id: "pick-speaker", "aria-label": "Speaker" }),
    };
    const devicesBox = h("details", { class: "devices", id: "devices", hidden: true }, h("summary", {}, "Camera, microphone and speaker"),
      h("label", { for: "pick-camera" }, "Camera"), pickers.videoinput,
      h("label", { for: "pick-mic" }, "Microphone"), pickers.audioinput,
      h("label", { for: "pick-speaker" }, "Speaker"), pickers.audiooutput);

    // The teacher's room-wide controls.
    let locked = !!(c.locked || c.locked_at);
    if (isTeacher) {
      call("GET", base + "/lifecycle").then((l) => { if (l && typeof l.locked === "boolean") { locked = l.locked; paintLock(); } }).catch(() => {});
    }
    const lockBtn = h("button", { type: "button", id: "lock-room", class: "secondary small", "aria-pressed": String(locked) });
    const paintLock = () => { lockBtn.textContent = locked ? "Unlock room" : "Lock room"; lockBtn.setAttribute("aria-pressed", String(locked)); };
    paintLock();
    lockBtn.addEventListener("click", () => Atrium.busy(lockBtn, async () => {
      try {
        const res = await call("POST", base + "/lock", { locked: !locked });
        locked = res && typeof res.locked === "boolean" ? res.locked : !locked;
        paintLock();
        toast(locked ? "The room is locked: nobody new can join." : "The room is open again.");
      } catch (e) {
        toast(missing(e) ? "This server cannot lock rooms yet." : "Could not change the lock: " + e.message, "err");
      }
    }));
    const muteAllBtn = h("button", { type: "button", id: "mute-all", class: "secondary small" }, "Mute everyone");
    muteAllBtn.addEventListener("click", () => Atrium.busy(muteAllBtn, async () => {
      try {
        await call("POST", base + "/mute-all");
      } catch (e) {
        if (!missing(e)) { toast("Could not mute everyone: " + e.message, "err"); return; }
        // An older server: mute each student's microphone one by one.
        for (const p of students()) {
          const pub = p.getTrackPublication(Source.Microphone);
          if (pub && !pub.isMuted) await call("POST", base + "/participants/" + encodeURIComponent(p.identity) + "/mute", { kind: "audio" }).catch(() => {});
        }
      }
      toast("Everyone's microphone is muted.");
    }));
    const lowerAllBtn = h("button", { type: "button", id: "lower-hands", class: "secondary small" }, "Lower all hands");
    lowerAllBtn.addEventListener("click", () => Atrium.busy(lowerAllBtn, async () => {
      try {
        await call("POST", base + "/lower-hands");
      } catch (e) {
        if (!missing(e)) { toast("Could not lower the hands: " + e.message, "err"); return; }
      }
      // Tell every client too (an older server only stores the request; clients lower their own).
      try { await send(HAND, { raised: false }); } catch (_) { /* nobody there */ }
      toast("All hands lowered.");
    }));
    const teacherBar = isTeacher ? h("div", { class: "teacher-bar", role: "group", "aria-label": "Class controls" }, lockBtn, muteAllBtn, lowerAllBtn) : null;

    // Side panel tabs.
    function tab(key, label, panel) {
      const dot = h("span", { class: "dot", hidden: true, "aria-label": "new" });
      const count = h("span", { class: "count" });
      const b = h("button", { type: "button", role: "tab", id: "tab-" + key, "aria-controls": "panel-" + key, "aria-selected": "false" }, label, count, dot);
      const p = h("div", { role: "tabpanel", id: "panel-" + key, class: "tab-panel", "aria-labelledby": "tab-" + key, hidden: true }, panel);
      const t = { b, p, dot, count, unread: () => { if (b.getAttribute("aria-selected") !== "true") dot.hidden = false; } };
      b.addEventListener("click", () => select(key));
      tabs[key] = t;
      return t;
    }
    function select(key) {
      for (const [k, t] of Object.entries(tabs)) {
        const on = k === key;
        t.b.setAttribute("aria-selected", String(on));
        t.b.tabIndex = on ? 0 : -1;
        t.p.hidden = !on;
        if (on) t.dot.hidden = true;
      }
    }
    const order = [
      tab("people", "People", [teacherBar, people.list, devicesBox]),
      tab("chat", "Chat", talk.chat),
      tab("qa", "Q&A", talk.qa),
      tab("polls", "Polls", talk.polls),
    ];
    const tablist = h("div", { class: "tabs room-tabs", role: "tablist", "aria-label": "Side panel" }, order.map((t) => t.b));
    tablist.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      const keys = Object.keys(tabs);
      const i = keys.findIndex((k) => tabs[k].b.getAttribute("aria-selected") === "true");
      const next = keys[(i + (ev.key === "ArrowRight" ? 1 : keys.length - 1)) % keys.length];
      select(next);
      tabs[next].b.focus();
    });
    side.append(people.handsBox, tablist, ...order.map((t) => t.p));
    select("chat");

    let renderQueued = false;
    function renderPeople() {
      if (renderQueued) return;
      renderQueued = true;
      setTimeout(() => {
        renderQueued = false;
        tabs.people.count.textContent = " (" + people.render() + ")";
      }, 50);
    }

    // ---- controls ----
    let handUp = false;
    const btn = (id, on) => h("button", { type: "button", id, class: "control", "aria-pressed": "false", on: { click: on } });
    const micBtn = btn("toggle-mic", () => toggle("mic"));
    const camBtn = btn("toggle-cam", () => toggle("cam"));
    const screenBtn = btn("toggle-screen", () => toggle("screen"));
    const handBtn = btn("raise-hand", () => setHand(!handUp, false));
    const layoutBtn = h("button", { type: "button", id: "toggle-layout", class: "control", on: { click: () => {
      stage.setMode(stage.mode() === "speaker" ? "grid" : "speaker");
      updateControls();
    } } });
    const fullBtn = h("button", { type: "button", id: "toggle-fullscreen", class: "control", on: { click: () => {
      Atrium.roomStage.fullscreen(main).catch((e) => toast("Full screen is not available: " + e.message, "err"));
    } } });
    const onFullscreen = () => updateControls();
    document.addEventListener("fullscreenchange", onFullscreen);
    const audioBtn = h("button", { type: "button", id: "start-audio", class: "control", hidden: true, on: { click: () => room.startAudio() } }, icon("sound"), " Enable sound");
    const endBtn = h("button", { type: "button", id: "end-class", class: "control danger", on: { click: () => Atrium.busy(endBtn, endClass) } }, "End class");
    const leaveBtn = h("button", { type: "button", id: "leave", class: "control danger", on: { click: async () => {
      leaving = true;
      await room.disconnect();
      location.hash = "#/class/" + classID;
    } } }, icon("leave"), " Leave");
    if (canPublish) controls.append(micBtn, camBtn, screenBtn);
    if (!isTeacher) controls.append(handBtn);
    controls.append(layoutBtn, fullBtn, audioBtn);
    if (isTeacher) controls.append(endBtn);
    controls.append(leaveBtn);
    main.append(stage.el, controls, stage.audioBox);

    function updateControls() {
      const lp = room.localParticipant;
      const set = (b, on, onIcon, onText, offIcon, offText) => {
        b.replaceChildren(icon(on ? onIcon : offIcon), " ", on ? onText : offText);
        b.setAttribute("aria-pressed", String(on));
        b.classList.toggle("off", !on);
      };
      set(micBtn, lp.isMicrophoneEnabled, "mic", "Mute", "mic-off", "Unmute");
      set(camBtn, lp.isCameraEnabled, "cam", "Stop video", "cam-off", "Start video");
      set(screenBtn, lp.isScreenShareEnabled, "screen", "Stop sharing", "screen", "Share screen");
      set(handBtn, handUp, "hand", "Lower hand", "hand", "Raise hand");
      handBtn.classList.remove("off"); // only a muted microphone or camera looks "off"
      screenBtn.classList.remove("off");
      layoutBtn.textContent = stage.mode() === "speaker" ? "Grid view" : "Speaker view";
      layoutBtn.setAttribute("aria-pressed", String(stage.mode() === "speaker"));
      const full = !!document.fullscreenElement;
      fullBtn.textContent = full ? "Exit full screen" : "Full screen";
      fullBtn.setAttribute("aria-pressed", String(full));
    }

    // setHand raises or lowers this participant's hand: the attribute everyone sees.
    async function setHand(up, byTeacher) {
      if (up === handUp) return;
      handUp = up;
      updateControls();
      if (byTeacher) toast("The teacher lowered your hand.");
      try {
        await room.localParticipant.setAttributes({ [HAND]: up ? new Date().toISOString() : "" });
      } catch (e) {
        toast("Could not " + (up ? "raise" : "lower") + " your hand: " + e.message, "err");
      }
    }

    async function endClass() {
      // The server says what ending now would do to the money (GET /lifecycle's end_preview);
      // without it the dialog states the rules.
      const life = await call("GET", base + "/lifecycle").catch(() => null);
      if (!(await Atrium.roomPeople.askEnd(c, life && life.end_preview))) return;
      let res;
      try {
        res = await call("POST", base + "/end");
      } catch (e) {
        toast(missing(e) ? "This server cannot end a class for everyone yet." : "Could not end the class: " + e.message, "err");
        return;
      }
      leaving = true;
      await room.disconnect();
      fail("You ended the class for everyone.");
      banner.after(h("a", { href: "#/class/" + classID }, "Back to the class page"));
      if (res && res.effect && res.effect.message) banner.after(h("p", { class: "meta", id: "end-effect" }, res.effect.message));
    }

    async function loadDevices() {
      for (const [kind, sel] of Object.entries(pickers)) {
        let list = [];
        try { list = await LK.Room.getLocalDevices(kind, false); } catch (_) { /* no permission yet */ }
        const active = room.getActiveDevice(kind);
        sel.replaceChildren(...list.map((d, i) => h("option", { value: d.deviceId, selected: d.deviceId === active },
          d.label || (kind === "videoinput" ? "Camera " : kind === "audioinput" ? "Microphone " : "Speaker ") + (i + 1))));
        sel.disabled = list.length < 2;
        sel.previousSibling.hidden = sel.hidden = list.length === 0;
      }
    }
    for (const [kind, sel] of Object.entries(pickers)) {
      sel.addEventListener("change", async () => {
        try {
          await room.switchActiveDevice(kind, sel.value);
        } catch (e) {
          status(mediaErrorText(e), "err");
        }
      });
    }

    let toggling = false; // our own mute, not the teacher's
    async function toggle(what) {
      const lp = room.localParticipant;
      toggling = true;
      try {
        if (what === "mic") await lp.setMicrophoneEnabled(!lp.isMicrophoneEnabled);
        if (what === "cam") await lp.setCameraEnabled(!lp.isCameraEnabled);
        if (what === "screen") await lp.setScreenShareEnabled(!lp.isScreenShareEnabled, { audio: true });
      } catch (e) {
        if (what === "screen" && e && e.name === "NotAllowedError") toast("Screen sharing was cancelled.");
        else status(mediaErrorText(e), "err");
      } finally {
        toggling = false;
      }
      if (banner.textContent.startsWith("The teacher muted")) status("", "hidden");
      syncAll();
      if (what !== "screen") loadDevices();
    }

    function syncAll() {
      stage.sync(room.localParticipant);
      room.remoteParticipants.forEach(stage.sync);
      updateControls();
      renderPeople();
    }
    const syncOne = (p) => { stage.sync(p); renderPeople(); };

    // ---- room events ----
    room.on(E.DataReceived, (payload, participant, _kind, topic) => {
      let msg;
      try { msg = JSON.parse(new TextDecoder().decode(payload)); } catch (_) { return; }
      if (!msg || typeof msg !== "object") return;
      if (!participant) { // the server: chat, Q&A and polls
        talk.receive(topic, msg);
        if (topic === HAND && msg.raised === false && !isTeacher) setHand(false, true);
        return;
      }
      if (topic === HAND && msg.raised === false && participant.identity === teacherID && !isTeacher) setHand(false, true);
    });
    room
      .on(E.ParticipantConnected, (p) => {
        syncOne(p);
        if (room.remoteParticipants.size <= 12) toast(who(p) + " joined"); // no storm in a lecture
      })
      .on(E.ParticipantDisconnected, (p) => { stage.removeParticipant(p); renderPeople(); })
      .on(E.ParticipantAttributesChanged, (_changed, p) => {
        syncOne(p);
        if (p.isLocal && !handOf(p) && handUp) { handUp = false; updateControls(); toast("The teacher lowered your hand."); }
        if (isTeacher && !p.isLocal && handOf(p) && _changed && HAND in _changed) toast(who(p) + " raised a hand");
      })
      .on(E.TrackSubscribed, (_t, _pub, p) => syncOne(p))
      .on(E.TrackUnsubscribed, (track, _pub, p) => { track.detach(); syncOne(p); })
      .on(E.TrackPublished, (_pub, p) => syncOne(p))
      .on(E.TrackUnpublished, (_pub, p) => syncOne(p))
      .on(E.TrackMuted, (pub, p) => {
        syncOne(p);
        if (p.isLocal && !toggling && !isTeacher) { // the SFU muted us: the teacher did
          const what = pub.source === Source.Microphone ? "microphone" : pub.source === Source.Camera ? "camera" : "screen share";
          status("The teacher muted your " + what + ". You can unmute it when they invite you to speak.", "warn");
          updateControls();
        }
      })
      .on(E.TrackUnmuted, (_pub, p) => syncOne(p))
      .on(E.LocalTrackPublished, () => syncAll())
      .on(E.LocalTrackUnpublished, (pub) => { if (pub.track) pub.track.detach(); syncAll(); })
      .on(E.ParticipantNameChanged, (_n, p) => syncOne(p))
      .on(E.ActiveSpeakersChanged, (list) => { stage.speakers(list); syncAll(); })
      .on(E.ConnectionQualityChanged, (_q, p) => stage.sync(p))
      .on(E.MediaDevicesError, (e) => status(mediaErrorText(e), "err"))
      .on(E.AudioPlaybackStatusChanged, () => { audioBtn.hidden = room.canPlaybackAudio; })
      .on(E.Reconnecting, () => status("Connection lost. Reconnecting…", "warn"))
      .on(E.SignalReconnecting, () => status("Connection unstable. Reconnecting…", "warn"))
      .on(E.Reconnected, () => {
        status("Reconnected.", "ok");
        setTimeout(() => { if (banner.textContent === "Reconnected.") status("", "hidden"); }, 3000);
        syncAll();
        talk.load().catch(() => {}); // what was said while we were away
      })
      .on(E.Disconnected, (reason) => {
        document.removeEventListener("fullscreenchange", onFullscreen);
        if (leaving) return;
        const R = LK.DisconnectReason;
        const why = {
          [R.DUPLICATE_IDENTITY]: "You joined this class from another tab or device.",
          [R.PARTICIPANT_REMOVED]: "The teacher removed you from the class.",
          [R.ROOM_DELETED]: "The class has ended: the room was closed.",
          [R.SERVER_SHUTDOWN]: "The server restarted.",
        }[reason] || "The connection was lost and could not be restored.";
        fail(why, reason !== R.PARTICIPANT_REMOVED && reason !== R.DUPLICATE_IDENTITY && reason !== R.ROOM_DELETED);
      });

    const connectOpts = {};
    if (grant.ice_servers && grant.ice_servers.length) connectOpts.rtcConfig = { iceServers: grant.ice_servers };
    try {
      await room.connect(grant.url, grant.token, connectOpts);
    } catch (e) {
      if (leaving) return;
      const detail = e && e.message ? e.message : String(e);
      console.warn("classroom: connect failed:", detail);
      fail(/signal connection|fetch|websocket|timed? ?out/i.test(detail)
        ? "Could not connect to the classroom: the video server did not answer. Check your internet connection, then press Rejoin."
        : "Could not connect to the classroom: " + detail, true);
      return;
    }
    if (leaving) return;
    window.atriumRoom = room; // for the console, and for the browser tests
    status(isTeacher ? "You are live." : "Connected.", "ok");
    setTimeout(() => { if (/^(You are live|Connected)\.$/.test(banner.textContent)) status("", "hidden"); }, 4000);
    handUp = !!handOf(room.localParticipant);
    syncAll();
    audioBtn.hidden = room.canPlaybackAudio;
    talk.load().catch((e) => toast("Could not load the chat history: " + e.message, "err"));
    // The SFU drops data for us until our data channel opens, a moment after connecting:
    // load once more then, so nothing said in between is missed.
    setTimeout(() => { if (!leaving) talk.load().catch(() => {}); }, 3000);
    if (choice.name && choice.name !== me.name) room.localParticipant.setName(choice.name).catch(() => {});
    if (canPublish && (choice.cam || choice.mic)) {
      try {
        if (choice.cam && choice.mic) await room.localParticipant.enableCameraAndMicrophone();
        else if (choice.cam) await room.localParticipant.setCameraEnabled(true);
        else await room.localParticipant.setMicrophoneEnabled(true);
      } catch (e) {
        status(mediaErrorText(e), "err");
      }
      syncAll();
    }
    if (choice.speakerDevice) room.switchActiveDevice("audiooutput", choice.speakerDevice).catch(() => {});
    if (canPublish) {
      devicesBox.hidden = false;
      await loadDevices();
      room.on(E.MediaDevicesChanged, loadDevices);
    }
  }
})();
