package web

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// A well-formed caller's request id is adopted; any other is replaced by a
// new one of 32 hex digits.
func TestRequestID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sent  string
		adopt bool
	}{
		{"req-1", true},
		{"a.b_c:d-E9", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"with space", false},
		{"semi;colon", false},
		{"é", false},
		{"new\nline", false},
	} {
		e := echo.New()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set(HeaderRequestID, tt.sent)
		rec := httptest.NewRecorder()
		var seen string
		h := requestID(func(c echo.Context) error {
			seen = c.Response().Header().Get(HeaderRequestID)
			return nil
		})
		if err := h(e.NewContext(req, rec)); err != nil {
			t.Fatal(err)
		}
		if adopted := seen == tt.sent; adopted != tt.adopt {
			t.Errorf("sent %q: request id %q, adopted %v, want %v", tt.sent, seen, adopted, tt.adopt)
		}
		if !tt.adopt && (len(seen) != 32 || strings.Trim(seen, "0123456789abcdef") != "") {
			t.Errorf("sent %q: made %q, want 32 hex digits", tt.sent, seen)
		}
	}
}

// labelValues returns the values of label on every series of the metric
// family name in s's registry.
func labelValues(t *testing.T, s *Server, name, label string) map[string]bool {
	t.Helper()
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					values[l.GetValue()] = true
				}
			}
		}
	}
	return values
}

// Clients choose the method and path of a request; neither may add series to
// the HTTP metrics beyond a fixed set, or any client could grow the
// service's and Prometheus's memory without limit.
func TestHTTPMetricLabelsAreBounded(t *testing.T) {
	t.Parallel()
	s, _ := testServer(t)
	s.API.GET("/api/catalog/products", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	s.API.GET("/api/catalog/products/:id", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	known := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}
	for _, m := range known {
		serve(s.API, httptest.NewRequest(m, "/api/catalog/products", nil))
	}
	for i := range 50 {
		made := "Q" + string(rune('A'+i/26)) + string(rune('A'+i%26)) + "X" // QAAX, QABX, …
		serve(s.API, httptest.NewRequest(made, "/api/catalog/products", nil))
		serve(s.API, httptest.NewRequest(made, "/api/catalog/products/"+strconv.Itoa(i), nil))
		serve(s.API, httptest.NewRequest(http.MethodGet, "/no/such/route/"+strconv.Itoa(i), nil))
		serve(s.API, httptest.NewRequest(made, "/api/catalog/nope"+strconv.Itoa(i), nil))
	}

	allowed := map[string]bool{"other": true}
	for _, m := range known {
		allowed[m] = true
	}
	routes := map[string]bool{"/api/catalog/products": true, "/api/catalog/products/:id": true, "unmatched": true}
	for _, name := range []string{"http_requests_total", "http_request_duration_seconds"} {
		methods := labelValues(t, s, name, "method")
		if !methods["other"] || !methods[http.MethodGet] {
			t.Errorf("%s: method labels %v, want GET and other among them", name, methods)
		}
		for m := range methods {
			if !allowed[m] {
				t.Errorf("%s: method label %q, want a standard method or \"other\"", name, m)
			}
		}
		for r := range labelValues(t, s, name, "route") {
			if !routes[r] {
				t.Errorf("%s: route label %q, want a registered route or \"unmatched\"", name, r)
			}
		}
	}
}
