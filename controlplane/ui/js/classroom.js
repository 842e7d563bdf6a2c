// The live classroom: asks the control plane for a join token (POST /classes/{id}/join) and
// connects to the SFU with livekit-client (served by the control plane at
// /assets/vendor/livekit-client.umd.js and loaded only here). The teacher publishes camera and
// microphone (and can share the screen); everyone sees a grid of participants with names,
// mute indicators, the active speaker and connection quality; a chat over the reliable data
// channel (topic "chat"); students raise a hand (topic "hand", sent to the teacher only).
// Errors are shown in plain words: camera denied, connection lost (livekit-client reconnects
// by itself; the banner says so), removed from the room. The teacher can mute a student's
// microphone or remove them (POST /classes/{id}/participants/{userID}/mute|remove, which the
// control plane carries out through the SFU's RoomService); the student is told either way.
"use strict";

(() => {
  const { h, icon, call, route, onLeave, user, toast } = Atrium;
  const VENDOR = "/assets/vendor/livekit-client.umd.js";
  const CHAT_MAX = 1000;

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

  function initials(name) {
    return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
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

  const QUALITY = { excellent: "Excellent connection", good: "Good connection", poor: "Poor connection", lost: "Connection lost", unknown: "Connection quality unknown" };

  route(/^\/class\/([0-9a-f-]{36})\/room$/, async ([classID], _q, { mount, current }) => {
    const me = user();
    const banner = h("div", { id: "room-status", class: "room-status", role: "status", "aria-live": "polite" }, "Connecting…");
    const stage = h("div", { id: "stage", class: "stage", "aria-label": "Participants" });
    const audioBox = h("div", { id: "audio", hidden: true });
    const chatLog = h("ol", { id: "chat-log", class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Chat messages" });
    const chatInput = h("input", { id: "chat-input", name: "text", maxLength: CHAT_MAX, autocomplete: "off", placeholder: "Message everyone", "aria-label": "Chat message" });
    const chatTo = h("select", { id: "chat-to", "aria-label": "Send to" }, h("option", { value: "all" }, "Everyone"),
      h("option", { value: "teacher" }, "Teacher only"));
    const chatForm = h("form", { id: "chat-form", class: "chat-form" }, chatTo, chatInput, h("button", { type: "submit" }, "Send"));
    const hands = h("ul", { id: "hands", class: "hands", "aria-label": "Raised hands" });
    const controls = h("div", { class: "controls", role: "group", "aria-label": "Classroom controls" });
    const title = h("h1", { id: "room-title" }, "Classroom");
    const pickers = {
      videoinput: h("select", { id: "pick-camera", "aria-label": "Camera" }),
      audioinput: h("select", { id: "pick-mic", "aria-label": "Microphone" }),
      audiooutput: h("select", { id: "pick-speaker", "aria-label": "Speaker" }),
    };
    const devicesBox = h("details", { class: "devices", id: "devices", hidden: true }, h("summary", {}, "Camera, microphone and speaker"),
      h("label", { for: "pick-camera" }, "Camera"), pickers.videoinput,
      h("label", { for: "pick-mic" }, "Microphone"), pickers.audioinput,
      h("label", { for: "pick-speaker" }, "Speaker"), pickers.audiooutput);
    mount(h("section", { class: "classroom" },
      h("div", { class: "room-head" }, title, banner),
      h("div", { class: "room-body" },
        h("div", { class: "room-main" }, stage, controls),
        h("aside", { class: "room-side" },
          devicesBox,
          h("h2", {}, "Raised hands"), hands,
          h("h2", {}, "Chat"), chatLog, chatForm)),
      audioBox));

    function status(text, kind) {
      banner.textContent = text;
      banner.className = "room-status " + (kind || "");
    }
    function fail(text, retry) {
      status(text, "err");
      if (retry) banner.append(" ", h("button", { class: "secondary", id: "rejoin", on: { click: () => Atrium.dispatch() } }, "Rejoin"));
    }

    let c, grant, LK;
    try {
      [c, grant, LK] = await Promise.all([
        call("GET", "/classes/" + classID),
        call("POST", "/classes/" + classID + "/join"),
        loadLivekit(),
      ]);
    } catch (e) {
      if (e.code === "join_too_early") fail("The classroom opens at " + Atrium.when(e.details.opens_at) + ". Come back a little before the start.");
      else if (e.code === "not_booked") fail("Book a seat to join this class.");
      else if (e.code === "class_ended") fail("This class has ended.");
      else if (e.code === "class_cancelled") fail("This class was cancelled.");
      else fail(e.message);
      banner.after(h("a", { href: "#/class/" + classID }, "Back to the class page"));
      return;
    }
    if (!current()) return; // the user went elsewhere while we were asking
    title.textContent = c.title;
    document.title = c.title + " · Classroom · Atrium";
    const teacherID = c.teacher.id;
    const isTeacher = grant.role === "teacher";
    if (isTeacher) hands.append(h("li", { class: "meta empty" }, "No hands raised."));
    else hands.previousSibling.hidden = hands.hidden = true;
    chatTo.hidden = isTeacher; // students may write to the teacher alone

    const E = LK.RoomEvent;
    const Source = LK.Track.Source;
    const room = new LK.Room({
      adaptiveStream: true,
      dynacast: true,
      // Atrium's SFU speaks the dual-PeerConnection /rtc path; going there directly saves the
      // /rtc/v1 attempt and its fallback round trip.
      singlePeerConnection: false,
      videoCaptureDefaults: { resolution: LK.VideoPresets.h540.resolution },
      // A recordable class publishes H.264, which the recorder stores without transcoding.
      publishDefaults: c.recordable ? { videoCodec: "h264" } : undefined,
    });
    // Recording indicator and the teacher's button (recording.js).
    if (Atrium.recording) Atrium.recording.classroom({ room, LK, classID, cls: c, isTeacher, controls, head: title.parentNode });
    let leaving = false;
    onLeave(async () => {
      leaving = true;
      await room.disconnect();
    });

    // ---- tiles ----
    const tiles = new Map(); // key identity|source -> {el, video, name, mic, quality, hand}
    const raised = new Map(); // identity -> name (teacher's view)

    function tileFor(p, source) {
      const key = p.identity + "|" + source;
      let t = tiles.get(key);
      if (t) return t;
      const video = h("video", { autoplay: true, playsInline: true, muted: true, "data-identity": p.identity, "data-source": source });
      const name = h("span", { class: "name" });
      const mic = h("span", { class: "mic", role: "img" });
      const quality = h("span", { class: "quality", role: "img" }, h("i"), h("i"), h("i"));
      const hand = h("span", { class: "hand", role: "img", "aria-label": "hand raised", hidden: true }, icon("hand"));
      const avatar = h("div", { class: "avatar", "aria-hidden": "true" });
      const el = h("figure", { class: "tile" + (source === Source.ScreenShare ? " screen" : ""), "data-identity": p.identity, "data-source": source },
        video, avatar,
        h("figcaption", {}, name, p.identity === teacherID ? h("span", { class: "badge" }, "Teacher") : null,
          p.isLocal ? h("span", { class: "badge you" }, "You") : null, hand, mic, quality));
      if (isTeacher && !p.isLocal && p.identity !== teacherID && source === Source.Camera) el.append(moderationBar(p));
      t = { el, video, name, mic, quality, hand, avatar, source };
      tiles.set(key, t);
      // The teacher first, then everyone else in join order; screen shares lead.
      if (source === Source.ScreenShare) stage.prepend(el);
      else if (p.identity === teacherID) stage.insertBefore(el, stage.querySelector(".tile:not(.screen)"));
      else stage.append(el);
      stage.dataset.count = String(tiles.size);
      return t;
    }

    // moderationBar is the teacher's Mute and Remove buttons on a student's tile (real
    // buttons, so keyboard and screen readers reach them).
    function moderationBar(p) {
      const who = () => p.name || p.identity;
      const act = async (btn, what, body, done) => {
        btn.disabled = true;
        try {
          await call("POST", "/classes/" + classID + "/participants/" + encodeURIComponent(p.identity) + "/" + what, body);
          toast(done());
        } catch (e) {
          toast(e.code === "not_found" ? who() + " is no longer in the class." : "Could not " + what + " " + who() + ": " + e.message, "err");
        } finally {
          btn.disabled = false;
        }
      };
      const mute = h("button", { type: "button", class: "secondary small mod-mute", "aria-label": "Mute " + who() + "'s microphone",
        on: { click: () => act(mute, "mute", { kind: "audio" }, () => "You muted " + who() + ".") } }, icon("mic-off"), " Mute");
      const remove = h("button", { type: "button", class: "danger small mod-remove", "aria-label": "Remove " + who() + " from the class",
        on: { click: () => act(remove, "remove", undefined, () => who() + " was removed from the class.") } }, " Remove");
      return h("div", { class: "moderation", role: "group", "aria-label": "Moderate " + who() }, mute, remove);
    }

    function dropTile(key) {
      const t = tiles.get(key);
      if (!t) return;
      t.el.remove();
      tiles.delete(key);
      stage.dataset.count = String(tiles.size);
    }

    // sync brings p's tiles in line with its publications: attaches video and audio once,
    // shows the avatar when the camera is off, and updates name, mic, speaking and quality.
    function sync(p) {
      const cam = p.getTrackPublication(Source.Camera);
      const micPub = p.getTrackPublication(Source.Microphone);
      const screen = p.getTrackPublication(Source.ScreenShare);
      const t = tileFor(p, Source.Camera);
      const label = p.name || p.identity;
      t.name.textContent = label;
      t.avatar.textContent = initials(label);
      const camOn = !!(cam && cam.track && !cam.isMuted);
      if (cam && cam.track && !cam.track.attachedElements.includes(t.video)) cam.track.attach(t.video);
      t.el.classList.toggle("no-video", !camOn);
      t.el.classList.toggle("local", p.isLocal);
      const micOn = !!(micPub && !micPub.isMuted);
      t.mic.replaceChildren(icon(micOn ? "mic" : "mic-off"));
      t.mic.setAttribute("aria-label", micOn ? "microphone on" : "microphone muted");
      t.mic.classList.toggle("off", !micOn);
      t.el.classList.toggle("speaking", p.isSpeaking);
      const q = p.connectionQuality || "unknown";
      t.quality.className = "quality q-" + q;
      t.quality.setAttribute("aria-label", QUALITY[q] || q);
      t.quality.title = QUALITY[q] || q;
      t.hand.hidden = !raised.has(p.identity);
      if (!p.isLocal && micPub && micPub.track && micPub.track.attachedElements.length === 0) {
        const a = micPub.track.attach();
        a.dataset.identity = p.identity;
        audioBox.append(a);
      }
      const key = p.identity + "|" + Source.ScreenShare;
      if (screen && screen.track) {
        if (!p.isLocal && !tiles.has(key)) toast(label + " is sharing the screen");
        const s = tileFor(p, Source.ScreenShare);
        s.name.textContent = label + "'s screen";
        if (!screen.track.attachedElements.includes(s.video)) screen.track.attach(s.video);
      } else {
        dropTile(key);
      }
      const sa = p.getTrackPublication(Source.ScreenShareAudio);
      if (!p.isLocal && sa && sa.track && sa.track.attachedElements.length === 0) audioBox.append(sa.track.attach());
    }

    function syncAll() {
      sync(room.localParticipant);
      room.remoteParticipants.forEach(sync);
      updateControls();
    }

    function removeParticipant(p) {
      dropTile(p.identity + "|" + Source.Camera);
      dropTile(p.identity + "|" + Source.ScreenShare);
      for (const a of audioBox.querySelectorAll("audio")) if (a.dataset.identity === p.identity) a.remove();
      if (raised.delete(p.identity)) renderHands();
    }

    // ---- chat and hands ----
    const enc = new TextEncoder();
    const dec = new TextDecoder();

    function addChat(name, text, self, private_) {
      chatLog.append(h("li", { class: (self ? "mine" : "") + (private_ ? " private" : "") },
        h("span", { class: "who" }, name), h("time", {}, new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })),
        h("p", {}, text)));
      while (chatLog.children.length > 300) chatLog.firstChild.remove();
      chatLog.scrollTop = chatLog.scrollHeight;
    }

    function renderHands() {
      if (!isTeacher) return;
      hands.replaceChildren();
      if (!raised.size) hands.append(h("li", { class: "meta empty" }, "No hands raised."));
      raised.forEach((name, identity) => {
        hands.append(h("li", {}, icon("hand"), " ", h("strong", {}, name), " ",
          h("button", { class: "ghost small", on: { click: () => lowerHand(identity) } }, "Lower")));
      });
      room.remoteParticipants.forEach(sync);
    }

    async function send(topic, obj, to) {
      await room.localParticipant.publishData(enc.encode(JSON.stringify(obj)), { reliable: true, topic, destinationIdentities: to || [] });
    }

    async function lowerHand(identity) {
      raised.delete(identity);
      renderHands();
      try { await send("hand", { raised: false }, [identity]); } catch (_) { /* they left */ }
    }

    chatForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = chatInput.value.trim().slice(0, CHAT_MAX);
      if (!text) return;
      try {
        const toTeacher = !isTeacher && chatTo.value === "teacher";
        await send("chat", toTeacher ? { text, private: true } : { text }, toTeacher ? [teacherID] : []);
        addChat(me.name + (toTeacher ? " (you, to the teacher)" : " (you)"), text, true, toTeacher);
        chatInput.value = "";
      } catch (e) {
        toast("Message not sent: " + e.message, "err");
      }
      chatInput.focus();
    });

    room.on(E.DataReceived, (payload, participant, _kind, topic) => {
      let msg;
      try { msg = JSON.parse(dec.decode(payload)); } catch (_) { return; }
      const name = participant ? participant.name || participant.identity : "Atrium";
      if (topic === "chat" && typeof msg.text === "string") {
        addChat(name + (msg.private ? " (to you only)" : ""), msg.text.slice(0, CHAT_MAX), false, !!msg.private);
      } else if (topic === "hand" && participant) {
        if (isTeacher) {
          if (msg.raised) {
            raised.set(participant.identity, name);
            toast(name + " raised a hand");
          } else {
            raised.delete(participant.identity);
          }
          renderHands();
        } else if (participant.identity === teacherID && msg.raised === false) {
          handUp = false;
          updateControls();
          toast("The teacher lowered your hand.");
        }
      }
    });

    // ---- controls ----
    let handUp = false;
    const btn = (id, on) => h("button", { id, class: "control", "aria-pressed": "false", on: { click: on } });
    const micBtn = btn("toggle-mic", () => toggle("mic"));
    const camBtn = btn("toggle-cam", () => toggle("cam"));
    const screenBtn = btn("toggle-screen", () => toggle("screen"));
    const handBtn = btn("raise-hand", async () => {
      handUp = !handUp;
      updateControls();
      try { await send("hand", { raised: handUp }, [teacherID]); } catch (e) { toast("Could not reach the teacher: " + e.message, "err"); }
    });
    const audioBtn = h("button", { id: "start-audio", class: "control", hidden: true, on: { click: () => room.startAudio() } }, icon("sound"), " Enable sound");
    const leaveBtn = h("button", { id: "leave", class: "control danger", on: { click: async () => {
      leaving = true;
      await room.disconnect();
      location.hash = "#/class/" + classID;
    } } }, icon("leave"), " Leave");
    const canPublish = grant.can_publish;
    if (canPublish) controls.append(micBtn, camBtn, screenBtn);
    if (!isTeacher) controls.append(handBtn);
    controls.append(audioBtn, leaveBtn);

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
    }

    // loadDevices fills the device pickers (labels appear once the browser has granted
    // access); choosing one switches the live track without leaving the room.
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

    // ---- room events ----
    room
      .on(E.ParticipantConnected, (p) => {
        sync(p);
        if (room.remoteParticipants.size <= 12) toast((p.name || p.identity) + " joined"); // no storm in a lecture
      })
      .on(E.ParticipantDisconnected, removeParticipant)
      .on(E.TrackSubscribed, (_t, _pub, p) => sync(p))
      .on(E.TrackUnsubscribed, (track, _pub, p) => { track.detach(); sync(p); })
      .on(E.TrackPublished, (_pub, p) => sync(p))
      .on(E.TrackUnpublished, (_pub, p) => sync(p))
      .on(E.TrackMuted, (pub, p) => {
        sync(p);
        if (p.isLocal && !toggling && !isTeacher) { // the SFU muted us: the teacher did
          const what = pub.source === Source.Microphone ? "microphone" : pub.source === Source.Camera ? "camera" : "screen share";
          status("The teacher muted your " + what + ". You can unmute it when they invite you to speak.", "warn");
          updateControls();
        }
      })
      .on(E.TrackUnmuted, (_pub, p) => sync(p))
      .on(E.LocalTrackPublished, () => syncAll())
      .on(E.LocalTrackUnpublished, (pub) => { if (pub.track) pub.track.detach(); syncAll(); })
      .on(E.ParticipantNameChanged, (_n, p) => sync(p))
      .on(E.ActiveSpeakersChanged, () => syncAll())
      .on(E.ConnectionQualityChanged, (_q, p) => sync(p))
      .on(E.MediaDevicesError, (e) => status(mediaErrorText(e), "err"))
      .on(E.AudioPlaybackStatusChanged, () => { audioBtn.hidden = room.canPlaybackAudio; })
      .on(E.Reconnecting, () => status("Connection lost. Reconnecting…", "warn"))
      .on(E.SignalReconnecting, () => status("Connection unstable. Reconnecting…", "warn"))
      .on(E.Reconnected, () => {
        status("Reconnected.", "ok");
        setTimeout(() => { if (banner.textContent === "Reconnected.") status("", "hidden"); }, 3000);
        syncAll();
      })
      .on(E.Disconnected, (reason) => {
        if (leaving) return;
        const R = LK.DisconnectReason;
        const why = {
          [R.DUPLICATE_IDENTITY]: "You joined this class from another tab or device.",
          [R.PARTICIPANT_REMOVED]: "The teacher removed you from the class.",
          [R.ROOM_DELETED]: "The class room was closed.",
          [R.SERVER_SHUTDOWN]: "The server restarted.",
        }[reason] || "The connection was lost and could not be restored.";
        fail(why, reason !== R.PARTICIPANT_REMOVED && reason !== R.DUPLICATE_IDENTITY);
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
    status(isTeacher ? "You are live." : "Connected.", "ok");
    setTimeout(() => { if (/^(You are live|Connected)\.$/.test(banner.textContent)) status("", "hidden"); }, 4000);
    syncAll();
    audioBtn.hidden = room.canPlaybackAudio;
    if (isTeacher) {
      try {
        await room.localParticipant.enableCameraAndMicrophone();
      } catch (e) {
        status(mediaErrorText(e), "err");
      }
      syncAll();
    }
    if (canPublish) {
      devicesBox.hidden = false;
      await loadDevices();
      room.on(E.MediaDevicesChanged, loadDevices);
    }
    chatInput.focus({ preventScroll: true });
    window.atriumRoom = room; // for the console, and for the browser test's simulated connection loss
  }, { role: "any" });
})();
