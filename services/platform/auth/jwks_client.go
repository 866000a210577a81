package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// JWKSClient is a KeySource that fetches a JWKS over HTTP and caches it. A
// token with a kid it does not know triggers a refetch (keys rotate), at most
// once per MinRefresh so that forged kids cannot make it hammer the issuer.
type JWKSClient struct {
	URL        string
	HTTP       *http.Client
	MinRefresh time.Duration

	mu      sync.Mutex
	keys    StaticKeys
	fetched time.Time
}

var _ KeySource = (*JWKSClient)(nil)

// NewJWKSClient returns a client for the JWKS at url.
func NewJWKSClient(url string) *JWKSClient {
	return &JWKSClient{URL: url, HTTP: &http.Client{Timeout: 3 * time.Second}, MinRefresh: 10 * time.Second}
}

// Key implements KeySource.
func (c *JWKSClient) Key(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[kid]; ok {
		return k, nil
	}
	if c.keys != nil && time.Since(c.fetched) < c.MinRefresh {
		return nil, ErrUnknownKey
	}
	keys, err := c.fetch(ctx)
	if err != nil {
		return nil, err
	}
	c.keys, c.fetched = keys, time.Now()
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, ErrUnknownKey
}

func (c *JWKSClient) fetch(ctx context.Context) (StaticKeys, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("auth: jwks: %w", err)
	}
	resp, err := c.HTTP.Do(req)
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
