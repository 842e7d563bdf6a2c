// Session scenarios for ui_run.js (which loads this file): one browser with several tabs of
// the app (the session cookie signs them all in), a live notification reaching an open tab,
// a forged cross-origin POST, and a sign-out that reaches every tab.
'use strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');
const who = (page) => text(page, '#who');

// tab opens another tab in the same browser context at url and records its errors.
async function tab(s, ctx, name, url) {
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('pageerror', (e) => s.result.console.push(`${name} pageerror: ${e && e.message ? e.message : e}`));
  if (url) await page.goto(url);
  return page;
}

module.exports = {
  async sessions(s, data) {
    const c = s.cfg;
    const ctx = await s.browser.newContext({ viewport: { width: 1280, height: 860 } });
    const one = await tab(s, ctx, 'tab1');
    await s.login(one, c.student.email, c.student.password);
    data.who1 = await who(one);

    // A second tab opened from an email link (a full page load of another path).
    const two = await tab(s, ctx, 'tab2', c.base + '/classes/' + c.classID);
    await two.waitForFunction(() => document.querySelector('#who').textContent !== '');
    data.who2 = await who(two);
    data.hash2 = await two.evaluate(() => location.hash);
    data.cookies = (await ctx.cookies()).map((k) => ({ name: k.name, path: k.path, httpOnly: k.httpOnly, sameSite: k.sameSite }));
    data.scriptSeesRefreshCookie = await two.evaluate(() => document.cookie.includes('atrium_refresh'));
    data.storedKeys = await two.evaluate(() => Object.keys(sessionStorage).concat(Object.keys(localStorage)));
    data.tokensInMemory = await two.evaluate(() => !!(Atrium.store.tokens && Atrium.store.tokens.access_token) && !Atrium.store.tokens.refresh_token);

    // A live notification: tab 1 books; tab 2's open stream shows it.
    await two.waitForFunction(() => document.documentElement.dataset.notifyStream === 'open', null, { timeout: 20000 });
    const sent = await one.evaluate(async (classID) => {
      const t0 = Date.now();
      const res = await fetch('/api/v1/classes/' + classID + '/bookings', { method: 'POST',
        headers: { Authorization: 'Bearer ' + Atrium.store.tokens.access_token, 'Idempotency-Key': 'ui-' + t0 } });
      return { t0, status: res.status };
    }, c.classID);
    data.bookStatus = sent.status;
    await two.waitForFunction(() => Atrium.notices.some((n) => n.kind === 'booking'), null, { timeout: 20000 });
    const notice = await two.evaluate(() => Atrium.notices.find((n) => n.kind === 'booking'));
    data.pushDelayMs = notice.at - sent.t0;
    data.toast = await text(two, '#live-notices .notice-title');

    // A page on another origin (same site: another port) posts a form to logout with the
    // browser's cookies but without the CSRF header: refused, and nobody is signed out.
    const evil = await tab(s, ctx, 'evil');
    const answered = evil.waitForResponse((r) => r.url().includes('/api/v1/auth/logout'), { timeout: 15000 });
    await evil.goto(c.evil);
    const r = await answered;
    data.evilStatus = r.status();
    data.evilBody = await r.text().catch(() => '');
    data.evilRequestHeaders = await r.request().allHeaders();
    data.afterAttackStatus = await one.evaluate(async () => (await fetch('/api/v1/me',
      { headers: { Authorization: 'Bearer ' + Atrium.store.tokens.access_token } })).status);
    await evil.close();

    // Sign out in tab 1: tab 2 follows without a reload, and its old token no longer works.
    const oldToken = await two.evaluate(() => Atrium.store.tokens.access_token);
    await one.click('#logout');
    await two.waitForFunction(() => document.querySelector('#who').textContent === '', null, { timeout: 15000 });
    data.who2AfterLogout = await who(two);
    data.loginLinkVisible2 = await two.evaluate(() => !document.querySelector('#login-link').hidden);
    data.oldTokenStatus = await two.evaluate(async (tok) => (await fetch('/api/v1/me', { headers: { Authorization: 'Bearer ' + tok } })).status, oldToken);
    const three = await tab(s, ctx, 'tab3', c.base + '/#/');
    await sleep(1500);
    data.who3 = await who(three);
    await s.shot(two, 'sessions-signed-out');
  },
};
