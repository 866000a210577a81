package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEdgeHealthz(t *testing.T) {
	t.Parallel()
	newClient(t).Do(t, "GET", "/healthz", nil).Expect(t, http.StatusOK, nil)
}

func TestStorefrontServedFromDisk(t *testing.T) {
	t.Parallel()
	r := newClient(t).Do(t, "GET", "/", nil).Expect(t, http.StatusOK, nil)
	if ct := r.Header.Get("Content-Type"); !regexp.MustCompile(`^text/html`).MatchString(ct) {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
}

func TestUnknownAPIRoutesAreProblems(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, path := range []string{"/api/nope", "/api/", "/api/catalog/nope", "/api/users/nope", "/api/orders/nope/deeper"} {
		t.Run(path, func(t *testing.T) {
			c.Do(t, "GET", path, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
		})
	}
}

func TestServiceMetricsNotReachableThroughNginx(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, path := range []string{"/metrics", "/api/catalog/metrics", "/api/users/metrics", "/api/orders/metrics",
		"/stub_status", "/api/catalog/../metrics", "/internal/reservations", "/api/catalog/internal/reservations"} {
		r := c.Do(t, "GET", path, nil)
		if r.Status < 400 || r.Status >= 500 || strings.Contains(string(r.Body), "# TYPE") {
			t.Errorf("GET %s: status %d, body %.80q: want a 4xx without metrics", path, r.Status, r.Body)
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	for _, path := range []string{"/healthz", "/", "/api/catalog/products", "/api/nope"} {
		r := c.Do(t, "GET", path, nil)
		if id := r.Header.Values("X-Request-Id"); len(id) != 1 || len(id[0]) < 16 {
			t.Errorf("GET %s: X-Request-Id %q, want one generated id", path, id)
		}
	}
	r := c.Do(t, "GET", "/api/catalog/products", nil, "X-Request-Id", "e2e-trace-42")
	if got := r.Header.Get("X-Request-Id"); got != "e2e-trace-42" {
		t.Errorf("X-Request-Id %q, want the client's e2e-trace-42", got)
	}
	r = c.Do(t, "GET", "/api/catalog/products", nil, "X-Request-Id", "bad id with spaces")
	if got := r.Header.Get("X-Request-Id"); got == "bad id with spaces" || got == "" {
		t.Errorf("X-Request-Id %q: a malformed id must be replaced", got)
	}
}

func TestCatalogFirstEndpoints(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	r := c.Do(t, "GET", "/api/catalog/products?limit=5", nil).Expect(t, http.StatusOK, &page)
	if ct := r.Header.Get("Content-Type"); !regexp.MustCompile(`^application/json`).MatchString(ct) {
		t.Errorf("Content-Type %q", ct)
	}
	if page.Items == nil {
		t.Errorf("items must be a JSON array, got %s", r.Body)
	}
	var cats []map[string]any
	r = c.Do(t, "GET", "/api/catalog/categories", nil).Expect(t, http.StatusOK, &cats)
	if cats == nil {
		t.Errorf("categories must be a JSON array, got %s", r.Body)
	}
	c.Do(t, "GET", "/api/catalog/products?limit=0", nil).ExpectProblem(t, http.StatusBadRequest, "invalid-request")
	c.Do(t, "GET", "/api/catalog/products/not-a-uuid", nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	c.Do(t, "GET", "/api/catalog/products/0190a3b1-0000-7000-8000-000000000000", nil).ExpectProblem(t, http.StatusNotFound, "not-found")
}

func TestRegisterAndLogin(t *testing.T) {
	t.Parallel()
	c := newClient(t)
	email := fmt.Sprintf("skeleton-%d@example.com", time.Now().UnixNano())
	var user struct {
		ID, Email, Name, Role string
		CreatedAt             time.Time `json:"created_at"`
	}
	c.Do(t, "POST", "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": "Ada"}).
		Expect(t, http.StatusCreated, &user)
	if user.ID == "" || user.Email != email || user.Name != "Ada" || user.Role != "customer" || user.CreatedAt.IsZero() {
		t.Fatalf("registered user %+v", user)
	}
	c.Do(t, "POST", "/api/users/register", map[string]string{"email": "SKELETON" + email[8:], "password": "correct horse", "name": "Eve"}).
		ExpectProblem(t, http.StatusConflict, "")
	c.Do(t, "POST", "/api/users/register", map[string]string{"email": "short@example.com", "password": "short", "name": "Bob"}).
		ExpectProblem(t, http.StatusBadRequest, "invalid-request")

	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	c.Do(t, "POST", "/api/users/login", map[string]string{"email": email, "password": "correct horse"}).Expect(t, http.StatusOK, &tok)
	if tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn <= 0 {
		t.Fatalf("login answer %+v", tok)
	}
	wrong := c.Do(t, "POST", "/api/users/login", map[string]string{"email": email, "password": "wrong password"}).ExpectProblem(t, http.StatusUnauthorized, "")
	unknown := c.Do(t, "POST", "/api/users/login", map[string]string{"email": "nobody-" + email, "password": "wrong password"}).ExpectProblem(t, http.StatusUnauthorized, "")
	if wrong.Type != unknown.Type || wrong.Detail != unknown.Detail {
		t.Errorf("unknown email and wrong password must look alike: %+v vs %+v", wrong, unknown)
	}

	c.Token = tok.AccessToken
	var me map[string]any
	c.Do(t, "GET", "/api/users/me", nil).Expect(t, http.StatusOK, &me)
	if me["id"] != user.ID || me["email"] != email || me["role"] != "customer" {
		t.Errorf("me = %v", me)
	}
}

func TestOrdersNeedAToken(t *testing.T) {
	t.Parallel()
	newClient(t).Do(t, "GET", "/api/orders", nil).ExpectProblem(t, http.StatusUnauthorized, "unauthorized")
}

// Every scrape target of Prometheus — the three services, the exporters,
// Alertmanager and Prometheus itself — must be up.
func TestPrometheusTargetsUp(t *testing.T) {
	t.Parallel()
	want := []string{"catalog", "users", "orders", "nginx", "postgres", "redis", "alertmanager", "prometheus"}
	c := &Client{Base: mustStack(t).Prometheus, HTTP: newClient(t).HTTP}
	var down []string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		var targets struct {
			Data struct {
				ActiveTargets []struct {
					Labels    map[string]string `json:"labels"`
					Health    string            `json:"health"`
					LastError string            `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		c.Do(t, "GET", "/api/v1/targets?state=active", nil).Expect(t, http.StatusOK, &targets)
		up := map[string]bool{}
		down = nil
		for _, tg := range targets.Data.ActiveTargets {
			if tg.Health == "up" {
				up[tg.Labels["job"]] = true
			} else {
				down = append(down, fmt.Sprintf("%s %s: %s %s", tg.Labels["job"], tg.Labels["instance"], tg.Health, tg.LastError))
			}
		}
		missing := 0
		for _, job := range want {
			if !up[job] {
				missing++
			}
		}
		if missing == 0 && len(down) == 0 {
			return
		}
	}
	t.Errorf("targets not all up after 90s: down %v", down)
}
