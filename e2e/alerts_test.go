package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bazaar/e2e/internal/short"
)

// The alert test's timings, written over the project's in its copies of
// Prometheus' and Alertmanager's configuration (alertsConfig): the rest of
// the path an alert takes, expressions, labels, routes and inhibitions, is
// the project's own.
const (
	// Prometheus' scrape, rule evaluation and DNS discovery intervals.
	alertsInterval = 2 * time.Second
	// Every alert's `for`.
	alertsFor = 10 * time.Second
	// Alertmanager's wait before a new group's first notification, and
	// between notifications of a group with news (a resolved alert).
	alertsGroupWait     = 2 * time.Second
	alertsGroupInterval = 5 * time.Second
	// What each delivery may take beyond the sum of the intervals above
	// that it can wait through: Prometheus and Alertmanager passing the
	// alert on (Docker's DNS answering for a name with no container left
	// among it), and the service's start. Measured in two runs on 2 cores
	// with other builds running (TestAlerts logs each step): the alert
	// reached the webhook 19.3 s and 23.5 s after the stop, 1.3 s and 5.5 s
	// past its 18 s sum; the resolution 7.8 s and 8.0 s after the start,
	// inside its 11 s sum. The slack is about three times the larger
	// overshoot, for machines slower or busier than this one.
	alertsSlack = 15 * time.Second
)

// TestAlerts follows an alert from a stopped service to a webhook, on a
// stack of its own: catalog is stopped, and ServiceMissing for catalog must
// reach the test's webhook receiver through Alertmanager's critical route,
// grouped by alert name and job, within its `for` plus the discovery and
// evaluation intervals and group_wait; scripts/silence.sh must silence it and
// end the silence; once catalog is back its resolution must arrive within
// the intervals it waits through and group_interval.
func TestAlerts(t *testing.T) {
	short.Skip(t, "a compose stack")
	ctx := context.Background()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)*9/10))
		t.Cleanup(cancel) // after the cleanups below, which use ctx
	}
	project := fmt.Sprintf("bazaar-alerts-%d", os.Getpid())
	adoptableNetworks(t, project)
	hook := startWebhookReceiver(t, networkGateway(t, project+"_metrics"))
	t.Setenv("ALERT_WEBHOOK_URL", hook.url)
	t.Setenv("E2E_ALERTS_DIR", alertsConfig(t))
	start := time.Now()
	s, err := StartStack(ctx, project, "e2e/alerts/compose.yml")
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack %s up in %s; webhook receiver at %s", project, time.Since(start).Round(time.Second), hook.url)
	am, err := s.endpoint(ctx, "alertmanager", "9093/tcp")
	if err != nil {
		t.Fatal(err)
	}
	o := newOps(t, project)
	o.ctx = ctx
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of the logs:\n%s", o.compose(t, "logs", "--no-color", "--tail", "30", "prometheus", "alertmanager", "catalog"))
		}
	})
	checkAlertmanagerDiscovered(t, s.Prometheus)
	// Prometheus starts before the services, and with a `for` of seconds
	// their alerts fire while the stack starts: the test begins once they
	// are over, notified resolved included, so that a new alert of catalog
	// starts a group of its own at Alertmanager.
	waitQuiet(ctx, t, s.Prometheus, hook, "catalog")

	catalog := composeContainer(t, project, "catalog")
	stopped := dockerTimed(t, "stop", catalog)
	fireBy := alertsInterval + alertsInterval + alertsFor + alertsInterval + alertsGroupWait + alertsSlack
	firing, ok := hook.wait(ctx, fireBy, func(n webhookNotification) bool {
		return n.received.After(stopped) && n.Status == "firing" && n.has("firing", "ServiceMissing", "catalog")
	})
	if !ok {
		t.Fatalf("no firing ServiceMissing for catalog reached the webhook within %s of the stop; it got: %s", fireBy, hook.summary())
	}
	startsAt := firing.alert("ServiceMissing", "catalog").StartsAt
	t.Logf("catalog stopped at %s; ServiceMissing starts at %s (%s later), reaches the webhook at %s: %s after the stop (bound: discovery %s + evaluation %s + for %s + evaluation %s + group_wait %s + slack %s = %s)",
		stopped.Format(time.TimeOnly), startsAt.Format(time.TimeOnly), startsAt.Sub(stopped).Round(time.Millisecond),
		firing.received.Format(time.TimeOnly), firing.received.Sub(stopped).Round(time.Millisecond),
		alertsInterval, alertsInterval, alertsFor, alertsInterval, alertsGroupWait, alertsSlack, fireBy)
	if firing.Receiver != "critical" {
		t.Errorf("ServiceMissing (critical) went to receiver %q, want critical", firing.Receiver)
	}
	if want := map[string]string{"alertname": "ServiceMissing", "job": "catalog"}; !maps.Equal(firing.GroupLabels, want) {
		t.Errorf("the notification's group labels are %v, want %v", firing.GroupLabels, want)
	}
	if a := firing.alert("ServiceMissing", "catalog"); a.Labels["severity"] != "critical" || a.Annotations["runbook"] == "" {
		t.Errorf("ServiceMissing arrived with labels %v and annotations %v, want severity critical and a runbook", a.Labels, a.Annotations)
	}

	checkSilence(t, o, am)

	dockerTimed(t, "start", catalog)
	started := time.Now()
	resolveBy := alertsInterval + alertsInterval + alertsInterval + alertsGroupInterval + alertsSlack
	resolved, ok := hook.wait(ctx, resolveBy, func(n webhookNotification) bool {
		return n.received.After(started) && n.has("resolved", "ServiceMissing", "catalog")
	})
	if !ok {
		t.Fatalf("no resolved ServiceMissing for catalog reached the webhook within %s of catalog's start; it got: %s", resolveBy, hook.summary())
	}
	endsAt := resolved.alert("ServiceMissing", "catalog").EndsAt
	t.Logf("catalog started at %s; ServiceMissing ends at %s (%s later), its resolution reaches the webhook at %s: %s after the start (bound: discovery %s + scrape %s + evaluation %s + group_interval %s + slack %s = %s)",
		started.Format(time.TimeOnly), endsAt.Format(time.TimeOnly), endsAt.Sub(started).Round(time.Millisecond),
		resolved.received.Format(time.TimeOnly), resolved.received.Sub(started).Round(time.Millisecond),
		alertsInterval, alertsInterval, alertsInterval, alertsGroupInterval, alertsSlack, resolveBy)
	if resolved.Receiver != "critical" {
		t.Errorf("the resolution went to receiver %q, want critical", resolved.Receiver)
	}
	t.Logf("every notification the webhook got: %s", hook.summary())
}

// checkAlertmanagerDiscovered fails unless Prometheus sends its alerts to
// the stack's Alertmanager.
func checkAlertmanagerDiscovered(t *testing.T, prometheus string) {
	t.Helper()
	var got []string
	if !eventually(30*time.Second, func() bool {
		var body struct {
			Data struct {
				Active []struct {
					URL string `json:"url"`
				} `json:"activeAlertmanagers"`
			} `json:"data"`
		}
		got = nil
		if getJSON(prometheus+"/api/v1/alertmanagers", &body) != nil {
			return false
		}
		for _, a := range body.Data.Active {
			got = append(got, a.URL)
		}
		return slices.Contains(got, "http://alertmanager:9093/api/v2/alerts")
	}) {
		t.Fatalf("Prometheus sends alerts to %v, want http://alertmanager:9093/api/v2/alerts", got)
	}
}

// waitQuiet waits until Prometheus has no alert of job, pending or firing,
// and the webhook has heard the resolution of each of its alerts that it
// heard fire.
func waitQuiet(ctx context.Context, t *testing.T, prometheus string, hook *webhookReceiver, job string) {
	t.Helper()
	start := time.Now()
	var active []string
	quiet := func() bool {
		var body struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if err := getJSON(prometheus+"/api/v1/alerts", &body); err != nil {
			active = []string{err.Error()}
			return false
		}
		active = nil
		for _, a := range body.Data.Alerts {
			if a.Labels["job"] == job {
				active = append(active, a.Labels["alertname"]+" "+a.State)
			}
		}
		return len(active) == 0 && len(hook.firing(job)) == 0
	}
	timeout := 3 * time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline))
	}
	if !eventually(timeout, quiet) {
		t.Fatalf("%s's alerts are not over 3 minutes after the stack started: in Prometheus %v, at the webhook still firing %v", job, active, hook.firing(job))
	}
	t.Logf("no alert of %s pending or firing (waited %s)", job, time.Since(start).Round(time.Millisecond))
}

// checkSilence silences catalog's alerts with scripts/silence.sh while
// ServiceMissing fires: Alertmanager must report the alert silenced, and
// active again once `silence.sh expire` has ended the silence.
func checkSilence(t *testing.T, o *ops, am string) {
	t.Helper()
	out, err := o.tryScript("silence.sh", "add", "-d", "10m", "-c", "e2e TestAlerts", `job="catalog"`)
	if err != nil {
		t.Fatalf("scripts/silence.sh add: %v\n%s", err, out)
	}
	id := silenceID.FindString(out)
	if id == "" {
		t.Fatalf("scripts/silence.sh add printed no silence id:\n%s", out)
	}
	state := func() string {
		var alerts []struct {
			Labels map[string]string `json:"labels"`
			Status struct {
				State      string   `json:"state"`
				SilencedBy []string `json:"silencedBy"`
			} `json:"status"`
		}
		if err := getJSON(am+"/api/v2/alerts?filter=alertname%3D%22ServiceMissing%22", &alerts); err != nil {
			return err.Error()
		}
		for _, a := range alerts {
			if a.Labels["job"] == "catalog" {
				return a.Status.State + " " + strings.Join(a.Status.SilencedBy, ",")
			}
		}
		return "absent"
	}
	var got string
	if !eventually(10*time.Second, func() bool { got = state(); return got == "suppressed "+id }) {
		t.Errorf("after scripts/silence.sh add: ServiceMissing of catalog is %q, want suppressed by %s", got, id)
	}
	if out, err := o.tryScript("silence.sh", "list"); err != nil || !strings.Contains(out, id) {
		t.Errorf("scripts/silence.sh list does not show %s: %v\n%s", id, err, out)
	}
	if out, err := o.tryScript("silence.sh", "expire"); err != nil || !strings.Contains(out, "expired "+id) {
		t.Errorf("scripts/silence.sh expire: %v\n%s", err, out)
	}
	if !eventually(10*time.Second, func() bool { got = state(); return got == "active " }) {
		t.Errorf("after scripts/silence.sh expire: ServiceMissing of catalog is %q, want active", got)
	}
	t.Logf("scripts/silence.sh silenced catalog's alerts (%s) and ended the silence", id)
}

var silenceID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// alertsConfig writes the test's copies of Prometheus' and Alertmanager's
// configuration into a new folder (the override's E2E_ALERTS_DIR): the
// project's files with the alert test's timings. Each rewrite must find
// what it rewrites, so that a changed layout fails here rather than leave
// the project's own, slower timings in place.
func alertsConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join("..", "observability")
	second := func(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }
	copyFile := func(src, dst string, rewrites map[string]string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for key, value := range rewrites {
			re := regexp.MustCompile(`(?m)^(\s*-?\s*` + key + `:\s*)\S+`)
			if !re.Match(b) {
				t.Fatalf("%s has no %s to rewrite", src, key)
			}
			b = re.ReplaceAll(b, []byte("${1}"+value))
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		// Read by the containers' users (nobody), not this process's.
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(root, "prometheus", "prometheus.yml"), filepath.Join(dir, "prometheus", "prometheus.yml"), map[string]string{
		"scrape_interval": second(alertsInterval), "evaluation_interval": second(alertsInterval), "refresh_interval": second(alertsInterval),
	})
	rules, err := filepath.Glob(filepath.Join(root, "prometheus", "rules", "*.yml"))
	if err != nil || len(rules) == 0 {
		t.Fatalf("no rule files (%v)", err)
	}
	for _, f := range rules {
		rewrites := map[string]string{}
		if b, _ := os.ReadFile(f); regexp.MustCompile(`(?m)^\s*for:`).Match(b) {
			rewrites["for"] = second(alertsFor)
		}
		copyFile(f, filepath.Join(dir, "prometheus", "rules", filepath.Base(f)), rewrites)
	}
	copyFile(filepath.Join(root, "alertmanager", "alertmanager.yml"), filepath.Join(dir, "alertmanager", "alertmanager.yml"), map[string]string{
		"group_wait": second(alertsGroupWait), "group_interval": second(alertsGroupInterval),
	})
	copyFile(filepath.Join(root, "alertmanager", "entrypoint.sh"), filepath.Join(dir, "alertmanager", "entrypoint.sh"), nil)
	templates, err := filepath.Glob(filepath.Join(root, "alertmanager", "templates", "*.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range templates {
		copyFile(f, filepath.Join(dir, "alertmanager", "templates", filepath.Base(f)), nil)
	}
	for _, d := range []string{dir, filepath.Join(dir, "prometheus"), filepath.Join(dir, "alertmanager")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// networkGateway returns the host's address on a Docker network: what a
// container on it reaches this process at.
func networkGateway(t *testing.T, network string) string {
	t.Helper()
	out, err := exec.Command("docker", "network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", network).Output()
	if err != nil {
		t.Fatalf("docker network inspect %s: %v", network, err)
	}
	for _, ip := range strings.Fields(string(out)) {
		if net.ParseIP(ip).To4() != nil {
			return ip
		}
	}
	t.Fatalf("network %s has no IPv4 gateway: %q", network, out)
	return ""
}

// composeContainer returns the id of a service's one running container.
func composeContainer(t *testing.T, project, service string) string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "--quiet", "--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service).Output()
	if ids := strings.Fields(string(out)); err != nil || len(ids) != 1 {
		t.Fatalf("%s: running containers %q (%v), want one", service, out, err)
	}
	return strings.TrimSpace(string(out))
}

// dockerTimed runs a docker command on a container and returns when it
// finished.
func dockerTimed(t *testing.T, verb, id string) time.Time {
	t.Helper()
	if out, err := exec.Command("docker", verb, id).CombinedOutput(); err != nil {
		t.Fatalf("docker %s %.12s: %v\n%s", verb, id, err, out)
	}
	return time.Now()
}

// getJSON decodes the answer of a GET that must be 200.
func getJSON(url string, v any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// webhookNotification is one POST of Alertmanager's webhook integration
// (version 4 of its JSON), with when it arrived.
type webhookNotification struct {
	Receiver    string            `json:"receiver"`
	Status      string            `json:"status"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []webhookAlert    `json:"alerts"`
	received    time.Time
}

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

// alert returns the notification's alert of that name and job.
func (n webhookNotification) alert(name, job string) webhookAlert {
	for _, a := range n.Alerts {
		if a.Labels["alertname"] == name && a.Labels["job"] == job {
			return a
		}
	}
	return webhookAlert{}
}

// has reports whether the notification holds the alert in that status.
func (n webhookNotification) has(status, name, job string) bool {
	return n.alert(name, job).Status == status
}

// webhookReceiver records the notifications Alertmanager POSTs to it.
type webhookReceiver struct {
	url string
	mu  sync.Mutex
	got []webhookNotification
}

// startWebhookReceiver serves a webhook on a free port of addr (the
// metrics network's gateway, which Alertmanager reaches and nothing
// outside this machine does) until the test ends.
func startWebhookReceiver(t *testing.T, addr string) *webhookReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	r := &webhookReceiver{url: "http://" + ln.Addr().String() + "/alerts"}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var n webhookNotification
		if req.Method != http.MethodPost || req.URL.Path != "/alerts" || json.NewDecoder(req.Body).Decode(&n) != nil {
			http.Error(w, "want a POST of Alertmanager's webhook JSON to /alerts", http.StatusBadRequest)
			return
		}
		n.received = time.Now()
		r.mu.Lock()
		r.got = append(r.got, n)
		r.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

// firing lists the alerts of job whose last notification said firing.
func (r *webhookReceiver) firing(job string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	last := map[string]string{}
	for _, n := range r.got {
		for _, a := range n.Alerts {
			if a.Labels["job"] == job {
				last[a.Labels["alertname"]] = a.Status
			}
		}
	}
	var out []string
	for name, status := range last {
		if status == "firing" {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// wait returns the first notification that satisfies match, waiting for
// it until timeout has passed.
func (r *webhookReceiver) wait(ctx context.Context, timeout time.Duration, match func(webhookNotification) bool) (webhookNotification, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		r.mu.Lock()
		i := slices.IndexFunc(r.got, match)
		var n webhookNotification
		if i >= 0 {
			n = r.got[i]
		}
		r.mu.Unlock()
		if i >= 0 {
			return n, true
		}
		select {
		case <-ctx.Done():
			return webhookNotification{}, false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// summary lists what arrived: receiver, status and each alert.
func (r *webhookReceiver) summary() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return "nothing"
	}
	var parts []string
	for _, n := range r.got {
		var alerts []string
		for _, a := range n.Alerts {
			alerts = append(alerts, fmt.Sprintf("%s{job=%q} %s", a.Labels["alertname"], a.Labels["job"], a.Status))
		}
		parts = append(parts, fmt.Sprintf("[%s to %s at %s: %s]", n.Status, n.Receiver, n.received.Format(time.TimeOnly), strings.Join(alerts, ", ")))
	}
	return strings.Join(parts, " ")
}
