package e2e

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"
)

// Over HTTPS, the storefront and the API carry the security headers, HSTS
// included, and nginx speaks only TLS 1.2 and 1.3.
func TestSecurityHeadersOverHTTPS(t *testing.T) {
	t.Parallel()
	// The certificate is the self-signed one made on first start.
	insecure := &tls.Config{InsecureSkipVerify: true}
	c := &Client{Base: mustStack(t).HTTPSURL, HTTP: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: insecure},
	}}
	want := map[string]string{
		"Strict-Transport-Security": "max-age=63072000",
		"Content-Security-Policy":   "default-src 'self'; base-uri 'none'; object-src 'none'; form-action 'self'; frame-ancestors 'none'",
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "same-origin",
		"X-Frame-Options":           "DENY",
	}
	for _, path := range []string{"/", "/api/catalog/products", "/api/nope"} {
		r := c.Do(t, "GET", path, nil)
		for name, value := range want {
			if got := r.Header.Values(name); len(got) != 1 || got[0] != value {
				t.Errorf("GET %s: %s = %q, want exactly %q", path, name, got, value)
			}
		}
		if r.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s: no X-Request-Id", path)
		}
		if s := r.Header.Get("Server"); s != "nginx" {
			t.Errorf("GET %s: Server %q, want nginx without a version", path, s)
		}
	}

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, MinVersion: v, MaxVersion: v,
		}}}
		if resp, err := old.Get(c.Base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("a TLS %x handshake succeeded; only TLS 1.2 and 1.3 may", v)
		}
	}
}
