package auth

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults of the JWKSClient settings that are zero.
const (
	// DefaultMaxAge is how long a fetched JWKS is used before it is
	// refetched; the users service allows caching it for five minutes.
	DefaultMaxAge = 5 * time.Minute
	// DefaultBackoff is the pause in fetching after a failed fetch.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff bounds that pause as failures repeat: a token
	// with a new kid waits at most this long after the issuer is back.
	DefaultMaxBackoff = 5 * time.Second
)

// fetchTimeout bounds a fetch whatever the HTTP client's timeout: a fetch
// that never ends would leave every lookup of an unknown kid waiting.
const fetchTimeout = 10 * time.Second

// JWKSClient is a KeySource that fetches a JWKS over HTTP and caches it.
//
// A lookup of a known kid is answered from the cache and never waits for a
// fetch. A token with a kid it does not know triggers a refetch (keys
// rotate), at most once per MinRefresh after a successful fetch so that
// forged kids cannot make it hammer the issuer; concurrent lookups share one
// fetch, and there is never more than one under way. A failed fetch stops
// fetching for Backoff, doubled after each further failure up to MaxBackoff;
// lookups of unknown kids meanwhile fail at once with the fetch's error.
//
// A successful fetch replaces the whole cache, so a key removed from the
// JWKS is refused once the next fetch succeeds. Keys that are still in use
// therefore do not keep a stale set alive: a lookup in a set older than
// MaxAge answers from it and refetches in the background.
type JWKSClient struct {
	URL string
	// HTTP makes the requests (http.DefaultClient when nil).
	HTTP *http.Client
	// MinRefresh is the least time from a successful fetch to a fetch
	// caused by an unknown kid.
	MinRefresh time.Duration
	// MaxAge is the age at which the cached set is refetched in the
	// background (DefaultMaxAge when zero).
	MaxAge time.Duration
	// Backoff is the pause in fetching after a failed fetch, doubled after
	// each further consecutive failure up to MaxBackoff (DefaultBackoff and
	// DefaultMaxBackoff when zero).
	Backoff, MaxBackoff time.Duration
	// Now is the clock (time.Now when nil), replaceable in tests.
	Now func() time.Time

	mu       sync.Mutex
	keys     StaticKeys // the last set fetched, nil before the first
	fetched  time.Time  // when keys were fetched
	inflight *jwksFetch // the fetch under way, if any
	failures int        // consecutive failed fetches
	retryAt  time.Time  // no fetch before this after a failure
	lastErr  error      // the last fetch's error, if it failed
	onWait   func()     // test hook: a lookup is about to wait for a fetch
}

// jwksFetch is one fetch, shared by every lookup that waits for it. keys
// and err are set before done is closed.
type jwksFetch struct {
	done chan struct{}
	keys StaticKeys
	err  error
}

var _ KeySource = (*JWKSClient)(nil)

// NewJWKSClient returns a client for the JWKS at url.
func NewJWKSClient(url string) *JWKSClient {
	return &JWKSClient{
		URL:        url,
		HTTP:       &http.Client{Timeout: 3 * time.Second},
		MinRefresh: 10 * time.Second,
		MaxAge:     DefaultMaxAge,
		Backoff:    DefaultBackoff,
		MaxBackoff: DefaultMaxBackoff,
	}
}

// Key implements KeySource. The lock is only ever held to read or update
// the cache, never during a fetch.
func (c *JWKSClient) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	c.mu.Lock()
	now := c.now()
	if k, ok := c.keys[kid]; ok {
		if now.Sub(c.fetched) >= cmp.Or(c.MaxAge, DefaultMaxAge) && c.mayFetchLocked(now) {
			c.startLocked(ctx) // in the background: the caller has its key
		}
		c.mu.Unlock()
		return k, nil
	}
	f := c.inflight
	if f == nil {
		switch {
		case !c.mayFetchLocked(now):
			err := fmt.Errorf("auth: jwks: not refetched before %s, after %d failed fetches: %w",
				c.retryAt.Format(time.RFC3339Nano), c.failures, c.lastErr)
			c.mu.Unlock()
			return nil, err
		case c.keys != nil && now.Sub(c.fetched) < c.MinRefresh:
			c.mu.Unlock()
			return nil, ErrUnknownKey
		}
		f = c.startLocked(ctx)
	}
	c.mu.Unlock()

	if c.onWait != nil {
		c.onWait()
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("auth: jwks: %w", context.Cause(ctx))
	}
	if f.err != nil {
		return nil, f.err
	}
	if k, ok := f.keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

// mayFetchLocked reports whether a fetch may start now: none is under way
// and the back-off after a failure is over.
func (c *JWKSClient) mayFetchLocked(now time.Time) bool {
	return c.inflight == nil && !now.Before(c.retryAt)
}

// startLocked starts a fetch in its own goroutine and makes it the one in
// flight. The fetch keeps ctx's values but not its cancellation, since
// other lookups may wait for it; fetchTimeout bounds it.
func (c *JWKSClient) startLocked(ctx context.Context) *jwksFetch {
	f := &jwksFetch{done: make(chan struct{})}
	c.inflight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		f.keys, f.err = c.fetch(ctx)

		c.mu.Lock()
		now := c.now()
		if f.err != nil {
			c.failures++
			c.retryAt = now.Add(c.backoff(c.failures))
			c.lastErr = f.err
		} else {
			// The new set replaces the old one: keys removed from the
			// JWKS are forgotten.
			c.keys, c.fetched = f.keys, now
			c.failures, c.retryAt, c.lastErr = 0, time.Time{}, nil
		}
		c.inflight = nil
		c.mu.Unlock()
		close(f.done)
	}()
	return f
}

// backoff is the pause after the nth consecutive failed fetch.
func (c *JWKSClient) backoff(n int) time.Duration {
	d, limit := cmp.Or(c.Backoff, DefaultBackoff), cmp.Or(c.MaxBackoff, DefaultMaxBackoff)
	for ; n > 1 && d < limit; n-- {
		d *= 2
	}
	return min(d, limit)
}

func (c *JWKSClient) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *JWKSClient) fetch(ctx context.Context) (StaticKeys, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks: %w", err)
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("auth: jwks: %s answered %s", c.URL, resp.Status)
	}
	var set JWKS
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("auth: jwks: %w", err)
	}
	return parseJWKS(set), nil
}
