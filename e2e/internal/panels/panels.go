// Package panels checks a running stack's Grafana dashboards the way a
// person looking at them would: once the shop has had traffic, every
// panel's and template variable's PromQL, with Grafana's variables
// substituted, must return data from Prometheus. The Compose and the Swarm
// tests ask their Prometheus in their own ways; the rest is here.
package panels

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/shop"
	"bazaar/observability"
)

// The wait for data: scrapes are 10 s apart, and a rate needs two.
const (
	timeout  = 90 * time.Second
	interval = 5 * time.Second
)

// Check is one dashboard panel (or template variable) whose every query
// must parse and return data at least once.
type Check struct {
	Key      string // dashboard uid / panel title, or dashboard uid / variable $name
	Variable bool
	Exprs    []string // the queries, Grafana's variables substituted
	HasData  []bool   // by Exprs' index
	Err      error    // why a query could not run
}

// Done reports whether the check has its answer: data from every query, or
// an error.
func (c *Check) Done() bool {
	return c.Err != nil || !slices.Contains(c.HasData, false)
}

// builtins are the values the checks give Grafana's own variables: a rate
// window of several 10 s scrapes, and a one-hour dashboard range.
var builtins = map[string]string{"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}

var variableRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// labelValuesQuery turns a label_values(selector, label) variable query
// into the selector, which returns data exactly when the variable has values.
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.+),\s*\w+\s*\)\s*$`)

// expand substitutes Grafana's variables as Grafana does with "All"
// selected. It fails on a variable the dashboard does not define.
func expand(expr string, d observability.Dashboard) (string, error) {
	values := map[string]string{}
	for k, v := range builtins {
		values[k] = v
	}
	for _, v := range d.Templating.List {
		values[v.Name] = v.AllValue
	}
	var missing []string
	out := variableRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRef.FindStringSubmatch(m)
		v := values[sub[1]+sub[2]+sub[3]]
		if v == "" {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("no value for %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// Checks lists every panel and query variable of the dashboards. It fails
// tb for a query with a variable the dashboard does not define, for a query
// variable that is not label_values(selector, label), and for a key of
// mayStayEmpty that is no panel.
func Checks(tb testing.TB, dashboards []observability.Dashboard, mayStayEmpty map[string]string) []*Check {
	tb.Helper()
	var checks []*Check
	add := func(d observability.Dashboard, title string, variable bool, exprs []string) {
		c := &Check{Key: d.UID + "/" + title, Variable: variable, HasData: make([]bool, len(exprs))}
		for _, e := range exprs {
			x, err := expand(e, d)
			if err != nil {
				tb.Errorf("%s: %v", c.Key, err)
			}
			c.Exprs = append(c.Exprs, x)
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
				tb.Errorf("%s: variable $%s: want label_values(<selector>, <label>), got %q", d.File, v.Name, v.QueryText())
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
	for key := range mayStayEmpty {
		if !slices.ContainsFunc(checks, func(c *Check) bool { return c.Key == key }) {
			tb.Errorf("the panels allowed to stay empty list %q, which is no panel", key)
		}
	}
	return checks
}

// Result is whether an instant query returned a number, or why it could
// not run.
type Result struct {
	Data bool
	Err  error
}

// Answer reads an answer of Prometheus' /api/v1/query: data when at least
// one sample is a number (histogram_quantile and ratios give NaN when
// nothing happened in the window, which Grafana draws as nothing).
func Answer(body []byte) Result {
	var res struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return Result{Err: fmt.Errorf("%v: %.300s", err, body)}
	}
	if res.Status != "success" {
		return Result{Err: fmt.Errorf("%s: %s", res.ErrorType, res.Error)}
	}
	var values [][2]any
	switch res.Data.ResultType {
	case "vector":
		var series []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(res.Data.Result, &series); err != nil {
			return Result{Err: err}
		}
		for _, s := range series {
			values = append(values, s.Value)
		}
	case "scalar":
		var v [2]any
		if err := json.Unmarshal(res.Data.Result, &v); err != nil {
			return Result{Err: err}
		}
		values = append(values, v)
	default:
		return Result{Err: fmt.Errorf("result type %q, want an instant vector or a scalar", res.Data.ResultType)}
	}
	for _, v := range values {
		if s, _ := v[1].(string); s != "NaN" {
			return Result{Data: true}
		}
	}
	return Result{}
}

// Await drives the traffic a round at a time and, after each round, sends
// query the queries that have not shown data yet (query returns a Result
// for each, in order), until every check not in mayStayEmpty is done or a
// minute and a half has passed. Then it fails t for each check with an
// error or, unless allowed, without data, and logs how many showed data.
func Await(t *testing.T, checks []*Check, mayStayEmpty map[string]string, traffic *shop.Traffic, query func(exprs []string) []Result) {
	t.Helper()
	start := time.Now()
	for round := 1; ; round++ {
		traffic.Round(t, round)
		type pending struct {
			c *Check
			i int
		}
		var asked []pending
		var exprs []string
		for _, c := range checks {
			for i, e := range c.Exprs {
				if !c.Done() && !c.HasData[i] {
					asked = append(asked, pending{c, i})
					exprs = append(exprs, e)
				}
			}
		}
		results := query(exprs)
		if len(results) != len(exprs) {
			t.Fatalf("%d answers to %d queries", len(results), len(exprs))
		}
		for n, a := range asked {
			switch r := results[n]; {
			case r.Err != nil && a.c.Err == nil:
				a.c.Err = fmt.Errorf("query %q: %w", a.c.Exprs[a.i], r.Err)
			case r.Data:
				a.c.HasData[a.i] = true
			}
		}
		left := 0
		for _, c := range checks {
			if _, allowed := mayStayEmpty[c.Key]; !c.Done() && !allowed {
				left++
			}
		}
		if left == 0 {
			t.Logf("every panel that must show data did after %d rounds of traffic, %s", round, time.Since(start).Round(time.Second))
			break
		}
		if time.Since(start) > timeout {
			break
		}
		time.Sleep(interval)
	}

	var panels, panelsWithData, variables, variablesWithData int
	for _, c := range checks {
		if c.Variable {
			variables++
		} else {
			panels++
		}
		reason, allowed := mayStayEmpty[c.Key]
		switch {
		case c.Err != nil:
			t.Errorf("%s: %v", c.Key, c.Err)
		case c.Done() && c.Variable:
			variablesWithData++
		case c.Done():
			panelsWithData++
		case allowed:
			t.Logf("%s: no data (allowed: %s)", c.Key, reason)
		default:
			var empty []string
			for i, ok := range c.HasData {
				if !ok {
					empty = append(empty, c.Exprs[i])
				}
			}
			t.Errorf("%s: no data from %s", c.Key, strings.Join(empty, " ; "))
		}
	}
	t.Logf("%d of %d panels returned data (%.1f %%; %d allowed to stay empty), and %d of %d template variables",
		panelsWithData, panels, 100*float64(panelsWithData)/float64(panels), len(mayStayEmpty), variablesWithData, variables)
}
