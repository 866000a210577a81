package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Every container of the stack runs as a user other than root, with no
// capabilities and no way to gain privileges; all but the two that write
// where a volume cannot stand in (PostgreSQL, Grafana) run on a read-only
// root file system; and only nginx is published to the network, Prometheus
// and Grafana to the host's loopback alone.
func TestContainersAreHardened(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	var project struct {
		Config struct{ Labels map[string]string }
	}
	dockerInspect(t, s, "nginx", &project)
	ids, err := exec.Command("docker", "ps", "--quiet", "--filter",
		"label=com.docker.compose.project="+project.Config.Labels["com.docker.compose.project"]).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	out, err := exec.Command("docker", append([]string{"inspect"}, strings.Fields(string(ids))...)...).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	var containers []struct {
		Config struct {
			User   string
			Labels map[string]string
		}
		HostConfig struct {
			CapDrop        []string
			CapAdd         []string
			SecurityOpt    []string
			ReadonlyRootfs bool
			PortBindings   map[string][]struct{ HostIp string }
		}
	}
	if err := json.Unmarshal(out, &containers); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range containers {
		name, h := c.Config.Labels["com.docker.compose.service"], c.HostConfig
		seen[name] = true
		if user, _, _ := strings.Cut(c.Config.User, ":"); user == "" || user == "0" || user == "root" {
			t.Errorf("%s runs as %q, want a user other than root", name, c.Config.User)
		}
		if !slices.Contains(h.CapDrop, "ALL") || len(h.CapAdd) > 0 {
			t.Errorf("%s: capabilities dropped %v, added %v; want ALL dropped and none added", name, h.CapDrop, h.CapAdd)
		}
		if !slices.Contains(h.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security options %v, want no-new-privileges:true", name, h.SecurityOpt)
		}
		if !h.ReadonlyRootfs && name != "postgres" && name != "postgres-replica" && name != "grafana" {
			t.Errorf("%s: the root file system is writable", name)
		}
		for port, bindings := range h.PortBindings {
			for _, b := range bindings {
				switch {
				case name == "nginx":
				case (name == "prometheus" || name == "alertmanager" || name == "grafana") && b.HostIp == "127.0.0.1":
				default:
					t.Errorf("%s publishes %s on %q", name, port, b.HostIp)
				}
			}
		}
	}
	for _, name := range []string{"nginx", "catalog", "users", "orders", "postgres", "redis", "prometheus"} {
		if !seen[name] {
			t.Errorf("no running container of %s was checked", name)
		}
	}
}

// A burst of sign-in requests from one address runs into nginx's limit:
// those past it get 429 problem+json with Retry-After, and those within it
// reach the service. The burst comes from inside nginx's container, so its
// address (127.0.0.1) is not the one the other tests share.
func TestEdgeRateLimitAnswers429(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	burst := `curl -s -D - -o /dev/null -X POST -H 'Content-Type: application/json' -d '{}' 'http://127.0.0.1:8080/api/users/login?n=[1-300]'`
	out, err := exec.Command("docker", "exec", containerID(t, s, "nginx"), "sh", "-c", burst).Output()
	if err != nil {
		t.Fatalf("burst: %v", err)
	}
	statuses := map[string]int{}
	for _, answer := range strings.Split(string(out), "HTTP/1.1 ")[1:] {
		status, header, _ := strings.Cut(strings.ToLower(answer), "\n")
		code, _, _ := strings.Cut(status, " ")
		statuses[code]++
		if code == "429" && (!strings.Contains(header, "retry-after: ") || !strings.Contains(header, "content-type: application/problem+json")) {
			t.Errorf("a 429 without Retry-After or problem+json:\nHTTP/1.1 %s", answer)
		}
	}
	t.Logf("300 sign-ins at once: %v", statuses)
	if statuses["429"] == 0 || statuses["429"] == 300 {
		t.Errorf("%d of 300 answered 429; want some but not all", statuses["429"])
	}
}

// runCmd runs a command and returns its output and exit code (-1 when it
// could not start).
func runCmd(name string, args ...string) (string, int) {
	out, err := exec.Command(name, args...).CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if exit, ok := err.(*exec.ExitError); ok {
			code = exit.ExitCode()
		}
	}
	return strings.TrimSpace(string(out)), code
}

// image returns the image of the stack's service.
func image(t *testing.T, s *Stack, service string) string {
	t.Helper()
	var c struct{ Config struct{ Image string } }
	dockerInspect(t, s, service, &c)
	return c.Config.Image
}

// address returns the address of the stack's service on one of its
// networks.
func address(t *testing.T, s *Stack, service, network string) string {
	t.Helper()
	var c struct {
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
		}
	}
	dockerInspect(t, s, service, &c)
	ip := c.NetworkSettings.Networks[s.Project+"_"+network].IPAddress
	if ip == "" {
		t.Fatalf("%s is not on the network %s", service, network)
	}
	return ip
}

// nginx, which faces the internet, reaches the services' API ports and
// nothing else: not their internal ports (closed on its network, even by
// address), not PostgreSQL, Redis or the exporters (on networks it is not
// on, so neither their names nor their addresses answer).
func TestEdgeReachesOnlyTheAPI(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	nginx := containerID(t, s, "nginx")
	curl := func(url string) (string, int) {
		return runCmd("docker", "exec", nginx, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3", url)
	}
	// A TCP connection, opened by bash: it exits 0 only once connected.
	connects := func(host, port string) bool {
		_, code := runCmd("docker", "exec", nginx, "timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/"+host+"/"+port)
		return code == 0
	}
	if !connects("catalog", "8080") {
		t.Fatal("nginx cannot open a connection to catalog:8080: the probe itself does not work")
	}
	// Each closed port costs its probe's whole timeout, so they run at once.
	var probes sync.WaitGroup
	for _, svc := range []string{"catalog", "users", "orders"} {
		if out, code := curl("http://" + svc + ":8080/readyz"); code != 0 || out != "200" {
			t.Errorf("nginx → %s:8080/readyz: %s (curl exit %d), want 200", svc, out, code)
		}
		for _, url := range []string{"http://" + svc + ":8081/metrics", "http://" + address(t, s, svc, "edge") + ":8081/metrics",
			"http://" + svc + "-internal:8081/metrics", "http://" + address(t, s, svc, "internal") + ":8081/metrics"} {
			probes.Go(func() {
				if out, code := curl(url); code == 0 {
					t.Errorf("nginx → %s answered %s, want no connection", url, out)
				}
			})
		}
	}
	for _, target := range []struct{ service, network, port string }{
		{"postgres", "data", "5432"}, {"redis", "data", "6379"}, {"catalog", "internal", "8081"},
		{"postgres-exporter", "metrics", "9187"}, {"redis-exporter", "metrics", "9121"},
		{"prometheus", "metrics", "9090"}, {"prometheus", "internal", "9090"},
	} {
		for _, host := range []string{target.service, address(t, s, target.service, target.network)} {
			probes.Go(func() {
				if connects(host, target.port) {
					t.Errorf("nginx opened a connection to %s:%s (%s on %s)", host, target.port, target.service, target.network)
				}
			})
		}
	}
	probes.Wait()
}

// The internal API (reservations, metrics, pprof) answers only callers that
// hold the internal token, even on the internal network; its probes stay
// open.
func TestInternalAPIRequiresTheToken(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	probe := func(header, url string) (string, int) {
		args := []string{"run", "--rm", "--network", s.Project + "_internal", "--cap-drop", "ALL", image(t, s, "nginx"),
			"curl", "-sS", "--max-time", "10", "-w", "\n%{http_code} %{content_type}", "-H", header, url}
		return runCmd("docker", args...)
	}
	token := secret(t, "internal_token")
	for _, tc := range []struct {
		header, url, want string
	}{
		{"X-No: token", "http://catalog-internal:8081/metrics", "401 application/problem+json"},
		{"Authorization: Bearer wrong", "http://users-internal:8081/debug/pprof/", "401 application/problem+json"},
		{"X-No: token", "http://catalog-internal:8081/internal/reservations/00000000-0000-0000-0000-000000000000", "401 application/problem+json"},
		{"Authorization: Bearer " + token, "http://orders-internal:8081/metrics", "200 text/plain"},
		{"X-No: token", "http://orders-internal:8081/readyz", "200 application/json"},
	} {
		out, code := probe(tc.header, tc.url)
		lines := strings.Split(out, "\n")
		if got := lines[len(lines)-1]; code != 0 || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s with %q: %q (exit %d), want %s", tc.url, strings.Replace(tc.header, token, "<token>", 1), got, code, tc.want)
		}
	}
}

// Redis answers no one without a password; the cache's user has the data
// commands and not the administrative ones; the exporter's user reads
// server statistics and no key.
func TestRedisRequiresAPassword(t *testing.T) {
	t.Parallel()
	s := mustStack(t)
	cli := func(args ...string) string {
		out, _ := runCmd("docker", append([]string{"run", "--rm", "--network", s.Project + "_data", "--cap-drop", "ALL",
			image(t, s, "redis"), "redis-cli", "-h", "redis", "--no-auth-warning"}, args...)...)
		return out
	}
	exporterJSON := secret(t, "redis_exporter_password.json")
	var exporter map[string]string
	if err := json.Unmarshal([]byte(exporterJSON), &exporter); err != nil || exporter["redis://redis:6379"] == "" {
		t.Fatalf("redis_exporter_password.json: %v", err)
	}
	catalog := []string{"--user", "catalog", "--pass", secret(t, "redis_catalog_password")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "NOAUTH"},
		{[]string{"GET", "x"}, "NOAUTH"},
		{[]string{"--user", "default", "--pass", "", "PING"}, "WRONGPASS"},
		{[]string{"--user", "catalog", "--pass", "wrong", "PING"}, "WRONGPASS"},
		{append(slices.Clone(catalog), "PING"), "PONG"},
		{append(slices.Clone(catalog), "SET", "hardening-test", "1", "EX", "5"), "OK"},
		{append(slices.Clone(catalog), "CONFIG", "SET", "maxmemory", "1"), "NOPERM"},
		{append(slices.Clone(catalog), "ACL", "LIST"), "NOPERM"},
		{[]string{"--user", "exporter", "--pass", exporter["redis://redis:6379"], "INFO", "server"}, "redis_version"},
		{[]string{"--user", "exporter", "--pass", exporter["redis://redis:6379"], "GET", "hardening-test"}, "NOPERM"},
	} {
		if out := cli(tc.args...); !strings.Contains(out, tc.want) {
			t.Errorf("redis-cli %s: %q, want %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
}
