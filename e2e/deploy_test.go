package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/load"
)

// TestZeroDowntimeDeploy replaces every service with scripts/deploy.sh
// (new container beside the old, nginx reload, drain) while a steady
// load of reads, logins and order placements runs through nginx, and
// requires that not one request fails as a browser would see it: the load's
// client resends, once, a request that met a kept-alive connection closed
// before any byte of an answer, as browsers do (load.BrowserClient), and the
// test reports how often it did. It runs on a stack of its own.
func TestZeroDowntimeDeploy(t *testing.T) {
	const project = "bazaar-deploy-e2e"
	// As in production, every users container signs with the same key; the
	// development default (a key per process) would invalidate every token
	// when users is replaced. StartStack and the scripts both read it from
	// the process environment.
	t.Setenv("JWT_PRIVATE_KEY", newSigningKeyPEM(t))
	// One customer orders all along: no per-user order limits.
	t.Setenv("ORDERS_MAX_OPEN_PER_USER", "0")
	t.Setenv("ORDERS_MAX_RESERVED_UNITS_PER_USER", "0")
	ctx, s, ops, lim := startOwnStack(t, project)
	// The script's waits (for a container's health, for the service name to
	// list the new containers and drop the old, for nginx's old workers),
	// in the same measure as the test's own.
	for _, setting := range []string{"DEPLOY_HEALTH_TIMEOUT", "DEPLOY_DNS_TIMEOUT", "NGINX_RELOAD_TIMEOUT"} {
		ops.env = append(ops.env, setting+"="+lim.seconds())
	}

	customer := account{Email: fmt.Sprintf("deploy-%s@example.com", uniqueWord()), Password: "correct horse battery", Name: "Deploy Customer"}
	(&Client{Base: s.BaseURL, HTTP: &http.Client{Timeout: lim.request()}}).
		Do(t, "POST", "/api/users/register", map[string]string{"email": customer.Email, "password": customer.Password, "name": customer.Name}).
		Expect(t, http.StatusCreated, nil)
	customer.API = opsSignIn(t, lim, s.BaseURL, customer.Email, customer.Password)
	var product shopProduct
	opsSignIn(t, lim, s.BaseURL, "admin@bazaar.local", secret(t, "admin_password")).Do(t, "POST", "/api/catalog/products", map[string]any{
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
	const cycle = time.Second
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
	rate := float64(len(mix)) / cycle.Seconds()
	kind := func(i int) string { return mix[i%len(mix)].name }
	client := load.NewBrowserClient(32, lim.request())
	// send returns the load's request i of a phase. Each request carries an
	// id of its own, which nginx and the services log: a failure can be
	// found in their logs.
	send := func(phase string) load.Func {
		return func(ctx context.Context, i int) load.Outcome {
			r := mix[i%len(mix)]
			headers := []string{"X-Request-Id", fmt.Sprintf("%s-%s-%d", project, phase, i)}
			if r.method == "POST" && r.path == "/api/orders" {
				// What a careful client sends: a retry can then never order twice.
				headers = append(headers, "Idempotency-Key", fmt.Sprintf("%s-%d", phase, i))
			}
			out, body := load.Call(ctx, client.Client, s.BaseURL, r.method, r.path, r.token, r.body, headers...)
			if out = expect(out, r.want); out.Err != nil && len(body) > 0 {
				out.Err = fmt.Errorf("%w; answer: %.300s", out.Err, body)
			}
			return out
		}
	}

	// The same load for a few cycles first: the stack answers all of it
	// before the deploy, and its latency there is this machine's measure
	// of a slow request during the deploy.
	warm := load.Start(ctx, load.Options{Rate: rate, Workers: 64, Duration: 5 * cycle}, send("warm")).Wait()
	report(t, "load before the deploy", warm, kind)
	if failed := len(warm.Failures()); failed > 0 || len(warm.List) == 0 {
		t.Fatalf("%d of %d requests failed before the deploy; the stack is not ready for it", failed, len(warm.List))
	}
	slowAfter := 10 * load.Percentile(warm.Latencies(), 0.99)
	warmResent := len(client.Resent())

	run := load.Start(ctx, load.Options{Rate: rate, Workers: 64, Duration: untilDone(ctx)}, send("deploy"))
	start := time.Now()
	// --no-build: the images the stack started with. The build comes before
	// any container is replaced, so it cannot cost a request; cold, it is
	// three compiles at once for minutes, which only starve the fault tests
	// that run beside this one.
	out, err := ops.tryScript("deploy.sh", "--no-build")
	t.Logf("scripts/deploy.sh (%s):\n%s", time.Since(start).Round(time.Second), out)
	time.Sleep(3 * cycle) // requests after the last reload count too
	res := run.Stop()
	if err != nil {
		t.Fatalf("scripts/deploy.sh: %v", err)
	}
	report(t, "load during the deploy", res, kind)
	slow := 0
	for _, r := range res.List {
		if r.Latency > slowAfter {
			slow++
		}
	}
	// Between an old container's exit and the reload that drops it, nginx
	// still tries its address and moves on only after proxy_connect_timeout.
	t.Logf("%d requests took over %s (ten times the p99 before the deploy)", slow, load.Round(slowAfter))
	// Not failures: what a browser resends, its user never sees; but how
	// often nginx closed a connection under a request is worth knowing.
	resent := client.Resent()[warmResent:]
	t.Logf("%d requests met a kept-alive connection closed before any answer and were sent again, as a browser does", len(resent))
	for i, r := range resent {
		if i == 10 {
			t.Logf("… and %d more", len(resent)-10)
			break
		}
		t.Logf("  resent at %s: %s %s after %v", load.Round(run.Offset(r.At)), r.Method, r.URL, r.Err)
	}
	logUpstreamRetries(t, ops, project+"-deploy-")
	if failures := res.Failures(); len(failures) > 0 {
		t.Errorf("%d of %d requests failed during the deploy; want none", len(failures), len(res.List))
		logRequests(t, ops, project+"-deploy", failures)
	}
	if want := int(res.Elapsed.Seconds() * rate * 0.9); len(res.List) < want {
		t.Errorf("the load got %d answers in %s, want at least %d: it did not keep its rate", len(res.List), res.Elapsed.Round(time.Second), want)
	}
	for _, svc := range services {
		after := strings.Fields(ops.compose(t, "ps", "--quiet", "--status", "running", svc))
		if len(after) != 1 || after[0] == before[svc] {
			t.Errorf("%s: running containers %v after the deploy; want one new container (was %s)", svc, after, before[svc])
		}
	}
}

// untilDone is how long remains until ctx's deadline; a day when it has none
// (whoever made it ends it).
func untilDone(ctx context.Context) time.Duration {
	if deadline, ok := ctx.Deadline(); ok {
		return time.Until(deadline)
	}
	return 24 * time.Hour
}

// logUpstreamRetries logs, of the requests whose ids begin with prefix, how
// many nginx passed to more than one container (upstream_status lists each
// attempt: "504, 200"), by what the attempts before the last got. A client
// does not see these, but they show where the deploy made nginx work.
func logUpstreamRetries(t *testing.T, o *ops, prefix string) {
	t.Helper()
	retried := map[string]int{}
	total := 0
	for _, line := range strings.Split(o.compose(t, "logs", "--no-color", "--no-log-prefix", "nginx"), "\n") {
		var entry struct {
			RequestID      string `json:"request_id"`
			UpstreamStatus string `json:"upstream_status"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || !strings.HasPrefix(entry.RequestID, prefix) {
			continue
		}
		attempts := strings.Split(entry.UpstreamStatus, ", ")
		if len(attempts) < 2 {
			continue
		}
		total++
		retried[strings.Join(attempts[:len(attempts)-1], ", ")]++
	}
	t.Logf("nginx passed %d requests on to another container after (attempt statuses: count) %v", total, retried)
}

// logRequests logs what nginx and the services logged about the first few
// of the failed requests, found by their request ids (prefix-<number>).
func logRequests(t *testing.T, o *ops, prefix string, failed []load.Result) {
	t.Helper()
	ids := map[string]bool{}
	for _, r := range failed[:min(len(failed), 10)] {
		ids[fmt.Sprintf("%s-%d", prefix, r.I)] = true
	}
	logs := o.compose(t, "logs", "--no-color", "nginx", "catalog", "users", "orders")
	for _, line := range strings.Split(logs, "\n") {
		for id := range ids {
			// Exactly this id: prefix-1 is not prefix-12.
			if strings.Contains(line, `"`+id+`"`) {
				t.Logf("  %s", line)
				break
			}
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
