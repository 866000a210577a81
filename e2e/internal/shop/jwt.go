package shop

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// jwtParts is a token taken apart, to be put together again with changes.
type jwtParts struct {
	Header, Claims map[string]any
	// segments are the token's own base64url parts. A part changed by
	// with is encoded anew; the others stay byte for byte as issued, so that
	// a tampered token differs from the real one only where intended.
	segments [3]string
}

var b64url = base64.RawURLEncoding

// parseJWT takes a compact JWS apart without checking it.
func parseJWT(tb testing.TB, token string) jwtParts {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token %q is not a compact JWS", token)
	}
	j := jwtParts{segments: [3]string(parts)}
	for i, dst := range []*map[string]any{&j.Header, &j.Claims} {
		raw, err := b64url.DecodeString(parts[i])
		if err != nil {
			tb.Fatalf("token part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			tb.Fatalf("token part %d: %v", i, err)
		}
	}
	return j
}

// with returns a copy of j whose header and claims have the given changes
// (nil: no change).
func (j jwtParts) with(tb testing.TB, header, claims map[string]any) jwtParts {
	tb.Helper()
	if header != nil {
		j.Header = merged(j.Header, header)
		j.segments[0] = b64url.EncodeToString(MustJSON(tb, j.Header))
	}
	if claims != nil {
		j.Claims = merged(j.Claims, claims)
		j.segments[1] = b64url.EncodeToString(MustJSON(tb, j.Claims))
	}
	return j
}

func merged(m, changes map[string]any) map[string]any {
	m = maps.Clone(m)
	maps.Copy(m, changes)
	return m
}

// signingInput is the part of the token that the signature covers.
func (j jwtParts) signingInput() string {
	return j.segments[0] + "." + j.segments[1]
}

// encode puts the token together with its original signature, which no
// longer matches when the header or claims were changed.
func (j jwtParts) encode() string {
	return j.signingInput() + "." + j.segments[2]
}

// unsigned puts the token together with an empty signature.
func (j jwtParts) unsigned() string {
	return j.signingInput() + "."
}

// signEd25519 signs the token with key.
func (j jwtParts) signEd25519(key ed25519.PrivateKey) string {
	return j.signingInput() + "." + b64url.EncodeToString(ed25519.Sign(key, []byte(j.signingInput())))
}

// signHS256 signs the token with HMAC-SHA256 under secret.
func (j jwtParts) signHS256(secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(j.signingInput()))
	return j.signingInput() + "." + b64url.EncodeToString(mac.Sum(nil))
}

// jwksKeys returns the users service's published signing keys by kid.
func (s *Shop) jwksKeys(tb testing.TB) map[string]string {
	tb.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			X   string `json:"x"`
		} `json:"keys"`
	}
	s.Client().Do(tb, "GET", "/api/users/.well-known/jwks.json", nil).Expect(tb, http.StatusOK, &set)
	keys := map[string]string{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" {
			tb.Fatalf("JWKS key %+v: want an Ed25519 key with a kid", k)
		}
		keys[k.Kid] = k.X
	}
	if len(keys) == 0 {
		tb.Fatal("the JWKS has no keys")
	}
	return keys
}
