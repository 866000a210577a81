package swarm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bazaar/e2e/internal/load"
	"bazaar/e2e/internal/shop"
)

// request is one kind of request of a load and the statuses it may get.
type request struct {
	name, method, path string
	token              string // sent as a Bearer token when set
	body               any    // JSON-encoded when not nil
	want               []int
}

// mixed is a load over every service, one second's worth: reads of each
// service, a login and an order placement. Orders are placed with an
// Idempotency-Key, as a careful client does.
func mixed(customer shop.Account, p shop.Product) []request {
	ok := []int{http.StatusOK}
	token := customer.API.Token
	mix := []request{
		{"GET /api/catalog/products", "GET", "/api/catalog/products?limit=5", "", nil, ok},
		{"GET /api/users/me", "GET", "/api/users/me", token, nil, ok},
		{"GET /api/catalog/products/{id}", "GET", "/api/catalog/products/" + p.ID, "", nil, ok},
		{"GET /api/orders", "GET", "/api/orders?limit=5", token, nil, ok},
		{"POST /api/users/login", "POST", "/api/users/login", "", map[string]string{"email": customer.Email, "password": customer.Password}, ok},
		{"GET /api/catalog/categories", "GET", "/api/catalog/categories", "", nil, ok},
		{"POST /api/orders", "POST", "/api/orders", token,
			map[string]any{"items": []map[string]any{{"product_id": p.ID, "quantity": 1}}}, []int{http.StatusCreated}},
	}
	return slices.Concat(mix, mix[:4], mix, mix[:2]) // 20 requests
}

// loadRun is a load of requests through nginx whose answers it records: each
// request carries the request id <phase>-<i>, which nginx logs, and the
// orders it placed (201) are kept.
type loadRun struct {
	mix    []request
	client *load.BrowserClient
	mu     sync.Mutex
	placed []string // ids of the orders answered 201
}

func newLoad(mix []request) *loadRun {
	return &loadRun{mix: mix, client: load.NewBrowserClient(32, 15*time.Second)}
}

// start sends the mix at rate requests per second for at most d.
func (l *loadRun) start(ctx context.Context, phase string, rate float64, d time.Duration) *load.Run {
	base := mustStackNoT().BaseURL
	return load.Start(ctx, load.Options{Rate: rate, Workers: 64, Duration: d}, func(ctx context.Context, i int) load.Outcome {
		r := l.mix[i%len(l.mix)]
		headers := []string{"X-Request-Id", fmt.Sprintf("%s-%d", phase, i)}
		if r.method == "POST" && r.path == "/api/orders" {
			headers = append(headers, "Idempotency-Key", fmt.Sprintf("%s-%s-%d", stack.Name, phase, i))
		}
		out, body := load.Call(ctx, l.client.Client, base, r.method, r.path, r.token, r.body, headers...)
		if out.Err == nil && !slices.Contains(r.want, out.Status) {
			out.Err = fmt.Errorf("%w: status %d: %.300s", errUnexpected, out.Status, body)
		}
		if out.Err == nil && out.Status == http.StatusCreated && r.path == "/api/orders" {
			var o shop.Order
			if err := json.Unmarshal(body, &o); err != nil || o.ID == "" {
				out.Err = fmt.Errorf("201 without an order: %.300s", body)
			} else {
				l.mu.Lock()
				l.placed = append(l.placed, o.ID)
				l.mu.Unlock()
			}
		}
		return out
	})
}

func (l *loadRun) kind(i int) string { return l.mix[i%len(l.mix)].name }

// ordersPlaced returns the ids of the orders answered 201 so far.
func (l *loadRun) ordersPlaced() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.placed)
}

func mustStackNoT() *deployment {
	if stack == nil {
		panic("no stack")
	}
	return stack
}

var errUnexpected = errors.New("unexpected answer")

// report logs a run's summary by kind of request, and its first failures.
func report(t *testing.T, name string, rs load.Results, kind func(i int) string) {
	t.Helper()
	t.Logf("%s: %s", name, rs.Summary())
	groups := map[string]load.Results{}
	for _, r := range rs.List {
		g := groups[kind(r.I)]
		g.List, g.Elapsed = append(g.List, r), rs.Elapsed
		groups[kind(r.I)] = g
	}
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		t.Logf("  %s: %s", k, groups[k].Summary())
	}
	for i, r := range rs.Failures() {
		if i == 10 {
			t.Logf("… and %d more failures", len(rs.Failures())-10)
			break
		}
		t.Logf("request %d (%s) at %s, after %s: status %d: %v", r.I, kind(r.I), load.Round(r.Start), load.Round(r.Latency), r.Status, r.Err)
	}
}

// converge waits until every service of the stack has converged and is
// healthy (scripts/swarm-wait.sh) and returns how long that took.
func converge(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(filepath.Join(stack.Root, "scripts", "swarm-wait.sh"), stack.Name, "180")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swarm-wait.sh: %v\n%s", err, out)
	}
	return time.Since(start)
}

// tasks returns the running tasks of a service: task id to its address on
// the stack's network (edge, internal, …).
func tasks(t *testing.T, service, network string) map[string]string {
	t.Helper()
	ids := strings.Fields(mustDocker(t, "service", "ps", "-q", "--filter", "desired-state=running", stack.service(service)))
	out := map[string]string{}
	for _, id := range ids {
		state := mustDocker(t, "inspect", "--format", "{{.Status.State}}", id)
		if state != "running" {
			continue
		}
		nets := mustDocker(t, "inspect", "--format", `{{range .NetworksAttachments}}{{.Network.Spec.Name}}={{index .Addresses 0}} {{end}}`, id)
		for _, n := range strings.Fields(nets) {
			if name, addr, _ := strings.Cut(n, "="); name == stack.service(network) {
				out[id], _, _ = strings.Cut(addr, "/")
			}
		}
	}
	return out
}

// upstreams returns, for each request whose id is prefix<i>, the address
// of the task that nginx passed it to last, from nginx's log.
func upstreams(t *testing.T, prefix string) map[int]string {
	t.Helper()
	logs := mustDocker(t, "service", "logs", "--raw", stack.service("nginx"))
	out := map[int]string{}
	for _, line := range strings.Split(logs, "\n") {
		var entry struct {
			RequestID string `json:"request_id"`
			Upstream  string `json:"upstream"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil || entry.Upstream == "" {
			continue
		}
		n, ok := strings.CutPrefix(entry.RequestID, prefix)
		i, err := strconv.Atoi(n)
		if !ok || err != nil {
			continue
		}
		attempts := strings.Split(entry.Upstream, ", ")
		out[i], _, _ = strings.Cut(attempts[len(attempts)-1], ":")
	}
	return out
}

// promCount is the value of a PromQL query that yields one number, asked of
// the stack's Prometheus inside its container (it publishes no port); -1 when
// the query has no result.
func promCount(t *testing.T, query string) int {
	t.Helper()
	id := strings.Fields(mustDocker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+stack.service("prometheus")))
	if len(id) == 0 {
		t.Fatal("no Prometheus container")
	}
	out := mustDocker(t, "exec", id[0], "promtool", "query", "instant", "http://127.0.0.1:9090", query)
	m := regexp.MustCompile(`=> (\d+)`).FindStringSubmatch(out)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// eventually polls cond until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Second)
	}
}
