package observability_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"bazaar/observability"
)

func mustDashboards(t *testing.T) []observability.Dashboard {
	t.Helper()
	ds, err := observability.LoadDashboards(".")
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func mustRules(t *testing.T) []observability.Rule {
	t.Helper()
	rules, err := observability.LoadRules(".")
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

// A label matcher on instance must take its value from a template variable,
// and no label value may name a host and port: either ties a dashboard to
// one deployment (DNS service discovery gives replicas new addresses).
var (
	instanceMatcher = regexp.MustCompile(`\binstance\s*(?:=~|!~|!=|=)\s*"([^"]*)"`)
	hostPortValue   = regexp.MustCompile(`"[A-Za-z0-9_.-]+:[0-9]{2,5}"`)
)

func hardCodedInstance(expr string) string {
	for _, m := range instanceMatcher.FindAllStringSubmatch(expr, -1) {
		if !strings.Contains(m[1], "$") {
			return m[0]
		}
	}
	return hostPortValue.FindString(expr)
}

// checkDatasource reports what is wrong with a datasource reference; empty
// references inherit the panel's when inherit is set.
func checkDatasource(raw json.RawMessage, inherit bool, provisioned map[string]string) string {
	if len(raw) == 0 || string(raw) == "null" {
		if inherit {
			return ""
		}
		return "no datasource"
	}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		return fmt.Sprintf("datasource referenced by name %q instead of {type, uid}", name)
	}
	var ref struct{ Type, UID string }
	if err := json.Unmarshal(raw, &ref); err != nil {
		return fmt.Sprintf("datasource %s: %v", raw, err)
	}
	typ, ok := provisioned[ref.UID]
	switch {
	case !ok:
		return fmt.Sprintf("datasource uid %q is not provisioned", ref.UID)
	case ref.Type != typ:
		return fmt.Sprintf("datasource uid %q has type %q, not %q", ref.UID, typ, ref.Type)
	}
	return ""
}

// lintDashboard lists what is wrong with one dashboard.
func lintDashboard(d observability.Dashboard, provisioned map[string]string) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if d.UID == "" || d.Title == "" {
		report("the dashboard needs a uid and a title")
	}
	ids := map[int]string{}
	for _, p := range d.AllPanels() {
		where := fmt.Sprintf("panel %q", p.Title)
		switch {
		case p.ID == nil:
			report("%s: no id", where)
		case ids[*p.ID] != "":
			report("%s: id %d already used by panel %q", where, *p.ID, ids[*p.ID])
		default:
			ids[*p.ID] = p.Title
		}
		if p.Type == "row" {
			continue
		}
		if msg := checkDatasource(p.Datasource, false, provisioned); msg != "" {
			report("%s: %s", where, msg)
		}
		if len(p.Targets) == 0 {
			report("%s: no queries", where)
		}
		for _, t := range p.Targets {
			if msg := checkDatasource(t.Datasource, true, provisioned); msg != "" {
				report("%s, query %s: %s", where, t.RefID, msg)
			}
			if strings.TrimSpace(t.Expr) == "" {
				report("%s, query %s: empty expression", where, t.RefID)
			}
			if m := hardCodedInstance(t.Expr); m != "" {
				report("%s, query %s: hard-coded instance %s; use a template variable", where, t.RefID, m)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("variable $%s", v.Name)
		if msg := checkDatasource(v.Datasource, false, provisioned); msg != "" {
			report("%s: %s", where, msg)
		}
		if m := hardCodedInstance(v.QueryText()); m != "" {
			report("%s: hard-coded instance %s", where, m)
		}
		if v.IncludeAll && v.AllValue == "" {
			// Without it "All" expands to a list of the values seen when
			// the dashboard loaded, which misses replicas started later.
			report("%s: includeAll needs an allValue such as .*", where)
		}
	}
	return problems
}

func TestDashboardsLint(t *testing.T) {
	t.Parallel()
	provisioned, err := observability.ProvisionedDatasources(".")
	if err != nil {
		t.Fatal(err)
	}
	uids, titles := map[string]string{}, map[string]string{}
	for _, d := range mustDashboards(t) {
		for _, p := range lintDashboard(d, provisioned) {
			t.Errorf("%s: %s", d.File, p)
		}
		if other := uids[d.UID]; other != "" {
			t.Errorf("%s: uid %q already used by %s", d.File, d.UID, other)
		}
		if other := titles[d.Title]; other != "" {
			t.Errorf("%s: title %q already used by %s", d.File, d.Title, other)
		}
		uids[d.UID], titles[d.Title] = d.File, d.File
	}
}

// TestDashboardsLintFindsProblems proves that the lint fails on each kind of
// mistake it exists to catch.
func TestDashboardsLintFindsProblems(t *testing.T) {
	t.Parallel()
	provisioned := map[string]string{"prometheus": "prometheus"}
	const ds = `{"type":"prometheus","uid":"prometheus"}`
	tests := []struct {
		name, json, want string
	}{
		{"clean", `{"uid":"u","title":"t","panels":[{"id":1,"type":"timeseries","title":"p","datasource":` + ds + `,"targets":[{"refId":"A","expr":"up{job=\"x\",instance=~\"$instance\"}"}]}]}`, ""},
		{"datasource by name", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"p","datasource":"Prometheus","targets":[{"refId":"A","expr":"up"}]}]}`, `referenced by name "Prometheus"`},
		{"unknown uid", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"p","datasource":{"type":"prometheus","uid":"P1809F7CD0C75ACF3"},"targets":[{"refId":"A","expr":"up"}]}]}`, `uid "P1809F7CD0C75ACF3" is not provisioned`},
		{"unknown uid in a target", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"p","datasource":` + ds + `,"targets":[{"refId":"A","datasource":{"type":"prometheus","uid":"old"},"expr":"up"}]}]}`, `query A: datasource uid "old" is not provisioned`},
		{"no datasource", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"p","targets":[{"refId":"A","expr":"up"}]}]}`, "no datasource"},
		{"duplicate id in a row", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"a","datasource":` + ds + `,"targets":[{"refId":"A","expr":"up"}]},{"id":2,"type":"row","title":"r","panels":[{"id":1,"type":"stat","title":"b","datasource":` + ds + `,"targets":[{"refId":"A","expr":"up"}]}]}]}`, `id 1 already used by panel "a"`},
		{"missing id", `{"uid":"u","title":"t","panels":[{"type":"stat","title":"p","datasource":` + ds + `,"targets":[{"refId":"A","expr":"up"}]}]}`, "no id"},
		{"hard-coded instance", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"p","datasource":` + ds + `,"targets":[{"refId":"A","expr":"up{instance=\"catalog-1\"}"}]}]}`, `hard-coded instance instance="catalog-1"`},
		{"hard-coded address", `{"uid":"u","title":"t","panels":[{"id":1,"type":"stat","title":"p","datasource":` + ds + `,"targets":[{"refId":"A","expr":"pg_up{server=\"postgres:5432\"}"}]}]}`, `hard-coded instance "postgres:5432"`},
		{"hard-coded instance in a variable", `{"uid":"u","title":"t","templating":{"list":[{"name":"route","type":"query","datasource":` + ds + `,"query":{"query":"label_values(up{instance=\"10.0.0.3:8081\"}, route)"}}]}}`, `variable $route: hard-coded instance`},
		{"all without allValue", `{"uid":"u","title":"t","templating":{"list":[{"name":"instance","type":"query","datasource":` + ds + `,"query":"label_values(up, instance)","includeAll":true}]}}`, "needs an allValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var d observability.Dashboard
			if err := json.Unmarshal([]byte(tt.json), &d); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(lintDashboard(d, provisioned), "\n")
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("lint found %q, want a problem containing %q", got, tt.want)
			}
		})
	}
}

// recordName is Prometheus' level:metric:operations naming of recorded series.
var recordName = regexp.MustCompile(`^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$`)

// lintRule lists what is wrong with one rule: an alert needs what an
// operator needs when it fires, a severity to route on, and what happened,
// why it matters and what to do first.
func lintRule(r observability.Rule) []string {
	var problems []string
	if r.Record != "" {
		if !recordName.MatchString(r.Record) {
			problems = append(problems, fmt.Sprintf("recorded series %s is not named level:metric:operations", r.Record))
		}
		return problems
	}
	if s := r.Labels["severity"]; s != "critical" && s != "warning" {
		problems = append(problems, fmt.Sprintf("alert %s: severity %q, want critical or warning", r.Alert, s))
	}
	for _, a := range []string{"summary", "description", "runbook"} {
		if strings.TrimSpace(r.Annotations[a]) == "" {
			problems = append(problems, fmt.Sprintf("alert %s has no %s annotation", r.Alert, a))
		}
	}
	return problems
}

// TestAlertRulesLint holds every rule to lintRule. (promtool's syntax checks
// and unit tests are check.sh's.)
func TestAlertRulesLint(t *testing.T) {
	t.Parallel()
	for _, r := range mustRules(t) {
		for _, p := range lintRule(r) {
			t.Errorf("%s: %s", r.File, p)
		}
	}
}

// TestAlertRulesLintFindsProblems proves that the lint fails on each kind of
// mistake it exists to catch.
func TestAlertRulesLintFindsProblems(t *testing.T) {
	t.Parallel()
	full := map[string]string{"summary": "s", "description": "d", "runbook": "r"}
	for _, tt := range []struct {
		name string
		rule observability.Rule
		want string
	}{
		{"clean alert", observability.Rule{Alert: "A", Labels: map[string]string{"severity": "warning"}, Annotations: full}, ""},
		{"clean record", observability.Rule{Record: "job:http_requests:rate5m"}, ""},
		{"record name", observability.Rule{Record: "http_requests_rate"}, "not named level:metric:operations"},
		{"severity", observability.Rule{Alert: "A", Labels: map[string]string{"severity": "page"}, Annotations: full}, `severity "page"`},
		{"no runbook", observability.Rule{Alert: "A", Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{"summary": "s", "description": "d", "runbook": " "}}, "has no runbook annotation"},
	} {
		got := strings.Join(lintRule(tt.rule), "\n")
		if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
			t.Errorf("%s: lint found %q, want a problem containing %q", tt.name, got, tt.want)
		}
	}
}
