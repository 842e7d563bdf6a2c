package sfu

import (
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

// Publishers name the codec they want in add_track (simulcast_codecs: "vp9", "av1", ...)
// but their offer lists the browser's codecs in its own order, VP8 first: livekit-client
// leaves the choice to the server's answer, as LiveKit's server reorders it. Without this a
// publisher asking for VP9 SVC sends VP8.

// preferredCodecs maps each offered send section (by mid) to the MIME type its track asked
// for in add_track: msid track ids are add_track cids. pending maps cid to the requested
// codec name ("vp9"); sections of unknown tracks or without a wish are left out.
func preferredCodecs(offer string, pending map[string]string) map[string]string {
	if len(pending) == 0 {
		return nil
	}
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(offer); err != nil {
		return nil
	}
	out := map[string]string{}
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media != "video" {
			continue
		}
		mid, _ := m.Attribute("mid")
		msid, _ := m.Attribute("msid")
		_, cid, _ := strings.Cut(msid, " ")
		if name := pending[cid]; mid != "" && cid != "" && name != "" {
			out[mid] = "video/" + strings.ToLower(name)
		}
	}
	return out
}

// codecsPreferring returns codecs with those of MIME type mime (and their RTX) first, the
// rest in their order; nil when none matches (the section keeps its default order).
func codecsPreferring(codecs []webrtc.RTPCodecParameters, mime string) []webrtc.RTPCodecParameters {
	first := map[webrtc.PayloadType]bool{}
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, mime) {
			first[c.PayloadType] = true
		}
	}
	if len(first) == 0 {
		return nil
	}
	isFirst := func(c webrtc.RTPCodecParameters) bool {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			return first[rtxApt(c.SDPFmtpLine)]
		}
		return first[c.PayloadType]
	}
	out := make([]webrtc.RTPCodecParameters, 0, len(codecs))
	for _, c := range codecs {
		if isFirst(c) {
			out = append(out, c)
		}
	}
	for _, c := range codecs {
		if !isFirst(c) {
			out = append(out, c)
		}
	}
	return out
}

// rtxApt is the payload type an RTX codec's fmtp names in apt=, 0 when none.
func rtxApt(fmtp string) webrtc.PayloadType {
	for _, kv := range strings.Split(fmtp, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "apt="); ok {
			n, err := strconv.Atoi(v)
			if err == nil && n > 0 && n < 128 {
				return webrtc.PayloadType(n)
			}
		}
	}
	return 0
}

// preferPublishedCodecs sets, on pc's transceivers for the sections of offer (just applied
// as the remote description), codec preferences that put each track's requested codec
// first, so the answer selects it. Call it between SetRemoteDescription and CreateAnswer.
func (p *participant) preferPublishedCodecs(pc *webrtc.PeerConnection, offer string) {
	p.mu.Lock()
	pending := make(map[string]string, len(p.pending))
	for cid, info := range p.pending {
		if len(info.Codecs) > 0 && info.Codecs[0].MimeType != "" {
			pending[cid] = info.Codecs[0].MimeType
		}
	}
	p.mu.Unlock()
	wants := preferredCodecs(offer, pending)
	if len(wants) == 0 {
		return
	}
	var allowed []webrtc.RTPCodecParameters
	for _, c := range media.Codecs(webrtc.RTPCodecTypeVideo) {
		if p.room.opts.allowsCodec(c.MimeType) || strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) {
			allowed = append(allowed, c)
		}
	}
	for _, tr := range pc.GetTransceivers() {
		mime, ok := wants[tr.Mid()]
		if !ok {
			continue
		}
		if prefs := codecsPreferring(allowed, mime); prefs != nil {
			if err := tr.SetCodecPreferences(prefs); err != nil {
				p.log.Debug("publisher codec preference", "mid", tr.Mid(), "codec", mime, "err", err)
			}
		}
	}
}
