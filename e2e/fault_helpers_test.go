package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/load"
)

// faultStack is a compose project of the fault tests' own, which they break
// and mend while traffic flows; the shared stack is never touched.
type faultStack struct {
	*Stack
	project string
	root    string
	env     []string // docker compose's environment: the same interpolation as StartStack's
	admin   *Client
}

// startFaultStack starts the project's compose file under a project name of
// its own, on a network the docker compose CLI adopts (the tests scale
// services and run scripts/deploy.sh with it). Access tokens are signed
// with a key fixed for the whole stack (JWT_PRIVATE_KEY), as in
// production: with development's key made at start, every replica of users
// would sign with a key of its own and a restart would void every token,
// which no rolling restart can survive.
func startFaultStack(ctx context.Context, t *testing.T) *faultStack {
	t.Helper()
	t.Setenv("JWT_PRIVATE_KEY", newSigningKeyPEM(t))
	// Faults are under test here, not nginx's rate limits, and the checks
	// read every order back as fast as they can.
	t.Setenv("RATE_LIMITS", "off")
	project := fmt.Sprintf("bazaar-fault-%d", os.Getpid())
	adoptableNetwork(t, project)
	start := time.Now()
	s, err := StartStack(ctx, project)
	if s != nil {
		t.Cleanup(s.Stop)
	}
	if err != nil {
		t.Fatalf("start stack: %v", err)
	}
	t.Logf("fault stack %s up in %s", project, time.Since(start).Round(time.Second))
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	env, err := stackEnv(root)
	if err != nil {
		t.Fatal(err)
	}
	f := &faultStack{Stack: s, project: project, root: root, env: os.Environ()}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		f.env = append(f.env, k+"="+env[k])
	}
	f.env = append(f.env, "COMPOSE_PROJECT_NAME="+project, "COMPOSE_FILE="+filepath.Join(root, "docker-compose.yml"))
	f.admin = f.signIn(t, envOr("ADMIN_EMAIL", "admin@bazaar.local"), envOr("ADMIN_PASSWORD", "change-me-admin"))
	return f
}

// logsOnFailure shows the end of the services' logs if the test fails.
func (f *faultStack) logsOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of the services' logs:\n%s", f.compose(t, "logs", "--no-color", "--tail", "25", "catalog", "users", "orders", "postgres", "nginx"))
		}
	})
}

// newSigningKeyPEM returns a fresh Ed25519 private key in the form
// JWT_PRIVATE_KEY takes (PKCS#8 PEM).
func newSigningKeyPEM(t *testing.T) string {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// client returns an API client of this stack, signed in when token is set.
func (f *faultStack) client(token string) *Client {
	return &Client{Base: f.BaseURL, Token: token, HTTP: &http.Client{Timeout: 30 * time.Second}}
}

func (f *faultStack) signIn(t *testing.T, email, password string) *Client {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	f.client("").Do(t, "POST", "/api/users/login", map[string]string{"email": email, "password": password}).Expect(t, http.StatusOK, &tok)
	return f.client(tok.AccessToken)
}

// newShoppers registers n customers and signs them in.
func (f *faultStack) newShoppers(t *testing.T, n int) []*Client {
	t.Helper()
	out := make([]*Client, n)
	for i := range out {
		email := fmt.Sprintf("fault-%s@example.com", uniqueWord())
		f.client("").Do(t, "POST", "/api/users/register", map[string]string{"email": email, "password": "correct horse battery", "name": "Fault"}).
			Expect(t, http.StatusCreated, nil)
		out[i] = f.signIn(t, email, "correct horse battery")
	}
	return out
}

// newProduct creates a product with the given stock.
func (f *faultStack) newProduct(t *testing.T, stock int) shopProduct {
	t.Helper()
	var p shopProduct
	f.admin.Do(t, "POST", "/api/catalog/products", map[string]any{
		"sku": "FAULT-" + uniqueWord(), "name": "Fault " + uniqueWord(), "description": "Made for the fault tests.",
		"price_cents": 500, "currency": "USD", "stock": stock, "category": "fault-tests",
	}).Expect(t, http.StatusCreated, &p)
	return p
}

// command runs a command until it ends or ctx does, returning its output.
func command(ctx context.Context, env []string, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// docker runs the docker CLI and fails the test if it fails.
func (f *faultStack) docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := command(ctx, f.env, "docker", args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// compose runs the docker compose CLI on this stack's project.
func (f *faultStack) compose(t *testing.T, args ...string) string {
	t.Helper()
	return f.docker(t, append([]string{"compose"}, args...)...)
}

// containers returns the ids of service's running containers.
func (f *faultStack) containers(t *testing.T, service string) []string {
	t.Helper()
	out := f.docker(t, "ps", "--quiet", "--filter", "label=com.docker.compose.project="+f.project,
		"--filter", "label=com.docker.compose.service="+service)
	return strings.Fields(out)
}

// container returns the id of service's one running container.
func (f *faultStack) container(t *testing.T, service string) string {
	t.Helper()
	ids := f.containers(t, service)
	if len(ids) != 1 {
		t.Fatalf("%s has %d running containers, want 1", service, len(ids))
	}
	return ids[0]
}

// ready reports whether a service container's /readyz passes, asked by the
// service binary's own probe inside the container (the image has no curl).
func (f *faultStack) ready(id string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := command(ctx, f.env, "docker", "exec", id, "/service", "healthcheck")
	return err == nil
}

// eventually polls cond every half second until it holds or timeout passes.
func eventually(timeout time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(timeout); ; time.Sleep(500 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// waitHealthy waits until the container's health check passes.
func (f *faultStack) waitHealthy(t *testing.T, id string) {
	t.Helper()
	if !eventually(2*time.Minute, func() bool {
		return f.docker(t, "inspect", "--format", "{{.State.Health.Status}}", id) == "healthy"
	}) {
		t.Fatalf("container %.12s is not healthy after 2m", id)
	}
}

// internal GETs a URL of the compose network (a service's internal port) from
// inside nginx's container, which has curl.
func (f *faultStack) internal(t *testing.T, url string) string {
	t.Helper()
	return f.docker(t, "exec", f.container(t, "nginx"), "curl", "-fsS", "--max-time", "5", url)
}

// metric sums the samples of a metric whose labels include labels (e.g.
// `kind="product"`) in a Prometheus text exposition.
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

// ip returns a container's address on the stack's network.
func (f *faultStack) ip(t *testing.T, id string) string {
	t.Helper()
	return f.docker(t, "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
}

// reloadNginx makes nginx resolve the service names again, and returns once
// the workers of the previous configuration have exited: Docker may give a
// freed address to the next container it starts, and an old worker holding
// it would send that container requests meant for another service.
func (f *faultStack) reloadNginx(t *testing.T) {
	t.Helper()
	nginx := f.container(t, "nginx")
	workers := f.docker(t, "exec", nginx, "sh", "-c", `grep -l '^nginx: worker process' /proc/[0-9]*/cmdline | cut -d/ -f3`)
	f.docker(t, "exec", nginx, "nginx", "-c", "/etc/nginx/bazaar/nginx.conf", "-s", "reload")
	if !eventually(time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args := append([]string{"exec", nginx, "sh", "-c", `for p; do [ ! -e /proc/$p ] || exit 1; done`, "sh"}, strings.Fields(workers)...)
		_, err := command(ctx, f.env, "docker", args...)
		return err == nil
	}) {
		t.Fatal("nginx's previous workers did not exit within 1m")
	}
}

// call is one API request of a load run: it reads the whole answer and
// returns the outcome, with the body for callers that need it.
func call(ctx context.Context, c *http.Client, base, method, path, token string, body any, headers ...string) (load.Outcome, []byte) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return load.Outcome{Err: err}, nil
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, r)
	if err != nil {
		return load.Outcome{Err: err}, nil
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return load.Outcome{Err: err}, nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	out := load.Outcome{Status: resp.StatusCode, Err: err}
	if err == nil && resp.StatusCode >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		out.Err = fmt.Errorf("status %d without problem+json: %.200s", resp.StatusCode, data)
	}
	return out, data
}

// errUnexpected marks an answer that a scenario does not allow.
var errUnexpected = errors.New("unexpected answer")

// expect turns an answer whose status is not among ok into a failure.
func expect(out load.Outcome, ok ...int) load.Outcome {
	if out.Err == nil && !slices.Contains(ok, out.Status) {
		out.Err = fmt.Errorf("%w: status %d", errUnexpected, out.Status)
	}
	return out
}

// report logs a run's summary, by kind of request when kind is not nil,
// and its first unexpected answers (those with an error: transport errors
// and answers the scenario does not allow).
func report(t *testing.T, name string, rs load.Results, kind func(i int) string) {
	t.Helper()
	t.Logf("%s: %s", name, rs.Summary())
	if kind != nil {
		groups := map[string]load.Results{}
		for _, r := range rs.List {
			g := groups[kind(r.I)]
			g.List, g.Elapsed = append(g.List, r), rs.Elapsed
			groups[kind(r.I)] = g
		}
		for _, k := range slices.Sorted(maps.Keys(groups)) {
			t.Logf("  %s: %s", k, groups[k].Summary())
		}
	}
	wrong := rs.Filter(func(r load.Result) bool { return r.Err != nil }).List
	for i, r := range wrong {
		if i == 10 {
			t.Logf("… and %d more unexpected answers", len(wrong)-10)
			break
		}
		what := "request"
		if kind != nil {
			what = kind(r.I)
		}
		t.Logf("request %d (%s) at %s, after %s: status %d: %v", r.I, what, load.Round(r.Start), load.Round(r.Latency), r.Status, r.Err)
	}
}
