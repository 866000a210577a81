package web

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"bazaar/platform/log"
)

// With a token configured, every internal route but the probes answers
// 401 problem+json to a caller without it, and serves a caller with it.
func TestInternalAPIRequiresTheToken(t *testing.T) {
	t.Parallel()
	s := NewServer(Config{Service: "test", InternalToken: "t0ken"}, log.New(new(strings.Builder), "test", slog.LevelInfo), nil)
	s.Internal.POST("/internal/reservations", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	for _, tc := range []struct {
		method, path, auth string
		want               int
	}{
		{http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{http.MethodGet, "/debug/pprof/", "", http.StatusUnauthorized},
		{http.MethodPost, "/internal/reservations", "", http.StatusUnauthorized},
		{http.MethodPost, "/internal/reservations", "Bearer wrong", http.StatusUnauthorized},
		{http.MethodPost, "/internal/reservations", "Basic t0ken", http.StatusUnauthorized},
		{http.MethodPost, "/internal/reservations", "Bearer t0ken0", http.StatusUnauthorized},
		{http.MethodGet, "/no/such/route", "", http.StatusUnauthorized},
		{http.MethodPost, "/internal/reservations", "Bearer t0ken", http.StatusNoContent},
		{http.MethodGet, "/metrics", "bearer t0ken", http.StatusOK},
		{http.MethodGet, "/healthz", "", http.StatusOK},
		{http.MethodGet, "/readyz", "", http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.auth != "" {
			req.Header.Set(echo.HeaderAuthorization, tc.auth)
		}
		rec := serve(s.Internal, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s (%q) = %d, want %d", tc.method, tc.path, tc.auth, rec.Code, tc.want)
			continue
		}
		if tc.want == http.StatusUnauthorized {
			decodeProblem(t, rec, http.StatusUnauthorized)
			if rec.Header().Get(echo.HeaderWWWAuthenticate) == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", tc.method, tc.path)
			}
		}
	}
	// The public API never asks for it.
	s.API.GET("/api/test", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	if rec := serve(s.API, httptest.NewRequest(http.MethodGet, "/api/test", nil)); rec.Code != http.StatusOK {
		t.Errorf("API without the token = %d", rec.Code)
	}
}

// A host name or network in the internal address binds to the one local
// address the name resolves to or that lies in the network, not to every
// interface.
func TestLocalAddrIsOwnAddress(t *testing.T) {
	t.Parallel()
	got, err := localAddr("localhost:8081", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(got); !net.ParseIP(host).IsLoopback() {
		t.Errorf("localAddr(localhost:8081) = %q, want a loopback address", got)
	}
	for _, addr := range []string{":8081", "127.0.0.1:0", "[::1]:8081"} {
		if got, err := localAddr(addr, time.Second); err != nil || got != addr {
			t.Errorf("localAddr(%q) = %q, %v, want it unchanged", addr, got, err)
		}
	}
	if got, err := localAddr("127.0.0.0/8:8081", time.Second); err != nil || got != "127.0.0.1:8081" {
		t.Errorf("localAddr(127.0.0.0/8:8081) = %q, %v, want 127.0.0.1:8081", got, err)
	}
	if _, err := localAddr(foreignNetwork(t)+":8081", 500*time.Millisecond); err == nil {
		t.Error("localAddr of a network this machine is not in succeeded")
	}
	start := time.Now()
	if _, err := localAddr("bazaar-no-such-host.invalid:8081", 500*time.Millisecond); err == nil {
		t.Error("localAddr of a name that does not resolve succeeded")
	} else if time.Since(start) > 5*time.Second {
		t.Errorf("gave up after %s, want about the wait", time.Since(start))
	}
}

// foreignNetwork returns a documentation network (RFC 5737) that no
// interface of this machine is in.
func foreignNetwork(t *testing.T) string {
	t.Helper()
	for _, cidr := range []string{"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"} {
		_, network, _ := net.ParseCIDR(cidr)
		if _, err := addrIn(network); err != nil {
			return cidr
		}
	}
	t.Fatal("this machine has an address in every documentation network")
	return ""
}

// Once shutdown has started, every answer closes its connection, so that
// clients stop reusing connections before the server closes the idle ones.
func TestDrainingAnswersCloseTheirConnection(t *testing.T) {
	t.Parallel()
	s := NewServer(Config{Service: "test", DrainDelay: 5 * time.Second}, log.New(new(strings.Builder), "test", slog.LevelInfo), nil)
	s.API.GET("/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	srv := httptest.NewServer(s.API)
	defer srv.Close()
	get := func() *http.Response {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := get(); resp.Close {
		t.Fatalf("before shutdown: Connection %q, want the connection kept", resp.Header.Get("Connection"))
	}
	go s.Shutdown(t.Context())
	deadline := time.Now().Add(2 * time.Second)
	for !s.draining.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if resp := get(); !resp.Close {
		t.Errorf("while draining: Connection %q, want close", resp.Header.Get("Connection"))
	}
}
