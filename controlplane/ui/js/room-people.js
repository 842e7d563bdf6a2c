// The classroom's people (classroom.js builds it): the participant list, raised hands first
// (oldest raise first), then the teacher, then everyone by name; the teacher's strip of raised
// hands; and the teacher's dialogs (remove with an optional ban, End class for everyone).
//
// A raised hand is the participant attribute "hand" (the time it was raised, RFC
// 3339; absent or empty when lowered), set by the participant's own client, so SDK-built
// clients can raise hands and see them too (docs/classroom.md).
"use strict";

(() => {
  const { h, icon } = Atrium;
  const HAND = "hand";

  const handOf = (p) => (p && p.attributes && p.attributes[HAND]) || "";

  // order sorts participants for the list: raised hands first (oldest first), the teacher,
  // then by name.
  function order(ps, teacherID) {
    return ps.slice().sort((a, b) => {
      const ha = handOf(a), hb = handOf(b);
      if (ha && hb) return ha < hb ? -1 : ha > hb ? 1 : 0;
      if (ha || hb) return ha ? -1 : 1;
      if ((a.identity === teacherID) !== (b.identity === teacherID)) return a.identity === teacherID ? -1 : 1;
      return (a.name || a.identity).localeCompare(b.name || b.identity);
    });
  }

  function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    return s < 60 ? "just now" : Math.round(s / 60) + " min ago";
  }

  // create returns the people panel. opts: {room, teacherID, isTeacher, actions: {lower(p),
  // mute(p, button), remove(p)}}.
  function create({ room, teacherID, isTeacher, actions }) {
    const list = h("ul", { id: "people", class: "people", "aria-label": "People in the class" });
    const hands = h("ul", { id: "hands", class: "hands", "aria-label": "Raised hands" });
    const handsBox = h("section", { class: "hands-box", hidden: true, "aria-labelledby": "hands-h" }, h("h2", { id: "hands-h" }, "Raised hands"), hands);

    function everyone() {
      return [room.localParticipant, ...room.remoteParticipants.values()];
    }

    function row(p) {
      const label = p.name || p.identity;
      const raised = handOf(p);
      const micPub = p.getTrackPublication && p.getTrackPublication("microphone");
      const micOn = !!(micPub && !micPub.isMuted);
      const li = h("li", { "data-identity": p.identity, class: raised ? "raised" : "" },
        h("span", { class: "avatar-sm", "aria-hidden": "true" }, Atrium.roomStage.initials(label)),
        h("span", { class: "person" }, h("strong", {}, label),
          p.identity === teacherID ? h("span", { class: "badge" }, "Teacher") : null,
          p.isLocal ? h("span", { class: "badge you" }, "You") : null,
          raised ? h("span", { class: "meta hand-at" }, icon("hand"), " raised " + ago(raised)) : null),
        h("span", { class: "mic" + (micOn ? "" : " off"), role: "img", "aria-label": micOn ? "microphone on" : "microphone muted" }, icon(micOn ? "mic" : "mic-off")));
      if (isTeacher && !p.isLocal && p.identity !== teacherID) {
        const tools = h("span", { class: "person-tools", role: "group", "aria-label": "Moderate " + label });
        if (raised) tools.append(h("button", { type: "button", class: "ghost small", on: { click: () => actions.lower(p) } }, "Lower hand"));
        const mute = h("button", { type: "button", class: "secondary small", "aria-label": "Mute " + label + "'s microphone",
          on: { click: () => actions.mute(p, mute) } }, "Mute");
        tools.append(mute, h("button", { type: "button", class: "danger small", "aria-label": "Remove " + label + " from the class",
          on: { click: () => actions.remove(p) } }, "Remove"));
        li.append(tools);
      }
      return li;
    }

    function render() {
      const ps = order(everyone(), teacherID);
      list.replaceChildren(...ps.map(row));
      if (!isTeacher) return ps.length;
      const up = ps.filter((p) => handOf(p) && p.identity !== teacherID);
      handsBox.hidden = up.length === 0;
      hands.replaceChildren(...up.map((p) => h("li", {}, icon("hand"), " ", h("strong", {}, p.name || p.identity), " ",
        h("button", { type: "button", class: "ghost small", on: { click: () => actions.lower(p) } }, "Lower"))));
      return ps.length;
    }

    return { list, handsBox, render };
  }

  // confirmDialog shows a modal <dialog> built from body (nodes) with Cancel and a confirm
  // button; it resolves with the dialog's form (on confirm) or null (cancelled).
  function confirmDialog({ id, title, body, confirm, danger }) {
    return new Promise((resolve) => {
      const form = h("form", { method: "dialog" });
      const ok = h("button", { type: "submit", value: "ok", id: id + "-confirm", class: danger ? "danger" : "" }, confirm);
      const cancel = h("button", { type: "submit", value: "cancel", class: "secondary", id: id + "-cancel", formNoValidate: true }, "Cancel");
      const dlg = h("dialog", { id, class: "dialog", "aria-labelledby": id + "-title" },
        form);
      form.append(h("h2", { id: id + "-title" }, title), ...body.filter(Boolean), h("div", { class: "actions" }, cancel, ok));
      dlg.addEventListener("close", () => {
        dlg.remove();
        resolve(dlg.returnValue === "ok" ? form : null);
      });
      document.body.append(dlg);
      dlg.showModal();
      cancel.focus();
    });
  }

  // askRemove asks the teacher to confirm removing p: resolves {ban, reason} or null.
  async function askRemove(p) {
    const label = p.name || p.identity;
    const ban = h("input", { type: "checkbox", id: "remove-ban", name: "ban" });
    const reason = h("input", { id: "remove-reason", name: "reason", maxLength: 200, placeholder: "Reason (optional, kept in the audit log)" });
    const form = await confirmDialog({ id: "remove-dialog", title: "Remove " + label + "?", danger: true, confirm: "Remove",
      body: [h("p", {}, label + " is disconnected from the class now. Without a ban they can join again."),
        h("label", { class: "check", for: "remove-ban" }, ban, " Ban from this class (they cannot rejoin it)"),
        h("label", { for: "remove-reason", class: "sr-only" }, "Reason"), reason] });
    return form ? { ban: ban.checked, reason: reason.value.trim() } : null;
  }

  // askEnd asks the teacher to confirm ending the class for everyone; it says what happens to
  // the students' credits: the server's preview (preview.message) when there is one, else the
  // rules of docs/money.md.
  async function askEnd(c, preview) {
    const half = new Date(new Date(c.starts_at).getTime() + c.duration_minutes * 30000);
    const early = Date.now() < half.getTime();
    const server = preview && preview.message;
    const form = await confirmDialog({ id: "end-dialog", title: "End the class for everyone?", danger: true, confirm: "End class for everyone",
      body: [server ? null : h("p", {}, "Everyone is disconnected and nobody can join this class again."),
        h("p", { id: "end-credits" }, server ? preview.message : early
          ? "Less than half of the scheduled time has run: ending now counts as an early end. Each student automatically gets back the share of their credits for the time not taught, and you are paid only for the time you taught."
          : "The class is complete: the students' credits are paid to you (minus the platform's commission). If you never taught, students get everything back."),
        h("p", { class: "meta" }, "To take a break instead, press Leave: students can stay, and you can come back until the scheduled end.")] });
    return !!form;
  }

  Atrium.roomPeople = { create, handOf, order, askRemove, askEnd, confirmDialog, HAND };
})();
