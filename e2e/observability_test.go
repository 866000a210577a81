package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/panels"
	"bazaar/e2e/internal/shop"
	"bazaar/observability"
)

// observabilityDir holds Grafana's provisioning and dashboards, and
// Prometheus' configuration and rules.
var observabilityDir = filepath.Join("..", "observability")

// panelsWithoutData may stay empty after the test's traffic, each for the
// reason given. A panel missing here must show data: an empty panel on a
// dashboard is a broken query until proven otherwise.
var panelsWithoutData = map[string]string{
	// The client's error counter gets its series with the first failed call
	// (by operation and kind); the test's calls to the catalog all succeed.
	"bazaar-orders/Failed catalog calls per second": "only has data after a call from orders to the catalog failed",
}

// prometheusAPI queries the stack's Prometheus over its HTTP API.
type prometheusAPI struct {
	base string
	http *http.Client
}

func newPrometheusAPI(tb testing.TB) prometheusAPI {
	tb.Helper()
	return prometheusAPI{base: mustStack(tb).Prometheus, http: &http.Client{Timeout: 15 * time.Second}}
}

// get decodes the data of a successful API answer into v, or returns the
// API's error (for a query that does not parse: "bad_data: parse error …").
func (p prometheusAPI) get(path string, params url.Values, v any) error {
	resp, err := p.http.Get(p.base + path + "?" + params.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

// query runs an instant query.
func (p prometheusAPI) query(expr string) panels.Result {
	resp, err := p.http.Get(p.base + "/api/v1/query?" + url.Values{"query": {expr}}.Encode())
	if err != nil {
		return panels.Result{Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return panels.Result{Err: err}
	}
	return panels.Answer(body)
}

// TestDashboardQueriesReturnData drives traffic through nginx, then sends
// every rule's and every dashboard query's PromQL to the stack's Prometheus:
// all must parse, Prometheus must have loaded every rule and evaluate each
// without error, and every panel must show data within a minute and a half
// (scrapes are 10 s apart), save the allow-listed ones.
func TestDashboardQueriesReturnData(t *testing.T) {
	prom := newPrometheusAPI(t)
	rules, err := observability.LoadRules(observabilityDir)
	if err != nil {
		t.Fatal(err)
	}
	dashboards, err := observability.LoadDashboards(observabilityDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		if res := prom.query(r.Expr); res.Err != nil {
			t.Errorf("%s: rule %s does not run: %v", r.File, r.Name(), res.Err)
		}
	}

	checks := panels.Checks(t, dashboards, panelsWithoutData)
	panels.Await(t, checks, panelsWithoutData, shop.NewTraffic(t, theShop(t)), func(exprs []string) []panels.Result {
		var results []panels.Result
		for _, e := range exprs {
			results = append(results, prom.query(e))
		}
		return results
	})

	checkRulesLoaded(t, prom, rules)
}

// checkRulesLoaded fails unless Prometheus runs exactly the rules of
// rules/*.yml, each evaluated without error.
func checkRulesLoaded(t *testing.T, prom prometheusAPI, rules []observability.Rule) {
	t.Helper()
	var data struct {
		Groups []struct {
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := prom.get("/api/v1/rules", nil, &data); err != nil {
		t.Fatalf("rules: %v", err)
	}
	var loaded, want []string
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			loaded = append(loaded, r.Name)
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q %s", r.Name, r.Health, r.LastError)
			}
		}
	}
	for _, r := range rules {
		want = append(want, r.Name())
	}
	sort.Strings(loaded)
	sort.Strings(want)
	if !slices.Equal(loaded, want) {
		t.Errorf("Prometheus runs the rules %v, the rule files hold %v", loaded, want)
	}
}

// TestLogsFollowRequestID follows a client-chosen request id from nginx's
// access log into the log of every service the request reached: catalog for
// a product read, orders and then catalog (its internal reservation call)
// for an order.
func TestLogsFollowRequestID(t *testing.T) {
	tr := shop.NewTraffic(t, theShop(t))
	nonce := time.Now().UnixNano()

	readID := fmt.Sprintf("e2e-logs-read-%x", nonce)
	r := tr.Shop.Client().Do(t, "GET", "/api/catalog/products/"+tr.InStock, nil, "X-Request-Id", readID).Expect(t, http.StatusOK, nil)
	if got := r.Header.Get("X-Request-Id"); got != readID {
		t.Fatalf("X-Request-Id %q, want the client's %q", got, readID)
	}
	orderID := fmt.Sprintf("e2e-logs-order-%x", nonce)
	tr.Customer.API.Do(t, "POST", "/api/orders", map[string]any{
		"items": []map[string]any{{"product_id": tr.InStock, "quantity": 1}},
	}, "X-Request-Id", orderID).Expect(t, http.StatusCreated, nil)

	edge := logLineWith(t, "nginx", readID)
	if edge["uri"] != "/api/catalog/products/"+tr.InStock || edge["status"] != float64(http.StatusOK) || edge["upstream_status"] != "200" {
		t.Errorf("nginx logged %v for the product read", edge)
	}
	svc := logLineWith(t, "catalog", readID)
	if svc["msg"] != "request" || svc["route"] != "/api/catalog/products/:id" || svc["status"] != float64(http.StatusOK) {
		t.Errorf("catalog logged %v for the product read", svc)
	}

	edge = logLineWith(t, "nginx", orderID)
	if edge["uri"] != "/api/orders" || edge["method"] != "POST" || edge["status"] != float64(http.StatusCreated) {
		t.Errorf("nginx logged %v for the order", edge)
	}
	svc = logLineWith(t, "orders", orderID)
	if svc["route"] != "/api/orders" || svc["status"] != float64(http.StatusCreated) {
		t.Errorf("orders logged %v for the order", svc)
	}
	svc = logLineWith(t, "catalog", orderID)
	if path, _ := svc["path"].(string); !strings.HasPrefix(path, "/internal/") {
		t.Errorf("catalog logged %v for the order's reservation, want a call to an /internal/ route", svc)
	}
}

// logLineWith returns the first JSON line of a compose service's log whose
// request_id is id, waiting a few seconds for the log to reach Docker.
func logLineWith(t *testing.T, service, id string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := mustStack(t).compose.ServiceContainer(ctx, service)
	if err != nil {
		t.Fatalf("%s: %v", service, err)
	}
	for {
		logs, err := c.Logs(ctx)
		if err != nil {
			t.Fatalf("%s logs: %v", service, err)
		}
		line, err := findLogLine(logs, id)
		logs.Close()
		if err != nil {
			t.Fatalf("%s logs: %v", service, err)
		}
		if line != nil {
			return line
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no JSON line with request_id %q in the log of %s", id, service)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func findLogLine(logs io.Reader, id string) (map[string]any, error) {
	sc := bufio.NewScanner(logs)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), id) {
			continue
		}
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["request_id"] == id {
			return line, nil
		}
	}
	return nil, sc.Err()
}
