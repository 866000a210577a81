package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/load"
)

// TestZeroDowntimeDeploy replaces every service with scripts/deploy.sh
// (build, new container beside the old, nginx reload, drain) while a steady
// load of reads, logins and order placements runs through nginx, and
// requires that not one request fails. It runs on a stack of its own.
func TestZeroDowntimeDeploy(t *testing.T) {
	const project = "bazaar-deploy-e2e"
	// As in production, every users container signs with the same key; the
	// development default (a key per process) would invalidate every token
	// when users is replaced. StartStack and the scripts both read it from
	// the process environment.
	t.Setenv("JWT_PRIVATE_KEY", newSigningKeyPEM(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	adoptableNetwork(t, project)
	s, err := StartStack(ctx, project)
	if s != nil {
		defer s.Stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	ops := newOps(t, project)

	customer := account{Email: fmt.Sprintf("deploy-%s@example.com", uniqueWord()), Password: "correct horse battery", Name: "Deploy Customer"}
	(&Client{Base: s.BaseURL, HTTP: &http.Client{Timeout: 30 * time.Second}}).
		Do(t, "POST", "/api/users/register", map[string]string{"email": customer.Email, "password": customer.Password, "name": customer.Name}).
		Expect(t, http.StatusCreated, nil)
	customer.API = opsSignIn(t, s.BaseURL, customer.Email, customer.Password)
	var product shopProduct
	opsSignIn(t, s.BaseURL, "admin@bazaar.local", "change-me-admin").Do(t, "POST", "/api/catalog/products", map[string]any{
		"sku": "DEPLOY-" + uniqueWord(), "name": "Deploy load item", "description": "Bought during deploys.",
		"price_cents": 500, "currency": "USD", "stock": 1_000_000, "category": "load",
	}).Expect(t, http.StatusCreated, &product)

	services := []string{"catalog", "users", "orders"}
	before := map[string]string{}
	for _, svc := range services {
		before[svc] = strings.TrimSpace(ops.compose(t, "ps", "--quiet", "--status", "running", svc))
	}

	token := customer.API.Token
	login := map[string]string{"email": customer.Email, "password": customer.Password}
	order := map[string]any{"items": []map[string]any{{"product_id": product.ID, "quantity": 1}}}
	// One second of the load: 20 requests, every service in every second.
	mix := []deployRequest{
		{"GET /api/catalog/products", "GET", "/api/catalog/products?limit=5", "", nil, http.StatusOK},
		{"GET /api/users/me", "GET", "/api/users/me", token, nil, http.StatusOK},
		{"GET /api/catalog/products/{id}", "GET", "/api/catalog/products/" + product.ID, "", nil, http.StatusOK},
		{"GET /api/orders", "GET", "/api/orders?limit=5", token, nil, http.StatusOK},
		{"POST /api/users/login", "POST", "/api/users/login", "", login, http.StatusOK},
		{"GET /api/catalog/categories", "GET", "/api/catalog/categories", "", nil, http.StatusOK},
		{"POST /api/orders", "POST", "/api/orders", token, order, http.StatusCreated},
	}
	mix = slices.Concat(mix, mix[:4], mix, mix[:2])
	client := load.NewClient(32, 20*time.Second)
	run := load.Start(ctx, load.Options{Rate: float64(len(mix)), Workers: 64, Duration: 20 * time.Minute},
		func(ctx context.Context, i int) load.Outcome {
			r := mix[i%len(mix)]
			var headers []string
			if r.method == "POST" && r.path == "/api/orders" {
				// What a careful client sends: a retry can then never order twice.
				headers = []string{"Idempotency-Key", fmt.Sprintf("deploy-%d", i)}
			}
			out, _ := call(ctx, client, s.BaseURL, r.method, r.path, r.token, r.body, headers...)
			return expect(out, r.want)
		})

	start := time.Now()
	out, err := ops.tryScript("deploy.sh")
	t.Logf("scripts/deploy.sh (%s):\n%s", time.Since(start).Round(time.Second), out)
	time.Sleep(3 * time.Second) // requests after the last reload count too
	res := run.Stop()
	if err != nil {
		t.Fatalf("scripts/deploy.sh: %v", err)
	}
	report(t, "load during the deploy", res, func(i int) string { return mix[i%len(mix)].name })
	slow := 0
	for _, r := range res.List {
		if r.Latency > time.Second {
			slow++
		}
	}
	// Between an old container's exit and the reload that drops it, nginx
	// still tries its address and moves on only after proxy_connect_timeout.
	t.Logf("%d requests took over 1s", slow)
	if failed := len(res.Failures()); failed > 0 {
		t.Errorf("%d of %d requests failed during the deploy; want none", failed, len(res.List))
	}
	if want := int(res.Elapsed.Seconds() * float64(len(mix)) * 0.9); len(res.List) < want {
		t.Errorf("the load got %d answers in %s, want at least %d: it did not keep its rate", len(res.List), res.Elapsed.Round(time.Second), want)
	}
	for _, svc := range services {
		after := strings.Fields(ops.compose(t, "ps", "--quiet", "--status", "running", svc))
		if len(after) != 1 || after[0] == before[svc] {
			t.Errorf("%s: running containers %v after the deploy; want one new container (was %s)", svc, after, before[svc])
		}
	}
}

// deployRequest is one kind of request of the deploy test's load and the
// status it must get.
type deployRequest struct {
	name, method, path string
	token              string // sent as a Bearer token when set
	body               any    // JSON-encoded when not nil
	want               int
}
