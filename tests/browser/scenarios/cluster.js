'use strict';
// cluster: pages A and B join one room through different cluster members (cfg.urls: A and B
// may be two SFU nodes, or a gateway), both publish camera + microphone, and each must decode
// the other's video. With cfg.readyFile/cfg.killFile it then measures failover: the scenario
// writes readyFile, the Go test kills the room's node (SIGKILL) and writes the kill time (ms
// since the epoch) to killFile, and the scenario measures, for each page, the time from the
// kill until it decodes the other's video again (a new track: the SDK reconnected and the
// other republished).
//
// data: connectA, connectB, nodeA, nodeB (serverInfo.nodeId), firstFrameA/B (ms), sidsBefore,
// failover: { killedAt, A: { ms, sid }, B: { ms, sid } }.
const fs = require('fs');

module.exports = async function cluster(r, data, say) {
  const c = r.cfg;
  const urls = c.urls || {};
  for (const name of ['A', 'B']) await r.open(name);
  data.connectA = await r.connect('A', { url: urls.A || c.sfuURL });
  data.connectB = await r.connect('B', { url: urls.B || c.sfuURL });
  data.nodeA = (data.connectA.serverInfo || {}).nodeId || '';
  data.nodeB = (data.connectB.serverInfo || {}).nodeId || '';
  const capture = { resolution: { width: 320, height: 240, frameRate: 20 } };
  for (const name of ['A', 'B']) {
    await r.call(name, 'publish', { camera: true, microphone: true, capture, video: { simulcast: false }, userProvided: true });
  }
  const other = { A: 'B', B: 'A' };
  const videoFrom = (stats, from) => (stats || []).find((s) => s.kind === 'video' && s.from === from);
  const decodes = (name, minFrames, notSid) => r.poll(`${name} decodes ${other[name]}'s video`, () => r.call(name, 'inbound'), (s) => {
    const v = videoFrom(s, other[name]);
    return !!v && v.sid !== notSid && v.rtp.length > 0 && v.rtp[0].framesDecoded > minFrames;
  }, c.waitMs || 20000);
  const minFrames = c.minFrames || 20;
  const first = await Promise.all(['A', 'B'].map((n) => decodes(n, minFrames)));
  data.firstFrameA = first[0].done ? first[0].ms : -1;
  data.firstFrameB = first[1].done ? first[1].ms : -1;
  data.sidsBefore = {
    A: (videoFrom(first[0].value, 'B') || {}).sid || '',
    B: (videoFrom(first[1].value, 'A') || {}).sid || '',
  };
  if (!c.readyFile) return;

  fs.writeFileSync(c.readyFile, 'ready');
  say('ready for the kill');
  let killedAt = 0;
  const deadline = Date.now() + (c.killWaitMs || 60000);
  while (!killedAt && Date.now() < deadline) {
    try {
      killedAt = Number(fs.readFileSync(c.killFile, 'utf8')) || 0;
    } catch (e) { /* not yet */ }
    if (!killedAt) await new Promise((res) => setTimeout(res, 20));
  }
  if (!killedAt) throw new Error('the node was never killed');
  data.failover = { killedAt };
  // Both pages concurrently: each waits for a new video track from the other, decoding.
  await Promise.all(['A', 'B'].map(async (name) => {
    const res = await decodes(name, 5, data.sidsBefore[name]);
    const v = videoFrom(res.value, other[name]);
    data.failover[name] = { ms: res.done ? Date.now() - killedAt : -1, sid: v ? v.sid : '' };
    if (!res.done) {
      // What the page knows of the other: its tracks and whether they are subscribed.
      data.failover[name].participants = await r.call(name, 'participants');
      data.failover[name].outbound = await r.call(name, 'outbound');
      say(`${name} participants after the wait: ${JSON.stringify(data.failover[name].participants)}`);
      say(`${name} outbound after the wait: ${JSON.stringify(data.failover[name].outbound)}`);
    }
    say(`${name} decodes again ${data.failover[name].ms} ms after the kill`);
  }));
};
