'use strict';
// simulcast: A publishes 1280x720 with three simulcast layers; B asks for LOW, then HIGH, and
// the decoded frame width is recorded after each request, next to the widths A encodes.
//
// config.phases: [{quality: 'LOW'|'MEDIUM'|'HIGH', expect: 'bottom'|'top', waitMs}].
// data: connectA, connectB, outboundA (A's layers once all three were encoding), initialWidth,
// phases: [{quality, expect, tracks, reached, ms, width, layers (A's encoded widths, ascending,
// when width was sampled), series: [{ms, width, framesDecoded, layers}]}], inboundFinal,
// outboundFinal.
module.exports = async function simulcast(r, data, say) {
  const c = r.cfg;
  await r.open('A');
  await r.open('B');
  data.connectA = await r.connect('A');
  data.published = await r.call('A', 'publish', {
    camera: true,
    microphone: false,
    capture: { resolution: { width: 1280, height: 720, frameRate: 20 } },
    video: { simulcast: true, videoSimulcastLayers: ['h180', 'h360'] },
  });
  const layers = await r.poll('A encodes three layers', () => r.call('A', 'outbound'), (s) => {
    const v = (s || []).find((x) => x.kind === 'video');
    return !!v && v.rtp.filter((l) => l.framesEncoded > 0).length >= 3;
  }, c.waitMs || 15000);
  data.outboundA = layers.value;
  say(`A layers ${JSON.stringify(data.outboundA)}`);
  data.connectB = await r.connect('B');

  const width = (s) => {
    const v = (s || []).find((x) => x.kind === 'video');
    return v && v.rtp.length > 0 ? v.rtp[0].frameWidth : 0;
  };
  const frames = (s) => {
    const v = (s || []).find((x) => x.kind === 'video');
    return v && v.rtp.length > 0 ? v.rtp[0].framesDecoded : 0;
  };
  const first = await r.poll('B decodes', () => r.call('B', 'inbound'), (s) => frames(s) > 10, c.waitMs || 15000);
  data.initialWidth = width(first.value);

  // The layer B gets is judged against A's layers as they are encoded at that moment
  // (Chromium may scale all layers down under CPU load): the bottom layer is narrower than the
  // middle one, the top layer wider.
  const layerWidths = async () => {
    const out = await r.call('A', 'outbound');
    const v = (out || []).find((x) => x.kind === 'video');
    return v ? v.rtp.filter((l) => l.framesEncoded > 0 && l.frameWidth > 0).map((l) => l.frameWidth).sort((a, b) => a - b) : [];
  };
  const middle = (ws) => (ws.length >= 3 ? ws[1] : 0);
  const fits = (expect, w, mid) => w > 0 && mid > 0 && (expect === 'bottom' ? w < mid : w > mid);

  data.phases = [];
  for (const phase of c.phases || []) {
    const n = await r.call('B', 'setVideoQuality', phase.quality);
    const t0 = Date.now();
    const series = [];
    const got = await r.poll(`B at ${phase.quality}`, async () => {
      const s = await r.call('B', 'inbound');
      const layers = await layerWidths();
      series.push({ ms: Date.now() - t0, width: width(s), framesDecoded: frames(s), layers });
      return { w: width(s), mid: middle(layers) };
    }, (v) => fits(phase.expect, v.w, v.mid), phase.waitMs || 15000);
    // Hold a little longer: the width must stay, not flicker past the threshold.
    await new Promise((res) => setTimeout(res, 1000));
    const held = await r.call('B', 'inbound');
    const layers = await layerWidths();
    series.push({ ms: Date.now() - t0, width: width(held), framesDecoded: frames(held), layers });
    data.phases.push({
      quality: phase.quality, expect: phase.expect, tracks: n, reached: got.done, ms: got.ms,
      width: width(held), layers, series,
    });
    say(`B at ${phase.quality}: width ${width(held)}, A's layers ${layers} (reached=${got.done} in ${got.ms} ms)`);
  }
  data.inboundFinal = await r.call('B', 'inbound');
  data.outboundFinal = await r.call('A', 'outbound');
};
