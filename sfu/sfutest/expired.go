package sfutest

import (
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/pkg/access"
)

// expiredToken signs n's claims with an expiry beyond protocol/auth's one-minute leeway.
func expiredToken(n access.NewToken) (string, error) {
	type claims struct {
		jwt.RegisteredClaims
		auth.ClaimGrants
	}
	now := time.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: n.APIKey, Subject: n.Identity,
			IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), NotBefore: jwt.NewNumericDate(now.Add(-time.Hour)),
			ExpiresAt: jwt.NewNumericDate(now.Add(n.TTL - 2*time.Minute)),
		},
		ClaimGrants: auth.ClaimGrants{Identity: n.Identity, Name: n.Name, Metadata: n.Metadata, Video: n.Grant},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(n.APISecret))
}
