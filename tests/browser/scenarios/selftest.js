'use strict';
// selftest: Chromium alone, no server. The fake devices deliver audio and video, and two
// loopback-only peer connections in one page carry and decode them. When this fails, the
// browser or the harness is broken, not the SFU.
module.exports = async function selftest(r, data) {
  await r.open('self');
  const c = r.cfg;
  data.self = await r.call('self', 'selfTest', {
    width: c.width || 1280,
    height: c.height || 720,
    minFrames: c.minFrames || 30,
    timeoutMs: c.waitMs || 10000,
  });
};
