// Package access authorises a LiveKit join: it reads the access token from the request,
// verifies it with protocol/auth against the configured API keys, checks the room grant, and
// parses the join query parameters SDKs send to /rtc. It holds no state; safe for concurrent use.
package access

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
)

// Sentinel errors; HTTP handlers map ErrUnauthorized to 401 and ErrBadRequest to 400.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrBadRequest   = errors.New("bad request")
)

// Keys maps API keys to secrets. It must not be modified after it is handed to Verify.
type Keys map[string]string

// TokenFromRequest returns the token from the access_token query parameter or an
// "Authorization: Bearer" header, the two places LiveKit SDKs put it.
func TokenFromRequest(r *http.Request) string {
	if t := r.URL.Query().Get("access_token"); t != "" {
		return t
	}
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

// Verify checks the token's signature, issuer key and expiry and returns its grants.
// Every failure wraps ErrUnauthorized.
func Verify(token string, keys Keys) (*auth.ClaimGrants, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no access token", ErrUnauthorized)
	}
	v, err := auth.ParseAPIToken(token)
	if err != nil {
		return nil, fmt.Errorf("%w: unparsable token: %v", ErrUnauthorized, err)
	}
	secret, ok := keys[v.APIKey()]
	if !ok || secret == "" {
		return nil, fmt.Errorf("%w: unknown API key %q", ErrUnauthorized, v.APIKey())
	}
	_, grants, err := v.Verify(secret)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid token: %v", ErrUnauthorized, err)
	}
	return grants, nil
}

// CheckJoin reports whether grants allow joining a room: roomJoin, a room name, and an
// identity. It returns the room name.
func CheckJoin(grants *auth.ClaimGrants) (string, error) {
	if grants == nil || grants.Video == nil || !grants.Video.RoomJoin {
		return "", fmt.Errorf("%w: token lacks the roomJoin grant", ErrUnauthorized)
	}
	if grants.Video.Room == "" {
		return "", fmt.Errorf("%w: token names no room", ErrUnauthorized)
	}
	if grants.Identity == "" {
		return "", fmt.Errorf("%w: token has no identity", ErrUnauthorized)
	}
	return grants.Video.Room, nil
}

// JoinParams are the /rtc query parameters Atrium acts on.
type JoinParams struct {
	AutoSubscribe  bool   // auto_subscribe, default true
	Reconnect      bool   // reconnect=1: a resume attempt
	ParticipantSID string // sid, with reconnect
	Protocol       int    // the client's protocol level
	SDK            string // sdk ("go", "js", ...)
	SDKVersion     string // version
	AdaptiveStream bool   // adaptive_stream
}

// ParseJoinParams reads the join query. Unknown parameters are ignored (SDKs add new ones);
// malformed known ones wrap ErrBadRequest.
func ParseJoinParams(r *http.Request) (JoinParams, error) {
	q := r.URL.Query()
	p := JoinParams{AutoSubscribe: true, SDK: q.Get("sdk"), SDKVersion: q.Get("version"), ParticipantSID: q.Get("sid")}
	var err error
	if p.AutoSubscribe, err = boolParam(q.Get("auto_subscribe"), true); err != nil {
		return p, fmt.Errorf("%w: auto_subscribe: %v", ErrBadRequest, err)
	}
	if p.Reconnect, err = boolParam(q.Get("reconnect"), false); err != nil {
		return p, fmt.Errorf("%w: reconnect: %v", ErrBadRequest, err)
	}
	if p.AdaptiveStream, err = boolParam(q.Get("adaptive_stream"), false); err != nil {
		return p, fmt.Errorf("%w: adaptive_stream: %v", ErrBadRequest, err)
	}
	if s := q.Get("protocol"); s != "" {
		if p.Protocol, err = strconv.Atoi(s); err != nil || p.Protocol < 0 {
			return p, fmt.Errorf("%w: protocol %q is not a non-negative integer", ErrBadRequest, s)
		}
	}
	return p, nil
}

func boolParam(s string, def bool) (bool, error) {
	switch strings.ToLower(s) {
	case "":
		return def, nil
	case "1", "true":
		return true, nil
	case "0", "false":
		return false, nil
	}
	return def, fmt.Errorf("%q is not a boolean", s)
}

// NewToken mints a token the way `atrium token create` and tests do.
type NewToken struct {
	APIKey, APISecret string
	Room, Identity    string
	Name, Metadata    string
	TTL               time.Duration // default 6 h
	Grant             *auth.VideoGrant
	// RoomPreset names the room options to start the room with, if this join starts it.
	RoomPreset string
}

// Mint returns the signed JWT. Grant defaults to roomJoin on Room with publish, subscribe
// and data allowed.
func (t NewToken) Mint() (string, error) {
	if t.TTL <= 0 {
		t.TTL = 6 * time.Hour
	}
	g := t.Grant
	if g == nil {
		g = &auth.VideoGrant{RoomJoin: true}
	}
	if g.Room == "" {
		g.Room = t.Room
	}
	at := auth.NewAccessToken(t.APIKey, t.APISecret).SetIdentity(t.Identity).SetName(t.Name).
		SetMetadata(t.Metadata).SetValidFor(t.TTL).SetVideoGrant(g)
	if t.RoomPreset != "" {
		at.SetRoomPreset(t.RoomPreset)
	}
	s, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("access: mint token: %w", err)
	}
	return s, nil
}
