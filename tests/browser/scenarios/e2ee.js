'use strict';
// e2ee: livekit-client's end-to-end encryption through the SFU. A and B share a key and each
// publish a camera (A with two simulcast layers); C joins without encryption and D with another
// key, both only subscribing. B then asks for A's LOW and HIGH layers: the SFU must find
// keyframes and switch layers without reading the encrypted payload.
//
// config.e2eeKeys: {A, B, D} (C has none). data: connect{A,B,C,D}, encryption{A,B,C,D} (the
// page's own state and EncryptionError events), participants{B,C,D} (what each sees of the
// others' tracks, with the `encrypted` flag from TrackInfo), inbound{A,B,C,D} once the checks
// ended, phases (B's LOW/HIGH widths, as in the simulcast scenario), outboundA.
module.exports = async function e2ee(r, data, say) {
  const c = r.cfg;
  const keys = c.e2eeKeys || {};
  const names = ['A', 'B', 'C', 'D'];
  for (const n of names) await r.open(n);
  for (const n of names) data[`connect${n}`] = await r.connect(n, { e2eeKey: keys[n] || '' });

  data.publishedA = await r.call('A', 'publish', {
    camera: true,
    capture: { resolution: { width: 640, height: 360, frameRate: 15 } },
    video: { simulcast: true, videoSimulcastLayers: ['h180'] },
  });
  data.publishedB = await r.call('B', 'publish', {
    camera: true,
    capture: { resolution: { width: 320, height: 240, frameRate: 15 } },
    video: { simulcast: false },
  });

  const videoFrom = (stats, from) => (stats || []).find((s) => s.kind === 'video' && s.from === from && s.rtp.length > 0);
  const decoded = (stats, from) => {
    const v = videoFrom(stats, from);
    return v ? v.rtp[0].framesDecoded : 0;
  };
  const width = (stats, from) => {
    const v = videoFrom(stats, from);
    return v ? v.rtp[0].frameWidth : 0;
  };
  const wait = c.waitMs || 20000;
  const minFrames = c.minFrames || 30;
  data.bDecodesA = (await r.poll('B decodes A', () => r.call('B', 'inbound'), (s) => decoded(s, 'A') > minFrames, wait)).done;
  data.initialWidthBofA = width(await r.call('B', 'inbound'), 'A');
  data.aDecodesB = (await r.poll('A decodes B', () => r.call('A', 'inbound'), (s) => decoded(s, 'B') > minFrames, wait)).done;
  // C and D must have received A's packets for a while (so "no frame decoded" means they
  // could not, not that nothing came).
  for (const n of ['C', 'D']) {
    await r.poll(`${n} receives A's video`, () => r.call(n, 'inbound'), (s) => {
      const v = videoFrom(s, 'A');
      return !!v && v.rtp[0].packets > 300;
    }, wait);
  }

  // Layer switches on the encrypted track: B asks for LOW, then HIGH.
  data.phases = [];
  for (const quality of ['LOW', 'HIGH']) {
    await r.call('B', 'setVideoQuality', quality);
    const t0 = Date.now();
    const series = [];
    const got = await r.poll(`B at ${quality}`, async () => {
      const s = await r.call('B', 'inbound');
      const w = width(s, 'A');
      series.push({ ms: Date.now() - t0, width: w, framesDecoded: decoded(s, 'A') });
      return w;
    }, (w) => (quality === 'LOW' ? w > 0 && w < 400 : w >= 400), c.phaseWaitMs || 30000);
    await new Promise((res) => setTimeout(res, 1000));
    const held = await r.call('B', 'inbound');
    data.phases.push({ quality, reached: got.done, ms: got.ms, width: width(held, 'A'), framesDecoded: decoded(held, 'A'), series });
    say(`B at ${quality}: A's width ${width(held, 'A')} (reached=${got.done} in ${got.ms} ms)`);
  }

  for (const n of names) {
    data[`pictures${n}`] = await r.call(n, 'pictures');
    data[`inbound${n}`] = await r.call(n, 'inbound');
    data[`encryption${n}`] = await r.call(n, 'encryption');
    data[`participants${n}`] = await r.call(n, 'participants');
  }
  data.outboundA = await r.call('A', 'outbound');
  say(`A outbound ${JSON.stringify(data.outboundA)}`);
  for (const n of names) say(`${n} pictures ${JSON.stringify(data[`pictures${n}`])}`);
  for (const n of names) say(`${n} inbound ${JSON.stringify(data[`inbound${n}`].map((s) => ({ from: s.from, kind: s.kind, rtp: s.rtp })))}`);
};
