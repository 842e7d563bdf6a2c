// Roster scenario for ui_run.js (which loads this file): the teacher's class page shows the
// roster, messages the booked students, and ends the class for everyone after a confirmation
// that says what happens to the students' credits. Fills `data` for the Go test, which judges.
'use strict';

const text = (page, sel) => page.$eval(sel, (e) => e.textContent.trim()).catch(() => '');

module.exports = {
  async roster(s, data) {
    const c = s.cfg;
    const page = await s.page('teacher', '/#/login');
    await s.login(page, c.teacher.email, c.teacher.password);
    await page.goto(c.base + '/#/teach/' + c.classID);
    await page.waitForSelector('#roster-students tr[data-user]');
    data.rows = await page.$$eval('#roster-students tr[data-user]', (rs) => rs.map((r) => ({
      user: r.getAttribute('data-user'),
      name: r.querySelector('.roster-name').textContent,
      initials: r.querySelector('.roster-avatar').textContent,
      color: r.querySelector('.roster-avatar').style.backgroundColor,
      cells: [...r.querySelectorAll('td')].map((td) => td.textContent.trim()),
    })));
    data.waitlist = await page.$$eval('#roster-waitlist tr', (rs) => rs.map((r) => r.textContent.trim()));
    data.summary = await text(page, '#roster-summary');
    await s.shot(page, 'roster');

    // A message to everyone booked.
    await page.fill('#roster-message', c.message);
    await page.click('#roster-send');
    await page.waitForFunction(() => /Message sent/.test(document.querySelector('#toast').textContent));
    data.messageToast = await text(page, '#toast');

    // End class for everyone: the confirmation says what happens to the credits.
    await page.waitForSelector('#end-class');
    data.preview = await text(page, '#end-preview');
    page.once('dialog', (d) => { data.dialog = d.message(); d.accept(); });
    await page.click('#end-class');
    await page.waitForFunction(() => /Class ended/.test(document.querySelector('#toast').textContent));
    data.endToast = await text(page, '#toast');
    await page.waitForFunction(() => { const h = document.querySelector('#end-class-card h2'); return h && /ended/.test(h.textContent); });
    data.endedCard = await text(page, '#end-class-card');
    await s.shot(page, 'class-ended');
  },
};
