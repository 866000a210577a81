package e2e

import (
	"os"
	"testing"

	"bazaar/e2e/internal/shop"
)

// The HTTP client of every test that talks to the stack through nginx, as a
// browser or script would: e2e/internal/shop's, which e2e/swarm uses too.

// Client talks to the stack through nginx.
type Client = shop.Client

// Response is a fully read HTTP response.
type Response = shop.Response

// Problem is an RFC 9457 problem details body.
type Problem = shop.Problem

// newClient is an anonymous client of the shared stack's nginx.
func newClient(tb testing.TB) *Client {
	tb.Helper()
	return shop.NewClient(mustStack(tb).BaseURL)
}

// theShop is the shared stack as the shop suite (e2e/internal/shop) sees
// it: its nginx and its administrator.
func theShop(tb testing.TB) *shop.Shop {
	tb.Helper()
	s := mustStack(tb)
	return &shop.Shop{
		BaseURL:       s.BaseURL,
		TLSURL:        s.HTTPSURL,
		AdminEmail:    envOr("ADMIN_EMAIL", "admin@bazaar.local"),
		AdminPassword: secret(tb, "admin_password"),
	}
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
