// Classroom scenarios for ui_run.js (which loads this file): the persisted chat, Q&A and
// polls seen by a late joiner, the teacher's controls with several pages, the pre-join
// screen and the layouts; and every page at phone size. Each scenario gets the runner's
// Session and fills `data` for the Go test, which judges.
'use strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');
const PHONE = { width: 390, height: 844 };

const connected = (page) => page.waitForFunction(() => window.atriumRoom && window.atriumRoom.state === 'connected', null, { timeout: 30000 });

// until polls fn (in the page) until it returns something truthy or ms pass; returns the
// last value either way, so the Go test sees what the page showed.
async function until(page, fn, arg, ms) {
  const deadline = Date.now() + (ms || 15000);
  let v;
  for (;;) {
    v = await page.evaluate(fn, arg).catch(() => undefined);
    if (v || Date.now() > deadline) return v;
    await sleep(200);
  }
}

const pollCounts = (page) => page.$$eval('#polls li.poll .count', (cs) => cs.map((c) => Number(c.dataset.votes)));
const tileSel = (id) => `#stage .tile[data-identity="${id}"][data-source="camera"]`;

// measure reports the page's width against the viewport, and which elements stick out.
const measure = (page) => page.evaluate(() => {
  const iw = window.innerWidth;
  const sw = document.scrollingElement.scrollWidth;
  const wide = [];
  if (sw > iw) {
    for (const e of document.querySelectorAll('body *')) {
      const r = e.getBoundingClientRect();
      if (r.width > 0 && r.right > iw + 1) wide.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (typeof e.className === 'string' && e.className ? '.' + e.className.trim().split(/\s+/).join('.') : '') + ' right=' + Math.round(r.right));
      if (wide.length >= 6) break;
    }
  }
  const h1 = document.querySelector('#view h1');
  return { iw, sw, title: h1 ? h1.textContent.trim() : '', wide };
});

module.exports = {
  // talk: teacher (desktop) and a student (phone) enter through the pre-join screen, chat,
  // ask a question and open a poll; a second student joins late and must see the history,
  // the question and the poll, upvote and vote; results must match on every page. Then the
  // teacher's controls, through the UI: lower one hand, lower all hands, mute everyone,
  // layouts, pin, full screen, the remove dialog (cancel, then remove with a ban), lock and
  // End class when the server has them (c.features).
  async talk(s, data) {
    const c = s.cfg;
    const f = c.features || {};
    const teacher = await s.page('teacher', '/#/login', { width: 1366, height: 768 });
    const ada = await s.page('ada', '/#/login', PHONE);
    await s.login(teacher, c.teacher.email, c.teacher.password);
    await s.login(ada, c.student.email, c.student.password);

    // Pre-join: the teacher's camera preview plays and the devices are listed.
    await teacher.goto(c.base + '/#/class/' + c.classID + '/room');
    await teacher.waitForSelector('#prejoin-join');
    data.preview = await until(teacher, () => { const v = document.querySelector('#prejoin-video'); return v && v.videoWidth > 0 && { w: v.videoWidth, h: v.videoHeight }; });
    data.prejoinCameras = await teacher.$$eval('#prejoin-camera option', (os) => os.length);
    data.prejoinMics = await teacher.$$eval('#prejoin-microphone option', (os) => os.length);
    await s.shot(teacher, 'prejoin-teacher');
    await teacher.click('#prejoin-join');
    await s.enterRoom(ada, c.classID, async (p) => {
      data.adaPrejoinControls = await p.$$eval('.prejoin-media .controls button', (bs) => bs.map((b) => b.id + ':' + b.getAttribute('aria-pressed')));
      await s.shot(p, 'prejoin-student-phone');
      await p.fill('#prejoin-name', c.displayName);
    });
    await connected(teacher);
    await connected(ada);
    data.displayName = await until(teacher, ([sel, want]) => { const n = document.querySelector(sel + ' .name'); return n && n.textContent === want && n.textContent; },
      [tileSel(c.studentID), c.displayName]) || await text(teacher, tileSel(c.studentID) + ' .name');

    // The room uses the whole desktop window.
    data.desktop = await teacher.evaluate(() => {
      const r = document.querySelector('.classroom').getBoundingClientRect();
      return { iw: innerWidth, ih: innerHeight, width: r.width, bottom: r.bottom, sw: document.scrollingElement.scrollWidth,
        sh: document.scrollingElement.scrollHeight, side: document.querySelector('.room-side').getBoundingClientRect().width,
        stage: document.querySelector('#stage').getBoundingClientRect().width };
    });

    // Chat both ways.
    await teacher.fill('#chat-input', c.chat);
    await teacher.press('#chat-input', 'Enter');
    await ada.fill('#chat-input', c.reply);
    await ada.press('#chat-input', 'Enter');
    await until(teacher, () => document.querySelectorAll('#chat-log li').length >= 2);

    // A question from the student.
    await ada.click('#tab-qa');
    await ada.fill('#question-input', c.question);
    await ada.click('#question-form button[type=submit]');
    await until(teacher, () => document.querySelectorAll('#questions li[data-id]').length >= 1);
    data.teacherQADot = await teacher.$eval('#tab-qa .dot', (d) => !d.hidden).catch(() => false);

    // A poll from the teacher; the teacher and the student vote.
    await teacher.click('#tab-polls');
    await teacher.fill('#poll-question', c.poll.question);
    const opts = () => teacher.$$('#poll-form .poll-options input');
    await (await opts())[0].fill(c.poll.options[0]);
    await (await opts())[1].fill(c.poll.options[1]);
    await teacher.click('#poll-add-option');
    await (await opts())[2].fill(c.poll.options[2]);
    await teacher.click('#poll-create');
    await teacher.waitForSelector('#polls li.poll .vote-option');
    await ada.click('#tab-polls');
    await ada.waitForSelector('#polls li.poll .vote-option', { timeout: 15000 });
    await ada.click('#polls li.poll .vote-option[data-choice="1"]');
    await teacher.click('#polls li.poll .vote-option[data-choice="0"]');
    await s.shot(ada, 'classroom-poll-phone');

    // The late joiner: history, the question, the poll.
    const bea = await s.page('bea', '/#/login', PHONE);
    await s.login(bea, c.late.email, c.late.password);
    await s.enterRoom(bea, c.classID);
    await connected(bea);
    await until(bea, () => document.querySelectorAll('#chat-log li').length >= 2);
    data.lateChat = await bea.$$eval('#chat-log li', (ls) => ls.map((l) => ({ who: l.querySelector('.who').textContent, text: l.querySelector('p').textContent })));
    await bea.click('#tab-qa');
    await until(bea, () => document.querySelectorAll('#questions li[data-id]').length >= 1);
    data.lateQuestions = await bea.$$eval('#questions li[data-id] .q-body p', (ps) => ps.map((p) => p.textContent));
    await bea.click('#questions li[data-id] .vote');
    data.teacherVotes = await until(teacher, () => { const v = document.querySelector('#questions li[data-id] .votes'); return v && v.textContent === '1' && v.textContent; })
      || await text(teacher, '#questions li[data-id] .votes');
    await bea.click('#tab-polls');
    await bea.waitForSelector('#polls li.poll .vote-option', { timeout: 15000 });
    data.latePollBeforeVote = await pollCounts(bea);
    await bea.click('#polls li.poll .vote-option[data-choice="1"]');
    const want = JSON.stringify(c.poll.expect);
    for (const [name, p] of [['teacher', teacher], ['ada', ada], ['bea', bea]]) {
      await until(p, (w) => JSON.stringify([...document.querySelectorAll('#polls li.poll .count')].map((x) => Number(x.dataset.votes))) === w, want);
    }
    data.pollCounts = { teacher: await pollCounts(teacher), ada: await pollCounts(ada), bea: await pollCounts(bea) };
    data.pollTotal = await text(bea, '#polls li.poll .poll-total');
    data.adaVoteLabel = await text(ada, '#polls li.poll .poll-results li:nth-child(2) .opt');
    await s.shot(teacher, 'classroom-poll-teacher');

    // The teacher marks the question answered; the late joiner sees it.
    await teacher.click('#tab-qa');
    await teacher.click('#questions li[data-id] .q-answer');
    data.lateAnswered = !!(await until(bea, () => !!document.querySelector('#questions li.answered')));

    // Hands: raise, lowered by the teacher; two raised, the people list puts them first, and
    // "Lower all hands" lowers both.
    await ada.click('#raise-hand');
    await teacher.waitForSelector('#hands li button', { timeout: 10000 }).catch(() => {});
    data.teacherHands = await text(teacher, '#hands');
    await teacher.click('#hands li button');
    data.adaAfterLower = await until(ada, () => { const b = document.querySelector('#raise-hand'); return b && /Raise hand/.test(b.textContent) && b.textContent.trim(); })
      || await text(ada, '#raise-hand');
    await ada.click('#raise-hand');
    await sleep(300); // a later raise, so the order is known
    await bea.click('#raise-hand');
    await until(teacher, () => document.querySelectorAll('#hands li').length === 2);
    await teacher.click('#tab-people');
    await sleep(300);
    data.peopleOrder = await teacher.$$eval('#people li', (ls) => ls.map((l) => l.dataset.identity));
    await s.shot(teacher, 'classroom-people');
    await teacher.click('#lower-hands');
    data.afterLowerAll = {
      ada: await until(ada, () => /Raise hand/.test(document.querySelector('#raise-hand').textContent)),
      bea: await until(bea, () => /Raise hand/.test(document.querySelector('#raise-hand').textContent)),
      teacherHandsHidden: await until(teacher, () => document.querySelector('.hands-box').hidden),
    };

    // Mute everyone: the student's microphone goes on, then the teacher mutes the class.
    await ada.click('#toggle-mic');
    await until(teacher, (sel) => { const m = document.querySelector(sel + ' .mic'); return m && m.getAttribute('aria-label') === 'microphone on'; }, tileSel(c.studentID));
    data.adaMicBeforeMuteAll = await teacher.$eval(tileSel(c.studentID) + ' .mic', (m) => m.getAttribute('aria-label')).catch(() => '');
    await teacher.click('#mute-all');
    await until(ada, () => /teacher muted your microphone/.test(document.querySelector('#room-status').textContent));
    data.muteAllStatus = await text(ada, '#room-status');
    data.adaMicAfterMuteAll = await until(teacher, (sel) => { const m = document.querySelector(sel + ' .mic'); return m && m.getAttribute('aria-label') === 'microphone muted' && 'microphone muted'; }, tileSel(c.studentID))
      || await teacher.$eval(tileSel(c.studentID) + ' .mic', (m) => m.getAttribute('aria-label')).catch(() => '');

    // Layouts: speaker view, pin a student, full screen.
    await teacher.click('#toggle-layout');
    data.speakerView = await teacher.$eval('#stage', (s) => s.classList.contains('speaker'));
    await teacher.click(tileSel(c.studentID) + ' .tile-pin');
    data.mainTile = await teacher.$eval('#stage .tile.main', (t) => t.dataset.identity + '|' + t.dataset.source).catch(() => '');
    await s.shot(teacher, 'classroom-speaker');
    await teacher.click('#toggle-layout');
    data.gridAgain = await teacher.$eval('#stage', (s) => s.classList.contains('grid') && !document.querySelector('#stage .tile.main'));
    await teacher.click('#toggle-fullscreen');
    data.fullscreen = await until(teacher, () => document.fullscreenElement && document.fullscreenElement.className, null, 5000) || '';
    data.fullscreenButton = await text(teacher, '#toggle-fullscreen');
    if (data.fullscreen) await teacher.click('#toggle-fullscreen');
    await until(teacher, () => !document.fullscreenElement, null, 5000);

    // The remove dialog: cancelled first (nothing happens), then confirmed with a ban.
    await teacher.click(tileSel(c.lateID) + ' .mod-remove');
    await teacher.waitForSelector('#remove-dialog[open]');
    data.removeDialog = await text(teacher, '#remove-dialog');
    await teacher.click('#remove-dialog-cancel');
    await sleep(1000);
    data.beaAfterCancel = await bea.evaluate(() => window.atriumRoom.state);

    if (f.lock) {
      await teacher.click('#lock-room');
      data.lockText = await until(teacher, () => /Unlock/.test(document.querySelector('#lock-room').textContent) && document.querySelector('#lock-room').textContent) || await text(teacher, '#lock-room');
      await teacher.click('#lock-room');
      data.unlockText = await until(teacher, () => /^Lock/.test(document.querySelector('#lock-room').textContent) && document.querySelector('#lock-room').textContent) || await text(teacher, '#lock-room');
    }

    await teacher.click(tileSel(c.lateID) + ' .mod-remove');
    await teacher.waitForSelector('#remove-dialog[open]');
    await teacher.check('#remove-ban');
    await teacher.fill('#remove-reason', 'browser test');
    await teacher.click('#remove-dialog-confirm');
    await until(bea, () => /removed you/.test(document.querySelector('#room-status').textContent));
    data.removedStatus = await text(bea, '#room-status');
    data.beaRejoinButton = !!(await bea.$('#rejoin'));
    data.removeToast = await text(teacher, '#toast');

    // End class: the dialog says what happens to credits; confirmed when the server can.
    await teacher.click('#end-class');
    await teacher.waitForSelector('#end-dialog[open]');
    data.endDialog = await text(teacher, '#end-dialog');
    await teacher.click('#end-dialog-cancel');
    data.connectedAfterEndCancel = await ada.evaluate(() => window.atriumRoom.state);
    if (f.end) {
      await teacher.click('#end-class');
      await teacher.waitForSelector('#end-dialog[open]');
      await teacher.click('#end-dialog-confirm');
      await until(ada, () => /ended/.test(document.querySelector('#room-status').textContent), null, 20000);
      data.adaAfterEnd = await text(ada, '#room-status');
      data.teacherAfterEnd = await text(teacher, '#room-status');
    }
  },

  // phone: every page at 390x844 (anonymous, student, teacher, admin, the classroom's
  // pre-join screen and the room itself): the document must not scroll sideways.
  async phone(s, data) {
    const c = s.cfg;
    data.pages = [];
    const visit = async (page, name, hash, ready) => {
      await page.goto(c.base + '/' + hash);
      await page.waitForSelector(ready || '#view h1', { timeout: 15000 }).catch(() => {});
      await sleep(400); // late content (lists, popular classes)
      const m = await measure(page);
      data.pages.push(Object.assign({ name }, m));
      await s.shot(page, 'phone-' + name.replace(/[^a-z0-9]+/gi, '-'));
    };
    const anon = await s.page('anon', '/#/', PHONE);
    await visit(anon, 'discover (signed out)', '#/', '#classes li');
    await visit(anon, 'class (signed out)', '#/class/' + c.classID, '#c-title');
    await visit(anon, 'teacher profile', '#/teacher/' + c.teacherID);
    await visit(anon, 'login', '#/login');
    await visit(anon, 'register', '#/register');
    await visit(anon, 'forgot password', '#/forgot');
    await visit(anon, 'reset password', '#/reset?token=not-a-token');
    await visit(anon, 'verify email', '#/verify?token=not-a-token');
    await visit(anon, 'not found', '#/no-such-page');
    await anon.click('#menu-toggle');
    data.pages.push(Object.assign({ name: 'menu open' }, await measure(anon)));

    const st = await s.page('student', '/#/login', PHONE);
    await s.login(st, c.student.email, c.student.password);
    await visit(st, 'discover', '#/', '#classes li');
    await visit(st, 'class (booked)', '#/class/' + c.classID, '#c-title');
    await visit(st, 'wallet', '#/wallet', '#balance');
    await visit(st, 'my classes', '#/bookings', '#upcoming li');
    await visit(st, 'account', '#/account', '#view form');
    await visit(st, 'class recordings', '#/class/' + c.classID + '/recordings');
    await st.goto(c.base + '/#/class/' + c.classID + '/room');
    await st.waitForSelector('#prejoin-join');
    await sleep(400);
    data.pages.push(Object.assign({ name: 'classroom pre-join' }, await measure(st)));
    await st.click('#prejoin-join');
    await connected(st);
    await sleep(1000);
    data.pages.push(Object.assign({ name: 'classroom' }, await measure(st)));
    await s.shot(st, 'phone-classroom');
    for (const tab of ['people', 'qa', 'polls']) {
      await st.click('#tab-' + tab);
      await sleep(200);
      data.pages.push(Object.assign({ name: 'classroom ' + tab }, await measure(st)));
    }
    await st.click('#toggle-layout');
    await sleep(300);
    data.pages.push(Object.assign({ name: 'classroom speaker view' }, await measure(st)));

    const te = await s.page('teacher', '/#/login', PHONE);
    await s.login(te, c.teacher.email, c.teacher.password);
    await visit(te, 'teach', '#/teach', '#my-classes li');
    await visit(te, 'new class', '#/teach/new', '#class-form');
    await visit(te, 'manage class', '#/teach/' + c.classID, '#class-form');
    await visit(te, 'earnings', '#/earnings', '#available');
    await visit(te, 'teacher recordings', '#/recordings');
    await s.enterRoom(te, c.classID);
    await connected(te);
    await sleep(1000);
    data.pages.push(Object.assign({ name: 'classroom (teacher)' }, await measure(te)));
    await te.click('#tab-polls');
    await sleep(200);
    data.pages.push(Object.assign({ name: 'classroom polls (teacher)' }, await measure(te)));
    await s.shot(te, 'phone-classroom-teacher');

    const ad = await s.page('admin', '/#/login', PHONE);
    await s.login(ad, c.admin.email, c.admin.password);
    await visit(ad, 'admin users', '#/admin/users', '#users tbody tr');
    await visit(ad, 'admin refunds', '#/admin/refunds');
    await visit(ad, 'admin disputes', '#/admin/disputes');
    await visit(ad, 'admin payouts', '#/admin/payouts');
    await visit(ad, 'admin ledger', '#/admin/ledger', '#ledger-report p');
    await visit(ad, 'admin audit', '#/admin/audit', '#audit tbody tr');
  },
};
