package users_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/users"
)

// mustKey returns a fresh Ed25519 private key.
func mustKey(tb testing.TB) ed25519.PrivateKey {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return priv
}

var ada = users.User{ID: "0190f3b4-7c1d-7a3e-9f00-123456789abc", Email: "ada@example.com", Name: "Ada", Role: auth.RoleCustomer}

func TestAccessTokenRoundTrip(t *testing.T) {
	t.Parallel()
	priv := mustKey(t)
	keys := users.NewTokenKeys(priv, nil)
	now := time.Now().Truncate(time.Second)
	token, err := keys.IssueAccessToken(ada, now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}

	claims, err := keys.Verifier().Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := &auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    auth.Issuer,
			Subject:   ada.ID,
			Audience:  jwt.ClaimStrings{auth.Audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
		},
		Email: ada.Email,
		Role:  ada.Role,
	}
	if diff := cmp.Diff(want, claims, cmpopts.IgnoreFields(jwt.RegisteredClaims{}, "ID")); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if claims.ID == "" {
		t.Error("jti is empty")
	}

	header := decodeSegment(t, token, 0)
	wantHeader := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": auth.KeyID(priv.Public().(ed25519.PublicKey))}
	if diff := cmp.Diff(wantHeader, header); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	payload := decodeSegment(t, token, 1)
	var names []string
	for k := range payload {
		names = append(names, k)
	}
	if diff := cmp.Diff([]string{"aud", "email", "exp", "iat", "iss", "jti", "role", "sub"}, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("claim names (-want +got):\n%s", diff)
	}

	again, _ := keys.IssueAccessToken(ada, now, 15*time.Minute)
	if decodeSegment(t, again, 1)["jti"] == payload["jti"] {
		t.Error("two tokens share a jti")
	}
}

func decodeSegment(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAccessTokenRejections(t *testing.T) {
	t.Parallel()
	priv := mustKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	kid := auth.KeyID(pub)
	keys := users.NewTokenKeys(priv, nil)
	now := time.Now()

	claims := func() auth.Claims {
		return auth.Claims{
			RegisteredClaims: jwt.RegisteredClaims{
				Issuer: auth.Issuer, Subject: ada.ID, Audience: jwt.ClaimStrings{auth.Audience},
				IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), ID: "x",
			},
			Email: ada.Email, Role: ada.Role,
		}
	}
	sign := func(method jwt.SigningMethod, key any, c auth.Claims, kid string) string {
		t.Helper()
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good, err := keys.IssueAccessToken(ada, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other := mustKey(t)

	for _, tc := range []struct {
		name  string
		token string
	}{
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(), kid)},
		{"HS256 with the public key as secret", sign(jwt.SigningMethodHS256, []byte(pub), claims(), kid)},
		{"HS256 with the base64 public key as secret", sign(jwt.SigningMethodHS256, []byte(base64.RawURLEncoding.EncodeToString(pub)), claims(), kid)},
		{"expired", func() string {
			s, _ := keys.IssueAccessToken(ada, now.Add(-time.Hour), 15*time.Minute)
			return s
		}()},
		{"other key claiming our kid", sign(jwt.SigningMethodEdDSA, other, claims(), kid)},
		{"other key with its own kid", sign(jwt.SigningMethodEdDSA, other, claims(), auth.KeyID(other.Public().(ed25519.PublicKey)))},
		{"no kid", sign(jwt.SigningMethodEdDSA, priv, claims(), "")},
		{"wrong issuer", func() string { c := claims(); c.Issuer = "evil"; return sign(jwt.SigningMethodEdDSA, priv, c, kid) }()},
		{"wrong audience", func() string {
			c := claims()
			c.Audience = jwt.ClaimStrings{"other"}
			return sign(jwt.SigningMethodEdDSA, priv, c, kid)
		}()},
		{"no expiry", func() string { c := claims(); c.ExpiresAt = nil; return sign(jwt.SigningMethodEdDSA, priv, c, kid) }()},
		{"tampered payload", func() string {
			parts := strings.Split(good, ".")
			payload := decodeSegment(t, good, 1)
			payload["role"] = auth.RoleAdmin
			b, _ := json.Marshal(payload)
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, ".")
		}()},
		{"truncated signature", good[:len(good)-4]},
		{"garbage", "not.a.token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := keys.Verifier().Verify(context.Background(), tc.token)
			if apperr.Code(err) != apperr.Unauthorized {
				t.Errorf("Verify = %v, want an Unauthorized error", err)
			}
		})
	}
	if _, err := keys.Verifier().Verify(context.Background(), good); err != nil {
		t.Errorf("the untampered token is refused: %v", err)
	}
}

func TestTokenKeysRotation(t *testing.T) {
	t.Parallel()
	old, current := mustKey(t), mustKey(t)
	oldToken, err := users.NewTokenKeys(old, nil).IssueAccessToken(ada, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	oldPub := old.Public().(ed25519.PublicKey)
	curPub := current.Public().(ed25519.PublicKey)
	keys := users.NewTokenKeys(current, []ed25519.PublicKey{oldPub, curPub, oldPub})

	want := auth.JWKS{Keys: []auth.JWK{auth.PublicJWK(auth.KeyID(curPub), curPub), auth.PublicJWK(auth.KeyID(oldPub), oldPub)}}
	if diff := cmp.Diff(want, keys.JWKS()); diff != "" {
		t.Errorf("JWKS (-want +got), want current first and no duplicates:\n%s", diff)
	}
	if _, err := keys.Verifier().Verify(context.Background(), oldToken); err != nil {
		t.Errorf("token of the previous key refused: %v", err)
	}
	if _, err := users.NewTokenKeys(current, nil).Verifier().Verify(context.Background(), oldToken); err == nil {
		t.Error("token of a key no longer listed accepted")
	}
}

func TestParsePrivateKeyPEM(t *testing.T) {
	t.Parallel()
	priv := mustKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	good := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	pubDER, _ := x509.MarshalPKIXPublicKey(priv.Public())

	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		{"openssl output", good, true},
		{"escaped newlines", strings.ReplaceAll(good, "\n", `\n`), true},
		{"surrounding blank lines", "\n" + good + "\n\n", true},
		{"ECDSA key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})), false},
		{"public key", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), false},
		{"two keys", good + good, false},
		{"not PEM", "secret", false},
		{"corrupt body", strings.Replace(good, "MC4C", "MC4D", 1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := users.ParsePrivateKeyPEM(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && !priv.Equal(got) {
				t.Error("parsed key differs")
			}
		})
	}
}

func TestParsePublicKeysPEM(t *testing.T) {
	t.Parallel()
	a, b := mustKey(t).Public().(ed25519.PublicKey), mustKey(t).Public().(ed25519.PublicKey)
	encode := func(k ed25519.PublicKey) string {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	got, err := users.ParsePublicKeysPEM(encode(a) + encode(b))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]ed25519.PublicKey{a, b}, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if _, err := users.ParsePublicKeysPEM(encode(a) + "trailing junk"); err == nil {
		t.Error("trailing junk accepted")
	}
}
