'use strict';
// dynacast: A publishes 960x540 in three simulcast layers (rids q 160x90, h 320x180, f 960x540
// capped at 400 kbit/s; livekit-client makes three layers only from 960 px up). That is about
// 0.65 Mbit/s in all, so Chromium's congestion control reaches the top layer within seconds
// even on a starved machine, where 720p's default 2.3 Mbit/s was sometimes not reached in the
// 15 s the test allows: the layers' presence, not their size, is what dynacast is about. With the room option
// dynacast: true; B subscribes. B asks for LOW: the server's subscribed_quality_update makes
// livekit-client on A turn the h and f encodings off (after room.dynacast_pause_delay). B asks
// for HIGH: A turns them back on and B decodes the top layer. Then A mutes and unmutes its
// camera while B's stream state for the track is watched (paused, then active).
//
// data: connectA, connectB, published, firstDecodeAt (epoch ms), before (A's layers before LOW:
// all three on and growing, or the last sample), outboundA (A's outbound stats then), low,
// high (phase results, below), mute, unmute ({at, isMuted, reached, ms, state}), streams (B's
// streamStates() at the end), samples (A's per-rid series across the phases), inboundFinal,
// outboundFinal.
//
// A phase result: {quality, at (epoch ms of the request), tracks, reached, inactiveMs (first
// sample with the encoding off / on, ms after the request), bytesMs (f stopped growing: last
// growth; resumed: first growth), decodeMs (HIGH: B decodes wider than A's h layer), width,
// hWidth, widths (HIGH: B's decoded width over time, [ms, width])}. config.resumeWaitMs bounds
// the HIGH phase (default waitMs).
module.exports = async function dynacast(r, data, say) {
  const c = r.cfg;
  const wait = c.waitMs || 15000;
  await r.open('A');
  await r.open('B');
  // Only A needs dynacast (it is the publisher's option); the pages' other options are kept.
  data.connectA = await r.connect('A', { roomOptions: Object.assign({}, c.roomOptions || {}, { dynacast: true }) });
  data.published = await r.call('A', 'publish', {
    camera: true,
    microphone: false,
    capture: { resolution: { width: 960, height: 540, frameRate: 20 } },
    video: {
      simulcast: true, videoSimulcastLayers: ['h90', 'h180'],
      videoEncoding: { maxBitrate: 400000, maxFramerate: 20 },
    },
  });
  const video = (s) => (s || []).find((x) => x.kind === 'video');
  // B joins at once: a track nobody subscribes to is turned off by dynacast after
  // room.dynacast_pause_delay, so A's three layers are checked with B subscribed (below).
  data.connectB = await r.connect('B');

  const bInfo = async () => {
    const v = video(await r.call('B', 'inbound'));
    const rtp = v && v.rtp.length > 0 ? v.rtp[0] : {};
    return { width: rtp.frameWidth || 0, framesDecoded: rtp.framesDecoded || 0 };
  };
  const first = await r.poll('B decodes', bInfo, (b) => b.framesDecoded > 10, wait);
  data.firstDecodeAt = Date.now();
  say(`B decodes width ${first.value.width}`);

  // sampleA reads A's sender encodings (active flags) and outbound stats per rid, and keeps when
  // each rid's bytesSent last grew.
  const lastGrowth = {};
  const lastBytes = {};
  data.samples = [];
  const sampleA = async () => {
    const enc = (await r.call('A', 'senderEncodings'))[0] || { encodings: [] };
    const out = video(await r.call('A', 'outbound')) || { rtp: [] };
    const now = Date.now();
    const byRid = {};
    for (const e of enc.encodings) byRid[e.rid] = { active: e.active, bytes: 0, width: 0 };
    for (const l of out.rtp) {
      const x = byRid[l.rid] || (byRid[l.rid] = { active: false, bytes: 0, width: 0 });
      x.bytes = l.bytes || 0;
      x.width = l.frameWidth || 0;
      x.statsActive = l.active;
      if (lastBytes[l.rid] === undefined || x.bytes > lastBytes[l.rid]) lastGrowth[l.rid] = now;
      x.grew = lastBytes[l.rid] !== undefined && x.bytes > lastBytes[l.rid];
      lastBytes[l.rid] = x.bytes;
    }
    if (data.samples.length < 400) data.samples.push({ at: now, rids: byRid });
    return { at: now, rids: byRid };
  };
  const on = (s, rid) => !!s.rids[rid] && s.rids[rid].active;

  // Before LOW, all three layers must be on and flowing (with nobody subscribed for longer than
  // the pause delay, the server may have turned them off; B's subscription asks them back).
  const before = await r.poll('A sends all layers', sampleA,
    (s) => ['q', 'h', 'f'].every((rid) => on(s, rid) && s.rids[rid].grew), wait, 500);
  data.before = { reached: before.done, sample: before.value };
  data.outboundA = await r.call('A', 'outbound');

  // LOW: wait until f is off in A's sender parameters and its bytesSent has not grown for 1.5 s.
  {
    const at = Date.now();
    const tracks = await r.call('B', 'setVideoQuality', 'LOW');
    let inactiveMs = -1;
    const got = await r.poll('A stops f', sampleA, (s) => {
      if (!on(s, 'f') && inactiveMs < 0) inactiveMs = s.at - at;
      return !on(s, 'f') && !on(s, 'h') && s.at - lastGrowth.f >= 1500;
    }, wait, 500);
    // B's decoded width then: polled (bounded) rather than read once, since the first picture
    // of the bottom layer needs its keyframe; decodeMs says when (ms after the request).
    const hw = got.value.rids.h ? got.value.rids.h.width : 0;
    const low = await r.poll('B decodes the bottom layer', bInfo, (x) => x.width > 0 && hw > 0 && x.width < hw, 5000);
    const b = low.value;
    data.low = {
      quality: 'LOW', at, tracks, reached: got.done, inactiveMs, bytesMs: lastGrowth.f - at,
      width: b.width, decodeMs: low.done ? Date.now() - at : -1, sample: got.value,
    };
    say(`LOW: A's f off after ${inactiveMs} ms, last f bytes ${lastGrowth.f - at} ms after the request (reached=${got.done}); B width ${b.width}`);
  }

  // HIGH: wait until f is on and growing again and B decodes wider than A's h layer.
  {
    const at = Date.now();
    const tracks = await r.call('B', 'setVideoQuality', 'HIGH');
    let activeMs = -1;
    let bytesMs = -1;
    let decodeMs = -1;
    let b = { width: 0 };
    let hWidth = 0;
    const widths = []; // B's decoded width over the phase: [ms, width]
    const got = await r.poll('A resumes f, B decodes it', async () => {
      const s = await sampleA();
      b = await bInfo();
      if (widths.length < 200) widths.push([Date.now() - at, b.width]);
      return s;
    }, (s) => {
      if (on(s, 'f') && activeMs < 0) activeMs = s.at - at;
      if (on(s, 'f') && s.rids.f.grew && bytesMs < 0) bytesMs = s.at - at;
      if (on(s, 'h') && s.rids.h && s.rids.h.grew) hWidth = s.rids.h.width;
      if (hWidth > 0 && b.width > hWidth && decodeMs < 0) decodeMs = Date.now() - at;
      return activeMs >= 0 && bytesMs >= 0 && decodeMs >= 0;
    }, c.resumeWaitMs || wait, 500);
    data.high = {
      quality: 'HIGH', at, tracks, reached: got.done, inactiveMs: activeMs, bytesMs, decodeMs,
      width: b.width, hWidth, widths, sample: got.value,
    };
    say(`HIGH: A's f on after ${activeMs} ms, growing after ${bytesMs} ms, B decodes ${b.width} (> h ${hWidth}) after ${decodeMs} ms (reached=${got.done})`);
  }

  // Stream state: A mutes its camera, B's state for the track goes paused; unmute, active.
  const stateOf = (st) => {
    const t = (st.current || []).find((x) => x.from === 'A' && x.kind === 'video');
    return t ? t.state : '';
  };
  for (const [name, muted, want] of [['mute', true, 'paused'], ['unmute', false, 'active']]) {
    const at = Date.now();
    const isMuted = await r.call('A', 'setCameraMuted', muted);
    const got = await r.poll(`B sees ${want}`, () => r.call('B', 'streamStates'), (st) => stateOf(st) === want, wait);
    data[name] = { at, isMuted, reached: got.done, ms: got.ms, state: stateOf(got.value) };
    say(`${name}: A muted=${isMuted}; B's stream state ${stateOf(got.value)} after ${got.ms} ms (reached=${got.done})`);
  }
  // After unmuting, B decodes again.
  const framesAtUnmute = (await bInfo()).framesDecoded;
  const again = await r.poll('B decodes after unmute', bInfo, (b) => b.framesDecoded > framesAtUnmute + 10, wait);
  data.unmute.framesBefore = framesAtUnmute;
  data.unmute.framesAfter = again.value.framesDecoded;
  data.streams = await r.call('B', 'streamStates');
  data.inboundFinal = await r.call('B', 'inbound');
  data.outboundFinal = await r.call('A', 'outbound');
};
