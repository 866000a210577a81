package panels

import (
	"path/filepath"
	"testing"

	"bazaar/observability"
)

func TestAnswer(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		data, err  bool
	}{
		{"a number", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}`, true, false},
		{"NaN only", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}}`, false, false},
		{"no series", `{"status":"success","data":{"resultType":"vector","result":[]}}`, false, false},
		{"a scalar", `{"status":"success","data":{"resultType":"scalar","result":[1,"3"]}}`, true, false},
		{"a range", `{"status":"success","data":{"resultType":"matrix","result":[]}}`, false, true},
		{"a parse error", `{"status":"error","errorType":"bad_data","error":"parse error"}`, false, true},
		{"no JSON", `<html>`, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Answer([]byte(tc.body))
			if r.Data != tc.data || (r.Err != nil) != tc.err {
				t.Errorf("Answer(%s) = %+v, want data %v, error %v", tc.body, r, tc.data, tc.err)
			}
		})
	}
}

// TestChecksOfTheDashboards: every query of observability/'s dashboards
// has its variables defined, so the checks the stacks run are whole.
func TestChecksOfTheDashboards(t *testing.T) {
	dashboards, err := observability.LoadDashboards(filepath.Join("..", "..", "..", "observability"))
	if err != nil {
		t.Fatal(err)
	}
	checks := Checks(t, dashboards, nil)
	var variables int
	for _, c := range checks {
		if c.Variable {
			variables++
		}
		for _, e := range c.Exprs {
			if variableRef.MatchString(e) {
				t.Errorf("%s: a variable left in %q", c.Key, e)
			}
		}
	}
	if len(checks) == variables || variables == 0 {
		t.Errorf("%d checks, %d of them variables: want panels and variables", len(checks), variables)
	}
}

func TestExpand(t *testing.T) {
	var d observability.Dashboard
	d.Templating.List = []observability.Variable{{Name: "service", AllValue: ".*"}}
	got, err := expand(`rate(x{service=~"$service"}[$__rate_interval]) or y{s=~"${service:regex}"}`, d)
	if want := `rate(x{service=~".*"}[1m]) or y{s=~".*"}`; err != nil || got != want {
		t.Errorf("expand = %q, %v; want %q", got, err, want)
	}
	if _, err := expand(`x{instance="$instance"}`, d); err == nil {
		t.Error("expand of an undefined variable: no error")
	}
}
