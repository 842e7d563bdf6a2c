'use strict';
// svc: A publishes its camera as VP9 SVC (scalabilityMode L3T3_KEY: three spatial layers in
// one RTP stream); B asks for LOW, then HIGH, and the width B decodes is recorded after each
// request next to the width A encodes (its top spatial layer).
//
// config.phases: [{quality, expect: 'bottom'|'top', waitMs}]. data: connectA, connectB,
// outboundA (once A encodes), phases: [{quality, expect, reached, ms, width, top, series}],
// inboundFinal, outboundFinal.
module.exports = async function svc(r, data, say) {
  const c = r.cfg;
  await r.open('A');
  await r.open('B');
  data.connectA = await r.connect('A');
  data.published = await r.call('A', 'publish', {
    camera: true,
    capture: { resolution: c.resolution || { width: 1280, height: 720, frameRate: 15 } },
    video: { videoCodec: 'vp9', scalabilityMode: 'L3T3_KEY', backupCodec: false },
  });
  const video = (s) => (s || []).find((x) => x.kind === 'video');
  const sending = await r.poll('A encodes VP9', () => r.call('A', 'outbound'), (s) => {
    const v = video(s);
    return !!v && v.rtp.some((l) => l.framesEncoded > 10 && l.frameWidth > 0);
  }, c.waitMs || 20000);
  data.outboundA = sending.value;
  say(`A sends ${JSON.stringify(data.outboundA)}`);
  data.connectB = await r.connect('B');

  const width = (s) => {
    const v = video(s);
    return v && v.rtp.length > 0 ? v.rtp[0].frameWidth : 0;
  };
  const frames = (s) => {
    const v = video(s);
    return v && v.rtp.length > 0 ? v.rtp[0].framesDecoded : 0;
  };
  // The top spatial layer's width as A encodes it now (Chromium may scale under CPU load).
  const top = async () => {
    const v = video(await r.call('A', 'outbound'));
    return v ? Math.max(0, ...v.rtp.map((l) => l.frameWidth || 0)) : 0;
  };
  const first = await r.poll('B decodes', () => r.call('B', 'inbound'), (s) => frames(s) > 10, c.waitMs || 20000);
  data.initialWidth = width(first.value);
  data.codecB = (video(first.value) || { rtp: [{}] }).rtp[0].codec || '';

  // bottom: at most a third of the top layer's width (S0 is a quarter; S1, a half, is not);
  // top: the top layer's width.
  const fits = (expect, w, t) => w > 0 && t > 0 && (expect === 'bottom' ? w * 3 <= t : w === t);
  data.phases = [];
  for (const phase of c.phases || []) {
    await r.call('B', 'setVideoQuality', phase.quality);
    const t0 = Date.now();
    const series = [];
    const got = await r.poll(`B at ${phase.quality}`, async () => {
      const s = await r.call('B', 'inbound');
      const t = await top();
      series.push({ ms: Date.now() - t0, width: width(s), framesDecoded: frames(s), top: t });
      return { w: width(s), t };
    }, (v) => fits(phase.expect, v.w, v.t), phase.waitMs || 20000);
    await new Promise((res) => setTimeout(res, 1000));
    const held = await r.call('B', 'inbound');
    const t = await top();
    series.push({ ms: Date.now() - t0, width: width(held), framesDecoded: frames(held), top: t });
    data.phases.push({
      quality: phase.quality, expect: phase.expect, reached: got.done, ms: got.ms,
      // matched*: the sample that met the expectation (width and top measured together);
      // width/top: one second later (Chromium may rescale its layers under CPU load meanwhile).
      matchedWidth: got.value.w, matchedTop: got.value.t,
      width: width(held), top: t, framesDecoded: frames(held), series,
    });
    say(`B at ${phase.quality}: width ${width(held)}, A's top layer ${t} (reached=${got.done} in ${got.ms} ms)`);
  }
  data.inboundFinal = await r.call('B', 'inbound');
  data.outboundFinal = await r.call('A', 'outbound');
};
