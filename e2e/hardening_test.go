package e2e

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
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
		if !h.ReadonlyRootfs && name != "postgres" && name != "grafana" {
			t.Errorf("%s: the root file system is writable", name)
		}
		for port, bindings := range h.PortBindings {
			for _, b := range bindings {
				switch {
				case name == "nginx":
				case (name == "prometheus" || name == "grafana") && b.HostIp == "127.0.0.1":
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
