package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bazaar/e2e/internal/load"
)

// TestFaults breaks a stack of its own while traffic flows through nginx,
// and checks what users see: a burst right after the services restart,
// PostgreSQL killed, Redis stopped, a catalog replica killed, and every
// service restarted one container at a time. The services reach PostgreSQL
// through Toxiproxy, which slows the link down where a subtest says so.
// The subtests run in order on one stack, each leaving it as it found it.
func TestFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	f := startFaultStack(ctx, t)
	t.Run("ColdBurst", func(t *testing.T) {
		t.Run("NoLatency", func(t *testing.T) { testColdBurst(ctx, t, f, 0) })
		t.Run("SlowConnections", func(t *testing.T) { testColdBurst(ctx, t, f, pgLatency(t)) })
	})
	t.Run("PostgresKilled", func(t *testing.T) { testPostgresKilled(ctx, t, f) })
	t.Run("RedisStopped", func(t *testing.T) { testRedisStopped(ctx, t, f) })
	t.Run("CatalogReplicaKilled", func(t *testing.T) { testCatalogReplicaKilled(ctx, t, f) })
	t.Run("NginxReloads", func(t *testing.T) { testNginxReloads(ctx, t, f) })
	t.Run("RollingRestart", func(t *testing.T) { testRollingRestart(ctx, t, f) })
}

// orderBook keeps the orders that were answered 201, by shopper.
type orderBook struct {
	mu     sync.Mutex
	placed map[int][]string
}

func (b *orderBook) add(shopper int, body []byte) {
	var o shopOrder
	if json.Unmarshal(body, &o) == nil && o.ID != "" {
		b.mu.Lock()
		b.placed[shopper] = append(b.placed[shopper], o.ID)
		b.mu.Unlock()
	}
}

// check fails the test unless every order answered 201 is there, confirmed,
// for the shopper who placed it.
func (b *orderBook) check(t *testing.T, shoppers []*Client) {
	t.Helper()
	n := 0
	for s, ids := range b.placed {
		for _, id := range ids {
			var o shopOrder
			shoppers[s].Do(t, "GET", "/api/orders/"+id, nil).Expect(t, http.StatusOK, &o)
			if o.Status != "confirmed" {
				t.Errorf("order %s was answered 201 but is %q", id, o.Status)
			}
			n++
		}
	}
	t.Logf("all %d orders answered 201 are there, confirmed", n)
}

// place is a load request placing one order of one unit of p for shopper
// i % len(shoppers), with an idempotency key, so that clients may retry it.
// It returns the outcome and the answer's body.
func place(c *http.Client, base string, shoppers []*Client, p shopProduct, book *orderBook) func(ctx context.Context, i int) (load.Outcome, []byte) {
	body := map[string]any{"items": []map[string]any{{"product_id": p.ID, "quantity": 1}}}
	return func(ctx context.Context, i int) (load.Outcome, []byte) {
		s := i % len(shoppers)
		out, data := load.Call(ctx, c, base, "POST", "/api/orders", shoppers[s].Token, body, "Idempotency-Key", "fault-"+uniqueWord())
		if out.Status == http.StatusCreated {
			book.add(s, data)
		}
		return out, data
	}
}

// confirmedUnits sums the units of the shoppers' confirmed orders of p.
func confirmedUnits(t *testing.T, shoppers []*Client, p shopProduct) int {
	t.Helper()
	units := 0
	for _, s := range shoppers {
		for cursor := ""; ; {
			var page struct {
				Items []struct {
					shopOrder
				} `json:"items"`
				NextCursor *string `json:"next_cursor"`
			}
			s.Do(t, "GET", "/api/orders?limit=100&cursor="+url.QueryEscape(cursor), nil).Expect(t, http.StatusOK, &page)
			for _, o := range page.Items {
				for _, it := range o.Items {
					if o.Status == "confirmed" && it.ProductID == p.ID {
						units += it.Quantity
					}
				}
			}
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
	}
	return units
}

// testColdBurst restarts catalog, users and orders, and as soon as they are
// ready sends 100 requests at once that each need PostgreSQL (logins,
// product reads that miss the cache, searches, orders): every one must
// succeed, with latency (each way) on the link to PostgreSQL or without.
func testColdBurst(ctx context.Context, t *testing.T, f *faultStack, latency time.Duration) {
	f.logsOnFailure(t)
	const n = 100
	kinds := [...]string{"login", "product", "search", "order"}
	kind := func(i int) string { return kinds[i%len(kinds)] }
	each := n / len(kinds)
	// Everything the burst needs is made first, on the fast link: an
	// account for each login and each order (at most 10 attempts at once per
	// account pass the login limiter), a product for each read and each
	// order (a product of its own, or the orders would queue on its row).
	emails := f.newAccounts(t, each)
	shoppers := f.newShoppers(t, each)
	products := make([]shopProduct, 2*each)
	for i := range products {
		products[i] = f.newProduct(t, 10)
	}
	if latency > 0 {
		defer f.slowDatabase(t, latency)()
	} else {
		f.logConnectTimes(t, 5)
	}
	f.restartServices(ctx, t, "catalog", "users", "orders")
	// Nothing in the cache: every read and search goes to PostgreSQL.
	f.docker(t, "exec", f.container(t, "redis"), "/etc/bazaar/redis.sh", "cli", "FLUSHALL")

	requests := make([]burstRequest, n)
	for i := range requests {
		k := i / len(kinds)
		switch kind(i) {
		case "login":
			body := map[string]string{"email": emails[k], "password": shopperPassword}
			requests[i] = func(ctx context.Context, c *http.Client) (load.Outcome, []byte) {
				return load.Call(ctx, c, f.BaseURL, "POST", "/api/users/login", "", body)
			}
		case "product":
			path := "/api/catalog/products/" + products[k].ID
			requests[i] = func(ctx context.Context, c *http.Client) (load.Outcome, []byte) {
				return load.Call(ctx, c, f.BaseURL, "GET", path, "", nil)
			}
		case "search":
			path := "/api/catalog/products?q=" + uniqueWord()
			requests[i] = func(ctx context.Context, c *http.Client) (load.Outcome, []byte) {
				return load.Call(ctx, c, f.BaseURL, "GET", path, "", nil)
			}
		case "order":
			body := map[string]any{"items": []map[string]any{{"product_id": products[each+k].ID, "quantity": 1}}}
			token, key := shoppers[k].Token, "burst-"+uniqueWord()
			requests[i] = func(ctx context.Context, c *http.Client) (load.Outcome, []byte) {
				return load.Call(ctx, c, f.BaseURL, "POST", "/api/orders", token, body, "Idempotency-Key", key)
			}
		}
	}
	rs := burst(ctx, requests)
	report(t, fmt.Sprintf("burst of %d after a restart, latency %s each way", n, latency), rs, kind)
	if wrong := rs.Filter(func(r load.Result) bool { return r.Err != nil }).List; len(wrong) > 0 {
		t.Errorf("%d of %d requests were not answered 200 or 201", len(wrong), n)
	}
}

// testPostgresKilled kills PostgreSQL under a stream of orders, searches
// and profile reads, with latency on the link to PostgreSQL (a new
// connection takes well over 100ms): every answer in the outage must be a
// 503 problem+json within a second, readiness must fail, and the services
// must recover by themselves, every one ready within 5s of PostgreSQL
// accepting connections again, without losing or overselling a unit. The
// proxy refuses connections while PostgreSQL is down (see cutDatabase);
// it lets them through again just before PostgreSQL starts.
func testPostgresKilled(ctx context.Context, t *testing.T, f *faultStack) {
	f.logsOnFailure(t)
	const initial = 5000
	p := f.newProduct(t, initial)
	shoppers := f.newShoppers(t, 4)
	fastLink := f.slowDatabase(t, pgLatency(t))
	book := &orderBook{placed: map[int][]string{}}
	c := load.NewClient(64, 10*time.Second)
	order := place(c, f.BaseURL, shoppers, p, book)
	kind := func(i int) string { return [...]string{"order", "order", "search", "me"}[i%4] }
	run := load.Start(ctx, load.Options{Rate: 40, Workers: 64, Duration: 3 * time.Minute}, func(ctx context.Context, i int) load.Outcome {
		var out load.Outcome
		switch kind(i) {
		case "order":
			out, _ = order(ctx, i/2)
		case "search": // a word never searched before misses the cache: PostgreSQL answers
			out, _ = load.Call(ctx, c, f.BaseURL, "GET", "/api/catalog/products?q="+uniqueWord(), "", nil)
		case "me":
			out, _ = load.Call(ctx, c, f.BaseURL, "GET", "/api/users/me", shoppers[i%len(shoppers)].Token, nil)
		}
		return expect(out, http.StatusOK, http.StatusCreated, http.StatusServiceUnavailable)
	})
	services := map[string]string{}
	for _, s := range []string{"catalog", "users", "orders"} {
		services[s] = f.container(t, s)
	}
	pg := f.container(t, "postgres")
	defer f.docker(t, "start", pg) // whatever happens, the next subtest needs it

	time.Sleep(3 * time.Second)
	down := time.Now()
	// PostgreSQL becomes unreachable, and dies (see cutDatabase).
	reconnect := f.cutDatabase(t)
	f.docker(t, "kill", pg)
	for s, id := range services {
		if !eventually(15*time.Second, func() bool { return !f.ready(id) }) {
			t.Errorf("%s: /readyz still passes 15s after PostgreSQL was killed", s)
		}
	}
	time.Sleep(time.Until(down.Add(8 * time.Second)))
	reconnect()
	up := time.Now()
	f.docker(t, "start", pg)
	var (
		wg              sync.WaitGroup
		accepting       time.Time
		connectTook     time.Duration
		pgErr, readyErr error
		ready           map[string]time.Time
		names           = slices.Sorted(maps.Keys(services))
	)
	wg.Go(func() { accepting, connectTook, pgErr = f.waitPostgres(ctx, time.Minute) })
	wg.Go(func() { ready, readyErr = f.readyTimes(ctx, names, time.Minute) })
	wg.Wait()
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	if readyErr != nil {
		t.Fatalf("after PostgreSQL restarted: %v", readyErr)
	}
	recovered := time.Now()
	t.Logf("PostgreSQL started at %s; accepting connections through the proxy at %s (%s later; that connection took %s)",
		up.Format(time.StampMilli), accepting.Format(time.StampMilli), load.Round(accepting.Sub(up)), load.Round(connectTook))
	for _, s := range names {
		after := ready[s].Sub(accepting)
		t.Logf("%s: /readyz passes at %s, %s after PostgreSQL accepted connections", s, ready[s].Format(time.StampMilli), load.Round(after))
		if after > 5*time.Second {
			t.Errorf("%s: ready %s after PostgreSQL accepted connections again, want within 5s", s, load.Round(after))
		}
	}
	time.Sleep(5 * time.Second)
	rs := run.Stop()
	// The checks below read every order back: on the fast link.
	fastLink()
	report(t, "postgres killed", rs, kind)

	downAt, upAt, recoveredAt := run.Offset(down), run.Offset(up), run.Offset(recovered)
	t.Logf("PostgreSQL down from %s to %s into the run; every service ready again at %s", load.Round(downAt), load.Round(upAt), load.Round(recoveredAt))
	if wrong := rs.Filter(func(r load.Result) bool { return r.Err != nil }); len(wrong.List) > 0 {
		t.Errorf("%d answers were neither a success nor a 503 problem+json", len(wrong.List))
	}
	outage := rs.Filter(func(r load.Result) bool { return r.Start >= downAt+time.Second && r.Start < upAt })
	unavailable := outage.Filter(func(r load.Result) bool { return r.Status == http.StatusServiceUnavailable })
	t.Logf("during the outage: %s; %d answered 503", outage.Summary(), len(unavailable.List))
	for k := range 3 {
		name := [...]string{"order", "search", "me"}[k]
		n := len(unavailable.Filter(func(r load.Result) bool { return kind(r.I) == name }).List)
		if n == 0 {
			t.Errorf("no %s request answered 503 while PostgreSQL was down", name)
		}
	}
	if s := outage.Summary(); s.Max > time.Second {
		t.Errorf("an answer during the outage took %s, want at most 1s", load.Round(s.Max))
	}
	after := rs.Filter(func(r load.Result) bool { return r.Start >= recoveredAt+time.Second })
	if s := after.Summary(); s.Requests < 20 || s.Failed > 0 {
		t.Errorf("after recovery: %s; want at least 20 requests, all successful", s)
	}

	book.check(t, shoppers)
	// Stock reserved for orders the outage kept from being recorded is
	// released by the reconciler's sweep once their ids are old enough
	// (about 75s): wait for that.
	var stock, units int
	settled := eventually(150*time.Second, func() bool {
		stock, units = f.product(t, p.ID).Stock, confirmedUnits(t, shoppers, p)
		return stock+units == initial
	})
	t.Logf("stock %d + confirmed units %d, initial %d", stock, units, initial)
	if !settled || stock < 0 {
		t.Errorf("stock %d + confirmed units %d != initial stock %d", stock, units, initial)
	}
}

// product reads a product of the fault stack.
func (f *faultStack) product(t *testing.T, id string) shopProduct {
	t.Helper()
	var p shopProduct
	f.client("").Do(t, "GET", "/api/catalog/products/"+id, nil).Expect(t, http.StatusOK, &p)
	return p
}

// testRedisStopped stops Redis under catalog reads: not one may fail, and
// once Redis is back the catalog caches again.
func testRedisStopped(ctx context.Context, t *testing.T, f *faultStack) {
	f.logsOnFailure(t)
	products := []shopProduct{f.newProduct(t, 10), f.newProduct(t, 10), f.newProduct(t, 10)}
	cacheMetrics := func() (hits, bypassed float64) {
		m := f.internal(t, "http://catalog-internal:8081/metrics")
		return metric(m, "catalog_cache_hits_total", ""), metric(m, "catalog_cache_bypassed_total", "")
	}
	c := load.NewClient(64, 10*time.Second)
	kind := func(i int) string { return [...]string{"product", "product", "list", "categories"}[i%4] }
	run := load.Start(ctx, load.Options{Rate: 40, Workers: 64, Duration: 3 * time.Minute}, func(ctx context.Context, i int) load.Outcome {
		path := map[string]string{
			"product":    "/api/catalog/products/" + products[i%len(products)].ID,
			"list":       "/api/catalog/products?category=fault-tests",
			"categories": "/api/catalog/categories",
		}[kind(i)]
		out, _ := load.Call(ctx, c, f.BaseURL, "GET", path, "", nil)
		return expect(out, http.StatusOK)
	})
	redis := f.container(t, "redis")
	defer f.docker(t, "start", redis)

	time.Sleep(3 * time.Second)
	hits, bypassed := cacheMetrics()
	f.docker(t, "stop", redis)
	if !eventually(15*time.Second, func() bool { _, b := cacheMetrics(); return b > bypassed+10 }) {
		t.Error("reads did not bypass the cache while Redis was stopped")
	}
	time.Sleep(3 * time.Second)
	downHits, _ := cacheMetrics()
	f.docker(t, "start", redis)
	f.waitHealthy(t, redis)
	restarted, _ := cacheMetrics()
	resumed := eventually(30*time.Second, func() bool { h, _ := cacheMetrics(); return h > restarted+20 })
	time.Sleep(2 * time.Second)
	rs := run.Stop()
	report(t, "redis stopped", rs, kind)
	final, _ := cacheMetrics()
	t.Logf("cache hits: %.0f before the stop, %.0f while stopped, %.0f when Redis was back, %.0f at the end", hits, downHits, restarted, final)
	if !resumed {
		t.Error("cache hits did not rise within 30s of Redis's return")
	}
	if n := len(rs.Failures()); n > 0 {
		t.Errorf("%d of %d catalog reads failed; want none", n, len(rs.List))
	}
}

// testCatalogReplicaKilled runs two catalog replicas and kills one under
// read load: fewer than 0.5% of the reads may fail.
func testCatalogReplicaKilled(ctx context.Context, t *testing.T, f *faultStack) {
	f.logsOnFailure(t)
	f.compose(t, "up", "--detach", "--no-deps", "--no-build", "--no-recreate", "--scale", "catalog=2", "catalog")
	replicas := f.containers(t, "catalog")
	if len(replicas) != 2 {
		t.Fatalf("catalog has %d running containers after scaling to 2", len(replicas))
	}
	for _, id := range replicas {
		f.waitHealthy(t, id)
	}
	f.reloadNginx(t)
	victim := replicas[0]
	defer func() {
		f.docker(t, "rm", "--force", victim)
		f.reloadNginx(t)
	}()

	products := []shopProduct{f.newProduct(t, 10), f.newProduct(t, 10), f.newProduct(t, 10)}
	c := load.NewClient(64, 10*time.Second)
	kind := func(i int) string { return [...]string{"product", "product", "product", "list"}[i%4] }
	run := load.Start(ctx, load.Options{Rate: 100, Workers: 64, Duration: 20 * time.Second}, func(ctx context.Context, i int) load.Outcome {
		path := "/api/catalog/products/" + products[i%len(products)].ID
		if kind(i) == "list" {
			path = "/api/catalog/products?category=fault-tests"
		}
		out, _ := load.Call(ctx, c, f.BaseURL, "GET", path, "", nil)
		return expect(out, http.StatusOK)
	})
	time.Sleep(5 * time.Second)
	for _, id := range replicas {
		served := metric(f.internal(t, "http://"+f.ip(t, id, "internal")+":8081/metrics"), "http_requests_total", `route="/api/catalog/products/:id"`)
		t.Logf("replica %.12s answered %.0f product reads before the kill", id, served)
		if served == 0 {
			t.Errorf("replica %.12s got no traffic: nginx does not balance over both", id)
		}
	}
	killedAt := run.Offset(time.Now())
	f.docker(t, "kill", victim)
	rs := run.Wait()
	report(t, "catalog replica killed", rs, kind)
	t.Logf("replica killed %s into the run; after that: %s", load.Round(killedAt),
		rs.Filter(func(r load.Result) bool { return r.Start >= killedAt }).Summary())
	failed := len(rs.Failures())
	if len(rs.List) < 1000 || float64(failed) >= 0.005*float64(len(rs.List)) {
		t.Errorf("%d of %d reads failed; want at least 1000 reads and under 0.5%% failed", failed, len(rs.List))
	}
}

// testNginxReloads reloads nginx again and again, as deploys do, while
// clients read a product list large enough to arrive in pieces. nginx is
// held to a third of a core, so each answer spends longer in flight. Not
// one answer may be cut short, and no worker that a reload retires may exit
// with a connection still open (nginx then logs "open socket ... left in
// connection").
func testNginxReloads(ctx context.Context, t *testing.T, f *faultStack) {
	f.logsOnFailure(t)
	for range 40 { // a list of some 16 KB, which the catalog sends in pieces
		f.newProduct(t, 1)
	}
	nginx := f.container(t, "nginx")
	// A CPU quota, unlike --cpus, can be lifted again (-1).
	f.docker(t, "update", "--cpu-period", "100000", "--cpu-quota", "30000", nginx)
	defer f.docker(t, "update", "--cpu-quota", "-1", nginx)
	since := time.Now()
	c := load.NewClient(32, 10*time.Second)
	traffic := load.Start(ctx, load.Options{Workers: 24, Duration: 5 * time.Minute}, func(ctx context.Context, i int) load.Outcome {
		out, body := load.Call(ctx, c, f.BaseURL, "GET", "/api/catalog/products?category=fault-tests&limit=50", "", nil)
		if out.Err == nil && !json.Valid(body) {
			out.Err = fmt.Errorf("%w: %d bytes that are not JSON", errUnexpected, len(body))
		}
		return expect(out, http.StatusOK)
	})
	const reloads = 40
	for range reloads {
		f.reloadNginx(t)
		time.Sleep(300 * time.Millisecond)
	}
	rs := traffic.Stop()
	report(t, fmt.Sprintf("%d nginx reloads", reloads), rs, nil)
	if n := len(rs.Failures()); n > 0 || len(rs.List) < 1000 {
		t.Errorf("%d of %d requests failed; want at least 1000 requests and none failed", n, len(rs.List))
	}
	logs, err := exec.CommandContext(ctx, "docker", "logs", "--since", since.Format(time.RFC3339Nano), nginx).CombinedOutput()
	if err != nil {
		t.Fatalf("docker logs: %v: %s", err, logs)
	}
	for line := range strings.Lines(string(logs)) {
		if strings.Contains(line, "open socket") {
			t.Errorf("nginx: %s", strings.TrimSpace(line))
		}
	}
}

// testRollingRestart replaces every service's container, one service at a
// time, with the project's deploy script, under mixed load: not one
// request may fail.
func testRollingRestart(ctx context.Context, t *testing.T, f *faultStack) {
	f.logsOnFailure(t)
	p := f.newProduct(t, 100000)
	shoppers := f.newShoppers(t, 3)
	var existing []string
	for _, s := range shoppers {
		var o shopOrder
		s.Do(t, "POST", "/api/orders", map[string]any{"items": []map[string]any{{"product_id": p.ID, "quantity": 1}}}).Expect(t, http.StatusCreated, &o)
		existing = append(existing, o.ID)
	}
	before := map[string]string{}
	for _, s := range []string{"catalog", "users", "orders"} {
		before[s] = f.container(t, s)
	}

	book := &orderBook{placed: map[int][]string{}}
	c := load.NewClient(64, 10*time.Second)
	order := place(c, f.BaseURL, shoppers, p, book)
	kind := func(i int) string { return [...]string{"product", "list", "me", "order get", "order post"}[i%5] }
	traffic := load.Start(ctx, load.Options{Rate: 80, Workers: 64, Duration: 8 * time.Minute}, func(ctx context.Context, i int) load.Outcome {
		s := i % len(shoppers)
		var out load.Outcome
		switch kind(i) {
		case "product":
			out, _ = load.Call(ctx, c, f.BaseURL, "GET", "/api/catalog/products/"+p.ID, "", nil)
		case "list":
			out, _ = load.Call(ctx, c, f.BaseURL, "GET", "/api/catalog/products?category=fault-tests", "", nil)
		case "me":
			out, _ = load.Call(ctx, c, f.BaseURL, "GET", "/api/users/me", shoppers[s].Token, nil)
		case "order get":
			out, _ = load.Call(ctx, c, f.BaseURL, "GET", "/api/orders/"+existing[s], shoppers[s].Token, nil)
		case "order post":
			var problem []byte
			if out, problem = order(ctx, i/5); out.Status >= 500 {
				// Say which 5xx it was: the database, the catalog, …
				out.Err = fmt.Errorf("%w: status %d: %.300s", errUnexpected, out.Status, problem)
			}
		}
		return expect(out, http.StatusOK, http.StatusCreated)
	})
	time.Sleep(3 * time.Second)
	dctx, cancel := context.WithTimeout(ctx, 7*time.Minute)
	defer cancel()
	deploy := exec.CommandContext(dctx, filepath.Join(f.root, "scripts", "deploy.sh"), "--no-build", "catalog", "users", "orders")
	deploy.Env = f.env
	out, err := deploy.CombinedOutput()
	t.Logf("scripts/deploy.sh:\n%s", out)
	time.Sleep(3 * time.Second)
	rs := traffic.Stop()
	if err != nil {
		t.Fatal(err)
	}
	report(t, "rolling restart", rs, kind)
	for s, old := range before {
		if slices.Contains(f.containers(t, s), old) {
			t.Errorf("%s: container %.12s still runs; the deploy did not replace it", s, old)
		}
	}
	if n := len(rs.Failures()); n > 0 || len(rs.List) < 1000 {
		t.Errorf("%d of %d requests failed; want at least 1000 requests and none failed", n, len(rs.List))
	}
	book.check(t, shoppers)
}
