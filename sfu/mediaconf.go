package sfu

import (
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

// The media path chooses codecs, header extensions and interceptors for every PeerConnection
// (see docs/sfu-internals.md); these indirections keep rtcapi.go about sockets only.

// configureInterceptors: a PeerConnection that only sends media (the dual-PC subscriber PC)
// gets the send-side set; one that receives media (a publisher PC, or the /rtc/v1 single PC,
// which does both) gets the full set, whose TWCC feedback and receiver reports are what let
// a browser's congestion control raise its sending rate: without them, Chromium's estimate
// stays at its start value or falls to its floor, and it stops sending upper simulcast layers.
func configureInterceptors(m *webrtc.MediaEngine, r *interceptor.Registry, sendOnly bool, onEstimator func(string, cc.BandwidthEstimator)) error {
	if sendOnly {
		return media.ConfigureSubscriberInterceptors(m, r, onEstimator)
	}
	return media.ConfigureInterceptors(m, r, onEstimator)
}
