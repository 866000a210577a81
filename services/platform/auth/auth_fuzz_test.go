package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"bazaar/platform/apperr"
)

// FuzzVerify feeds the verifier arbitrary strings. It must never panic, must
// fail with nothing but an unauthorized *apperr.Error, and must return
// claims only for a token whose signature testKey really made, checked here
// independently of the jwt library.
func FuzzVerify(f *testing.F) {
	valid := sign(f, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims())
	admin := validClaims()
	admin.Role = "admin"
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		sign(f, jwt.SigningMethodEdDSA, testKey, testKID(), admin),
		sign(f, jwt.SigningMethodEdDSA, otherKey, testKID(), validClaims()),
		sign(f, jwt.SigningMethodHS256, []byte(testPublic()), testKID(), validClaims()),
		sign(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, testKID(), validClaims()),
		parts[0] + "." + parts[1] + ".",
		parts[0] + "." + parts[1],
		"..",
		"",
		"Bearer " + valid,
		valid + "=",
		strings.ToUpper(valid),
	} {
		f.Add(seed)
	}
	v := newVerifier()
	pub := testPublic()
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(context.Background(), token)
		if err != nil {
			if claims != nil {
				t.Fatalf("claims %+v returned with error %v", claims, err)
			}
			if apperr.Code(err) != apperr.Unauthorized {
				t.Fatalf("error %v is not unauthorized", err)
			}
			return
		}
		if claims == nil {
			t.Fatal("no claims and no error")
		}
		if !signedBy(pub, token) {
			t.Fatalf("accepted %q, which testKey did not sign", token)
		}
		if claims.Subject == "" || (claims.Role != "customer" && claims.Role != "admin") ||
			claims.ExpiresAt == nil || !claims.ExpiresAt.After(now.Add(-5*time.Second)) {
			t.Fatalf("accepted %q with claims %+v", token, claims)
		}
	})
}

// signedBy reports whether token is header.payload.signature with an
// Ed25519 signature by pub over header.payload.
func signedBy(pub ed25519.PublicKey, token string) bool {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	return err == nil && ed25519.Verify(pub, []byte(token[:i]), sig)
}
