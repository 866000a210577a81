package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"bazaar/platform/apperr"
	"bazaar/platform/auth"
)

// now is the fixed clock of these tests, so that the committed fuzz corpus
// (tokens signed by testKey at this time) stays valid for ever.
var now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testKey is a fixed Ed25519 key (from a constant seed) for the same reason.
var testKey = ed25519.NewKeyFromSeed([]byte("bazaar-auth-test-key-seed-32byte"))

// otherKey signs tokens that the verifier must not trust.
var otherKey = ed25519.NewKeyFromSeed([]byte("an-attacker-s-own-ed25519-seed!!"))

func testPublic() ed25519.PublicKey { return testKey.Public().(ed25519.PublicKey) }

func testKID() string { return auth.KeyID(testPublic()) }

func newVerifier() *auth.Verifier {
	return &auth.Verifier{Keys: auth.StaticKeys{testKID(): testPublic()}, Now: func() time.Time { return now }}
}

// validClaims are the claims of a token the users service would issue.
func validClaims() auth.Claims {
	return auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    auth.Issuer,
			Audience:  jwt.ClaimStrings{auth.Audience},
			Subject:   "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
		},
		Email: "ada@example.com",
		Role:  auth.RoleCustomer,
	}
}

// sign makes a token with method and key, putting kid in the header unless
// it is empty.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyAcceptsAValidToken(t *testing.T) {
	t.Parallel()
	for _, role := range []string{auth.RoleCustomer, auth.RoleAdmin} {
		c := validClaims()
		c.Role = role
		claims, err := newVerifier().Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), c))
		if err != nil {
			t.Fatalf("%s: %v", role, err)
		}
		if claims.UserID() != c.Subject || claims.Email != c.Email || claims.IsAdmin() != (role == auth.RoleAdmin) {
			t.Errorf("%s: claims %+v", role, claims)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	with := func(change func(*auth.Claims)) auth.Claims {
		c := validClaims()
		change(&c)
		return c
	}
	eddsa := func(c auth.Claims) string { return sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), c) }
	valid := eddsa(validClaims())
	parts := strings.Split(valid, ".")
	noneHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + testKID() + `"}`))
	for _, tc := range []struct{ name, token string }{
		{"empty", ""},
		{"garbage", "not.a.jwt"},
		{"two segments", parts[0] + "." + parts[1]},
		{"alg none, unsigned", noneHeader + "." + parts[1] + "."},
		{"alg none through the library", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, testKID(), validClaims())},
		// The classic confusion: HMAC keyed with the public key's bytes.
		{"HS256 keyed with the public key", sign(t, jwt.SigningMethodHS256, []byte(testPublic()), testKID(), validClaims())},
		{"HS256 keyed with the kid", sign(t, jwt.SigningMethodHS256, []byte(testKID()), testKID(), validClaims())},
		{"signed by another key under our kid", sign(t, jwt.SigningMethodEdDSA, otherKey, testKID(), validClaims())},
		{"signed by another key under its own kid", sign(t, jwt.SigningMethodEdDSA, otherKey, auth.KeyID(otherKey.Public().(ed25519.PublicKey)), validClaims())},
		{"no kid", sign(t, jwt.SigningMethodEdDSA, testKey, "", validClaims())},
		{"payload swapped", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"x","role":"admin"}`)) + "." + parts[2]},
		{"signature cut", parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-4]},
		{"expired", eddsa(with(func(c *auth.Claims) {
			c.IssuedAt = jwt.NewNumericDate(now.Add(-time.Hour))
			c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute))
		}))},
		{"no expiry", eddsa(with(func(c *auth.Claims) { c.ExpiresAt = nil }))},
		{"not valid yet", eddsa(with(func(c *auth.Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) }))},
		{"wrong issuer", eddsa(with(func(c *auth.Claims) { c.Issuer = "evil-issuer" }))},
		{"no issuer", eddsa(with(func(c *auth.Claims) { c.Issuer = "" }))},
		{"wrong audience", eddsa(with(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"another-app"} }))},
		{"no audience", eddsa(with(func(c *auth.Claims) { c.Audience = nil }))},
		{"no subject", eddsa(with(func(c *auth.Claims) { c.Subject = "" }))},
		{"unknown role", eddsa(with(func(c *auth.Claims) { c.Role = "superuser" }))},
		{"no role", eddsa(with(func(c *auth.Claims) { c.Role = "" }))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			claims, err := newVerifier().Verify(context.Background(), tc.token)
			if claims != nil {
				t.Fatalf("accepted: %+v", claims)
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Unauthorized {
				t.Fatalf("error %v, want an unauthorized *apperr.Error", err)
			}
			if ae.Message != "The access token is missing, invalid or expired." {
				t.Errorf("message %q tells the client more than that the token failed", ae.Message)
			}
		})
	}
}

// A token within the clock-skew leeway (5s) is still accepted; one past it
// is not.
func TestVerifyLeeway(t *testing.T) {
	t.Parallel()
	c := validClaims()
	c.ExpiresAt = jwt.NewNumericDate(now.Add(-3 * time.Second))
	if _, err := newVerifier().Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), c)); err != nil {
		t.Errorf("expired 3s ago: %v, want accepted within the leeway", err)
	}
	c.ExpiresAt = jwt.NewNumericDate(now.Add(-10 * time.Second))
	if _, err := newVerifier().Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), c)); err == nil {
		t.Error("expired 10s ago: accepted")
	}
}

// An accepted token is remembered: its signature is checked once, and its
// expiry on every use.
func TestVerifyRemembersAcceptedTokens(t *testing.T) {
	t.Parallel()
	keys := &countingKeys{KeySource: auth.StaticKeys{testKID(): testPublic()}}
	clock := now
	v := &auth.Verifier{Keys: keys, Now: func() time.Time { return clock }}
	c := validClaims()
	token := sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), c)
	for i := range 3 {
		claims, err := v.Verify(context.Background(), token)
		if err != nil || claims.UserID() != c.Subject {
			t.Fatalf("use %d: %+v, %v", i, claims, err)
		}
	}
	if keys.calls != 1 {
		t.Errorf("3 uses of one token looked the key up %d times, want 1", keys.calls)
	}
	if _, err := v.Verify(context.Background(), token[:len(token)-2]); apperr.Code(err) != apperr.Unauthorized {
		t.Errorf("the remembered token's cut signature: %v, want unauthorized", err)
	}
	clock = c.ExpiresAt.Add(10 * time.Second) // past the leeway
	if _, err := v.Verify(context.Background(), token); apperr.Code(err) != apperr.Unauthorized {
		t.Errorf("remembered token after its expiry: %v, want unauthorized", err)
	}
}

// A refused token is not remembered: once the key source answers, the same
// token is accepted.
func TestVerifyForgetsRefusals(t *testing.T) {
	t.Parallel()
	keys := &countingKeys{KeySource: failingKeys{}}
	v := &auth.Verifier{Keys: keys, Now: func() time.Time { return now }}
	token := sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims())
	if _, err := v.Verify(context.Background(), token); err == nil {
		t.Fatal("accepted while the key source failed")
	}
	keys.KeySource = auth.StaticKeys{testKID(): testPublic()}
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Errorf("after the key source recovered: %v", err)
	}
}

type countingKeys struct {
	auth.KeySource
	calls int
}

func (k *countingKeys) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k.calls++
	return k.KeySource.Key(ctx, kid)
}

// BenchmarkVerify compares a token's first check (signature and claims)
// with its later uses.
func BenchmarkVerify(b *testing.B) {
	token := sign(b, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims())
	ctx := context.Background()
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if _, err := newVerifier().Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remembered", func(b *testing.B) {
		v := newVerifier()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The key source's failure is the token's failure: a 401, never a 500.
func TestVerifyKeySourceFailure(t *testing.T) {
	t.Parallel()
	v := &auth.Verifier{Keys: failingKeys{}, Now: func() time.Time { return now }}
	_, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims()))
	if apperr.Code(err) != apperr.Unauthorized || !errors.Is(err, errJWKSDown) {
		t.Errorf("error %v, want unauthorized wrapping the cause", err)
	}
}

var errJWKSDown = errors.New("jwks unreachable")

type failingKeys struct{}

func (failingKeys) Key(context.Context, string) (ed25519.PublicKey, error) { return nil, errJWKSDown }

func TestKeyIDAndPublicJWK(t *testing.T) {
	t.Parallel()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := auth.PublicJWK(auth.KeyID(pub), pub)
	if jwk.Kty != "OKP" || jwk.Crv != "Ed25519" || jwk.Alg != "EdDSA" || jwk.Use != "sig" || jwk.Kid != auth.KeyID(pub) {
		t.Errorf("JWK %+v", jwk)
	}
	if x, err := base64.RawURLEncoding.DecodeString(jwk.X); err != nil || !ed25519.PublicKey(x).Equal(pub) {
		t.Errorf("x %q does not hold the key", jwk.X)
	}
	if auth.KeyID(pub) != auth.KeyID(append(ed25519.PublicKey(nil), pub...)) {
		t.Error("KeyID is not stable")
	}
}
