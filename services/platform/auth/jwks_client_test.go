package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bazaar/platform/auth"
)

// jwksServer serves whatever set holds and counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    string
	status  int
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, keys ...auth.JWK) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		w.WriteHeader(s.status)
		_, _ = w.Write([]byte(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(t *testing.T, keys ...auth.JWK) {
	t.Helper()
	b, err := json.Marshal(auth.JWKS{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body = string(b)
	s.mu.Unlock()
}

func TestJWKSClientFetchesCachesAndRefetches(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, auth.PublicJWK(testKID(), testPublic()))
	c := auth.NewJWKSClient(srv.URL)
	c.MinRefresh = 50 * time.Millisecond
	ctx := context.Background()

	for range 3 {
		k, err := c.Key(ctx, testKID())
		if err != nil || !k.Equal(testPublic()) {
			t.Fatalf("Key = %v, %v", k, err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches for three lookups of one key, want 1", n)
	}

	// Forged kids do not make the client hammer the issuer...
	for range 5 {
		if _, err := c.Key(ctx, "forged"); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("Key(forged) = %v, want ErrUnknownKey", err)
		}
	}
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches after five forged kids within MinRefresh, want 1", n)
	}

	// ...but a rotated key is found once MinRefresh has passed.
	otherPub := otherKey.Public().(ed25519.PublicKey)
	srv.set(t, auth.PublicJWK(testKID(), testPublic()), auth.PublicJWK("rotated", otherPub))
	time.Sleep(60 * time.Millisecond)
	k, err := c.Key(ctx, "rotated")
	if err != nil || !k.Equal(otherPub) {
		t.Fatalf("Key(rotated) = %v, %v", k, err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

func TestJWKSClientFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"server error", http.StatusInternalServerError, `{"keys":[]}`},
		{"not JSON", http.StatusOK, `<html>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newJWKSServer(t)
			srv.mu.Lock()
			srv.status, srv.body = tc.status, tc.body
			srv.mu.Unlock()
			if _, err := auth.NewJWKSClient(srv.URL).Key(context.Background(), testKID()); err == nil || errors.Is(err, auth.ErrUnknownKey) {
				t.Errorf("Key = %v, want a fetch error", err)
			}
		})
	}
}

// Only Ed25519 signing keys with a kid and a 32-byte x are used; the rest of
// a set is skipped rather than failing it.
func TestJWKSClientSkipsUnusableKeys(t *testing.T) {
	t.Parallel()
	good := auth.PublicJWK(testKID(), testPublic())
	with := func(change func(*auth.JWK)) auth.JWK {
		k := good
		change(&k)
		return k
	}
	srv := newJWKSServer(t,
		with(func(k *auth.JWK) { k.Kid, k.Kty = "rsa", "RSA" }),
		with(func(k *auth.JWK) { k.Kid, k.Crv = "x448", "X448" }),
		with(func(k *auth.JWK) { k.Kid, k.Use = "enc", "enc" }),
		with(func(k *auth.JWK) { k.Kid, k.X = "short", base64.RawURLEncoding.EncodeToString([]byte("short")) }),
		with(func(k *auth.JWK) { k.Kid, k.X = "not-base64", "!!!" }),
		with(func(k *auth.JWK) { k.Kid = "" }),
		with(func(k *auth.JWK) { k.Kid, k.Use = "no-use", "" }),
	)
	c := auth.NewJWKSClient(srv.URL)
	for _, kid := range []string{"rsa", "x448", "enc", "short", "not-base64", ""} {
		if _, err := c.Key(context.Background(), kid); !errors.Is(err, auth.ErrUnknownKey) {
			t.Errorf("Key(%q) = %v, want ErrUnknownKey", kid, err)
		}
	}
	if k, err := c.Key(context.Background(), "no-use"); err != nil || !k.Equal(testPublic()) {
		t.Errorf("Key(no-use) = %v, %v: a key without use is a signing key", k, err)
	}
}
