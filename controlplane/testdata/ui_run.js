// Drives the control plane's browser UI in headless chromium (playwright-core) for the Go
// tests in controlplane/ui_*_test.go, and writes what the pages showed as JSON.
//
//   node ui_run.js CONFIG.json RESULT.json
//
// CONFIG: {scenario, base, chromium, timeoutMs, screenshots (dir or ""), ...scenario fields}.
// RESULT: {ok, error, console (page errors and warnings), data}. The runner observes; the Go
// test judges. Every wait is bounded. Progress goes to stderr.
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const started = Date.now();
// redact keeps join tokens (test keys, but still credentials) out of the test output.
const redact = (line) => String(line).replace(/access_token=[A-Za-z0-9._~%-]+/g, 'access_token=<redacted>');
const say = (line) => process.stderr.write(`[ui +${((Date.now() - started) / 1000).toFixed(1)}s] ${redact(line)}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const ARGS = ['--no-sandbox', '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--disable-gpu', '--disable-quic', '--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];

class Session {
  constructor(cfg, browser, result) {
    this.cfg = cfg;
    this.browser = browser;
    this.result = result;
  }

  // page opens a fresh browser context (own sessionStorage, like another person) at path.
  async page(name, pathAndHash, viewport) {
    const ctx = await this.browser.newContext({ viewport: viewport || { width: 1280, height: 860 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(15000);
    page.on('console', (m) => {
      const t = m.type();
      if (t !== 'error' && t !== 'warning') return;
      const line = redact(`${name} console.${t}: ${m.text()}`).slice(0, 500);
      say(line);
      if (this.result.console.length < 40) this.result.console.push(line);
    });
    page.on('pageerror', (e) => {
      const line = `${name} pageerror: ${e && e.message ? e.message : e}`;
      say(line);
      this.result.console.push(line);
    });
    await page.goto(this.cfg.base + pathAndHash);
    return page;
  }

  async shot(page, name) {
    if (!this.cfg.screenshots) return;
    await sleep(300); // let transitions settle
    await page.screenshot({ path: path.join(this.cfg.screenshots, name + '.png'), fullPage: true });
  }

  // enterRoom opens a class's classroom and presses Join on the pre-join screen (after
  // before(page), if given, has set the screen up).
  async enterRoom(page, classID, before) {
    await page.goto(this.cfg.base + '/#/class/' + classID + '/room');
    await page.waitForSelector('#prejoin-join', { timeout: 20000 });
    if (before) await before(page);
    await page.click('#prejoin-join');
  }

  // login signs in through the form and waits for the header to show the user.
  async login(page, email, password) {
    await page.goto(this.cfg.base + '/#/login');
    await page.fill('#login-form input[name=email]', email);
    await page.fill('#login-form input[name=password]', password);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#who').textContent !== '');
  }
}

// emailLink polls mailpit (its REST API on loopback) for a message to `to` whose subject
// contains `subject`, and returns the path and query of its first link containing `marker`:
// emails link to the configured public URL, and the test serves the app on another port.
async function emailLink(mailpit, to, subject, marker) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const q = new URLSearchParams({ query: `to:"${to}"`, limit: '20' });
    const list = await fetch(`${mailpit}/api/v1/search?${q}`).then((r) => r.json());
    const m = (list.messages || []).find((x) => x.Subject.includes(subject));
    if (m) {
      const full = await fetch(`${mailpit}/api/v1/message/${m.ID}`).then((r) => r.json());
      const link = (full.Text.match(/https?:\/\/\S+/g) || []).find((l) => l.includes(marker));
      if (!link) throw new Error(`no ${marker} link in "${m.Subject}": ${full.Text}`);
      const u = new URL(link);
      return u.pathname + u.search;
    }
    await sleep(300);
  }
  throw new Error(`no email "${subject}" to ${to} within 20 s`);
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');

const scenarios = {
  // flow: wrong password, sign in, discovery (search, filter), a class page, booking without
  // enough credits (402 shortfall), booking with credits, the refund policy, the wallet, and
  // registration of a new account.
  async flow(s, data) {
    const c = s.cfg;
    const page = await s.page('poor', '/#/login');
    await s.shot(page, 'login');
    await page.fill('#login-form input[name=email]', c.poor.email);
    await page.fill('#login-form input[name=password]', 'wrong-password-123');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent !== '');
    data.loginError = await text(page, '#login-error');

    await page.fill('#login-form input[name=password]', c.poor.password);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#classes li');
    data.who = await text(page, '#who');
    await s.shot(page, 'discover');

    await page.fill('#search input[name=q]', c.title);
    await page.click('#search button[type=submit]');
    // The unfiltered list already holds the class: wait for the search to narrow it down.
    await page.waitForFunction((t) => { const hs = [...document.querySelectorAll('#classes li h2')]; return hs.length > 0 && hs.every((h) => h.textContent === t); }, c.title)
      .catch(() => {});
    data.titles = await page.$$eval('#classes li h2', (hs) => hs.map((h) => h.textContent));
    await page.selectOption('#search select[name=tier]', 'vip');
    await page.waitForFunction((t) => ![...document.querySelectorAll('#classes li h2')].some((h) => h.textContent === t), c.title);
    data.vipTitles = await page.$$eval('#classes li h2', (hs) => hs.map((h) => h.textContent));
    await page.selectOption('#search select[name=tier]', '');
    await page.waitForFunction((t) => [...document.querySelectorAll('#classes li h2')].some((h) => h.textContent === t), c.title);

    await page.click(`#classes li h2:text-is(${JSON.stringify(c.title)})`);
    await page.waitForFunction((t) => document.querySelector('#c-title') && document.querySelector('#c-title').textContent === t, c.title);
    data.seats = await text(page, '#c-seats');
    data.price = await text(page, '#c-price');
    await page.click('#book');
    await page.waitForSelector('#shortfall');
    data.shortfall = await text(page, '#shortfall');
    await s.shot(page, 'class-shortfall');
    await page.click('#shortfall a.button');
    await page.waitForSelector('#balance');
    data.walletNotice = await text(page, '#wallet-notice');
    data.packages = await page.$$eval('[data-package]', (bs) => bs.map((b) => b.dataset.package));
    await page.click('[data-package]');
    await page.waitForSelector('#checkout-dev:not([hidden])');
    data.checkoutDev = await text(page, '#checkout-dev');
    await s.shot(page, 'wallet');

    const rich = await s.page('rich', '/#/login');
    await s.login(rich, c.rich.email, c.rich.password);
    await rich.goto(c.base + '/#/class/' + c.classID);
    await rich.waitForSelector('#book');
    await rich.click('#book');
    await rich.waitForSelector('#cancel-booking');
    data.booked = await text(rich, '#book-msg');
    data.policy = await text(rich, '#refund-policy');
    data.seatsAfter = await text(rich, '#c-seats');
    await s.shot(rich, 'class-booked');
    await rich.goto(c.base + '/#/wallet');
    await rich.waitForSelector('#transactions tbody tr');
    data.richBalance = await text(rich, '#balance');
    data.richLines = await rich.$$eval('#transactions tbody tr', (rs) => rs.map((r) => r.textContent));
    await rich.goto(c.base + '/#/bookings');
    await rich.waitForSelector('#upcoming li');
    data.upcoming = await rich.$$eval('#upcoming li', (ls) => ls.map((l) => l.textContent));
    await s.shot(rich, 'bookings');

    // Cancel the booking (the confirmation dialog is accepted) and read the refund.
    rich.on('dialog', (d) => { data.cancelDialog = d.message(); d.accept(); });
    await rich.goto(c.base + '/#/class/' + c.classID);
    await rich.waitForSelector('#cancel-booking');
    await rich.click('#cancel-booking');
    await rich.waitForSelector('#book');
    data.cancelToast = await text(rich, '#toast');

    // A full class offers the waitlist.
    await page.goto(c.base + '/#/class/' + c.fullClassID);
    await page.waitForSelector('#join-waitlist');
    await page.click('#join-waitlist');
    await page.waitForFunction(() => /number \d+ on the waitlist/.test(document.querySelector('#waitlist').textContent));
    data.waitlist = await text(page, '#waitlist');
    await s.shot(page, 'waitlist');

    const fresh = await s.page('new', '/#/register', { width: 390, height: 800 });
    await fresh.fill('#register-form input[name=name]', 'Browser Newcomer');
    await fresh.fill('#register-form input[name=email]', c.newEmail);
    await fresh.fill('#register-form input[name=password]', 'short');
    await fresh.click('#register-form button[type=submit]');
    await fresh.waitForFunction(() => [...document.querySelectorAll('.field-error')].some((e) => e.textContent !== ''));
    data.registerFieldErrors = await fresh.$$eval('.field-error', (es) => es.map((e) => e.textContent).filter(Boolean));
    await s.shot(fresh, 'register-mobile');
    await fresh.fill('#register-form input[name=password]', c.newPassword);
    await fresh.click('#register-form button[type=submit]');
    await fresh.waitForSelector('.notice');
    data.registeredWho = await text(fresh, '#who');
    data.welcome = await text(fresh, '.notice');

    if (c.teacher) {
      const t = await s.page('teacher', '/#/login');
      await s.login(t, c.teacher.email, c.teacher.password);
      await t.waitForSelector('#my-classes li');
      await s.shot(t, 'teach');
      await t.goto(c.base + '/#/teach/new');
      await t.waitForSelector('#class-form');
      await t.fill('#class-form input[name=title]', c.newTitle);
      await t.fill('#class-form input[name=topic]', 'music');
      await t.fill('#class-form input[name=price_credits]', '5000');
      await t.click('#class-form button[type=submit]');
      await t.waitForFunction(() => [...document.querySelectorAll('#class-form .field-error')].some((e) => e.textContent !== ''));
      data.classFieldErrors = await t.$$eval('#class-form .field-error', (es) => es.map((e) => e.textContent).filter(Boolean));
      await s.shot(t, 'teach-new');
      await t.fill('#class-form input[name=price_credits]', '12');
      await t.click('#class-form button[type=submit]');
      await t.waitForFunction((title) => document.querySelector('#c-title') && document.querySelector('#c-title').textContent === title, c.newTitle);
      data.createdPrice = await text(t, '#c-price');
      await t.click('a[href^="#/teach/"]');
      await t.waitForSelector('#discount-form');
      await t.fill('#discount-form input[name=code]', c.code);
      await t.click('#discount-form button[type=submit]');
      await t.waitForFunction((code) => [...document.querySelectorAll('#discount-form ~ .table-wrap code')].some((e) => e.textContent.toUpperCase() === code.toUpperCase()), c.code);
      data.discountRows = await t.$$eval('#discount-form ~ .table-wrap tbody tr', (rs) => rs.map((r) => r.textContent));
      await s.shot(t, 'teach-manage');
      await t.goto(c.base + '/#/earnings');
      await t.waitForSelector('#available');
      await s.shot(t, 'earnings');
    }
    if (c.admin) {
      const a = await s.page('admin', '/#/login');
      await s.login(a, c.admin.email, c.admin.password);
      await a.goto(c.base + '/#/admin/ledger');
      await a.waitForSelector('#ledger-report p');
      data.ledger = await text(a, '#ledger-report');
      await s.shot(a, 'admin-ledger');
      await a.goto(c.base + '/#/admin/users');
      await a.waitForSelector('#users tbody tr');
      await s.shot(a, 'admin-users');
      await a.goto(c.base + '/#/admin/refunds');
      await a.waitForSelector('#refunds tbody tr');
      data.refundRows = await a.$$eval('#refunds tbody tr', (rs) => rs.map((r) => r.textContent));
      await s.shot(a, 'admin-refunds');
      await a.goto(c.base + '/#/account');
      await a.waitForSelector('#twofa button');
      await a.click('#twofa button');
      await a.waitForSelector('#twofa code.secret');
      data.totpSecret = await text(a, '#twofa code.secret');
      await s.shot(a, 'account');
      await a.goto(c.base + '/#/admin/audit');
      await a.waitForSelector('#audit tbody tr');
      await s.shot(a, 'admin-audit');
    }
  },

  // emails: register through the UI, open the emailed confirmation link (a server path the
  // app maps to its own route), then forget the password, open the emailed reset link, set a
  // new password and sign in with it.
  async emails(s, data) {
    const c = s.cfg;
    const page = await s.page('new', '/#/register');
    await page.fill('#register-form input[name=name]', 'Email Tester');
    await page.fill('#register-form input[name=email]', c.email);
    await page.fill('#register-form input[name=password]', c.password);
    await page.click('#register-form input[value=teacher]');
    await page.click('#register-form button[type=submit]');
    await page.waitForSelector('.notice');
    data.who = await text(page, '#who');

    const verify = await emailLink(c.mailpit, c.email, 'Confirm your email', '/verify-email');
    data.verifyPath = verify.split('?')[0];
    await page.goto(c.base + verify);
    await page.waitForFunction(() => /confirmed|invalid/.test(document.querySelector('#view').textContent));
    data.verified = await text(page, '#view');
    data.hashAfterVerify = await page.evaluate(() => location.pathname + location.hash.split('?')[0]);
    await page.goto(c.base + '/#/account');
    await page.waitForSelector('#view form');
    data.accountNotice = await page.$('.notice') ? await text(page, '.notice') : '';
    await page.click('#logout');
    await page.waitForFunction(() => document.querySelector('#who').textContent === '');

    await page.goto(c.base + '/#/forgot');
    await page.fill('#view input[name=email]', c.email);
    await page.click('#view button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#view p.ok'));
    data.forgot = await text(page, '#view p.ok');
    const reset = await emailLink(c.mailpit, c.email, 'Reset your Atrium password', '/reset-password');
    await page.goto(c.base + reset);
    await page.waitForSelector('#view input[name=password]');
    await page.fill('#view input[name=password]', c.newPassword);
    await page.click('#view button[type=submit]');
    await page.waitForSelector('#login-form');
    await page.fill('#login-form input[name=email]', c.email);
    await page.fill('#login-form input[name=password]', c.password);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent !== '');
    data.oldPasswordError = await text(page, '#login-error');
    await page.fill('#login-form input[name=password]', c.newPassword);
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#who').textContent !== '');
    data.whoAfterReset = await text(page, '#who');
    data.landing = await page.evaluate(() => location.hash);
  },

  // nosfu: the teacher enters the classroom while the SFU is unreachable; the page must say
  // so and offer to rejoin.
  async nosfu(s, data) {
    const c = s.cfg;
    const page = await s.page('teacher', '/#/login');
    await s.login(page, c.teacher.email, c.teacher.password);
    const t0 = Date.now();
    await s.enterRoom(page, c.classID);
    await page.waitForSelector('#rejoin', { timeout: 40000 });
    data.ms = Date.now() - t0;
    data.status = await text(page, '#room-status');
    await s.shot(page, 'classroom-nosfu');
  },

  // classroom: teacher and booked student sign in and enter the classroom; the student's page
  // must play the teacher's camera and receive the teacher's chat message; the student raises
  // a hand and the teacher's page lists it.
  async classroom(s, data) {
    const c = s.cfg;
    const teacher = await s.page('teacher', '/#/login');
    const student = await s.page('student', '/#/login', { width: 390, height: 844 }); // a phone
    await s.login(teacher, c.teacher.email, c.teacher.password);
    await s.login(student, c.student.email, c.student.password);
    await s.enterRoom(teacher, c.classID);
    await s.enterRoom(student, c.classID);

    const sel = `#stage video[data-identity="${c.teacherID}"][data-source="camera"]`;
    const deadline = Date.now() + (c.waitMs || 30000);
    let first = null;
    while (Date.now() < deadline) {
      first = await student.$eval(sel, (v) => ({ w: v.videoWidth, h: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames,
        t: v.currentTime, paused: v.paused })).catch(() => null);
      if (first && first.w > 0 && first.frames > 0) break;
      await sleep(250);
    }
    data.videoFirst = first;
    data.studentStatus = await text(student, '#room-status');
    data.teacherStatus = await text(teacher, '#room-status');
    await sleep(1500);
    data.videoLater = await student.$eval(sel, (v) => ({ w: v.videoWidth, h: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames,
      t: v.currentTime, paused: v.paused })).catch(() => null);
    data.studentTiles = await student.$$eval('#stage .tile', (ts) => ts.map((t) => ({ identity: t.dataset.identity, source: t.dataset.source,
      name: t.querySelector('.name').textContent, mic: t.querySelector('.mic').getAttribute('aria-label'),
      quality: t.querySelector('.quality').getAttribute('aria-label') })));
    data.teacherDevices = await teacher.$$eval('#devices select', (ss) => ss.map((x) => x.id + ':' + x.options.length + ':' + (x.selectedOptions[0] ? x.selectedOptions[0].textContent : '')));
    data.teacherControls = await teacher.$$eval('.controls button:not([hidden])', (bs) => bs.map((b) => b.id));
    data.studentControls = await student.$$eval('.controls button:not([hidden])', (bs) => bs.map((b) => b.id));

    // Chat: resend until it arrives (the data channel opens a little after the media), each
    // attempt with a distinct text so a late channel cannot pass the test by accident.
    let got = [];
    for (let i = 1; i <= 10 && !got.length; i++) {
      const msg = `${c.chat} #${i}`;
      await teacher.fill('#chat-input', msg);
      await teacher.press('#chat-input', 'Enter');
      const until = Date.now() + 1500;
      while (Date.now() < until) {
        got = await student.$$eval('#chat-log li', (ls) => ls.map((l) => ({ who: l.querySelector('.who').textContent, text: l.querySelector('p').textContent })));
        if (got.length) break;
        await sleep(150);
      }
      data.chatAttempts = i;
    }
    data.studentChat = got;

    await student.click('#raise-hand');
    await teacher.waitForSelector('#hands li button', { timeout: 8000 }).catch(() => {});
    data.teacherHands = await text(teacher, '#hands');
    // Screen share: the teacher shares (headless chromium's fake capture), and the student's
    // page shows it in its own tile.
    // adaptiveStream pauses videos that are off screen, and on a phone a new tile at the top of
    // the stage can land above the viewport (scroll anchoring keeps the chat in view): the
    // student scrolls to the shared screen, as a person would after the toast.
    await teacher.click('#toggle-screen');
    const ssel = `#stage video[data-identity="${c.teacherID}"][data-source="screen_share"]`;
    await student.waitForFunction((q) => {
      const v = document.querySelector(q);
      if (v) v.scrollIntoView({ block: 'nearest' });
      return v && v.videoWidth > 0;
    }, ssel, { timeout: 15000, polling: 250 }).catch(() => {});
    data.screenToast = await text(student, '#toast');
    data.screen = await student.$eval(ssel, (v) => ({ w: v.videoWidth, h: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames })).catch(() => null);
    data.teacherScreenButton = await text(teacher, '#toggle-screen');
    data.teacherStatusAfterShare = await text(teacher, '#room-status');

    await s.shot(student, 'classroom-student');
    await s.shot(teacher, 'classroom-teacher');
    await teacher.click('#toggle-screen');
    await student.waitForFunction((q) => !document.querySelector(q), ssel, { timeout: 10000 }).catch(() => {});
    data.screenAfterStop = await student.$(ssel).then((e) => !!e);

    // A private question from the student to the teacher.
    await student.selectOption('#chat-to', 'teacher');
    await student.fill('#chat-input', c.question);
    await student.press('#chat-input', 'Enter');
    await teacher.waitForSelector('#chat-log li.private', { timeout: 8000 }).catch(() => {});
    data.teacherPrivate = await teacher.$$eval('#chat-log li.private', (ls) => ls.map((l) => l.querySelector('.who').textContent + ': ' + l.querySelector('p').textContent));

    // Moderation: the student turns the microphone on; the teacher mutes it with the keyboard
    // (focus the tile's Mute button, press Enter); the student's page says the teacher did.
    const stile = `#stage .tile[data-identity="${c.studentID}"][data-source="camera"]`;
    await student.click('#toggle-mic');
    await teacher.waitForFunction((q) => { const m = document.querySelector(q + ' .mic'); return m && m.getAttribute('aria-label') === 'microphone on'; },
      stile, { timeout: 10000, polling: 200 }).catch(() => {});
    data.studentMicBeforeMute = await teacher.$eval(stile + ' .mic', (m) => m.getAttribute('aria-label')).catch(() => '');
    data.moderationButtons = await teacher.$$eval(stile + ' .moderation button', (bs) => bs.map((b) => b.getAttribute('aria-label')));
    data.studentModerationButtons = await student.$$eval('#stage .moderation button', (bs) => bs.length);
    await teacher.focus(stile + ' .mod-mute').catch(() => {});
    await teacher.keyboard.press('Enter');
    await student.waitForFunction(() => /teacher muted your microphone/.test(document.querySelector('#room-status').textContent), null, { timeout: 10000 }).catch(() => {});
    data.mutedStatus = await text(student, '#room-status');
    await teacher.waitForFunction((q) => document.querySelector(q + ' .mic').getAttribute('aria-label') === 'microphone muted', stile, { timeout: 10000, polling: 200 }).catch(() => {});
    data.studentMicAfterMute = await teacher.$eval(stile + ' .mic', (m) => m.getAttribute('aria-label')).catch(() => '');
    data.teacherMuteToast = await text(teacher, '#toast');
    await s.shot(student, 'classroom-muted');


    // Connection loss: the student's signal connection drops (livekit-client's own
    // simulation closes the WebSocket); the banner must say so, then that it reconnected,
    // and the teacher's video must keep playing.
    await student.evaluate(() => {
      window.__statusHistory = [];
      const el = document.querySelector('#room-status');
      new MutationObserver(() => window.__statusHistory.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    await student.evaluate(() => window.atriumRoom.simulateScenario('signal-reconnect'));
    await student.waitForFunction(() => window.__statusHistory.some((t) => t.startsWith('Reconnected')), null, { timeout: 20000 }).catch(() => {});
    data.statusHistory = await student.evaluate(() => window.__statusHistory);
    const before = await student.$eval(sel, (v) => v.getVideoPlaybackQuality().totalVideoFrames).catch(() => -1);
    await sleep(1000);
    data.framesAfterReconnect = (await student.$eval(sel, (v) => v.getVideoPlaybackQuality().totalVideoFrames).catch(() => -1)) - before;

    await student.click('#leave');
    await student.waitForFunction((id) => location.hash === '#/class/' + id, c.classID);
    data.afterLeave = await student.evaluate(() => location.hash);

    // The teacher opens the classroom again in another browser whose camera permission is
    // denied: that page explains the denial, and the first page says it was replaced.
    const denied = await s.page('teacher2', '/#/login');
    await denied.addInitScript(() => {
      const deny = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
      navigator.mediaDevices.getUserMedia = deny;
    });
    await s.login(denied, c.teacher.email, c.teacher.password);
    await denied.goto(c.base + '/#/class/' + c.classID + '/room');
    await denied.reload();
    // The pre-join screen tries the camera at once and explains the denial; joining anyway
    // (without camera and microphone) replaces the first page.
    await denied.waitForFunction(() => /denied/.test((document.querySelector('#prejoin-status') || {}).textContent || ''), null, { timeout: 20000 }).catch(() => {});
    data.deniedStatus = await text(denied, '#prejoin-status');
    await denied.click('#prejoin-join').catch(() => {});
    await teacher.waitForFunction(() => /another tab/.test(document.querySelector('#room-status').textContent), null, { timeout: 10000 }).catch(() => {});
    data.replacedStatus = await text(teacher, '#room-status');
    await s.shot(denied, 'classroom-denied');
  },
};
// Recording scenarios live in their own file (recording.js in the UI has its own tests), and
// so do the classroom's conversation, moderation and phone layout scenarios.
Object.assign(scenarios, require("./ui_recording.js"), require("./ui_classroom.js"));
// The teacher's roster and "End class for everyone" (teacher.js).
Object.assign(scenarios, require("./ui_roster.js"));
// Sessions across tabs, live notifications and CSRF (ui_sessions.js).
Object.assign(scenarios, require("./ui_sessions.js"));

async function main() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const result = { ok: false, error: '', console: [], data: {} };
  const write = () => fs.writeFileSync(process.argv[3], JSON.stringify(result, null, 2));
  let browser;
  let timer;
  try {
    const run = scenarios[cfg.scenario];
    if (!run) throw new Error('unknown scenario ' + cfg.scenario);
    await Promise.race([(async () => {
      browser = await chromium.launch({ executablePath: cfg.chromium, headless: true, args: ARGS, timeout: 30000 });
      say(`chromium ${browser.version()}`);
      await run(new Session(cfg, browser, result), result.data);
    })(), new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`scenario exceeded ${cfg.timeoutMs} ms`)), cfg.timeoutMs); })]);
    result.ok = true;
  } catch (e) {
    result.error = e && e.stack ? e.stack : String(e);
    say('broke off: ' + result.error);
  } finally {
    clearTimeout(timer);
    write();
    if (browser) await Promise.race([browser.close().catch(() => {}), sleep(10000)]);
  }
  process.exit(result.ok ? 0 : 1);
}

main();
