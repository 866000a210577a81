// Package observability reads the assets of this folder that other code
// checks: Grafana's dashboards and provisioned datasources, and Prometheus'
// rules. Its tests lint them; the end-to-end tests send their queries to a
// running stack.
package observability

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"
)

// The assets' folders, relative to this one.
const (
	DashboardsDir  = "grafana/dashboards"
	DatasourcesDir = "grafana/provisioning/datasources"
	RulesDir       = "prometheus/rules"
)

// Dashboard is the part of a dashboard's JSON model the checks read.
type Dashboard struct {
	File       string  `json:"-"` // the file's base name
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []Panel `json:"panels"`
	Templating struct {
		List []Variable `json:"list"`
	} `json:"templating"`
}

// Panel is one panel of a dashboard, or a row holding panels.
type Panel struct {
	ID         *int            `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource json.RawMessage `json:"datasource"`
	Targets    []Target        `json:"targets"`
	Panels     []Panel         `json:"panels"` // a row's collapsed panels
}

// Target is one query of a panel.
type Target struct {
	RefID      string          `json:"refId"`
	Datasource json.RawMessage `json:"datasource"`
	Expr       string          `json:"expr"`
}

// Variable is one template variable of a dashboard.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Datasource json.RawMessage `json:"datasource"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": "…"} in newer Grafana
	IncludeAll bool            `json:"includeAll"`
	AllValue   string          `json:"allValue"`
}

// QueryText returns the variable's query, in either of Grafana's two forms.
func (v Variable) QueryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &o)
	return o.Query
}

// AllPanels returns the dashboard's panels with the rows' nested ones.
func (d Dashboard) AllPanels() []Panel {
	var out []Panel
	var walk func([]Panel)
	walk = func(ps []Panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// files returns the files of root/dir matching pattern, failing when there
// are none: a moved folder must not pass for a clean one.
func files(root, dir, pattern string) ([]string, error) {
	found, err := filepath.Glob(filepath.Join(root, dir, pattern))
	if err == nil && len(found) == 0 {
		err = fmt.Errorf("no %s in %s", pattern, filepath.Join(root, dir))
	}
	return found, err
}

// LoadDashboards reads the dashboards under root (this folder).
func LoadDashboards(root string) ([]Dashboard, error) {
	found, err := files(root, DashboardsDir, "*.json")
	if err != nil {
		return nil, err
	}
	var out []Dashboard
	for _, f := range found {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		d.File = filepath.Base(f)
		out = append(out, d)
	}
	return out, nil
}

// ProvisionedDatasources maps the uid of every datasource provisioned under
// root (this folder) to its type.
func ProvisionedDatasources(root string) (map[string]string, error) {
	found, err := files(root, DatasourcesDir, "*.yml")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, f := range found {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var p struct {
			Datasources []struct {
				UID  string `yaml:"uid"`
				Type string `yaml:"type"`
			} `yaml:"datasources"`
		}
		if err := yaml.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, ds := range p.Datasources {
			out[ds.UID] = ds.Type
		}
	}
	return out, nil
}

// Rule is one recording or alerting rule of the rule files.
type Rule struct {
	File        string            `yaml:"-"` // the file's base name
	Record      string            `yaml:"record"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Name is the recorded series' or the alert's name.
func (r Rule) Name() string { return r.Record + r.Alert }

// LoadRules reads the rules under root (this folder).
func LoadRules(root string) ([]Rule, error) {
	found, err := files(root, RulesDir, "*.yml")
	if err != nil {
		return nil, err
	}
	var out []Rule
	for _, f := range found {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var rf struct {
			Groups []struct {
				Rules []Rule `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(raw, &rf); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				r.File = filepath.Base(f)
				out = append(out, r)
			}
		}
	}
	return out, nil
}
