// Page side of the browser tests: a thin, observable wrapper around livekit-client, driven by
// runner.js through page.evaluate. Every function returns plain JSON-able values, so the runner
// can hand them to the Go test unchanged. Nothing here asserts: the Go test does.
(function () {
  'use strict';
  const LK = window.LivekitClient;
  const logLines = [];
  const received = []; // data packets received, in arrival order
  const streamEvents = []; // TrackStreamStateChanged events, in arrival order (bounded)
  const encryptionErrors = []; // RoomEvent.EncryptionError messages (bounded)

  // log keeps a bounded copy of what the SDK and the harness said, and streams it to runner.js
  // (window.__atriumLog is a binding the runner exposes) for the test output. The SDK also
  // prints to the console itself; the runner keeps only console warnings and errors, so lines
  // are not doubled.
  function log(level, msg, ctx) {
    let line = `[${new Date().toISOString().slice(11, 23)}] ${level} ${msg}`;
    if (ctx !== undefined) {
      try {
        line += ' ' + JSON.stringify(ctx);
      } catch (e) {
        line += ' (context not serialisable)';
      }
    }
    if (logLines.length < 5000) logLines.push(line);
    if (typeof window.__atriumLog === 'function') window.__atriumLog(line).catch(() => {});
  }

  if (LK) {
    // SDK logs at debug level, each with its structured context, into our log. The extension
    // replaces loglevel's own console output for the SDK's loggers.
    LK.setLogLevel('debug');
    LK.setLogExtension((level, msg, ctx) => {
      log(['trace', 'debug', 'info', 'warn', 'error', 'silent'][level] || String(level), msg, ctx);
    });
  }

  let room = null;
  let connectedAt = 0; // performance.now() when connect() last resolved

  function trackSummary(pub) {
    return {
      sid: pub.trackSid,
      kind: pub.kind,
      source: pub.source,
      subscribed: !!pub.track,
      muted: pub.isMuted,
      simulcasted: !!pub.simulcasted,
      // What the server said in TrackInfo.encryption (livekit-client's isEncrypted).
      encrypted: !!pub.isEncrypted,
    };
  }

  // statsOf reduces an RTCStatsReport to the figures the tests assert on, including the ICE
  // candidate types of the selected pair (to prove relay use).
  function statsOf(report) {
    const out = { rtp: [], localCandidateType: '', remoteCandidateType: '', localAddress: '', remoteAddress: '' };
    let pairId = '';
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' || s.type === 'outbound-rtp') {
        out.rtp.push({
          type: s.type,
          kind: s.kind,
          rid: s.rid || '',
          ssrc: s.ssrc,
          packets: s.type === 'inbound-rtp' ? s.packetsReceived : s.packetsSent,
          bytes: s.type === 'inbound-rtp' ? s.bytesReceived : s.bytesSent,
          packetsLost: s.packetsLost || 0,
          framesDecoded: s.framesDecoded || 0,
          framesReceived: s.framesReceived || 0,
          framesDropped: s.framesDropped || 0,
          framesEncoded: s.framesEncoded || 0,
          keyFramesDecoded: s.keyFramesDecoded || 0,
          frameWidth: s.frameWidth || 0,
          frameHeight: s.frameHeight || 0,
          framesPerSecond: s.framesPerSecond || 0,
          audioLevel: s.audioLevel || 0,
          totalAudioEnergy: s.totalAudioEnergy || 0,
          qualityLimitationReason: s.qualityLimitationReason || '',
          active: s.active,
          codec: (byId.get(s.codecId) || {}).mimeType || '',
          nackCount: s.nackCount || 0,
          pliCount: s.pliCount || 0,
        });
      }
    });
    const pair = byId.get(pairId);
    if (pair) {
      const l = byId.get(pair.localCandidateId) || {};
      const r = byId.get(pair.remoteCandidateId) || {};
      out.localCandidateType = l.candidateType || '';
      out.remoteCandidateType = r.candidateType || '';
      out.localAddress = `${l.address || l.ip || ''}:${l.port || ''}`;
      out.remoteAddress = `${r.address || r.ip || ''}:${r.port || ''}`;
    }
    return out;
  }

  const atrium = {
    version: () => (LK ? LK.version : ''),
    logs: () => logLines.slice(),
    net: () => ({ ...window.__atriumNet }),

    // connect joins the room; options are passed to the Room and to connect() unchanged.
    // e2eeKey, if set, turns on livekit-client's end-to-end encryption with that shared key
    // (ExternalE2EEKeyProvider and the SDK's own e2ee worker, served by the Go test).
    async connect({ url, token, roomOptions, connectOptions, e2eeKey }) {
      const opts = Object.assign({ adaptiveStream: false, dynacast: false }, roomOptions || {});
      let keyProvider = null;
      if (e2eeKey) {
        keyProvider = new LK.ExternalE2EEKeyProvider();
        opts.e2ee = { keyProvider, worker: new Worker('/lib/livekit-client.e2ee.worker.js') };
      }
      room = new LK.Room(opts);
      if (keyProvider) {
        await keyProvider.setKey(e2eeKey);
        await room.setE2EEEnabled(true);
      }
      const E = LK.RoomEvent;
      room
        .on(E.ParticipantConnected, (p) => log('harness', 'participant connected', { identity: p.identity }))
        .on(E.ParticipantDisconnected, (p) => log('harness', 'participant disconnected', { identity: p.identity }))
        .on(E.TrackSubscribed, (track, pub, p) => {
          log('harness', 'track subscribed', { identity: p.identity, sid: pub.trackSid, kind: track.kind });
          // Attach so Chromium plays (and keeps decoding) the media as a real page would.
          // Audio elements stay unmuted: Chromium decodes (and measures audioLevel of) remote
          // audio only while it is played out; headless output goes nowhere.
          const el = track.attach();
          if (track.kind === 'video') el.muted = true;
          el.id = `${p.identity}-${pub.trackSid}`;
          document.getElementById('media').appendChild(el);
        })
        .on(E.TrackStreamStateChanged, (pub, state, p) => {
          const ev = { from: p.identity, sid: pub.trackSid, kind: pub.kind, state, at: Date.now() };
          log('harness', 'track stream state', ev);
          if (streamEvents.length < 200) streamEvents.push(ev);
        })
        .on(E.TrackSubscriptionFailed, (sid, p, reason) =>
          log('harness', 'track subscription failed', { sid, identity: p && p.identity, reason: String(reason) }))
        .on(E.EncryptionError, (e) => {
          log('harness', 'encryption error', { error: String(e) });
          if (encryptionErrors.length < 50) encryptionErrors.push(String(e));
        })
        .on(E.SignalConnected, () => log('harness', 'signal connected'))
        .on(E.Reconnecting, () => log('harness', 'reconnecting'))
        .on(E.Reconnected, () => log('harness', 'reconnected'))
        .on(E.Disconnected, (reason) => log('harness', 'disconnected', { reason }))
        .on(E.ConnectionStateChanged, (s) => log('harness', 'connection state', { state: s }))
        .on(E.MediaDevicesError, (e) => log('harness', 'media devices error', { error: String(e) }))
        .on(E.DataReceived, (payload, participant, kind, topic) => {
          received.push({
            from: participant ? participant.identity : '',
            kind: kind === undefined ? -1 : kind,
            topic: topic || '',
            text: new TextDecoder().decode(payload),
            at: Date.now(),
          });
        });
      const t0 = performance.now();
      await room.connect(url, token, connectOptions || {});
      const ms = performance.now() - t0;
      connectedAt = performance.now();
      log('harness', 'connected', { ms, sid: room.localParticipant.sid, serverInfo: room.serverInfo });
      return { connectMs: ms, participantSid: room.localParticipant.sid, roomName: room.name, serverInfo: room.serverInfo || null };
    },

    // publish enables the fake camera and microphone. video: TrackPublishOptions (simulcast,
    // videoSimulcastLayers...), capture: VideoCaptureOptions (resolution).
    async publish({ camera, microphone, capture, video, userProvided }) {
      const lp = room.localParticipant;
      if (userProvided) {
        // Tracks the page captured itself: livekit-client republishes them as they are after
        // a full reconnect, instead of restarting the capture (headless Chromium's fake camera
        // sometimes delivers no frames after such a restart; see tests/browser/cluster_test.go).
        const res = (capture && capture.resolution) || {};
        const stream = await navigator.mediaDevices.getUserMedia({
          audio: !!microphone,
          video: camera ? { width: res.width, height: res.height, frameRate: res.frameRate } : false,
        });
        for (const t of stream.getTracks()) {
          const source = t.kind === 'video' ? LK.Track.Source.Camera : LK.Track.Source.Microphone;
          await lp.publishTrack(t, Object.assign({ source }, t.kind === 'video' ? (video || {}) : {}));
        }
        return atrium.localTracks();
      }
      if (microphone) await lp.setMicrophoneEnabled(true);
      const v = Object.assign({}, video || {});
      // Simulcast layers arrive as preset names ("h180"), since classes do not cross evaluate().
      if (Array.isArray(v.videoSimulcastLayers)) {
        v.videoSimulcastLayers = v.videoSimulcastLayers.map((name) => {
          const preset = LK.VideoPresets[name] || LK.VideoPresets43[name];
          if (!preset) throw new Error(`unknown video preset ${name}`);
          return preset;
        });
      }
      if (camera) await lp.setCameraEnabled(true, capture || {}, v);
      return atrium.localTracks();
    },

    localTracks() {
      return Array.from(room.localParticipant.trackPublications.values()).map(trackSummary);
    },

    participants() {
      return Array.from(room.remoteParticipants.values()).map((p) => ({
        identity: p.identity,
        sid: p.sid,
        tracks: Array.from(p.trackPublications.values()).map(trackSummary),
      }));
    },

    // inbound returns receive stats for every subscribed remote track.
    async inbound() {
      const out = [];
      for (const p of room.remoteParticipants.values()) {
        for (const pub of p.trackPublications.values()) {
          const track = pub.track;
          if (!track || !track.receiver) continue;
          const s = statsOf(await track.receiver.getStats());
          const el = document.getElementById(`${p.identity}-${pub.trackSid}`);
          out.push(Object.assign(s, {
            from: p.identity,
            sid: pub.trackSid,
            kind: pub.kind,
            source: pub.source,
            elementWidth: el && el.videoWidth ? el.videoWidth : 0,
          }));
        }
      }
      return out;
    },

    // pictures samples what every remote video element shows now: the mean and spread of its
    // pixels' colour on a 32x18 thumbnail (so a test can tell Chromium's fake camera picture
    // from noise decoded out of ciphertext without comparing exact frames).
    pictures() {
      const out = [];
      const canvas = document.createElement('canvas');
      canvas.width = 32;
      canvas.height = 18;
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      for (const el of document.querySelectorAll('#media video')) {
        if (!el.videoWidth) {
          out.push({ id: el.id, width: 0 });
          continue;
        }
        ctx.drawImage(el, 0, 0, 32, 18);
        const px = ctx.getImageData(0, 0, 32, 18).data;
        const n = px.length / 4;
        const mean = [0, 0, 0];
        for (let i = 0; i < px.length; i += 4) for (let c = 0; c < 3; c++) mean[c] += px[i + c] / n;
        let spread = 0;
        for (let i = 0; i < px.length; i += 4) for (let c = 0; c < 3; c++) spread += Math.abs(px[i + c] - mean[c]) / (3 * n);
        out.push({ id: el.id, width: el.videoWidth, mean: mean.map((v) => Math.round(v)), spread: Math.round(spread) });
      }
      return out;
    },

    // outbound returns send stats (one rtp entry per simulcast layer) for every local track.
    async outbound() {
      const out = [];
      for (const pub of room.localParticipant.trackPublications.values()) {
        const track = pub.track;
        if (!track || !track.sender) continue;
        const s = statsOf(await track.sender.getStats());
        out.push(Object.assign(s, { sid: pub.trackSid, kind: pub.kind, source: pub.source }));
      }
      return out;
    },

    // senderEncodings returns, for every local video track, its sender's encodings as they are
    // set now (rid, active, maxBitrate, scaleResolutionDownBy): livekit-client's dynacast turns
    // `active` on and off when the server's subscribed_quality_update says so.
    senderEncodings() {
      const out = [];
      for (const pub of room.localParticipant.trackPublications.values()) {
        const track = pub.track;
        if (pub.kind !== 'video' || !track || !track.sender) continue;
        const encodings = (track.sender.getParameters().encodings || []).map((e) => ({
          rid: e.rid || '',
          active: e.active !== false,
          maxBitrate: e.maxBitrate || 0,
          scaleResolutionDownBy: e.scaleResolutionDownBy || 1,
        }));
        out.push({ sid: pub.trackSid, source: pub.source, encodings });
      }
      return out;
    },

    // setCameraMuted mutes or unmutes the published camera (LocalTrackPublication.mute/unmute:
    // the SDK tells the server, which tells subscribers); returns the publication's muted flag.
    async setCameraMuted(muted) {
      const pub = room.localParticipant.getTrackPublication(LK.Track.Source.Camera);
      if (!pub) throw new Error('no camera publication to mute');
      if (muted) await pub.mute();
      else await pub.unmute();
      return pub.isMuted;
    },

    // streamStates returns the TrackStreamStateChanged events seen so far and the current
    // streamState of every subscribed remote track ('active', 'paused' or 'unknown').
    streamStates() {
      const current = [];
      for (const p of room.remoteParticipants.values()) {
        for (const pub of p.trackPublications.values()) {
          if (pub.track) current.push({ from: p.identity, sid: pub.trackSid, kind: pub.kind, state: pub.track.streamState });
        }
      }
      return { events: streamEvents.slice(), current, at: Date.now() };
    },

    // setVideoQuality asks for a simulcast quality (LOW, MEDIUM, HIGH) of every remote video track.
    setVideoQuality(quality) {
      const q = LK.VideoQuality[quality];
      if (q === undefined) throw new Error(`unknown quality ${quality}`);
      let n = 0;
      for (const p of room.remoteParticipants.values()) {
        for (const pub of p.trackPublications.values()) {
          if (pub.kind === 'video') {
            pub.setVideoQuality(q);
            n++;
          }
        }
      }
      return n;
    },

    async sendData({ text, reliable, destinationIdentities, topic }) {
      await room.localParticipant.publishData(new TextEncoder().encode(text), {
        reliable: !!reliable,
        destinationIdentities: destinationIdentities || [],
        topic: topic || '',
      });
    },

    received: () => received.slice(),

    // encryption reports whether this page encrypts what it publishes and the
    // EncryptionError events seen so far.
    encryption: () => ({ enabled: !!(room && room.isE2EEEnabled), errors: encryptionErrors.slice() }),

    // firstFrame waits, polling this page's stats every 10 ms, until a remote video frame has
    // been decoded; it returns the milliseconds since connect() resolved (-1 on timeout).
    async firstFrame({ timeoutMs }) {
      const deadline = performance.now() + (timeoutMs || 20000);
      while (performance.now() < deadline) {
        for (const p of room.remoteParticipants.values()) {
          for (const pub of p.trackPublications.values()) {
            if (pub.kind !== 'video' || !pub.track || !pub.track.receiver) continue;
            const stats = await pub.track.receiver.getStats();
            let decoded = 0;
            stats.forEach((s) => { if (s.type === 'inbound-rtp') decoded += s.framesDecoded || 0; });
            if (decoded > 0) return performance.now() - connectedAt;
          }
        }
        await new Promise((res) => setTimeout(res, 10));
      }
      return -1;
    },

    // simulate runs one of livekit-client's test scenarios ('signal-reconnect' drops the signal
    // connection, so the SDK resumes).
    async simulate(scenario) {
      await room.simulateScenario(scenario);
    },

    async disconnect() {
      if (room) await room.disconnect();
    },

    // selfTest checks the browser alone, without any server: the fake devices deliver audio and
    // 20 fps video, and two loopback-only peer connections in this page carry and decode it.
    // It separates "Chromium or the harness is broken" from "the SFU is broken".
    async selfTest({ width, height, minFrames, timeoutMs }) {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: true,
        video: { width: { ideal: width }, height: { ideal: height } },
      });
      const settings = stream.getVideoTracks()[0].getSettings();
      const a = new RTCPeerConnection();
      const b = new RTCPeerConnection();
      a.addEventListener('icecandidate', (e) => e.candidate && b.addIceCandidate(e.candidate));
      b.addEventListener('icecandidate', (e) => e.candidate && a.addIceCandidate(e.candidate));
      stream.getTracks().forEach((t) => a.addTrack(t, stream));
      const offer = await a.createOffer();
      await a.setLocalDescription(offer);
      await b.setRemoteDescription(offer);
      const answer = await b.createAnswer();
      await b.setLocalDescription(answer);
      await a.setRemoteDescription(answer);
      const deadline = performance.now() + timeoutMs;
      let last = null;
      while (performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        last = statsOf(await b.getStats());
        const v = last.rtp.find((s) => s.kind === 'video');
        const au = last.rtp.find((s) => s.kind === 'audio');
        if (v && v.framesDecoded > minFrames && au && au.packets > 20) break;
      }
      stream.getTracks().forEach((t) => t.stop());
      a.close();
      b.close();
      return { settings, stats: last, net: atrium.net(), sdkVersion: atrium.version() };
    },
  };
  window.atrium = atrium;
})();
