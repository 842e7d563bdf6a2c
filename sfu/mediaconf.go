package sfu

import (
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

// The media path chooses codecs, header extensions and interceptors for every PeerConnection
// (see docs/sfu-internals.md); these indirections keep rtcapi.go about sockets only.

// configureInterceptors: a PeerConnection that only sends media (a /rtc subscriber PC) gets
// the send-side set; one that receives media (a publisher PC, or the single PC of /rtc/v1,
// which does both) gets the full set, whose receiver reports and transport-cc feedback the
// publisher's congestion control needs: without feedback Chromium's estimate stays at its
// start bitrate and it never sends its upper simulcast layers.
func configureInterceptors(m *webrtc.MediaEngine, r *interceptor.Registry, p pcParams) error {
	if p.OnEstimator != nil && !p.Receives {
		return media.ConfigureSubscriberInterceptors(m, r, p.OnEstimator)
	}
	return media.ConfigureInterceptors(m, r, p.OnEstimator)
}
