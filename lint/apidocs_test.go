package lint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestAPIReferenceLint keeps docs/api.md in step with the services' OpenAPI
// documents: every route one of them serves is in the reference, and the
// reference names no route that none of them serves.
func TestAPIReferenceLint(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, svc := range []string{"catalog", "users", "orders"} {
		served = append(served, openAPIRoutes(t, filepath.Join("..", "services", svc, "http", "openapi.json"))...)
	}
	documented := documentedRoutes(string(doc))
	if len(served) == 0 || len(documented) == 0 {
		t.Fatalf("%d routes served, %d documented: the parsers found nothing", len(served), len(documented))
	}
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("%s is in an OpenAPI document but not in docs/api.md", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("docs/api.md names %s, which no OpenAPI document has", r)
		}
	}
}

// openAPIRoutes lists the "METHOD /path" pairs of an OpenAPI document.
func openAPIRoutes(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var routes []string
	for path, ops := range spec.Paths {
		for method := range ops {
			switch method {
			case "get", "put", "post", "patch", "delete":
				routes = append(routes, strings.ToUpper(method)+" "+path)
			}
		}
	}
	return routes
}

// routeCell is a route as the reference's tables give it: `GET /api/x?q=`.
var routeCell = regexp.MustCompile("^\\|\\s*`(GET|PUT|POST|PATCH|DELETE) (/api/[^`?]*)(?:\\?[^`]*)?`")

// documentedRoutes lists the "METHOD /path" pairs of the reference's tables.
func documentedRoutes(doc string) []string {
	var routes []string
	for line := range strings.Lines(doc) {
		if m := routeCell.FindStringSubmatch(line); m != nil {
			routes = append(routes, m[1]+" "+m[2])
		}
	}
	return routes
}

func TestAPIReferenceLintFindsProblems(t *testing.T) {
	t.Parallel()
	doc := "| method and path | auth |\n| --- | --- |\n| `GET /api/orders?limit=&cursor=` | Bearer |\n| `POST /api/orders/{id}/cancel` | Bearer |\nSee `GET /api/elsewhere` in text.\n"
	got := documentedRoutes(doc)
	if want := []string{"GET /api/orders", "POST /api/orders/{id}/cancel"}; !slices.Equal(got, want) {
		t.Errorf("documentedRoutes = %q, want %q", got, want)
	}
}
