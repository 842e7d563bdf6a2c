package sfu

import (
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

// The media path chooses codecs, header extensions and interceptors for every PeerConnection
// (see docs/sfu-internals.md); these indirections keep rtcapi.go about sockets only.

// configureInterceptors: a PeerConnection with a bandwidth estimator is a subscriber PC (it
// only sends media) and gets the send-side set; the others get the full set.
func configureInterceptors(m *webrtc.MediaEngine, r *interceptor.Registry, onEstimator func(string, cc.BandwidthEstimator)) error {
	if onEstimator != nil {
		return media.ConfigureSubscriberInterceptors(m, r, onEstimator)
	}
	return media.ConfigureInterceptors(m, r, nil)
}
