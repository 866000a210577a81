// Package tokentest issues access tokens the way the users service does, so
// that the orders tests authenticate through the real verifier.
package tokentest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"bazaar/platform/auth"
)

// Issuer signs tokens with one Ed25519 key.
type Issuer struct {
	kid  string
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

// New returns an Issuer with a fresh key.
func New(tb testing.TB) *Issuer {
	tb.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &Issuer{kid: auth.KeyID(pub), pub: pub, priv: priv}
}

// Keys is the issuer's key as a KeySource.
func (i *Issuer) Keys() auth.StaticKeys {
	return auth.StaticKeys{i.kid: i.pub}
}

// ServeJWKS serves the issuer's public key as a JWKS.
func (i *Issuer) ServeJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(auth.JWKS{Keys: []auth.JWK{auth.PublicJWK(i.kid, i.pub)}})
}

// Token returns a valid access token for user with role.
func (i *Issuer) Token(tb testing.TB, user, role string) string {
	tb.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    auth.Issuer,
			Audience:  jwt.ClaimStrings{auth.Audience},
			Subject:   user,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
		},
		Email: user + "@example.com",
		Role:  role,
	})
	tok.Header["kid"] = i.kid
	s, err := tok.SignedString(i.priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
