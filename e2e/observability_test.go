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
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

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

// hasData runs an instant query and reports whether it returned at least
// one sample that is a number (histogram_quantile and ratios give NaN when
// nothing happened in the window, which Grafana draws as nothing).
func (p prometheusAPI) hasData(expr string) (bool, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.get("/api/v1/query", url.Values{"query": {expr}}, &data); err != nil {
		return false, err
	}
	var values [][2]any
	switch data.ResultType {
	case "vector":
		var series []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &series); err != nil {
			return false, err
		}
		for _, s := range series {
			values = append(values, s.Value)
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return false, err
		}
		values = append(values, v)
	default:
		return false, fmt.Errorf("result type %q, want an instant vector or a scalar", data.ResultType)
	}
	for _, v := range values {
		if s, _ := v[1].(string); s != "NaN" {
			return true, nil
		}
	}
	return false, nil
}

// grafanaBuiltins are the values the test gives Grafana's own variables:
// a rate window of several 10 s scrapes, and a one-hour dashboard range.
var grafanaBuiltins = map[string]string{"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}

var grafanaVariableRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// expandVariables substitutes Grafana's variables as Grafana would with
// "All" selected. It fails on a variable the dashboard does not define.
func expandVariables(expr string, d observability.Dashboard) (string, error) {
	values := map[string]string{}
	for k, v := range grafanaBuiltins {
		values[k] = v
	}
	for _, v := range d.Templating.List {
		values[v.Name] = v.AllValue
	}
	var missing []string
	out := grafanaVariableRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVariableRef.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := values[name]
		if !ok || v == "" {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// labelValuesQuery turns a label_values(selector, label) variable query
// into the selector, which returns data exactly when the variable has values.
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.+),\s*\w+\s*\)\s*$`)

// panelCheck is one dashboard panel (or template variable) whose every
// query must parse and return data at least once.
type panelCheck struct {
	key      string // dashboard uid / panel title
	variable bool
	exprs    []string
	hasData  []bool
	err      error
}

func (c *panelCheck) done() bool {
	return c.err != nil || !slices.Contains(c.hasData, false)
}

func panelChecks(t *testing.T, dashboards []observability.Dashboard) []*panelCheck {
	t.Helper()
	var checks []*panelCheck
	add := func(d observability.Dashboard, title string, variable bool, exprs []string) {
		c := &panelCheck{key: d.UID + "/" + title, variable: variable, hasData: make([]bool, len(exprs))}
		for _, e := range exprs {
			x, err := expandVariables(e, d)
			if err != nil {
				t.Errorf("%s: %v", c.key, err)
			}
			c.exprs = append(c.exprs, x)
		}
		checks = append(checks, c)
	}
	for _, d := range dashboards {
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			m := labelValuesQuery.FindStringSubmatch(v.QueryText())
			if m == nil {
				t.Errorf("%s: variable $%s: want label_values(<selector>, <label>), got %q", d.File, v.Name, v.QueryText())
				continue
			}
			add(d, "variable $"+v.Name, true, []string{m[1]})
		}
		for _, p := range d.AllPanels() {
			if p.Type == "row" {
				continue
			}
			var exprs []string
			for _, tg := range p.Targets {
				exprs = append(exprs, tg.Expr)
			}
			add(d, p.Title, false, exprs)
		}
	}
	return checks
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
		if _, err := prom.hasData(r.Expr); err != nil {
			t.Errorf("%s: rule %s does not run: %v", r.File, r.Name(), err)
		}
	}

	checks := panelChecks(t, dashboards)
	for key := range panelsWithoutData {
		if !slices.ContainsFunc(checks, func(c *panelCheck) bool { return c.key == key }) {
			t.Errorf("panelsWithoutData lists %q, which is no panel", key)
		}
	}

	traffic := shop.NewTraffic(t, theShop(t))
	start := time.Now()
	deadline := start.Add(90 * time.Second)
	for round := 1; ; round++ {
		traffic.Round(t, round)
		pending := 0
		for _, c := range checks {
			for i, e := range c.exprs {
				if c.done() || c.hasData[i] {
					continue
				}
				c.hasData[i], c.err = prom.hasData(e)
				if c.err != nil {
					c.err = fmt.Errorf("query %q: %w", e, c.err)
				}
			}
			if _, allowed := panelsWithoutData[c.key]; !c.done() && !allowed {
				pending++
			}
		}
		if pending == 0 {
			t.Logf("every panel that must show data did after %d rounds of traffic, %s", round, time.Since(start).Round(time.Second))
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Second)
	}

	var panels, panelsWithData, variables, variablesWithData int
	for _, c := range checks {
		if c.variable {
			variables++
		} else {
			panels++
		}
		reason, allowed := panelsWithoutData[c.key]
		switch {
		case c.err != nil:
			t.Errorf("%s: %v", c.key, c.err)
		case c.done() && c.variable:
			variablesWithData++
		case c.done():
			panelsWithData++
		case allowed:
			t.Logf("%s: no data (allowed: %s)", c.key, reason)
		default:
			var empty []string
			for i, ok := range c.hasData {
				if !ok {
					empty = append(empty, c.exprs[i])
				}
			}
			t.Errorf("%s: no data from %s", c.key, strings.Join(empty, " ; "))
		}
	}
	t.Logf("%d of %d panels returned data (%.1f %%; %d allowed to stay empty), and %d of %d template variables",
		panelsWithData, panels, 100*float64(panelsWithData)/float64(panels), len(panelsWithoutData), variablesWithData, variables)

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
