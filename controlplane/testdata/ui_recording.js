// Recording scenarios for ui_run.js (which loads this file): the classroom's recording
// button and indicator, and playback of recordings with hls.js through the authorizing proxy.
// Each scenario gets the runner's Session (pages, login) and fills `data` for the Go test.
'use strict';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');

// api calls the control plane from the page with the signed-in user's token; returns
// {status, body}.
function api(page, path, method) {
  return page.evaluate(async ([p, m]) => {
    const t = Atrium.store.tokens; // the access token lives in the page's memory (core.js)
    const res = await fetch(p, { method: m || 'GET', headers: { Authorization: 'Bearer ' + t.access_token } });
    return { status: res.status, body: await res.text() };
  }, [path, method]);
}

// sample is the player's state: position, decoded frames, picture size.
const sample = (page) => page.$eval('#rec-player', (v) => ({ T: v.currentTime, Frames: v.getVideoPlaybackQuality().totalVideoFrames,
  W: v.videoWidth, H: v.videoHeight, Paused: v.paused, Error: v.error ? v.error.message || String(v.error.code) : '' }));

// watch opens the class's recordings page, waits (reloading) until a complete recording is
// listed, plays it and samples the player at the start and 5 s later.
async function watch(s, page, c, data) {
  const deadline = Date.now() + 60000;
  for (;;) {
    await page.goto(c.base + '/#/class/' + c.classID + '/recordings');
    await page.waitForSelector('#rec-list li');
    if (await page.$('#rec-list li[data-state=complete]')) break;
    if (Date.now() > deadline) throw new Error('no complete recording listed within 60 s: ' + await text(page, '#rec-list'));
    await sleep(1000);
  }
  data.listed = await page.$$eval('#rec-list li', (ls) => ls.map((l) => l.getAttribute('data-state') + ': ' + l.textContent.trim()));
  data.recordingID = await page.$eval('#rec-list li[data-state=complete]', (l) => l.getAttribute('data-recording'));
  await page.click('#rec-list li[data-state=complete] .rec-watch');
  await page.waitForFunction(() => { const v = document.querySelector('#rec-player'); return v && v.currentTime > 0.2; }, null, { timeout: 30000 });
  data.first = await sample(page);
  await sleep(5000);
  data.later = await sample(page);
  await s.shot(page, 'recording-playback');
}

module.exports = {
  // reclive: while the Go test records a full class, a student on its waitlist finds
  // "Watch live" on the class page and watches the running recording live for 5 s; a
  // student neither booked nor queued is offered no "Watch live".
  async reclive(s, data) {
    const c = s.cfg;
    const outsider = await s.page('outsider', '/#/login');
    await s.login(outsider, c.outsider.email, c.outsider.password);
    await outsider.goto(c.base + '/#/class/' + c.classID);
    await outsider.waitForSelector('#c-actions');
    // Not 'networkidle': the page keeps its notification stream open. Two seconds is
    // ample for the class page's own calls (the queued student below is offered at once).
    await sleep(2000);
    data.outsiderOffered = !!(await outsider.$('#watch-live'));
    await outsider.close();

    const page = await s.page('queued', '/#/login');
    await s.login(page, c.queued.email, c.queued.password);
    await page.goto(c.base + '/#/class/' + c.classID);
    await page.waitForSelector('#watch-live', { timeout: 20000 });
    data.offer = await text(page, '#watch-live');
    await page.click('#watch-live');
    await page.waitForSelector('#rec-list li .rec-watch', { timeout: 20000 });
    data.title = await text(page, 'h1');
    data.listed = await page.$$eval('#rec-list li', (ls) => ls.map((l) => l.getAttribute('data-state') + ': ' + l.textContent.trim()));
    await page.click('#rec-list li .rec-watch');
    await page.waitForFunction(() => { const v = document.querySelector('#rec-player'); return v && v.currentTime > 0.2; }, null, { timeout: 30000 });
    data.first = await sample(page);
    await sleep(5000);
    data.later = await sample(page);
    await s.shot(page, 'recording-live');
  },

  // recplay: a booked student plays a finished recording (made by the Go test) in the UI.
  async recplay(s, data) {
    const c = s.cfg;
    const page = await s.page('student', '/#/login');
    await s.login(page, c.student.email, c.student.password);
    await watch(s, page, c, data);
  },

  // recording: the teacher records from the classroom; teacher and student see the
  // indicator while it runs; the booked student then watches the recording; a student
  // without a booking is refused the playlist and a segment.
  async recording(s, data) {
    const c = s.cfg;
    const teacher = await s.page('teacher', '/#/login');
    await s.login(teacher, c.teacher.email, c.teacher.password);
    await s.enterRoom(teacher, c.classID);
    await teacher.waitForFunction(() => { const r = window.atriumRoom; return r && r.state === 'connected' && r.localParticipant.getTrackPublication('camera'); },
      null, { timeout: 30000 });
    data.codec = await teacher.evaluate(() => {
      const p = window.atriumRoom.localParticipant.getTrackPublication('camera');
      return String((p.trackInfo && (p.trackInfo.mimeType || p.trackInfo.codecs && p.trackInfo.codecs.map((x) => x.mimeType).join(','))) || p.mimeType || '');
    });
    await teacher.waitForSelector('#rec-toggle:not([disabled])');
    data.buttonBefore = await text(teacher, '#rec-toggle');

    const student = await s.page('student', '/#/login');
    await s.login(student, c.student.email, c.student.password);
    await s.enterRoom(student, c.classID);
    await student.waitForFunction(() => window.atriumRoom && window.atriumRoom.state === 'connected', null, { timeout: 30000 });
    data.studentIndicatorBefore = await student.$eval('#rec-indicator', (e) => !e.hidden);
    data.studentHasButton = !!(await student.$('#rec-toggle'));

    await teacher.click('#rec-toggle');
    await teacher.waitForFunction(() => !document.querySelector('#rec-indicator').hidden, null, { timeout: 30000 });
    await student.waitForFunction(() => !document.querySelector('#rec-indicator').hidden, null, { timeout: 30000 });
    data.studentIndicator = await text(student, '#rec-indicator');
    await teacher.waitForFunction(() => document.querySelector('#rec-toggle').textContent === 'Stop recording', null, { timeout: 10000 });
    data.buttonDuring = await text(teacher, '#rec-toggle');
    await s.shot(teacher, 'recording-teacher');
    await s.shot(student, 'recording-student');

    // Record until the live playlist holds at least c.segments segments.
    const list = await api(teacher, '/api/v1/classes/' + c.classID + '/recordings');
    const live = JSON.parse(list.body).items.find((r) => r.live);
    if (!live) throw new Error('no running recording listed: ' + list.body);
    const deadline = Date.now() + 60000;
    for (;;) {
      const pl = await api(teacher, live.playlist_url);
      data.liveSegments = (pl.body.match(/^seg_\d+\.m4s$/gm) || []).length;
      if (pl.status === 200 && data.liveSegments >= c.segments) break;
      if (Date.now() > deadline) throw new Error(`live playlist has ${data.liveSegments} segments after 60 s (status ${pl.status})`);
      await sleep(500);
    }

    await teacher.click('#rec-toggle');
    await student.waitForFunction(() => document.querySelector('#rec-indicator').hidden, null, { timeout: 30000 });
    data.studentIndicatorAfter = !(await student.$eval('#rec-indicator', (e) => e.hidden));
    await teacher.close();

    await watch(s, student, c, data);
    const pl = await api(student, '/api/v1/recordings/' + data.recordingID + '/media/index.m3u8');
    const seg = (pl.body.match(/^seg_\d+\.m4s$/m) || [''])[0];
    data.studentPlaylist = pl.status;
    data.studentSegment = (await api(student, '/api/v1/recordings/' + data.recordingID + '/media/' + seg)).status;

    const outsider = await s.page('outsider', '/#/login');
    await s.login(outsider, c.outsider.email, c.outsider.password);
    data.outsiderPlaylist = (await api(outsider, '/api/v1/recordings/' + data.recordingID + '/media/index.m3u8')).status;
    data.outsiderSegment = (await api(outsider, '/api/v1/recordings/' + data.recordingID + '/media/' + seg)).status;
    await outsider.goto(c.base + '/#/class/' + c.classID + '/recordings');
    await outsider.waitForSelector('#rec-msg p');
    data.outsiderPage = await text(outsider, '#rec-msg');
  },
};
