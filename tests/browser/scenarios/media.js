'use strict';
// media: A publishes camera + microphone; B subscribes, decodes video and receives audio.
// Also used for the TURN check (connectOptions.rtcConfig.iceTransportPolicy = 'relay').
//
// data: connectA, connectB, published (A's tracks), firstFrameMs (B connected -> first decoded
// frame), inbound (B's stats once video passed minFrames or the wait ended), inboundLater (1 s
// after), outboundA, participantsB.
module.exports = async function media(r, data, say) {
  const c = r.cfg;
  await r.open('A');
  await r.open('B');
  data.connectA = await r.connect('A');
  data.published = await r.call('A', 'publish', {
    camera: true,
    microphone: true,
    capture: { resolution: c.resolution || { width: 640, height: 480, frameRate: 20 } },
    video: { simulcast: !!c.simulcast },
  });
  say(`A published ${JSON.stringify(data.published)}`);
  data.connectB = await r.connect('B');

  const video = (stats) => (stats || []).find((s) => s.kind === 'video');
  const audio = (stats) => (stats || []).find((s) => s.kind === 'audio');
  const firstFrame = await r.poll('B first frame', () => r.call('B', 'inbound'), (s) => {
    const v = video(s);
    return !!v && v.rtp.length > 0 && v.rtp[0].framesDecoded > 0;
  }, c.waitMs || 20000);
  data.firstFrameMs = firstFrame.done ? firstFrame.ms : -1;

  const minFrames = c.minFrames || 30;
  const decoded = await r.poll('B decodes video and receives audio', () => r.call('B', 'inbound'), (s) => {
    const v = video(s);
    const a = audio(s);
    return !!v && v.rtp.length > 0 && v.rtp[0].framesDecoded > minFrames &&
      !!a && a.rtp.length > 0 && a.rtp[0].packets > 0;
  }, c.waitMs || 20000);
  data.inbound = decoded.value;
  await new Promise((res) => setTimeout(res, 1000));
  data.inboundLater = await r.call('B', 'inbound');
  data.outboundA = await r.call('A', 'outbound');
  data.participantsB = await r.call('B', 'participants');
  say(`B inbound ${JSON.stringify(data.inboundLater)}`);
};
