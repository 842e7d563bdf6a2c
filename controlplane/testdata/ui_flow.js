// Drives the control plane's browser UI in headless chromium (playwright-core): sign in,
// discover classes, open one, press Join, and print what the page showed as JSON on stdout.
// Usage: node ui_flow.js <base url> <email> <password> <class title> <chromium path>
'use strict';
const { chromium } = require('playwright-core');

const [base, email, password, title, executablePath] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    timeout: 30000,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
  });
  const out = { consoleErrors: [] };
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(15000);
    page.on('console', (m) => { if (m.type() === 'error') out.consoleErrors.push(m.text()); });
    page.on('pageerror', (e) => out.consoleErrors.push(String(e)));

    await page.goto(base + '/#/login');
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'wrong-password-123');
    await page.click('#login-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#login-error').textContent !== '');
    out.loginError = await page.textContent('#login-error');

    await page.fill('input[name=password]', password);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('#classes li');
    out.who = await page.textContent('#who');

    await page.fill('#search input[name=q]', title);
    await page.click('#search button[type=submit]');
    await page.waitForFunction((t) => [...document.querySelectorAll('#classes li h2')].some((h) => h.textContent === t), title);
    out.titles = await page.$$eval('#classes li h2', (hs) => hs.map((h) => h.textContent));

    await page.click(`#classes li h2:text-is(${JSON.stringify(title)})`);
    await page.waitForFunction((t) => document.querySelector('#c-title') && document.querySelector('#c-title').textContent === t, title);
    await page.click('#join');
    await page.waitForSelector('#join-result:not([hidden])');
    out.joinURL = await page.textContent('#j-url');
    out.token = await page.inputValue('#j-token');
    out.ok = true;
  } catch (e) {
    out.error = String(e && e.stack ? e.stack : e);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
})();
