package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// stack names the containers of the compose project under test.
type stack struct {
	project    string
	containers map[string]string // service → container name (the first replica)
}

func newStack(ctx context.Context, project string) (*stack, error) {
	out, err := docker(ctx, "ps", "--filter", "label=com.docker.compose.project="+project,
		"--format", `{{.Names}} {{.Label "com.docker.compose.service"}}`)
	if err != nil {
		return nil, err
	}
	s := &stack{project: project, containers: map[string]string{}}
	for line := range strings.Lines(out) {
		name, service, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && (s.containers[service] == "" || name < s.containers[service]) {
			s.containers[service] = name
		}
	}
	for _, want := range []string{"nginx", "catalog", "users", "orders", "postgres", "redis"} {
		if s.containers[want] == "" {
			return nil, fmt.Errorf("compose project %q has no running %s container", project, want)
		}
	}
	return s, nil
}

// docker runs the docker CLI, bounded by ctx.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// internal GETs a URL of a service's internal port (/metrics,
// /debug/pprof: http://catalog-internal:8081/metrics) as Prometheus does:
// from the project's internal network, with the internal token, which
// INTERNAL_TOKEN_FILE names. The service images have no curl, so a
// container of nginx's image joins that network for the call.
func (s *stack) internal(ctx context.Context, url string) (string, error) {
	token, err := os.ReadFile(os.Getenv("INTERNAL_TOKEN_FILE"))
	if err != nil {
		return "", fmt.Errorf("the internal token (INTERNAL_TOKEN_FILE): %w", err)
	}
	image, err := docker(ctx, "inspect", "--format", "{{.Config.Image}}", s.containers["nginx"])
	if err != nil {
		return "", err
	}
	return docker(ctx, "run", "--rm", "--network", s.project+"_internal", "--cap-drop", "ALL", strings.TrimSpace(image),
		"curl", "-fsS", "--max-time", "120", "-H", "Authorization: Bearer "+strings.TrimSpace(string(token)), url)
}

// metric sums the samples of a metric whose labels include labels in a
// Prometheus text exposition.
func metric(exposition, name, labels string) float64 {
	var sum float64
	for line := range strings.Lines(exposition) {
		series, value, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) || !strings.Contains(series, labels) {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			sum += v
		}
	}
	return sum
}

// serviceMetric reads one metric of a Go service.
func (s *stack) serviceMetric(ctx context.Context, service, name, labels string) (float64, error) {
	m, err := s.internal(ctx, "http://"+service+"-internal:8081/metrics")
	if err != nil {
		return 0, err
	}
	return metric(m, name, labels), nil
}

// memory is one reading of every container's memory, in bytes: the
// cgroup's usage as docker stats shows it and, for the Go services in idle
// readings, their resident set as the process reports it.
type memory struct {
	usage map[string]float64 // by service
	rss   map[string]float64 // by Go service
}

var goServices = []string{"catalog", "users", "orders"}

// memory reads every container's usage and the Go services' RSS.
func (s *stack) memory(ctx context.Context) (memory, error) {
	m := memory{usage: map[string]float64{}, rss: map[string]float64{}}
	stats, err := s.stats(ctx)
	if err != nil {
		return m, err
	}
	for svc, st := range stats {
		m.usage[svc] = st.memory
	}
	for _, svc := range goServices {
		if m.rss[svc], err = s.serviceMetric(ctx, svc, "process_resident_memory_bytes", ""); err != nil {
			return m, err
		}
	}
	return m, nil
}

// peak samples the containers' memory usage every interval until ctx
// ends and keeps each one's highest reading. It asks only the Engine API,
// which costs the machine far less than a docker CLI call would while the
// load runs.
func (s *stack) peak(ctx context.Context, interval time.Duration) <-chan memory {
	out := make(chan memory, 1)
	go func() {
		top := memory{usage: map[string]float64{}}
		for ctx.Err() == nil {
			if stats, err := s.stats(ctx); err == nil {
				for svc, st := range stats {
					top.usage[svc] = max(top.usage[svc], st.memory)
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
		out <- top
	}()
	return out
}

// pgbench runs `pgbench -N` inside the PostgreSQL container, on a scratch
// database it creates and drops, and returns its transactions per second
// and the CPU the containers spent during the run (the initialisation left
// out).
func (s *stack) pgbench(ctx context.Context, clients int, d time.Duration) (float64, cpuUse, error) {
	const db = "bench_scratch"
	psh := func(ctx context.Context, script string) (string, error) {
		return docker(ctx, "exec", "-u", "postgres", s.containers["postgres"], "sh", "-c", script)
	}
	if _, err := psh(ctx, fmt.Sprintf("dropdb --if-exists %[1]s && createdb %[1]s && pgbench -i -q -s 1 %[1]s", db)); err != nil {
		return 0, nil, err
	}
	defer psh(context.WithoutCancel(ctx), "dropdb --if-exists "+db)
	var out string
	use, err := s.during(ctx, func() (err error) {
		out, err = psh(ctx, fmt.Sprintf("pgbench -N -n -c %d -j 2 -T %d %s", clients, int(d.Seconds()), db))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	for line := range strings.Lines(out) {
		// "tps = 1234.567890 (without initial connection time)"
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "tps = "); ok {
			num, _, _ := strings.Cut(rest, " ")
			tps, err := strconv.ParseFloat(num, 64)
			return tps, use, err
		}
	}
	return 0, nil, fmt.Errorf("pgbench printed no tps: %s", out)
}

// containerStats is what the bench reads of a container's statistics.
type containerStats struct {
	cpu    time.Duration // CPU time used since the container started
	memory float64       // bytes, counted as docker stats counts them
}

// stats reads every container's statistics from the Docker Engine API (on
// DOCKER_HOST's socket, or the default one), all at once: the docker CLI
// shows only a momentary CPU rate, where the runs need the CPU time between
// two points, and the daemon takes a while over each container.
func (s *stack) stats(ctx context.Context) (map[string]containerStats, error) {
	type result struct {
		service string
		stats   containerStats
		err     error
	}
	results := make(chan result, len(s.containers))
	for service, name := range s.containers {
		go func() {
			st, err := containerStatsOf(ctx, name)
			results <- result{service, st, err}
		}()
	}
	out := map[string]containerStats{}
	var errs []error
	for range s.containers {
		r := <-results
		out[r.service] = r.stats
		errs = append(errs, r.err)
	}
	return out, errors.Join(errs...)
}

func containerStatsOf(ctx context.Context, name string) (containerStats, error) {
	c, base := engineAPI()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/containers/"+name+"/stats?stream=false&one-shot=true", nil)
	if err != nil {
		return containerStats{}, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return containerStats{}, fmt.Errorf("docker engine API: %w", err)
	}
	defer resp.Body.Close()
	var st struct {
		CPU struct {
			Usage struct {
				Total int64 `json:"total_usage"` // nanoseconds
			} `json:"cpu_usage"`
		} `json:"cpu_stats"`
		Memory struct {
			Usage uint64            `json:"usage"`
			Stats map[string]uint64 `json:"stats"`
		} `json:"memory_stats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return containerStats{}, fmt.Errorf("docker engine API: stats of %s: %w", name, err)
	}
	// As docker stats: the usage less the page cache that the kernel may
	// drop (inactive files; cgroup v1 and v2 name it differently).
	mem := st.Memory.Usage
	for _, k := range []string{"total_inactive_file", "inactive_file"} {
		if v, ok := st.Memory.Stats[k]; ok && v < mem {
			mem -= v
			break
		}
	}
	return containerStats{cpu: time.Duration(st.CPU.Usage.Total), memory: float64(mem)}, nil
}

// engineAPI returns a client of the Docker Engine API and its base URL.
func engineAPI() (*http.Client, string) {
	host := os.Getenv("DOCKER_HOST")
	if rest, ok := strings.CutPrefix(host, "tcp://"); ok {
		return http.DefaultClient, "http://" + rest
	}
	socket := strings.TrimPrefix(host, "unix://")
	if socket == "" {
		socket = "/var/run/docker.sock"
	}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}, "http://docker"
}

// cpuUse is the CPU time each container spent during a measured run.
type cpuUse map[string]time.Duration

// during runs f and returns the CPU time each container spent meanwhile.
func (s *stack) during(ctx context.Context, f func() error) (cpuUse, error) {
	before, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	if err := f(); err != nil {
		return nil, err
	}
	after, err := s.stats(ctx)
	if err != nil {
		return nil, err
	}
	use := cpuUse{}
	for k, v := range after {
		use[k] = v.cpu - before[k].cpu
	}
	return use, nil
}
