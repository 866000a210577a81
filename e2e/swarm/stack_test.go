package swarm

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/load"
	"bazaar/e2e/internal/shop"
)

// The tests run in this file's order on the one stack, after those of
// observability_test.go: the shop, then scaling, rolling updates and lost
// tasks, each under load.

// TestShop runs the shop suite (e2e/internal/shop), the one the root
// package runs on the Compose stack, through nginx on the swarm: the
// storefront over HTTP and HTTPS, the order's journey, the invariants under
// concurrency and retries, and the answers to strangers and forgers.
func TestShop(t *testing.T) {
	shop.Run(t, theShop(t))
}

// TestEdgeReachesOnlyTheAPI: from nginx, each service's API port answers
// and its internal port, bound to the internal network's subnet alone,
// takes no connection even at the task's edge address.
func TestEdgeReachesOnlyTheAPI(t *testing.T) {
	mustStack(t)
	nginx := strings.Fields(mustDocker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+stack.service("nginx")))
	if len(nginx) == 0 {
		t.Fatal("no nginx container")
	}
	curl := func(url string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return docker(ctx, "exec", nginx[0], "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url)
	}
	for _, svc := range []string{"catalog", "users", "orders"} {
		edge := tasks(t, svc, "edge")
		if len(edge) == 0 {
			t.Fatalf("%s has no running task on the edge network", svc)
		}
		for _, addr := range edge {
			if out, err := curl("http://" + addr + ":8080/readyz"); err != nil || out != "200" {
				t.Errorf("nginx → %s task %s:8080/readyz: %q, %v; want 200", svc, addr, out, err)
			}
			if out, err := curl("http://" + addr + ":8081/metrics"); err == nil {
				t.Errorf("nginx → %s task %s:8081 answered %s, want no connection", svc, addr, out)
			}
		}
	}
}

// TestScaleCatalog scales catalog from 2 tasks to 4 and back to 2 while
// reads flow through nginx, and requires that no request fails, that nginx
// sends requests to every one of the 4 tasks with no reload, and that
// Prometheus scrapes every task.
func TestScaleCatalog(t *testing.T) {
	s := mustStack(t)
	p := newProduct(t, 1000)
	mix := []request{
		{"GET /api/catalog/products/{id}", "GET", "/api/catalog/products/" + p.ID, "", nil, []int{http.StatusOK}},
		{"GET /api/catalog/products", "GET", "/api/catalog/products?limit=5", "", nil, []int{http.StatusOK}},
	}
	l := newLoad(mix)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const rate = 30

	if n := len(tasks(t, "catalog", "edge")); n != 2 {
		t.Fatalf("catalog runs %d tasks before the test, want 2", n)
	}
	// Up: 2 → 4, under load, then 10 s at 4.
	up := l.start(ctx, "scale-up", rate, 3*time.Minute)
	start := time.Now()
	mustDocker(t, "service", "scale", "--detach", s.service("catalog")+"=4")
	took := converge(t)
	t.Logf("catalog 2 → 4 tasks: converged and healthy in %s", took.Round(100*time.Millisecond))
	at4 := time.Now()
	time.Sleep(10 * time.Second)
	upRes := up.Stop()
	report(t, "load while scaling 2 → 4 and at 4", upRes, l.kind)

	four := tasks(t, "catalog", "edge")
	if len(four) != 4 {
		t.Fatalf("catalog runs %d tasks, want 4", len(four))
	}
	// Every task got requests once all four ran (ids of the requests sent
	// after convergence).
	firstAt4 := 0
	for _, r := range upRes.List {
		if r.Start >= up.Offset(at4) && (firstAt4 == 0 || r.I < firstAt4) {
			firstAt4 = r.I
		}
	}
	served := map[string]int{}
	for i, addr := range upstreams(t, "scale-up-") {
		if i >= firstAt4 {
			served[addr]++
		}
	}
	t.Logf("requests per catalog task at 4 tasks (address: requests): %v", served)
	for id, addr := range four {
		if served[addr] == 0 {
			t.Errorf("catalog task %s (%s) served none of the requests sent at 4 tasks", id, addr)
		}
	}
	if !eventually(45*time.Second, func() bool { return promCount(t, `count(up{job="catalog"} == 1)`) == 4 }) {
		t.Errorf("Prometheus scrapes %d catalog tasks, want 4", promCount(t, `count(up{job="catalog"} == 1)`))
	}

	// Down: 4 → 2, under load, then 5 s at 2.
	down := l.start(ctx, "scale-down", rate, 3*time.Minute)
	mustDocker(t, "service", "scale", "--detach", s.service("catalog")+"=2")
	took = converge(t)
	t.Logf("catalog 4 → 2 tasks: converged and healthy in %s (%s since the scale-up began)", took.Round(100*time.Millisecond), time.Since(start).Round(time.Second))
	time.Sleep(5 * time.Second)
	downRes := down.Stop()
	report(t, "load while scaling 4 → 2 and at 2", downRes, l.kind)
	if n := len(tasks(t, "catalog", "edge")); n != 2 {
		t.Errorf("catalog runs %d tasks, want 2", n)
	}
	if !eventually(45*time.Second, func() bool { return promCount(t, `count(up{job="catalog"} == 1)`) == 2 }) {
		t.Errorf("Prometheus scrapes %d catalog tasks, want 2", promCount(t, `count(up{job="catalog"} == 1)`))
	}

	for name, res := range map[string]load.Results{"2 → 4": upRes, "4 → 2": downRes} {
		if f := len(res.Failures()); f > 0 || len(res.List) == 0 {
			t.Errorf("scaling %s: %d of %d requests failed; want none", name, f, len(res.List))
		}
	}
}

// TestRollingUpdate replaces every task of catalog, users and orders, one
// service after another, by a forced update (the path a new image takes:
// start-first, health-gated), while a steady mix of reads, logins and order
// placements runs through nginx, and requires that not one request fails.
func TestRollingUpdate(t *testing.T) {
	s := mustStack(t)
	customer := theShop(t).NewShopper(t, "Swarm Customer")
	p := newProduct(t, 1_000_000)
	l := newLoad(mixed(customer, p))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const rate = 20

	warm := l.start(ctx, "update-warm", rate, 3*time.Second).Wait()
	report(t, "load before the updates", warm, l.kind)
	if f := len(warm.Failures()); f > 0 || len(warm.List) == 0 {
		t.Fatalf("%d of %d requests failed before the updates; the stack is not ready", f, len(warm.List))
	}

	run := l.start(ctx, "update", rate, 4*time.Minute)
	start := time.Now()
	for _, svc := range []string{"catalog", "users", "orders"} {
		before := tasks(t, svc, "edge")
		asked := time.Now()
		mustDocker(t, "service", "update", "--detach", "--force", s.service(svc))
		updateStarted(t, svc, asked)
		converge(t)
		took := time.Since(asked)
		after := tasks(t, svc, "edge")
		t.Logf("%s: every task replaced, converged and healthy in %s", svc, took.Round(100*time.Millisecond))
		for id := range after {
			if _, old := before[id]; old {
				t.Errorf("%s: task %s survived the update", svc, id)
			}
		}
		if len(after) != len(before) {
			t.Errorf("%s: %d tasks after the update, %d before", svc, len(after), len(before))
		}
	}
	time.Sleep(3 * time.Second) // requests after the last task left count too
	res := run.Stop()
	t.Logf("three rolling updates in %s", time.Since(start).Round(time.Second))
	report(t, "load during the updates", res, l.kind)
	t.Logf("%d requests met a kept-alive connection closed before any answer and were sent again, as a browser does", len(l.client.Resent()))
	if f := len(res.Failures()); f > 0 || len(res.List) == 0 {
		t.Errorf("%d of %d requests failed during the rolling updates; want none", f, len(res.List))
	}
	if want := int(res.Elapsed.Seconds() * rate * 0.9); len(res.List) < want {
		t.Errorf("the load got %d answers in %s, want at least %d", len(res.List), res.Elapsed.Round(time.Second), want)
	}
	wantOrders(t, customer.API, l.ordersPlaced())
}

// TestTaskKilled kills one task of each of catalog, users and orders (the
// container gets SIGKILL: no draining) under the same mix of load, and
// requires that Swarm replaces it and that every order answered 201 is
// there afterwards. Requests in flight on the killed task may fail; how
// many is reported.
func TestTaskKilled(t *testing.T) {
	s := mustStack(t)
	customer := theShop(t).NewShopper(t, "Swarm Customer")
	p := newProduct(t, 1_000_000)
	l := newLoad(mixed(customer, p))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	run := l.start(ctx, "kill", 20, 3*time.Minute)
	time.Sleep(3 * time.Second)
	for _, svc := range []string{"catalog", "users", "orders"} {
		before := tasks(t, svc, "edge")
		containers := strings.Fields(mustDocker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+s.service(svc)))
		if len(containers) == 0 {
			t.Fatalf("%s: no container", svc)
		}
		killed := time.Now()
		mustDocker(t, "kill", containers[0])
		// The task is seen to fail first, then replaced.
		if !eventually(30*time.Second, func() bool {
			return len(tasks(t, svc, "edge")) < len(before) || !sameKeys(tasks(t, svc, "edge"), before)
		}) {
			t.Fatalf("%s: Swarm did not notice the killed task", svc)
		}
		converge(t)
		after := tasks(t, svc, "edge")
		t.Logf("%s: a task killed; replaced, converged and healthy after %s", svc, time.Since(killed).Round(100*time.Millisecond))
		if len(after) != len(before) || sameKeys(after, before) {
			t.Errorf("%s: tasks %v after the kill, %v before; want as many, one new", svc, after, before)
		}
	}
	time.Sleep(3 * time.Second)
	res := run.Stop()
	report(t, "load while tasks were killed", res, l.kind)
	if len(res.List) == 0 {
		t.Fatal("no answers")
	}
	wantOrders(t, customer.API, l.ordersPlaced())
}

// updateStarted waits until Swarm has begun the update of a service asked
// for at asked, so that waiting for convergence cannot end before it.
func updateStarted(t *testing.T, svc string, asked time.Time) {
	t.Helper()
	ok := eventually(30*time.Second, func() bool {
		var status struct {
			State     string
			StartedAt time.Time
		}
		out := mustDocker(t, "service", "inspect", "--format", "{{json .UpdateStatus}}", stack.service(svc))
		return json.Unmarshal([]byte(out), &status) == nil && status.StartedAt.After(asked.Add(-time.Second))
	})
	if !ok {
		t.Fatalf("%s: the update did not begin within 30s", svc)
	}
}

// wantOrders requires that every order answered 201 is the customer's and
// confirmed.
func wantOrders(t *testing.T, customer *shop.Client, ids []string) {
	t.Helper()
	if len(ids) == 0 {
		t.Fatal("no order was placed")
	}
	lost := 0
	for _, id := range ids {
		req, _ := http.NewRequest("GET", customer.Base+"/api/orders/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+customer.Token)
		resp, err := customer.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var o shop.Order
		err = json.NewDecoder(resp.Body).Decode(&o)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || o.ID != id || o.Status != "confirmed" {
			lost++
			t.Errorf("order %s, answered 201: now status %d, %+v", id, resp.StatusCode, o)
		}
	}
	t.Logf("%d orders answered 201, %d of them lost", len(ids), lost)
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
