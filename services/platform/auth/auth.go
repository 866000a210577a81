// Package auth verifies the access tokens that the users service issues:
// EdDSA (Ed25519) JWTs whose public keys are published as a JWKS. Only EdDSA
// is accepted; "none", HMAC and every other algorithm are rejected.
package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"bazaar/platform/apperr"
)

// Roles.
const (
	RoleCustomer = "customer"
	RoleAdmin    = "admin"
)

// Issuer and Audience are the iss and aud claims of Bazaar access tokens.
const (
	Issuer   = "bazaar-users"
	Audience = "bazaar"
)

// Claims are the claims of an access token. Subject is the user id.
type Claims struct {
	jwt.RegisteredClaims
	Email string `json:"email"`
	Role  string `json:"role"`
}

// UserID returns the token's subject.
func (c *Claims) UserID() string { return c.Subject }

// IsAdmin reports whether the token grants the admin role.
func (c *Claims) IsAdmin() bool { return c.Role == RoleAdmin }

// KeySource returns the public key with the given key id.
type KeySource interface {
	Key(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// ErrUnknownKey is returned by a KeySource that has no key with the kid.
var ErrUnknownKey = errors.New("auth: unknown key id")

// Verifier checks access tokens. It remembers the tokens it accepted (up
// to maxVerified), so that a client's next requests with the same token
// cost a hash and a map look-up instead of an Ed25519 verification, the
// largest CPU cost of an authenticated request. Only time can change an
// accepted token's verdict, so its expiry is checked again on every use.
// A key removed from the KeySource therefore stops new tokens at once but
// not the ones already accepted, which expire as usual.
type Verifier struct {
	Keys KeySource
	// Now is the clock (time.Now when nil), replaceable in tests.
	Now func() time.Time

	mu       sync.Mutex
	accepted map[[sha256.Size]byte]*Claims
}

// maxVerified bounds the accepted tokens a Verifier remembers; a few
// hundred bytes each.
const maxVerified = 4096

// leeway is the clock skew allowed on a token's times.
const leeway = 5 * time.Second

var errUnauthorized = &apperr.Error{Code: apperr.Unauthorized, Message: "The access token is missing, invalid or expired."}

// Verify parses and checks a token. Any failure is an Unauthorized error
// that says no more than that, wrapping the cause for the log.
// The Claims returned are shared with later calls: read them, never change
// them.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	sum := sha256.Sum256([]byte(token))
	if claims, ok := v.remembered(sum, now()); ok {
		return claims, nil
	}
	claims, err := v.parse(ctx, token, now)
	if err != nil {
		return nil, err
	}
	v.remember(sum, claims)
	return claims, nil
}

// remembered returns the claims of an accepted token while it is still
// valid at now; an expired one is forgotten.
func (v *Verifier) remembered(sum [sha256.Size]byte, now time.Time) (*Claims, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	claims, ok := v.accepted[sum]
	if ok && !now.Before(claims.ExpiresAt.Add(leeway)) {
		delete(v.accepted, sum)
		return nil, false // parse rejects it, saying why
	}
	return claims, ok
}

// remember keeps an accepted token's claims, making room by forgetting an
// arbitrary other token when full.
func (v *Verifier) remember(sum [sha256.Size]byte, claims *Claims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.accepted == nil {
		v.accepted = make(map[[sha256.Size]byte]*Claims)
	}
	if len(v.accepted) >= maxVerified {
		for k := range v.accepted {
			delete(v.accepted, k)
			break
		}
	}
	v.accepted[sum] = claims
}

// parse verifies a token's signature and claims.
func (v *Verifier) parse(ctx context.Context, token string, now func() time.Time) (*Claims, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	}
	claims := &Claims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("auth: token has no kid")
		}
		return v.Keys.Key(ctx, kid)
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (%w)", errUnauthorized, err)
	}
	if claims.Subject == "" || (claims.Role != RoleCustomer && claims.Role != RoleAdmin) {
		return nil, fmt.Errorf("%w (bad subject or role)", errUnauthorized)
	}
	return claims, nil
}

// JWK is one Ed25519 public key in JSON Web Key form (RFC 8037).
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS is a JSON Web Key Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// PublicJWK describes pub as a JWK with the given key id.
func PublicJWK(kid string, pub ed25519.PublicKey) JWK {
	return JWK{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), Kid: kid, Alg: "EdDSA", Use: "sig"}
}

// KeyID derives a stable key id from a public key.
func KeyID(pub ed25519.PublicKey) string {
	return base64.RawURLEncoding.EncodeToString(pub[:12])
}

// StaticKeys is a KeySource over a fixed set of keys.
type StaticKeys map[string]ed25519.PublicKey

var _ KeySource = StaticKeys(nil)

// Key implements KeySource.
func (s StaticKeys) Key(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// parseJWKS keeps the Ed25519 signing keys of a set and skips the rest.
func parseJWKS(set JWKS) StaticKeys {
	keys := StaticKeys{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || k.Kid == "" {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			continue
		}
		keys[k.Kid] = ed25519.PublicKey(x)
	}
	return keys
}
