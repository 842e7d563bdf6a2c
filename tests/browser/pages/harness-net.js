// Loopback-only ICE for the browser tests. Loaded before livekit-client.
//
// Why: the test machines have a non-loopback interface, and Chromium gathers host candidates on
// every interface. Tests must send traffic only to 127.0.0.0/8, so no peer (the SFU, a TURN
// server) may learn a non-loopback candidate of this page. This wrapper drops every local ICE
// candidate whose address is not loopback before the page's code (livekit-client) sees it, and
// strips such candidates from local descriptions. Relay candidates whose relayed address is
// loopback pass, so TURN tests work. It changes nothing else in RTCPeerConnection.
//
// Contract: window.__atriumNet.dropped counts dropped candidates (for the test's log);
// peerConnections counts the RTCPeerConnections the page created.
(function () {
  'use strict';
  const Native = window.RTCPeerConnection;
  const state = { dropped: 0, kept: 0, peerConnections: 0 };
  window.__atriumNet = state;

  // candidate-attribute = foundation component transport priority address port "typ" type ...
  // (RFC 8839 section 5.1).
  function addressOf(candidateLine) {
    const parts = candidateLine.replace(/^a=/, '').replace(/^candidate:/, '').split(' ');
    return parts.length > 4 ? parts[4] : '';
  }
  function isLoopback(addr) {
    return /^127\./.test(addr) || addr === '::1' || addr === '[::1]';
  }
  function filterSDP(sdp) {
    if (typeof sdp !== 'string') return sdp;
    return sdp
      .split('\r\n')
      .filter((line) => !line.startsWith('a=candidate:') || isLoopback(addressOf(line)))
      .join('\r\n');
  }
  function filterDescription(desc) {
    if (!desc || typeof desc.sdp !== 'string') return desc;
    return { type: desc.type, sdp: filterSDP(desc.sdp) };
  }

  class LoopbackPeerConnection extends Native {
    constructor(...args) {
      super(...args);
      state.peerConnections++; // how many the SDK made (one on /rtc/v1, two on /rtc)
      // Registered first, so stopImmediatePropagation hides the event from every later
      // listener, including an onicecandidate handler set afterwards.
      this.addEventListener('icecandidate', (ev) => {
        if (!ev.candidate || !ev.candidate.candidate) return; // end of candidates passes
        if (isLoopback(addressOf(ev.candidate.candidate))) {
          state.kept++;
          return;
        }
        state.dropped++;
        ev.stopImmediatePropagation();
      });
    }
    get localDescription() {
      return filterDescription(super.localDescription);
    }
    get currentLocalDescription() {
      return filterDescription(super.currentLocalDescription);
    }
    get pendingLocalDescription() {
      return filterDescription(super.pendingLocalDescription);
    }
    async createOffer(...args) {
      return filterDescription(await super.createOffer(...args));
    }
    async createAnswer(...args) {
      return filterDescription(await super.createAnswer(...args));
    }
  }
  window.RTCPeerConnection = LoopbackPeerConnection;
  window.webkitRTCPeerConnection = LoopbackPeerConnection;
})();
