package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrInvalidToken is returned for any access token that must not be trusted: bad signature,
// wrong algorithm (including "none"), expired, wrong issuer or audience, or malformed.
var ErrInvalidToken = errors.New("auth: invalid access token")

const accessAudience = "atrium-api"

// AccessClaims are what an access token asserts. The role is a hint for clients; the server
// re-reads role and status from the database on every request (see store.PrincipalBySession).
type AccessClaims struct {
	SessionID string `json:"sid"`
	Role      string `json:"role"`
	jwt.RegisteredClaims
}

// Signer issues and verifies HS256 access tokens.
type Signer struct {
	secret []byte
	issuer string
	ttl    time.Duration
}

// NewSigner returns a Signer; secret must be at least 32 bytes (checked by config validation).
func NewSigner(secret, issuer string, ttl time.Duration) *Signer {
	return &Signer{secret: []byte(secret), issuer: issuer, ttl: ttl}
}

// TTL is the lifetime of issued tokens.
func (s *Signer) TTL() time.Duration { return s.ttl }

// Issue returns a signed access token for userID in sessionID, valid from now for the TTL.
func (s *Signer) Issue(userID, sessionID, role string, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.ttl)
	c := AccessClaims{
		SessionID: sessionID,
		Role:      role,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    s.issuer,
			Subject:   userID,
			Audience:  jwt.ClaimStrings{accessAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(s.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign access token: %w", err)
	}
	return tok, exp, nil
}

// Verify parses token and checks signature (HS256 only), expiry at now, issuer and audience.
func (s *Signer) Verify(token string, now time.Time) (AccessClaims, error) {
	var c AccessClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return s.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(s.issuer), jwt.WithAudience(accessAudience),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Subject == "" || c.SessionID == "" {
		return AccessClaims{}, fmt.Errorf("%w: missing subject or session", ErrInvalidToken)
	}
	return c, nil
}
