// The classroom's conversation (classroom.js builds it): chat, Q&A and polls. Everything is
// written through the API (POST /classes/ID/chat, /questions, /polls...), which stores it
// and relays it to the room as server data messages on the topics atrium.chat,
// atrium.question and atrium.poll (docs/classroom.md); the page renders what the API answers
// and what the room relays, by id, so a message is never shown twice and a late joiner loads
// the history first.
"use strict";

(() => {
  const { h, call, toast } = Atrium;
  const CHAT_MAX = 1000;
  const QUESTION_MAX = 500;

  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

  // create returns the three panels. opts: {classID, me, isTeacher, teacherID, unread(tab)}.
  function create({ classID, me, isTeacher, teacherID, unread }) {
    const base = "/classes/" + classID;

    // ---- chat ----
    const chatLog = h("ol", { id: "chat-log", class: "chat-log", role: "log", "aria-live": "polite", "aria-label": "Chat messages" });
    const chatInput = h("input", { id: "chat-input", name: "text", maxLength: CHAT_MAX, autocomplete: "off", placeholder: "Message everyone", "aria-label": "Chat message" });
    const chatTo = h("select", { id: "chat-to", "aria-label": "Send to", hidden: isTeacher }, h("option", { value: "all" }, "Everyone"),
      h("option", { value: "teacher" }, "Teacher only"));
    const chatForm = h("form", { id: "chat-form", class: "chat-form" }, chatTo, chatInput, h("button", { type: "submit" }, "Send"));
    chatTo.addEventListener("change", () => { chatInput.placeholder = chatTo.value === "teacher" ? "Message the teacher only" : "Message everyone"; });
    const messages = new Map(); // id -> li
    let lastID = 0;

    function addChat(m) {
      if (messages.has(m.id)) return false;
      const mine = m.user_id === me.id;
      let who = m.name;
      if (m.to_teacher) who += mine ? " (you, to the teacher)" : " (to you only)";
      else if (mine) who += " (you)";
      const li = h("li", { class: (mine ? "mine" : "") + (m.to_teacher ? " private" : "") + (m.user_id === teacherID ? " from-teacher" : ""), "data-id": m.id },
        h("span", { class: "who" }, who), h("time", { dateTime: m.created_at }, clock(m.created_at)), h("p", {}, m.text));
      // Keep id order (a relayed message can arrive before the history that precedes it).
      let after = null;
      for (const [id, el] of messages) if (id > m.id && (!after || id < Number(after.dataset.id))) after = el;
      messages.set(m.id, li);
      chatLog.insertBefore(li, after);
      lastID = Math.max(lastID, m.id);
      while (chatLog.children.length > 500) {
        const first = chatLog.firstChild;
        messages.delete(Number(first.dataset.id));
        first.remove();
      }
      const nearBottom = chatLog.scrollHeight - chatLog.scrollTop - chatLog.clientHeight < 80;
      if (nearBottom || mine) chatLog.scrollTop = chatLog.scrollHeight;
      return true;
    }

    chatForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = chatInput.value.trim().slice(0, CHAT_MAX);
      if (!text) return;
      const toTeacher = !isTeacher && chatTo.value === "teacher";
      chatInput.value = "";
      try {
        addChat(await call("POST", base + "/chat", { text, to_teacher: toTeacher }));
      } catch (e) {
        chatInput.value = text;
        toast("Message not sent: " + e.message, "err");
      }
      chatInput.focus();
    });

    // ---- Q&A ----
    const qList = h("ol", { id: "questions", class: "questions", "aria-label": "Questions" });
    const qInput = h("textarea", { id: "question-input", name: "text", rows: 2, maxLength: QUESTION_MAX, placeholder: "Ask the teacher a question", "aria-label": "Your question" });
    const qForm = h("form", { id: "question-form", class: "question-form" }, qInput, h("button", { type: "submit" }, "Ask"));
    const questions = new Map(); // id -> question (with voted_by_me as this page knows it)

    function renderQuestions() {
      const qs = [...questions.values()].sort((a, b) => (a.answered !== b.answered ? (a.answered ? 1 : -1)
        : a.answered ? String(b.answered_at).localeCompare(String(a.answered_at))
          : b.votes - a.votes || String(a.created_at).localeCompare(String(b.created_at))));
      qList.replaceChildren(...qs.map((q) => {
        const upvote = h("button", { type: "button", class: "vote" + (q.voted_by_me ? " voted" : ""), disabled: q.voted_by_me || q.answered,
          "aria-label": "Upvote: " + q.text, "aria-pressed": String(!!q.voted_by_me),
          on: { click: () => act(upvote, "/questions/" + q.id + "/upvote") } }, "▲ ", h("span", { class: "votes" }, String(q.votes)));
        const li = h("li", { class: q.answered ? "answered" : "", "data-id": q.id }, upvote,
          h("div", { class: "q-body" }, h("p", {}, q.text), h("span", { class: "meta" }, q.name + (q.answered ? " · answered" : ""))));
        if (isTeacher && !q.answered) {
          const answer = h("button", { type: "button", class: "secondary small q-answer", on: { click: () => act(answer, "/questions/" + q.id + "/answer") } }, "Mark answered");
          li.append(answer);
        }
        return li;
      }));
      if (!qs.length) qList.append(h("li", { class: "meta empty" }, "No questions yet."));
    }

    async function act(button, path) {
      button.disabled = true;
      try {
        putQuestion(await call("POST", base + path), true);
      } catch (e) {
        toast(e.message, "err");
        button.disabled = false;
      }
    }

    // putQuestion stores q; mine says q comes from an API answer to this user (with
    // voted_by_me), otherwise from the room (which does not know it).
    // Votes only grow and an answer is final, so whatever arrives last (relays of concurrent
    // changes can overtake each other) never shows less than was already seen.
    function putQuestion(q, mine) {
      const old = questions.get(q.id);
      if (!mine) q.voted_by_me = old ? old.voted_by_me : false;
      if (old) {
        q.votes = Math.max(q.votes, old.votes);
        if (old.answered && !q.answered) Object.assign(q, { answered: true, answered_at: old.answered_at });
      }
      questions.set(q.id, q);
      renderQuestions();
    }

    qForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = qInput.value.trim();
      if (!text) return;
      try {
        putQuestion(await call("POST", base + "/questions", { text }), true);
        qInput.value = "";
      } catch (e) {
        toast("Question not sent: " + e.message, "err");
      }
    });

    // ---- polls ----
    const pollList = h("ol", { id: "polls", class: "polls", "aria-label": "Polls" });
    const polls = new Map();
    let pollForm = null;
    if (isTeacher) {
      const options = h("div", { class: "poll-options" });
      const addOption = (v) => {
        if (options.children.length >= 6) return;
        const n = options.children.length + 1;
        options.append(h("input", { name: "option", maxLength: 100, placeholder: "Option " + n, "aria-label": "Option " + n, value: v || "" }));
      };
      addOption();
      addOption();
      const more = h("button", { type: "button", class: "ghost small", id: "poll-add-option", on: { click: () => addOption() } }, "Add option");
      pollForm = h("form", { id: "poll-form", class: "poll-form" },
        h("input", { name: "question", id: "poll-question", maxLength: 300, placeholder: "Poll question", "aria-label": "Poll question" }),
        options, h("div", { class: "actions" }, more, h("button", { type: "submit", id: "poll-create" }, "Start poll")));
      pollForm.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const question = pollForm.elements.question.value.trim();
        const opts = [...options.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean);
        try {
          putPoll(await call("POST", base + "/polls", { question, options: opts }), true);
          pollForm.reset();
        } catch (e) {
          const f = e.fields || {};
          toast(Object.keys(f).length ? Object.entries(f).map(([k, v]) => k.replace("options.", "option ") + " " + v).join("; ") : e.message, "err");
        }
      });
    }

    function renderPolls() {
      const ps = [...polls.values()].sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)));
      pollList.replaceChildren(...ps.map((p) => {
        const voted = p.my_vote !== undefined && p.my_vote !== null;
        const li = h("li", { class: "poll card" + (p.closed ? " closed" : ""), "data-id": p.id },
          h("p", { class: "poll-q" }, h("strong", {}, p.question), p.closed ? h("span", { class: "meta" }, " · closed") : null));
        const opts = h("ul", { class: "poll-results" });
        p.options.forEach((o, i) => {
          const pct = p.total ? Math.round((o.votes * 100) / p.total) : 0;
          const fill = h("span", { class: "fill" });
          fill.style.width = pct + "%"; // CSSOM, which the CSP allows (no style attribute)
          const bar = h("span", { class: "bar" }, fill);
          const label = h("span", { class: "opt" }, o.text + (voted && p.my_vote === i ? " (your vote)" : ""));
          const count = h("span", { class: "count", "data-votes": o.votes }, o.votes + " · " + pct + "%");
          const row = voted || p.closed ? h("div", { class: "opt-row" }, label, count)
            : h("button", { type: "button", class: "opt-row vote-option", "data-choice": i, on: { click: (ev) => vote(ev.currentTarget, p, i) } }, label, count);
          opts.append(h("li", {}, row, bar));
        });
        li.append(opts, h("p", { class: "meta poll-total" }, p.total + (p.total === 1 ? " vote" : " votes")));
        if (isTeacher && !p.closed) {
          const close = h("button", { type: "button", class: "secondary small poll-close", on: { click: async () => {
            close.disabled = true;
            try { putPoll(await call("POST", base + "/polls/" + p.id + "/close"), true); } catch (e) { toast(e.message, "err"); close.disabled = false; }
          } } }, "Close poll");
          li.append(close);
        }
        return li;
      }));
      if (!ps.length) pollList.append(h("li", { class: "meta empty" }, isTeacher ? "No polls yet. Ask the class something." : "No polls yet."));
    }

    async function vote(button, p, choice) {
      button.disabled = true;
      try {
        putPoll(await call("POST", base + "/polls/" + p.id + "/vote", { choice }), true);
      } catch (e) {
        toast("Vote not counted: " + e.message, "err");
        button.disabled = false;
      }
    }

    function putPoll(p, mine) {
      const old = polls.get(p.id);
      if (!mine) p.my_vote = old ? old.my_vote : undefined;
      if (old) { // as for questions: counts only grow, a closed poll stays closed
        p.options.forEach((o, i) => { o.votes = Math.max(o.votes, (old.options[i] || {}).votes || 0); });
        p.total = p.options.reduce((n, o) => n + o.votes, 0);
        p.closed = p.closed || old.closed;
      }
      polls.set(p.id, p);
      renderPolls();
      return !old;
    }

    // ---- loading and the room ----

    // load fetches what this page has not seen: the whole history the first time, then what
    // was said during a reconnect.
    async function load() {
      const [chat, qs, ps] = await Promise.all([
        call("GET", base + "/chat" + (lastID ? "?after=" + lastID : "")),
        call("GET", base + "/questions"),
        call("GET", base + "/polls"),
      ]);
      chat.items.forEach(addChat);
      qs.items.forEach((q) => putQuestion(q, true));
      ps.items.forEach((p) => putPoll(p, true));
      renderQuestions();
      renderPolls();
      chatLog.scrollTop = chatLog.scrollHeight;
    }

    // receive handles a server data message (no sender); it returns false for other topics.
    function receive(topic, msg) {
      if (topic === "atrium.chat" && msg.message) {
        if (addChat(msg.message) && msg.message.user_id !== me.id) unread("chat");
      } else if (topic === "atrium.question" && msg.question) {
        const isNew = !questions.has(msg.question.id);
        putQuestion(msg.question, false);
        if (isNew && msg.question.user_id !== me.id) unread("qa");
      } else if (topic === "atrium.poll" && msg.poll) {
        if (putPoll(msg.poll, false) && !isTeacher) {
          unread("polls");
          toast("New poll: " + msg.poll.question);
        }
      } else {
        return false;
      }
      return true;
    }

    renderQuestions();
    renderPolls();
    return {
      chat: h("div", { class: "talk-panel chat-panel" }, chatLog, chatForm),
      qa: h("div", { class: "talk-panel qa-panel" }, qForm, qList),
      polls: h("div", { class: "talk-panel polls-panel" }, pollForm, pollList),
      chatInput, load, receive,
    };
  }

  Atrium.roomTalk = { create };
})();
