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
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"bazaar/e2e/internal/load"
	"bazaar/e2e/internal/short"
)

// faultStack is a compose project of the fault tests' own, which they break
// and mend while traffic flows; the shared stack is never touched.
type faultStack struct {
	*Stack
	project string
	root    string
	env     []string // docker compose's environment: the same interpolation as StartStack's
	admin   *Client
	// The services reach PostgreSQL through Toxiproxy (toxiproxyCompose):
	// toxiproxy is its HTTP API, pgProxy the proxied PostgreSQL (host:port),
	// both published on the host.
	toxiproxy string
	pgProxy   string
	// catalogPassword is catalog's role's, for pgConnect.
	catalogPassword string
}

// toxiproxyCompose is the override that puts Toxiproxy between the services
// and PostgreSQL in the fault stack.
const toxiproxyCompose = "e2e/toxiproxy/compose.yml"

// startFaultStack starts the project's compose file under a project name of
// its own, on a network the docker compose CLI adopts (the tests scale
// services and run scripts/deploy.sh with it). Access tokens are signed
// with a key fixed for the whole stack (JWT_PRIVATE_KEY), as in
// production: with development's key made at start, every replica of users
// would sign with a key of its own and a restart would void every token,
// which no rolling restart can survive.
func startFaultStack(ctx context.Context, t *testing.T) *faultStack {
	t.Helper()
	short.Skip(t, "a compose stack")
	t.Setenv("JWT_PRIVATE_KEY", newSigningKeyPEM(t))
	// Faults are under test here, not the per-client limits (every shopper
	// registers from this one address), and the checks read every order
	// back as fast as they can.
	t.Setenv("RATE_LIMITS", "off")
	t.Setenv("REGISTER_MAX_PER_IP", "100000")
	t.Setenv("ORDERS_MAX_OPEN_PER_USER", "0")
	t.Setenv("ORDERS_MAX_RESERVED_UNITS_PER_USER", "0")
	project := fmt.Sprintf("bazaar-fault-%d", os.Getpid())
	adoptableNetworks(t, project)
	start := time.Now()
	s, err := StartStack(ctx, project, toxiproxyCompose)
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
	f := &faultStack{Stack: s, project: project, root: root, env: os.Environ(), catalogPassword: secret(t, "catalog_db_password")}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		f.env = append(f.env, k+"="+env[k])
	}
	f.env = append(f.env, "COMPOSE_PROJECT_NAME="+project, "COMPOSE_FILE="+strings.Join(s.Files, string(filepath.ListSeparator)))
	if f.toxiproxy, err = s.endpoint(ctx, "toxiproxy", "8474/tcp"); err != nil {
		t.Fatal(err)
	}
	pg, err := s.endpoint(ctx, "toxiproxy", "5432/tcp")
	if err != nil {
		t.Fatal(err)
	}
	f.pgProxy = strings.TrimPrefix(pg, "http://")
	f.admin = f.signIn(t, "admin@bazaar.local", secret(t, "admin_password"))
	return f
}

// logsOnFailure shows the end of the services' logs if the test fails.
func (f *faultStack) logsOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("end of the services' logs:\n%s", f.compose(t, "logs", "--no-color", "--tail", "25", "catalog", "users", "orders", "postgres", "toxiproxy", "nginx"))
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

// shopperPassword is the password of every customer the fault tests register.
const shopperPassword = "correct horse battery"

// newShoppers registers n customers and signs them in.
func (f *faultStack) newShoppers(t *testing.T, n int) []*Client {
	t.Helper()
	out := make([]*Client, n)
	for i, email := range f.newAccounts(t, n) {
		out[i] = f.signIn(t, email, shopperPassword)
	}
	return out
}

// newAccounts registers n customers, with shopperPassword, and returns
// their addresses.
func (f *faultStack) newAccounts(t *testing.T, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("fault-%s@example.com", uniqueWord())
		f.client("").Do(t, "POST", "/api/users/register", map[string]string{"email": out[i], "password": shopperPassword, "name": "Fault"}).
			Expect(t, http.StatusCreated, nil)
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

// internal GETs a URL of a service's internal port (internalGet).
func (f *faultStack) internal(t *testing.T, url string) string {
	t.Helper()
	return f.docker(t, internalGet(t, f.project, f.env, url)...)
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

// ip returns a container's address on one of the stack's networks: edge,
// where nginx reaches it, or internal.
func (f *faultStack) ip(t *testing.T, id, network string) string {
	t.Helper()
	return f.docker(t, "inspect", "--format", `{{(index .NetworkSettings.Networks "`+f.project+`_`+network+`").IPAddress}}`, id)
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

// pgLatency is the latency the slow-connection tests add to each direction
// of the link between the services and PostgreSQL: a round trip then takes
// twice as long, and a new connection (startup and SCRAM authentication,
// three round trips) six times. E2E_PG_LATENCY (a Go duration) overrides it.
func pgLatency(t *testing.T) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(envOr("E2E_PG_LATENCY", "100ms"))
	if err != nil || d < 0 {
		t.Fatalf("E2E_PG_LATENCY: %v", err)
	}
	return d
}

// toxiproxyAPI sends one request to Toxiproxy's HTTP API and fails the test
// unless it answers want.
func (f *faultStack) toxiproxyAPI(t *testing.T, method, path string, body any, want int) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, f.toxiproxy+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("toxiproxy: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("toxiproxy: %s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
}

// slowDatabase adds latency to both directions of the proxied link between
// the services and PostgreSQL, for connections open and to come, and logs
// what a new connection then takes. It returns a func that takes the
// latency away again, which also runs when the test ends (once in all).
func (f *faultStack) slowDatabase(t *testing.T, latency time.Duration) (undo func()) {
	t.Helper()
	streams := []string{"upstream", "downstream"}
	for _, stream := range streams {
		f.toxiproxyAPI(t, "POST", "/proxies/postgres/toxics", map[string]any{
			"name": "latency_" + stream, "type": "latency", "stream": stream, "toxicity": 1.0,
			"attributes": map[string]any{"latency": latency.Milliseconds(), "jitter": 0},
		}, http.StatusOK)
	}
	var once sync.Once
	undo = func() {
		once.Do(func() {
			for _, stream := range streams {
				f.toxiproxyAPI(t, "DELETE", "/proxies/postgres/toxics/latency_"+stream, nil, http.StatusNoContent)
			}
			t.Logf("latency between the services and PostgreSQL removed")
		})
	}
	t.Cleanup(undo)
	t.Logf("latency between the services and PostgreSQL: %s each way", latency)
	if fastest := f.logConnectTimes(t, 5); fastest < 100*time.Millisecond {
		t.Fatalf("with the latency a new connection took %s, want at least 100ms", load.Round(fastest))
	}
	return undo
}

// pgConnect opens one connection to PostgreSQL through the proxy, as
// catalog's role (password authentication, as the services do), closes it
// and returns how long opening took.
func (f *faultStack) pgConnect(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	url := fmt.Sprintf("postgres://catalog:%s@%s/bazaar?sslmode=disable",
		f.catalogPassword, f.pgProxy)
	start := time.Now()
	conn, err := pgconn.Connect(ctx, url)
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	conn.Close(ctx)
	return took, nil
}

// logConnectTimes opens n connections through the proxy, one after the
// other, logs how long each took and returns the fastest.
func (f *faultStack) logConnectTimes(t *testing.T, n int) time.Duration {
	t.Helper()
	var times []time.Duration
	for range n {
		took, err := f.pgConnect(context.Background())
		if err != nil {
			t.Fatalf("connect to PostgreSQL through the proxy: %v", err)
		}
		times = append(times, load.Round(took))
	}
	t.Logf("a new PostgreSQL connection through the proxy took %v", times)
	return slices.Min(times)
}

// waitPostgres tries connections through the proxy until one succeeds, and
// returns when that attempt started (PostgreSQL was accepting connections
// then, give or take the link's latency) and how long it took.
func (f *faultStack) waitPostgres(ctx context.Context, timeout time.Duration) (at time.Time, took time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		at = time.Now()
		if took, err = f.pgConnect(ctx); err == nil {
			return at, took, nil
		}
		select {
		case <-ctx.Done():
			return at, took, fmt.Errorf("PostgreSQL is not accepting connections through the proxy after %s: %w", timeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readyAt asks service's /readyz every 100ms, with curl from inside nginx's
// container (no docker exec per attempt, whose cost would blur the time),
// until it passes or timeout runs out, and returns when it first passed.
func (f *faultStack) readyAt(ctx context.Context, service string, timeout time.Duration) (time.Time, error) {
	const script = `end=$(( $(date +%s) + $2 ))
while [ "$(date +%s)" -lt "$end" ]; do
	if curl -fsS -o /dev/null --max-time 2 "http://$1:8080/readyz" 2>/dev/null; then date +%s.%N; exit 0; fi
	sleep 0.1
done
echo "$1: /readyz still fails after $2s" >&2; exit 1`
	ctx, cancel := context.WithTimeout(ctx, timeout+time.Minute)
	defer cancel()
	nginx, err := command(ctx, f.env, "docker", "ps", "--quiet", "--filter", "label=com.docker.compose.project="+f.project, "--filter", "label=com.docker.compose.service=nginx")
	if err != nil {
		return time.Time{}, err
	}
	out, err := command(ctx, f.env, "docker", "exec", strings.TrimSpace(nginx), "sh", "-c", script, "sh", service, strconv.Itoa(int(timeout.Seconds())))
	if err != nil {
		return time.Time{}, err
	}
	sec, nsec, _ := strings.Cut(strings.TrimSpace(out), ".")
	s, err1 := strconv.ParseInt(sec, 10, 64)
	ns, err2 := strconv.ParseInt(nsec, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return time.Time{}, fmt.Errorf("%s: readiness time %q: %w", service, out, err)
	}
	return time.Unix(s, ns), nil
}

// readyTimes runs readyAt for every service at once.
func (f *faultStack) readyTimes(ctx context.Context, services []string, timeout time.Duration) (map[string]time.Time, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	out := map[string]time.Time{}
	for _, s := range services {
		wg.Go(func() {
			at, err := f.readyAt(ctx, s, timeout)
			mu.Lock()
			defer mu.Unlock()
			out[s] = at
			errs = append(errs, err)
		})
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// restartServices restarts the containers of services all at once, as a
// host reboot or a redeploy would, waits until each answers /readyz and
// logs how long that took. nginx is reloaded if a container came back
// with another address.
func (f *faultStack) restartServices(ctx context.Context, t *testing.T, services ...string) {
	t.Helper()
	ids, ips := map[string]string{}, map[string]string{}
	for _, s := range services {
		ids[s] = f.container(t, s)
		ips[s] = f.ip(t, ids[s], "edge")
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(services))
	for i, s := range services {
		wg.Go(func() {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			_, errs[i] = command(rctx, f.env, "docker", "restart", ids[s])
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	ready, err := f.readyTimes(ctx, services, 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range services {
		t.Logf("%s: restarted in %s, ready %s later", s, load.Round(restarted.Sub(start)), load.Round(ready[s].Sub(restarted)))
	}
	for _, s := range services {
		if ip := f.ip(t, ids[s], "edge"); ip != ips[s] {
			t.Logf("%s came back at %s (was %s): reloading nginx", s, ip, ips[s])
			f.reloadNginx(t)
			break
		}
	}
}

// burstRequest is one request of a burst: it returns the outcome and the
// answer's body.
type burstRequest func(ctx context.Context, c *http.Client) (load.Outcome, []byte)

// burst sends every request at once (they all wait at a barrier until the
// last is ready to go) and returns the results, latency counted from the
// barrier. An answer that is not 200 or 201 is an unexpected one, with its
// body in the error.
func burst(ctx context.Context, requests []burstRequest) load.Results {
	c := load.NewClient(len(requests), 30*time.Second)
	defer c.CloseIdleConnections()
	results := make([]load.Result, len(requests))
	var ready, done sync.WaitGroup
	ready.Add(len(requests))
	barrier := make(chan struct{})
	var start time.Time
	for i, send := range requests {
		done.Go(func() {
			ready.Done()
			<-barrier
			out, body := send(ctx, c)
			results[i] = load.Result{Outcome: expect(out, http.StatusOK, http.StatusCreated), I: i, Latency: time.Since(start)}
			if errors.Is(results[i].Err, errUnexpected) {
				results[i].Err = fmt.Errorf("%w: %.300s", results[i].Err, body)
			}
		})
	}
	ready.Wait()
	start = time.Now()
	close(barrier)
	done.Wait()
	return load.Results{List: results, Elapsed: time.Since(start)}
}

// cutDatabase turns the proxy in front of PostgreSQL off: connections
// through it are closed, and new ones refused at once, as they are where a
// service dials a PostgreSQL that is gone (its name no longer resolves). It
// returns a func that turns the proxy on again (which also runs when the
// test ends). A test that kills PostgreSQL cuts the proxy first: Toxiproxy
// dials upstream in its accept loop, without a timeout, and a dial to the
// address of a container being torn down hangs (for as long as TCP retries
// its SYN) with every connection accepted after it: the services would see
// their handshakes stall until DB_CONNECT_TIMEOUT, an artefact of this
// proxy, not what a service sees without one.
func (f *faultStack) cutDatabase(t *testing.T) (restore func()) {
	t.Helper()
	f.toxiproxyAPI(t, "PATCH", "/proxies/postgres", map[string]any{"enabled": false}, http.StatusOK)
	var once sync.Once
	restore = func() {
		once.Do(func() {
			f.toxiproxyAPI(t, "PATCH", "/proxies/postgres", map[string]any{"enabled": true}, http.StatusOK)
		})
	}
	t.Cleanup(restore)
	return restore
}
