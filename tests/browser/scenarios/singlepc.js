'use strict';
// singlepc: livekit-client with default options, which tries /rtc/v1 (one PeerConnection)
// first. A publishes camera and microphone; B joins `joins` times (leaving in between), each
// time measured from connect() resolving to its first decoded frame of A's camera; then data
// goes both ways, B's signal connection is dropped (the SDK resumes it) and video and data
// still flow afterwards.
//
// data: connectA, connectB (the last), joins [{connectMs, firstFrameMs}], dataBefore,
// resumed, framesBefore, framesAfter, dataAfter, netA, netB, logsB (lines about the signal
// path: URLs, a fallback to /rtc).
module.exports = async function singlePC(r, data, say) {
  const c = r.cfg;
  await r.open('A');
  await r.open('B');
  data.connectA = await r.connect('A');
  data.published = await r.call('A', 'publish', {
    camera: true,
    microphone: true,
    capture: { resolution: { width: 640, height: 480, frameRate: 20 } },
    video: { simulcast: false },
  });
  const waitMs = c.waitMs || 20000;
  data.joins = [];
  for (let i = 0; i < (c.joins || 1); i++) {
    if (i > 0) await r.call('B', 'disconnect');
    data.connectB = await r.connect('B');
    const ms = await r.call('B', 'firstFrame', { timeoutMs: waitMs });
    data.joins.push({ connectMs: data.connectB.connectMs, firstFrameMs: ms });
    say(`join ${i + 1}: connect ${data.connectB.connectMs.toFixed(0)} ms, first frame ${ms.toFixed(0)} ms later`);
    if (ms < 0) return;
  }

  // Data both ways, until one message each arrived (channels open a moment after connect).
  const exchange = async (tag) => {
    let n = 0;
    const res = await r.poll(`data ${tag}`, async () => {
      n++;
      await r.call('A', 'sendData', { text: `${tag}-A-${n}`, reliable: true, topic: tag });
      await r.call('B', 'sendData', { text: `${tag}-B-${n}`, reliable: true, topic: tag });
      await new Promise((res) => setTimeout(res, 300));
      return { A: await r.call('A', 'received'), B: await r.call('B', 'received') };
    }, (got) => got.A.some((m) => m.topic === tag && m.from === 'B') && got.B.some((m) => m.topic === tag && m.from === 'A'), waitMs, 100);
    return res.done;
  };
  data.dataBefore = await exchange('before');

  const frames = async () => {
    const s = await r.call('B', 'inbound');
    const v = (s || []).find((x) => x.kind === 'video');
    return v && v.rtp.length ? v.rtp[0].framesDecoded : 0;
  };
  data.framesBefore = await frames();
  await r.call('B', 'simulate', 'signal-reconnect');
  const resumed = await r.poll('B resumed', () => r.call('B', 'logs'),
    (lines) => lines.some((l) => l.includes('harness reconnected')), waitMs);
  data.resumed = resumed.done;
  const more = await r.poll('B decodes after the resume', frames, (n) => n > data.framesBefore + 20, waitMs);
  data.framesAfter = more.value;
  data.dataAfter = await exchange('after');

  data.netA = await r.call('A', 'net');
  data.netB = await r.call('B', 'net');
  data.logsB = (await r.call('B', 'logs')).filter((l) =>
    /signal connecting|v1 RTC path|Initial connection failed|resum|connected to Livekit Server/i.test(l)).map((l) => l.slice(0, 300));
};
