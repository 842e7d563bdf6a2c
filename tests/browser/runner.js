#!/usr/bin/env node
// Runs one browser scenario for browser_test.go and writes what it measured as JSON.
//
//   node runner.js CONFIG.json RESULT.json
//
// CONFIG (written by the Go test): { scenario, chromium, pageURL, sfuURL, tokens: {A, B, ...},
// roomOptions, connectOptions, timeoutMs, ... scenario parameters }. RESULT: { scenario, ok,
// error, console (the pages' console errors and warnings), data }.
// The runner measures and waits (every wait bounded); it does not judge: the Go test asserts on
// `data`, so a failing check reports figures, not just "timeout". Progress, page console
// warnings/errors and livekit-client's debug log go to stderr, which the Go test prints when a
// check fails. Exit status: 0 when the scenario ran to the end (whatever it measured), 1 when it
// broke off (error set in RESULT), 2 on bad usage.
'use strict';

const fs = require('fs');
const { chromium } = require('playwright-core');

const started = Date.now();
// redact shortens what the test output need not show: tokens (test keys, but still
// credentials) and the long base64 join_request of /rtc/v1 URLs.
function redact(line) {
  return String(line)
    .replace(/access_token=[A-Za-z0-9._~%-]+/g, 'access_token=<redacted>')
    .replace(/join_request=[A-Za-z0-9._~%-]{40,}/g, 'join_request=<...>');
}
function say(line) {
  line = redact(line);
  process.stderr.write(`[runner +${((Date.now() - started) / 1000).toFixed(2)}s] ${line}\n`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Flags: headless Debian chromium with fake capture devices, loopback WebRTC allowed, and no
// background traffic (Debian's wrapper otherwise resolves Google hosts; mDNS host candidates would
// multicast on the machine's real interface).
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
  '--disable-quic',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--autoplay-policy=no-user-gesture-required',
];

class Runner {
  constructor(cfg) {
    this.cfg = cfg;
    this.browser = null;
    this.pages = {};
    this.console = []; // page console errors and warnings, for the result (bounded)
  }

  async launch() {
    // playwright-core's launch() gives the browser a fresh temporary user-data-dir (under TMPDIR,
    // which the Go test points at its own temp dir) and removes it on close.
    this.browser = await chromium.launch({
      executablePath: this.cfg.chromium,
      headless: true,
      // extraArgs: per-test flags, e.g. the SPKI pin that trusts a test certificate.
      args: CHROMIUM_ARGS.concat(this.cfg.extraArgs || []),
      timeout: 30000,
    });
    say(`chromium ${this.browser.version()} launched`);
  }

  // open loads the test page as participant `name` in its own browser context (own storage,
  // like a separate user), wiring its logs into stderr.
  async open(name) {
    const context = await this.browser.newContext();
    const page = await context.newPage();
    page.on('console', (m) => {
      const t = m.type();
      if (t !== 'error' && t !== 'warning') return;
      say(`${name} console.${t}: ${m.text()}`);
      if (this.console.length < 30) this.console.push(redact(`${name} console.${t}: ${m.text()}`).slice(0, 600));
    });
    page.on('pageerror', (e) => say(`${name} pageerror: ${e && e.stack ? e.stack : e}`));
    page.on('crash', () => say(`${name} page crashed`));
    await page.exposeFunction('__atriumLog', (line) => say(`${name} ${line}`));
    await page.goto(this.cfg.pageURL, { timeout: 15000 });
    const version = await page.evaluate(() => (window.atrium ? window.atrium.version() : null));
    if (!version) throw new Error(`${name}: livekit-client did not load on ${this.cfg.pageURL}`);
    say(`${name}: page loaded, livekit-client ${version}`);
    this.pages[name] = page;
    return page;
  }

  // call runs window.atrium[fn](arg) in participant `name`'s page.
  async call(name, fn, arg) {
    return this.pages[name].evaluate(([f, a]) => window.atrium[f](a), [fn, arg === undefined ? null : arg]);
  }

  // connect joins participant `name` with its token from the config.
  async connect(name, extra) {
    const token = this.cfg.tokens && this.cfg.tokens[name];
    if (!token) throw new Error(`no token for ${name} in config`);
    const res = await this.call(name, 'connect', Object.assign({
      url: this.cfg.sfuURL,
      token,
      connectOptions: this.cfg.connectOptions || {},
      roomOptions: this.cfg.roomOptions || {},
    }, extra || {}));
    say(`${name}: connected in ${res.connectMs.toFixed(0)} ms as ${res.participantSid}`);
    return res;
  }

  // poll calls fn until done(value) or timeoutMs; returns the last value and whether done.
  async poll(label, fn, done, timeoutMs, intervalMs = 250) {
    const deadline = Date.now() + timeoutMs;
    let value;
    for (;;) {
      value = await fn();
      if (done(value)) return { value, done: true, ms: timeoutMs - (deadline - Date.now()) };
      if (Date.now() >= deadline) {
        say(`${label}: gave up after ${timeoutMs} ms; last value ${JSON.stringify(value)}`);
        return { value, done: false, ms: timeoutMs };
      }
      await sleep(intervalMs);
    }
  }

  async close() {
    for (const name of Object.keys(this.pages)) {
      try {
        say(`${name}: net ${JSON.stringify(await this.call(name, 'net'))}`);
        await Promise.race([this.call(name, 'disconnect'), sleep(2000)]);
      } catch (e) {
        say(`${name}: disconnect: ${e.message}`);
      }
    }
    if (this.browser) await this.browser.close();
  }
}

const scenarios = {
  selftest: require('./scenarios/selftest'),
  media: require('./scenarios/media'),
  simulcast: require('./scenarios/simulcast'),
  data: require('./scenarios/data'),
  dynacast: require('./scenarios/dynacast'),
  cluster: require('./scenarios/cluster'),
  singlepc: require('./scenarios/singlepc'),
  e2ee: require('./scenarios/e2ee'),
  svc: require('./scenarios/svc'),
};

async function main() {
  if (process.argv.length !== 4) {
    process.stderr.write('usage: node runner.js CONFIG.json RESULT.json\n');
    process.exit(2);
  }
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const resultPath = process.argv[3];
  const scenario = scenarios[cfg.scenario];
  const result = { scenario: cfg.scenario, ok: false, error: '', console: [], data: {} };
  const r = new Runner(cfg);
  const write = () => {
    result.console = r.console;
    fs.writeFileSync(resultPath, JSON.stringify(result, null, 2));
  };
  if (!scenario) {
    result.error = `unknown scenario ${cfg.scenario}`;
    write();
    process.exit(2);
  }
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`scenario ${cfg.scenario} exceeded ${cfg.timeoutMs} ms`)), cfg.timeoutMs);
  });
  try {
    await Promise.race([(async () => {
      await r.launch();
      await scenario(r, result.data, say);
    })(), timeout]);
    result.ok = true;
  } catch (e) {
    result.error = e && e.stack ? e.stack : String(e);
    say(`scenario broke off: ${result.error}`);
  } finally {
    clearTimeout(timer);
    write(); // before closing, so a hanging close cannot lose what was measured
    await Promise.race([r.close().catch((e) => say(`close: ${e.message}`)), sleep(10000)]);
  }
  say('done');
  process.exit(result.ok ? 0 : 1);
}

main();
