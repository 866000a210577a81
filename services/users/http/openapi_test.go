package http_test

import (
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/users"
	usershttp "bazaar/users/http"
	"bazaar/users/metrics"
)

// newAPI mounts the handler's routes on a bare echo, as Main does on the
// server's API. No route is called, so no service is needed.
func newAPI(t *testing.T) *echo.Echo {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	usershttp.NewHandler(nil, users.NewTokenKeys(priv, nil), true, metrics.New(prometheus.NewRegistry(), nil, nil)).Register(e)
	return e
}

var pathParam = regexp.MustCompile(`:([A-Za-z_]+)`)

// TestOpenAPIMatchesRoutes fails when a route is served but not described,
// or described but not served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newAPI(t)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/users/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET openapi.json = %d", rec.Code)
	}
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &spec); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", spec.OpenAPI)
	}

	var documented, served []string
	for path, ops := range spec.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	for _, r := range e.Routes() {
		if r.Path == "/healthz" || r.Path == "/readyz" || strings.HasPrefix(r.Method, "echo_") {
			continue
		}
		served = append(served, r.Method+" "+pathParam.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(documented)
	sort.Strings(served)
	if diff := cmp.Diff(documented, served); diff != "" {
		t.Errorf("routes (-documented +served):\n%s", diff)
	}
}
