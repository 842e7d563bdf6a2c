package sfu

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// TokenConfig sets how connected participants get fresh access tokens: every
// RefreshInterval the node sends a refresh_token signal message (as LiveKit does) holding a
// token with the participant's identity and grants, valid for TTL. SDKs keep the newest one
// and use it to reconnect, so join tokens can be short-lived (issue 17, finding 8): a token
// handed out before the right to join ended stops working within its own lifetime, while
// whoever stays connected is removed explicitly. Zero fields take defaults (5 and 10 min).
type TokenConfig struct {
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	TTL             time.Duration `yaml:"ttl"`
}

// validate refuses negative durations (zero means the default) and a token that would
// expire before the next refresh reaches the client. Errors name the YAML key.
func (c TokenConfig) validate() error {
	if c.RefreshInterval < 0 {
		return fmt.Errorf("tokens.refresh_interval is %s: must not be negative (0 means 5m)", c.RefreshInterval)
	}
	if c.TTL < 0 {
		return fmt.Errorf("tokens.ttl is %s: must not be negative (0 means 10m)", c.TTL)
	}
	if d := c.withDefaults(); d.TTL <= d.RefreshInterval {
		return fmt.Errorf("tokens.ttl (%s) must exceed tokens.refresh_interval (%s): refreshed tokens would expire before the next one arrives", d.TTL, d.RefreshInterval)
	}
	return nil
}

func (c TokenConfig) withDefaults() TokenConfig {
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 5 * time.Minute
	}
	if c.TTL <= 0 {
		c.TTL = 10 * time.Minute
	}
	return c
}

// signingKey is the API key the node signs refreshed tokens with: the first in sorted order,
// so every node with the same key set picks the same one.
func (s *Server) signingKey() (string, string) {
	keys := slices.Sorted(maps.Keys(s.keys))
	if len(keys) == 0 {
		return "", ""
	}
	return keys[0], s.keys[keys[0]]
}

// refreshedToken mints p's next token: same identity, kind and grants, current name,
// metadata and attributes.
func (p *participant) refreshedToken(ttl time.Duration) (string, error) {
	key, secret := p.s.signingKey()
	if key == "" {
		return "", fmt.Errorf("sfu: no API key to sign a refreshed token")
	}
	p.mu.Lock()
	name, metadata, attrs := p.name, p.metadata, maps.Clone(p.attributes)
	p.mu.Unlock()
	var grant *auth.VideoGrant
	if p.grants.Video != nil {
		grant = p.grants.Video.Clone()
	}
	at := auth.NewAccessToken(key, secret).SetIdentity(p.identity).SetName(name).SetMetadata(metadata).
		SetKind(p.grants.GetParticipantKind()).SetValidFor(ttl)
	if len(attrs) > 0 {
		at.SetAttributes(attrs)
	}
	if grant != nil {
		at.SetVideoGrant(grant)
	}
	tok, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("sfu: sign refreshed token: %w", err)
	}
	return tok, nil
}

// refreshTokens sends p a fresh token every RefreshInterval until p closes. Run it on p.wg.
func (p *participant) refreshTokens() {
	defer p.wg.Done()
	cfg := p.s.cfg.Tokens.withDefaults()
	t := time.NewTicker(cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			tok, err := p.refreshedToken(cfg.TTL)
			if err != nil {
				p.log.Warn("token refresh failed", "err", err)
				continue
			}
			p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RefreshToken{RefreshToken: tok}})
		}
	}
}
