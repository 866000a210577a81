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

	"github.com/golang-jwt/jwt/v5"

	"bazaar/platform/auth"
)

// jwksServer serves whatever set holds and counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    string
	status  int
	gate    *gate
	fetches atomic.Int32
}

// gate holds the requests that reach a stalled jwksServer: each one sends on
// entered, then waits for release to be closed.
type gate struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func newJWKSServer(t *testing.T, keys ...auth.JWK) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.set(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		status, body, g := s.status, s.body, s.gate
		s.mu.Unlock()
		if g != nil {
			g.entered <- struct{}{}
			<-g.release
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
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
	s.status, s.body = http.StatusOK, string(b)
	s.mu.Unlock()
}

// fail makes the server answer 503 until the next set.
func (s *jwksServer) fail() {
	s.mu.Lock()
	s.status = http.StatusServiceUnavailable
	s.mu.Unlock()
}

// stall holds every later request until the gate is opened, which happens
// at the latest when the test ends (before the server is closed, which
// waits for the requests).
func (s *jwksServer) stall(t *testing.T) *gate {
	g := &gate{entered: make(chan struct{}, 100), release: make(chan struct{})}
	s.mu.Lock()
	s.gate = g
	s.mu.Unlock()
	t.Cleanup(g.open)
	return g
}

// clock is a fake clock for JWKSClient.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: now} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// within fails the test unless ch yields within a generous time; it
// detects a hang, it does not synchronise anything.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out: %s", what)
		panic("unreachable")
	}
}

func TestJWKSClientFetchesCachesAndRefetches(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, auth.PublicJWK(testKID(), testPublic()))
	c := auth.NewJWKSClient(srv.URL)
	clk := newClock()
	c.Now = clk.Now
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
	clk.Advance(c.MinRefresh)
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

// thirdKey is a key the tests rotate to.
var thirdKey = ed25519.NewKeyFromSeed([]byte("bazaar-auth-test-rotated-key-32b"))

func thirdPublic() ed25519.PublicKey { return thirdKey.Public().(ed25519.PublicKey) }

func otherPublic() ed25519.PublicKey { return otherKey.Public().(ed25519.PublicKey) }

// A fetch under way, however slow, does not hold up the verification of a
// token whose kid is already known.
func TestJWKSClientSlowFetchDoesNotBlockKnownKeys(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, auth.PublicJWK(testKID(), testPublic()))
	c := auth.NewJWKSClient(srv.URL)
	c.Now = newClock().Now
	c.MinRefresh = 0
	c.HTTP = &http.Client{} // no timeout: the stalled fetch lasts until the gate opens
	ctx := context.Background()
	if _, err := c.Key(ctx, testKID()); err != nil {
		t.Fatal(err)
	}

	g := srv.stall(t)
	unknown := make(chan error, 1)
	go func() {
		_, err := c.Key(ctx, "unknown")
		unknown <- err
	}()
	within(t, g.entered, "the unknown kid's fetch reaching the server")

	token := sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims())
	verified := make(chan error, 1)
	go func() {
		_, err := (&auth.Verifier{Keys: c, Now: func() time.Time { return now }}).Verify(ctx, token)
		verified <- err
	}()
	if err := within(t, verified, "verifying a token with a known kid while a fetch is stalled"); err != nil {
		t.Fatalf("Verify = %v", err)
	}

	g.open()
	if err := within(t, unknown, "the unknown kid's lookup"); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("Key(unknown) = %v, want ErrUnknownKey", err)
	}
	if n := srv.fetches.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
}

// Concurrent verifications that need an unknown kid share a single fetch.
func TestJWKSClientConcurrentUnknownKidsShareOneFetch(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, auth.PublicJWK(testKID(), testPublic()))
	c := auth.NewJWKSClient(srv.URL)
	c.Now = newClock().Now
	c.MinRefresh = 0 // were lookups not sharing the fetch, each would fetch
	const n = 20
	var waiting sync.WaitGroup
	waiting.Add(n)
	auth.SetJWKSWaitHook(c, waiting.Done)
	g := srv.stall(t)

	v := &auth.Verifier{Keys: c, Now: func() time.Time { return now }}
	token := sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims())
	results := make(chan error, n)
	for range n {
		go func() {
			_, err := v.Verify(context.Background(), token)
			results <- err
		}()
	}
	allWaiting := make(chan struct{})
	go func() { waiting.Wait(); close(allWaiting) }()
	within(t, allWaiting, "all lookups waiting for a fetch")
	g.open() // only now can the fetch, or any of them, end

	for range n {
		if err := within(t, results, "a verification"); err != nil {
			t.Errorf("Verify = %v", err)
		}
	}
	if got := srv.fetches.Load(); got != 1 {
		t.Errorf("%d fetches for %d concurrent lookups of an unknown kid, want 1", got, n)
	}
}

// After a failed fetch, unknown kids do not cause fetches for a pause that
// doubles with each consecutive failure; known kids are served meanwhile.
func TestJWKSClientBacksOffAfterFailures(t *testing.T) {
	t.Parallel()
	srv := newJWKSServer(t, auth.PublicJWK(testKID(), testPublic()))
	clk := newClock()
	c := auth.NewJWKSClient(srv.URL)
	c.Now, c.MinRefresh, c.MaxAge = clk.Now, time.Second, time.Hour
	c.Backoff, c.MaxBackoff = time.Minute, 3*time.Minute
	ctx := context.Background()

	lookup := func(kid string, wantFetches int32, wantOK bool) {
		t.Helper()
		k, err := c.Key(ctx, kid)
		if wantOK && err != nil {
			t.Fatalf("Key(%s) = %v", kid, err)
		}
		if !wantOK && (k != nil || err == nil || errors.Is(err, auth.ErrUnknownKey)) {
			t.Fatalf("Key(%s) = %v, %v, want a fetch error", kid, k, err)
		}
		if n := srv.fetches.Load(); n != wantFetches {
			t.Fatalf("Key(%s): %d fetches, want %d", kid, n, wantFetches)
		}
	}

	lookup(testKID(), 1, true)
	srv.fail()
	clk.Advance(c.MinRefresh)
	lookup("rotated", 2, false) // fails; no fetch for a minute
	for range 5 {
		lookup("rotated", 2, false)
		lookup(testKID(), 2, true)
	}
	clk.Advance(time.Minute - time.Nanosecond)
	lookup("rotated", 2, false)
	clk.Advance(time.Nanosecond)
	lookup("rotated", 3, false) // fails again; no fetch for two minutes
	clk.Advance(time.Minute)
	lookup("rotated", 3, false)
	clk.Advance(time.Minute)
	lookup("rotated", 4, false) // and again; the pause would be 4 min, but is 3
	clk.Advance(3 * time.Minute)
	lookup("rotated", 5, false)

	// Back-off does not keep the client from recovering...
	srv.set(t, auth.PublicJWK(testKID(), testPublic()), auth.PublicJWK("rotated", otherPublic()))
	clk.Advance(3 * time.Minute)
	lookup("rotated", 6, true)
	// ...and a success resets it.
	srv.fail()
	clk.Advance(c.MinRefresh)
	lookup("forged", 7, false)
	clk.Advance(time.Minute)
	lookup("forged", 8, false)
}

// A key removed from the JWKS is refused once a fetch has succeeded, be it
// one caused by an unknown kid or the refresh of a set older than MaxAge.
func TestJWKSClientForgetsRemovedKeys(t *testing.T) {
	t.Parallel()
	token := sign(t, jwt.SigningMethodEdDSA, testKey, testKID(), validClaims())
	verify := func(c *auth.JWKSClient) error {
		// A new Verifier each time: one remembers the tokens it accepted.
		_, err := (&auth.Verifier{Keys: c, Now: func() time.Time { return now }}).Verify(context.Background(), token)
		return err
	}
	setup := func(t *testing.T) (*jwksServer, *auth.JWKSClient, *clock) {
		srv := newJWKSServer(t, auth.PublicJWK(testKID(), testPublic()), auth.PublicJWK("other", otherPublic()))
		clk := newClock()
		c := auth.NewJWKSClient(srv.URL)
		c.Now, c.MinRefresh, c.MaxAge = clk.Now, time.Second, time.Minute
		if err := verify(c); err != nil {
			t.Fatal(err)
		}
		// testKID is retired: the JWKS no longer has it.
		srv.set(t, auth.PublicJWK("other", otherPublic()), auth.PublicJWK("third", thirdPublic()))
		return srv, c, clk
	}

	t.Run("after an unknown kid's fetch", func(t *testing.T) {
		t.Parallel()
		srv, c, clk := setup(t)
		clk.Advance(c.MinRefresh)
		if k, err := c.Key(context.Background(), "third"); err != nil || !k.Equal(thirdPublic()) {
			t.Fatalf("Key(third) = %v, %v", k, err)
		}
		if err := verify(c); err == nil {
			t.Error("a token signed with a removed key was accepted")
		}
		if _, err := c.Key(context.Background(), testKID()); !errors.Is(err, auth.ErrUnknownKey) {
			t.Errorf("Key(removed) = %v, want ErrUnknownKey", err)
		}
		if n := srv.fetches.Load(); n != 2 {
			t.Errorf("%d fetches, want 2", n)
		}
	})

	t.Run("after the refresh of an old set", func(t *testing.T) {
		t.Parallel()
		srv, c, clk := setup(t)
		c.MinRefresh = time.Hour // so that only the age of the set can cause a fetch
		clk.Advance(c.MaxAge)
		// The old set still answers, without waiting, and is refreshed in
		// the background...
		if err := verify(c); err != nil {
			t.Fatalf("Verify with an old set = %v", err)
		}
		// ...which this lookup waits for if it is still under way (and,
		// with MinRefresh not over, neither it nor its absence causes a
		// fetch).
		if _, err := c.Key(context.Background(), "forged"); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("Key(forged) = %v, want ErrUnknownKey", err)
		}
		if n := srv.fetches.Load(); n != 2 {
			t.Fatalf("%d fetches, want 2", n)
		}
		if err := verify(c); err == nil {
			t.Error("a token signed with a removed key was accepted")
		}
	})
}
