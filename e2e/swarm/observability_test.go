package swarm

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"bazaar/e2e/internal/panels"
	"bazaar/e2e/internal/shop"
	"bazaar/observability"
)

// The observability of the Swarm stack: Prometheus delivers to
// Alertmanager, and the dashboards, provisioned as in Compose, show data
// from the Swarm Prometheus. The stack publishes neither Prometheus,
// Alertmanager nor Grafana, so the tests ask them from a probe on the
// stack's metrics network, where Grafana sits.

// TestStackMountsObservabilityLint: the stack file mounts every dashboard,
// provisioning file, alert rule file and Alertmanager file of observability/
// as a config, at the path where docker-compose.yml mounts it, so that what
// the Compose stack loads the Swarm stack loads too.
func TestStackMountsObservabilityLint(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(filepath.Join("..", "..", "swarm", "stack.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Configs []struct {
				Source string `yaml:"source"`
				Target string `yaml:"target"`
			} `yaml:"configs"`
		} `yaml:"services"`
		Configs map[string]struct {
			File string `yaml:"file"`
		} `yaml:"configs"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	// mounted is, per service, target path → the file it comes from,
	// relative to the repository's root.
	mounted := func(service string) map[string]string {
		out := map[string]string{}
		for _, c := range file.Services[service].Configs {
			out[c.Target] = filepath.Clean(filepath.Join("swarm", file.Configs[c.Source].File))
		}
		return out
	}
	want := []struct {
		service, glob, dir, target string
	}{
		{"grafana", "observability/grafana/dashboards/*.json", "observability/grafana/dashboards", "/var/lib/grafana/dashboards"},
		{"grafana", "observability/grafana/provisioning/*/*.yml", "observability/grafana/provisioning", "/etc/grafana/provisioning"},
		{"prometheus", "observability/prometheus/rules/*.yml", "observability/prometheus/rules", "/etc/prometheus/rules"},
		{"alertmanager", "observability/alertmanager/*", "observability/alertmanager", "/etc/alertmanager"},
		{"alertmanager", "observability/alertmanager/templates/*", "observability/alertmanager", "/etc/alertmanager"},
	}
	for _, w := range want {
		files, err := filepath.Glob(filepath.Join("..", "..", w.glob))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no files (%v)", w.glob, err)
		}
		m := mounted(w.service)
		for _, f := range files {
			if st, err := os.Stat(f); err != nil || st.IsDir() {
				continue
			}
			rel, _ := filepath.Rel(filepath.Join("..", ".."), f)
			inDir, _ := filepath.Rel(w.dir, rel)
			target := w.target + "/" + filepath.ToSlash(inDir)
			if got, ok := m[target]; !ok || got != rel {
				t.Errorf("swarm/stack.yml: %s mounts %q at %s, want %s there, as in docker-compose.yml", w.service, got, target, rel)
			}
		}
	}
}

// TestAlertmanagerReachedByPrometheus: Prometheus has found the
// Alertmanager task (tasks.alertmanager), lists it among its active
// Alertmanagers, scrapes it, and has sent it nothing in vain; Alertmanager
// answers on the metrics network with the routes of
// observability/alertmanager.
func TestAlertmanagerReachedByPrometheus(t *testing.T) {
	mustStack(t)
	am := tasks(t, "alertmanager", "metrics")
	if len(am) != 1 {
		t.Fatalf("alertmanager runs %d tasks on the metrics network, want 1", len(am))
	}
	var addr string
	for _, a := range am {
		addr = a
	}
	p := newProbe(t)
	want := "http://" + addr + ":9093/api/v2/alerts"
	var listed []string
	if !eventually(60*time.Second, func() bool {
		var data struct {
			Active []struct {
				URL string `json:"url"`
			} `json:"activeAlertmanagers"`
		}
		if err := p.promAPI("/api/v1/alertmanagers", &data); err != nil {
			t.Logf("Prometheus: %v", err)
			return false
		}
		listed = listed[:0]
		for _, a := range data.Active {
			listed = append(listed, a.URL)
		}
		return slices.Contains(listed, want)
	}) {
		t.Fatalf("Prometheus's active Alertmanagers: %v, want %s", listed, want)
	}
	t.Logf("Prometheus's active Alertmanagers: %v", listed)
	if !eventually(45*time.Second, func() bool { return promCount(t, `count(up{job="alertmanager"} == 1)`) == 1 }) {
		t.Errorf("Prometheus does not scrape Alertmanager (up{job=\"alertmanager\"})")
	}
	// The error counter of an Alertmanager appears once Prometheus has
	// scraped itself after finding it, which may be after the above.
	errs := -1
	eventually(45*time.Second, func() bool {
		errs = promCount(t, `sum(prometheus_notifications_errors_total)`)
		return errs >= 0
	})
	if errs != 0 {
		t.Errorf("Prometheus counts %d errors sending alerts to Alertmanager (-1: no counter), want 0", errs)
	}

	body, status, err := p.get("http://alertmanager:9093/api/v2/status")
	if err != nil || status != http.StatusOK {
		t.Fatalf("Alertmanager's status from the metrics network: %d %v %.300s", status, err, body)
	}
	var st struct {
		Config struct {
			Original string `json:"original"`
		} `json:"config"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	for _, receiver := range []string{"receiver: critical", "receiver: warning", "alertname=\"PostgresDown\""} {
		if !strings.Contains(st.Config.Original, receiver) {
			t.Errorf("Alertmanager's configuration has no %q: %.500s", receiver, st.Config.Original)
		}
	}
}

// panelsWithoutData are the panels that may show nothing while every
// request succeeds: the root package's list (observability_test.go), and
// those of a PostgreSQL standby, which the Swarm stack does not run.
var panelsWithoutData = map[string]string{
	"bazaar-orders/Failed catalog calls per second": "only has data after a call from orders to the catalog failed",
	"bazaar-postgres/Replication lag (bytes)":       "only with a standby; the Swarm stack runs none",
	"bazaar-postgres/Replication lag (seconds)":     "only with a standby; the Swarm stack runs none",
}

// TestDashboardsLoadData drives the shop's kinds of traffic through nginx
// and sends every query of every dashboard panel and template variable to
// http://prometheus:9090, the provisioned data source, from the metrics
// network: each must show data within a minute and a half, save the
// allow-listed ones. Where Grafana runs (COMPOSE_PROFILES=grafana), Grafana
// must list every dashboard and answer every panel's queries with data too.
func TestDashboardsLoadData(t *testing.T) {
	mustStack(t)
	dashboards, err := observability.LoadDashboards(filepath.Join("..", "..", "observability"))
	if err != nil {
		t.Fatal(err)
	}
	checks := panels.Checks(t, dashboards, panelsWithoutData)
	p := newProbe(t)
	panels.Await(t, checks, panelsWithoutData, shop.NewTraffic(t, theShop(t)), func(exprs []string) []panels.Result {
		return p.query(t, exprs)
	})

	if !stack.Grafana {
		t.Logf("Grafana does not run in this stack (COMPOSE_PROFILES does not name grafana: no image here); its data source's URL was asked directly")
		return
	}
	checkGrafana(t, p, dashboards, checks)
}

// checkGrafana requires that Grafana lists every dashboard and answers
// every query that showed data from Prometheus with data, through its
// provisioned data source.
func checkGrafana(t *testing.T, p *probe, dashboards []observability.Dashboard, checks []*panels.Check) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(stack.Root, "secrets", "development", "grafana_admin_password"))
	if err != nil {
		t.Fatal(err)
	}
	auth := "admin:" + strings.TrimRight(string(raw), "\r\n")
	body, status, err := p.get("http://grafana:3000/api/search?type=dash-db", "-u", auth)
	if err != nil || status != http.StatusOK {
		t.Fatalf("Grafana's dashboards: %d %v %.300s", status, err, body)
	}
	var found []struct {
		UID string `json:"uid"`
	}
	if err := json.Unmarshal(body, &found); err != nil {
		t.Fatal(err)
	}
	for _, d := range dashboards {
		if !slices.ContainsFunc(found, func(f struct {
			UID string `json:"uid"`
		}) bool {
			return f.UID == d.UID
		}) {
			t.Errorf("Grafana does not list dashboard %s (%s)", d.UID, d.File)
		}
	}
	var bodies []string
	var keys []string
	for _, c := range checks {
		if !c.Done() || c.Err != nil {
			continue
		}
		var queries []map[string]any
		for i, e := range c.Exprs {
			queries = append(queries, map[string]any{
				"refId": fmt.Sprintf("Q%d", i), "expr": e, "instant": true, "range": false,
				"datasource": map[string]string{"type": "prometheus", "uid": "prometheus"},
			})
		}
		b, _ := json.Marshal(map[string]any{"from": "now-5m", "to": "now", "queries": queries})
		bodies = append(bodies, string(b))
		keys = append(keys, c.Key)
	}
	out := p.exec(t, append([]string{"sh", "-c",
		`for b; do curl -sS --max-time 15 -u "$0" -H 'Content-Type: application/json' -d "$b" http://grafana:3000/api/ds/query; echo; done`,
		auth}, bodies...)...)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != len(bodies) {
		t.Fatalf("Grafana answered %d of %d panel queries", len(lines), len(bodies))
	}
	empty := 0
	for i, line := range lines {
		var res struct {
			Results map[string]struct {
				Error  string `json:"error"`
				Frames []struct {
					Data struct {
						Values [][]any `json:"values"`
					} `json:"data"`
				} `json:"frames"`
			} `json:"results"`
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil || len(res.Results) == 0 {
			t.Errorf("%s: Grafana answered %.300s", keys[i], line)
			continue
		}
		for ref, r := range res.Results {
			data := false
			for _, f := range r.Frames {
				if len(f.Data.Values) >= 2 && slices.ContainsFunc(f.Data.Values[1], func(v any) bool { return v != nil }) {
					data = true
				}
			}
			if r.Error != "" || !data {
				empty++
				t.Errorf("%s: query %s through Grafana: error %q, data %v", keys[i], ref, r.Error, data)
			}
		}
	}
	t.Logf("Grafana lists %d dashboards and answered %d panels' queries, %d of them without data", len(found), len(bodies), empty)
}

// probe is a container on the stack's metrics network, of the stack's edge
// image (which has curl), that asks the monitoring services as Grafana
// would. It belongs to the stack, so removing the stack removes it.
type probe struct {
	container string
}

func newProbe(t *testing.T) *probe {
	t.Helper()
	name := stack.service("probe-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10))
	version := cmp.Or(os.Getenv("BAZAAR_VERSION"), "dev")
	mustDocker(t, "service", "create", "--detach=false", "--quiet", "--name", name,
		"--label", "com.docker.stack.namespace="+stack.Name,
		"--network", stack.service("metrics"),
		"--restart-condition", "none", "--no-healthcheck",
		"--user", "101:101", "--read-only", "--cap-drop", "ALL",
		"--entrypoint", "sleep", "bazaar/edge:"+version, "600")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		docker(ctx, "service", "rm", name)
	})
	var id []string
	if !eventually(30*time.Second, func() bool {
		id = strings.Fields(mustDocker(t, "ps", "-q", "--filter", "label=com.docker.swarm.service.name="+name))
		return len(id) > 0
	}) {
		t.Fatal("the probe has no running container")
	}
	return &probe{container: id[0]}
}

// exec runs a command in the probe and returns its standard output.
func (p *probe) exec(t *testing.T, args ...string) string {
	t.Helper()
	return mustDocker(t, append([]string{"exec", p.container}, args...)...)
}

// get fetches url from the probe with curl (and curl's extra arguments).
func (p *probe) get(url string, args ...string) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := append([]string{"exec", p.container, "curl", "-sS", "--max-time", "15", "-w", "\n%{http_code}"}, args...)
	out, err := docker(ctx, append(cmd, url)...)
	if err != nil {
		return nil, 0, err
	}
	i := strings.LastIndexByte(out, '\n')
	if i < 0 {
		return nil, 0, fmt.Errorf("GET %s: no status in %q", url, out)
	}
	status, err := strconv.Atoi(out[i+1:])
	return []byte(out[:i]), status, err
}

// promAPI decodes the data of a successful answer of Prometheus's API.
func (p *probe) promAPI(path string, v any) error {
	body, status, err := p.get("http://prometheus:9090" + path)
	if err != nil {
		return err
	}
	var res struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &res); err != nil || res.Status != "success" {
		return fmt.Errorf("%s: %d %s %v %.300s", path, status, res.Error, err, body)
	}
	return json.Unmarshal(res.Data, v)
}

// query runs instant queries at the data source's URL, all in one exec.
func (p *probe) query(t *testing.T, exprs []string) []panels.Result {
	t.Helper()
	if len(exprs) == 0 {
		return nil
	}
	out := p.exec(t, append([]string{"sh", "-c",
		`for q; do curl -sS --max-time 15 -G --data-urlencode "query=$q" http://prometheus:9090/api/v1/query; echo; done`,
		"query"}, exprs...)...)
	var results []panels.Result
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		results = append(results, panels.Answer(sc.Bytes()))
	}
	if len(results) != len(exprs) {
		t.Fatalf("%d answers to %d queries: %.500s", len(results), len(exprs), out)
	}
	return results
}
