package http

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"bazaar/catalog"
	"bazaar/platform/auth"
)

// TestSpecMatchesRoutes fails when a public route is missing from
// openapi.json or the spec describes a route that is not served.
func TestSpecMatchesRoutes(t *testing.T) {
	e := echo.New()
	NewHandler(catalog.NewService(catalog.ServiceConfig{}), &auth.Verifier{}, nil).Register(e)
	var served []string
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound || r.Path == "/healthz" || r.Path == "/readyz" {
			continue
		}
		served = append(served, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}

	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.0.") {
		t.Errorf("openapi = %q, want 3.0.x", doc.OpenAPI)
	}
	var described []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "options", "head", "patch", "trace":
				described = append(described, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(served)
	slices.Sort(described)
	for _, r := range served {
		if !slices.Contains(described, r) {
			t.Errorf("%s is served but not in openapi.json", r)
		}
	}
	for _, r := range described {
		if !slices.Contains(served, r) {
			t.Errorf("%s is in openapi.json but not served", r)
		}
	}
	if len(served) == 0 {
		t.Fatal("no routes registered")
	}
}

// TestSpecRefsResolve catches a $ref to a component that does not exist.
func TestSpecRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				var node any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := node.(map[string]any)
					node = m[part]
				}
				if node == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, child := range v {
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(doc)
}

func TestServeSpec(t *testing.T) {
	rec := do(t, newTestServer(t, &fakeProducts{}, nil), http.MethodGet, "/api/catalog/openapi.json", "", "")
	if rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Errorf("GET openapi.json = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}
