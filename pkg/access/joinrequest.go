package access

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// MaxJoinRequestBytes bounds a join_request after decompression. A JoinRequest is a few
// kilobytes (its largest part is the client's first SDP offer); the bound keeps a small
// compressed query from inflating into a large allocation.
const MaxJoinRequestBytes = 512 << 10

// ParseJoinRequest reads the join_request query parameter of LiveKit's single-PeerConnection
// path (/rtc/v1): base64url (padded or not) of a WrappedJoinRequest whose join_request is a
// marshalled JoinRequest, gzip-compressed when compression says so. It returns the
// JoinRequest and the JoinParams Atrium acts on; every failure wraps ErrBadRequest.
func ParseJoinRequest(r *http.Request) (JoinParams, *livekit.JoinRequest, error) {
	jr, err := DecodeJoinRequest(r.URL.Query().Get("join_request"))
	if err != nil {
		return JoinParams{}, nil, err
	}
	return JoinParamsFromRequest(jr), jr, nil
}

// DecodeJoinRequest decodes one join_request value (see ParseJoinRequest). Every failure
// wraps ErrBadRequest and says which layer was malformed.
func DecodeJoinRequest(s string) (*livekit.JoinRequest, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: missing join_request", ErrBadRequest)
	}
	// livekit-client sends btoa() output with '+' and '/' replaced: URL alphabet, padded.
	// Accept the standard alphabet and missing padding too.
	s = strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(s), "=")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: join_request is not base64url: %v", ErrBadRequest, err)
	}
	var w livekit.WrappedJoinRequest
	if err := proto.Unmarshal(raw, &w); err != nil {
		return nil, fmt.Errorf("%w: join_request is not a WrappedJoinRequest: %v", ErrBadRequest, err)
	}
	body := w.JoinRequest
	switch w.Compression {
	case livekit.WrappedJoinRequest_NONE:
		if len(body) > MaxJoinRequestBytes {
			return nil, fmt.Errorf("%w: join_request over %d bytes", ErrBadRequest, MaxJoinRequestBytes)
		}
	case livekit.WrappedJoinRequest_GZIP:
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%w: join_request gzip: %v", ErrBadRequest, err)
		}
		body, err = io.ReadAll(io.LimitReader(zr, MaxJoinRequestBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%w: join_request gzip: %v", ErrBadRequest, err)
		}
		if len(body) > MaxJoinRequestBytes {
			return nil, fmt.Errorf("%w: join_request over %d bytes uncompressed", ErrBadRequest, MaxJoinRequestBytes)
		}
	default:
		return nil, fmt.Errorf("%w: join_request compression %d is unknown", ErrBadRequest, w.Compression)
	}
	jr := &livekit.JoinRequest{}
	if err := proto.Unmarshal(body, jr); err != nil {
		return nil, fmt.Errorf("%w: join_request is not a JoinRequest: %v", ErrBadRequest, err)
	}
	if o := jr.PublisherOffer; o != nil && o.Sdp == "" {
		jr.PublisherOffer = nil // server-sdk-go sends an empty one when validating
	} else if o != nil && o.Type != "offer" {
		return nil, fmt.Errorf("%w: join_request publisher_offer has type %q", ErrBadRequest, o.Type)
	}
	return jr, nil
}

// JoinParamsFromRequest maps a JoinRequest to the parameters /rtc carries in its query.
func JoinParamsFromRequest(jr *livekit.JoinRequest) JoinParams {
	p := JoinParams{AutoSubscribe: true, Reconnect: jr.GetReconnect(), ParticipantSID: jr.GetParticipantSid()}
	if cs := jr.GetConnectionSettings(); cs != nil {
		p.AutoSubscribe = cs.AutoSubscribe
		p.AdaptiveStream = cs.AdaptiveStream
	}
	if ci := jr.GetClientInfo(); ci != nil {
		p.Protocol = int(max(ci.Protocol, 0))
		p.SDK = strings.ToLower(ci.Sdk.String())
		p.SDKVersion = ci.Version
	}
	return p
}

// EncodeJoinRequest is the inverse of DecodeJoinRequest (as livekit-client encodes it), for
// clients and tests written in Go.
func EncodeJoinRequest(jr *livekit.JoinRequest, compress bool) (string, error) {
	body, err := proto.Marshal(jr)
	if err != nil {
		return "", fmt.Errorf("access: marshal join request: %w", err)
	}
	w := &livekit.WrappedJoinRequest{JoinRequest: body}
	if compress {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return "", fmt.Errorf("access: gzip join request: %w", err)
		}
		if err := zw.Close(); err != nil {
			return "", fmt.Errorf("access: gzip join request: %w", err)
		}
		w.JoinRequest, w.Compression = buf.Bytes(), livekit.WrappedJoinRequest_GZIP
	}
	raw, err := proto.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("access: marshal wrapped join request: %w", err)
	}
	return base64.URLEncoding.EncodeToString(raw), nil
}
