// The classroom's stage (classroom.js builds it): a tile per camera and per screen share,
// shown as a grid or as a speaker view (one large tile and a strip of small ones), with pin
// and full screen. A tile shows the video or the initials, the name, a teacher badge, the
// microphone state, the connection quality, a raised hand and a green outline on the active
// speaker. The main tile of the speaker view is the pinned tile, else a shared screen, else
// the last remote speaker, else the teacher. Tiles are ordered with CSS (order), never moved
// in the DOM, so a playing video is never detached.
"use strict";

(() => {
  const { h, icon } = Atrium;

  function initials(name) {
    return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  }

  const QUALITY = { excellent: "Excellent connection", good: "Good connection", poor: "Poor connection", lost: "Connection lost", unknown: "Connection quality unknown" };

  // create returns the stage. opts: {LK, teacherID, moderationBar(p): element or null (the
  // teacher's buttons on a student's tile), handOf(p): raised-hand time or "", onScreenShare(p)}.
  function create({ LK, teacherID, moderationBar, handOf, onScreenShare }) {
    const Source = LK.Track.Source;
    const el = h("div", { id: "stage", class: "stage grid", role: "region", "aria-label": "Participants" });
    const audioBox = h("div", { id: "audio", hidden: true });
    const tiles = new Map(); // identity|source -> {el, video, name, mic, quality, hand, avatar, pin, identity, source}
    let mode = "grid";
    let pinned = null;
    let speakerKey = null;
    let joinSeq = 0; // join order for CSS order

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
      const pin = h("button", { type: "button", class: "tile-pin", "aria-pressed": "false", on: { click: () => togglePin(key) } }, "Pin");
      const elTile = h("figure", { class: "tile" + (source === Source.ScreenShare ? " screen" : ""), "data-identity": p.identity, "data-source": source },
        video, avatar,
        h("div", { class: "tile-tools" }, pin),
        h("figcaption", {}, name, p.identity === teacherID ? h("span", { class: "badge" }, "Teacher") : null,
          p.isLocal ? h("span", { class: "badge you" }, "You") : null, hand, mic, quality));
      elTile.addEventListener("dblclick", () => togglePin(key));
      if (source === Source.Camera) {
        const bar = moderationBar(p);
        if (bar) elTile.append(bar);
      }
      t = { el: elTile, video, name, mic, quality, hand, avatar, pin, identity: p.identity, source, seq: ++joinSeq, teacher: p.identity === teacherID };
      tiles.set(key, t);
      el.append(elTile);
      layout();
      return t;
    }

    function dropTile(key) {
      const t = tiles.get(key);
      if (!t) return;
      t.el.remove();
      tiles.delete(key);
      if (pinned === key) pinned = null;
      if (speakerKey === key) speakerKey = null;
      layout();
    }

    // sync brings p's tiles in line with its publications: attaches video and audio once,
    // shows the initials when the camera is off, and updates name, mic, hand and quality.
    function sync(p) {
      const cam = p.getTrackPublication(Source.Camera);
      const micPub = p.getTrackPublication(Source.Microphone);
      const screen = p.getTrackPublication(Source.ScreenShare);
      const t = tileFor(p, Source.Camera);
      const label = p.name || p.identity;
      t.name.textContent = label;
      t.avatar.textContent = initials(label);
      t.pin.setAttribute("aria-label", (pinned === p.identity + "|" + Source.Camera ? "Unpin " : "Pin ") + label);
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
      t.hand.hidden = !handOf(p);
      if (!p.isLocal && micPub && micPub.track && micPub.track.attachedElements.length === 0) {
        const a = micPub.track.attach();
        a.dataset.identity = p.identity;
        audioBox.append(a);
      }
      const key = p.identity + "|" + Source.ScreenShare;
      if (screen && screen.track) {
        if (!tiles.has(key) && onScreenShare) onScreenShare(p, label);
        const s = tileFor(p, Source.ScreenShare);
        s.name.textContent = label + "'s screen";
        s.pin.setAttribute("aria-label", (pinned === key ? "Unpin " : "Pin ") + label + "'s screen");
        if (!screen.track.attachedElements.includes(s.video)) screen.track.attach(s.video);
      } else {
        dropTile(key);
      }
      const sa = p.getTrackPublication(Source.ScreenShareAudio);
      if (!p.isLocal && sa && sa.track && sa.track.attachedElements.length === 0) {
        const a = sa.track.attach();
        a.dataset.identity = p.identity;
        audioBox.append(a);
      }
    }

    function removeParticipant(p) {
      dropTile(p.identity + "|" + Source.Camera);
      dropTile(p.identity + "|" + Source.ScreenShare);
      for (const a of audioBox.querySelectorAll("audio")) if (a.dataset.identity === p.identity) a.remove();
    }

    // speakers notes the loudest remote speaker for the speaker view.
    function speakers(list) {
      const s = (list || []).find((p) => !p.isLocal);
      if (s) speakerKey = s.identity + "|" + Source.Camera;
      if (mode === "speaker") layout();
    }

    function mainTile() {
      if (pinned && tiles.has(pinned)) return tiles.get(pinned);
      const all = [...tiles.values()];
      return all.find((t) => t.source === Source.ScreenShare) || (speakerKey && tiles.get(speakerKey)) ||
        all.find((t) => t.teacher && t.source === Source.Camera) || all[0] || null;
    }

    // layout orders the tiles (screen shares, then the teacher, then join order) and marks
    // the speaker view's main tile.
    function layout() {
      el.classList.toggle("speaker", mode === "speaker");
      el.classList.toggle("grid", mode !== "speaker");
      el.dataset.count = String(tiles.size);
      const main = mode === "speaker" ? mainTile() : null;
      for (const [key, t] of tiles) {
        const rank = t.source === Source.ScreenShare ? 0 : t.teacher ? 1 : 2;
        t.el.style.order = t === main ? "-1" : String(rank * 10000 + t.seq);
        t.el.classList.toggle("main", t === main);
        t.el.classList.toggle("pinned", key === pinned);
        t.pin.setAttribute("aria-pressed", String(key === pinned));
        t.pin.textContent = key === pinned ? "Unpin" : "Pin";
      }
    }

    function togglePin(key) {
      pinned = pinned === key ? null : key;
      if (pinned) mode = "speaker";
      layout();
    }

    function setMode(m) {
      mode = m === "speaker" ? "speaker" : "grid";
      if (mode === "grid") pinned = null;
      layout();
    }

    return { el, audioBox, tiles, sync, removeParticipant, speakers, setMode, mode: () => mode, pinned: () => pinned, togglePin };
  }

  // fullscreen toggles full screen on target (the stage and its controls); the returned
  // promise settles when the browser has switched.
  async function fullscreen(target) {
    if (document.fullscreenElement) return document.exitFullscreen();
    if (target.requestFullscreen) return target.requestFullscreen({ navigationUI: "hide" });
    throw new Error("full screen is not supported by this browser");
  }

  Atrium.roomStage = { create, fullscreen, initials };
})();
