package swarm

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/shop"
	"bazaar/e2e/internal/short"
	"bazaar/e2e/internal/testmain"
)

// deployment is the stack under test and how to reach it.
type deployment struct {
	Root    string // the repository's root
	Name    string // the stack's name
	BaseURL string // nginx over HTTP on this node, e.g. http://127.0.0.1:41234
	TLSURL  string // nginx over HTTPS
	Grafana bool   // whether Grafana runs (GRAFANA_REPLICAS=1)
	env     []string
}

var stack *deployment

func TestMain(m *testing.M) {
	os.Exit(testmain.Run(m, 10*time.Minute, func(ctx context.Context, root string) (func(), error) {
		undo, err := joinSwarm(ctx)
		if err != nil {
			return undo, fmt.Errorf("swarm: %w", err)
		}
		d, err := deploy(ctx, root, fmt.Sprintf("bazaar-e2e-%d", os.Getpid()))
		if d == nil {
			return undo, err
		}
		stack = d
		return func() { d.remove(); undo() }, err
	}))
}

// joinSwarm makes sure this engine is a manager of a swarm: it initialises
// a single-node swarm when the engine is in none. undo puts back what it
// changed: it leaves a swarm it made, or else removes the node labels that
// scripts/swarm-up.sh added to this node.
func joinSwarm(ctx context.Context) (undo func(), err error) {
	undo = func() {}
	state, err := docker(ctx, "info", "--format", "{{.Swarm.LocalNodeState}}")
	if err != nil {
		return undo, err
	}
	switch state {
	case "inactive":
		log.Print("no swarm: initialising a single-node swarm for the tests")
		if _, err := docker(ctx, "swarm", "init", "--advertise-addr", "127.0.0.1"); err != nil {
			return undo, err
		}
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := docker(ctx, "swarm", "leave", "--force"); err != nil {
				log.Printf("swarm leave: %v", err)
			}
		}, nil
	case "active":
		if manager, _ := docker(ctx, "info", "--format", "{{.Swarm.ControlAvailable}}"); manager != "true" {
			return undo, fmt.Errorf("this engine is a swarm worker; the tests need a manager")
		}
	default:
		return undo, fmt.Errorf("this engine's swarm state is %q", state)
	}
	self, err := docker(ctx, "info", "--format", "{{.Swarm.NodeID}}")
	if err != nil {
		return undo, err
	}
	labels := func(ctx context.Context) map[string]string {
		out, _ := docker(ctx, "node", "inspect", "--format", "{{json .Spec.Labels}}", self)
		m := map[string]string{}
		json.Unmarshal([]byte(out), &m)
		return m
	}
	before := labels(ctx)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for k := range labels(ctx) {
			if _, had := before[k]; !had {
				if _, err := docker(ctx, "node", "update", "--label-rm", k, self); err != nil {
					log.Printf("node label %s: %v", k, err)
				}
			}
		}
	}, nil
}

// deploy runs scripts/swarm-up.sh for a stack of the given name, on two free
// ports of this host, with a secret set of its own. It returns a non-nil
// deployment whenever something may need removing.
func deploy(ctx context.Context, root, name string) (*deployment, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	secrets, err := os.MkdirTemp("", "bazaar-swarm-secrets-")
	if err != nil {
		return nil, err
	}
	images, err := testmain.Images(root)
	if err != nil {
		return nil, err
	}
	// Grafana as Compose runs it: when COMPOSE_PROFILES names it (make
	// leaves it out with the local stand-ins, which have no Grafana).
	grafana := slices.Contains(strings.Split(os.Getenv("COMPOSE_PROFILES"), ","), "grafana")
	d := &deployment{
		Root:    root,
		Name:    name,
		BaseURL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		TLSURL:  fmt.Sprintf("https://127.0.0.1:%d", ports[1]),
		Grafana: grafana,
		env: append(os.Environ(),
			"GRAFANA_REPLICAS="+map[bool]string{true: "1", false: "0"}[grafana],
			"STACK_NAME="+name,
			fmt.Sprintf("HTTP_PORT=%d", ports[0]),
			fmt.Sprintf("HTTPS_PORT=%d", ports[1]),
			"SECRETS_DIR="+filepath.Join(root, "secrets", "development"),
			"SWARM_SECRETS_WORKDIR="+secrets,
			"SWARM_WAIT_TIMEOUT=300",
			// The service images as make e2e's compose stacks built them just
			// before (go test -p 1 runs the root package first); a build only
			// when one is missing.
			"SWARM_BUILD="+build(ctx),
			"APP_ENV=development",
			// One customer orders all along: no per-user order limits.
			"ORDERS_MAX_OPEN_PER_USER=0",
			"ORDERS_MAX_RESERVED_UNITS_PER_USER=0",
		),
	}
	for k, v := range images {
		d.env = append(d.env, k+"="+v)
	}
	start := time.Now()
	log.Printf("deploying stack %s (HTTP %d, HTTPS %d)", name, ports[0], ports[1])
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "swarm-up.sh"))
	cmd.Dir, cmd.Env = root, d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return d, fmt.Errorf("swarm-up.sh: %v\n%s", err, out)
	}
	log.Printf("stack %s converged and healthy in %s", name, time.Since(start).Round(time.Second))
	return d, nil
}

// build is SWARM_BUILD for swarm-up.sh: 1 when a service image is missing.
func build(ctx context.Context) string {
	version := cmp.Or(os.Getenv("BAZAAR_VERSION"), "dev")
	for _, svc := range []string{"catalog", "users", "orders"} {
		if _, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", "bazaar/"+svc+":"+version); err != nil {
			return "1"
		}
	}
	return "0"
}

// remove removes the stack, its volumes and its secret set, and waits until
// its containers and networks are gone.
func (d *deployment) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(d.Root, "scripts", "swarm-down.sh"))
	cmd.Dir = d.Root
	cmd.Env = append(slices.Clone(d.env), "SWARM_VOLUMES=delete")
	if out, err := cmd.CombinedOutput(); err != nil {
		log.Printf("swarm-down.sh: %v\n%s", err, out)
	}
	for _, kv := range d.env {
		if dir, ok := strings.CutPrefix(kv, "SWARM_SECRETS_WORKDIR="); ok {
			os.RemoveAll(dir)
		}
	}
}

func mustStack(tb testing.TB) *deployment {
	tb.Helper()
	if stack == nil {
		short.Skip(tb, "a Swarm stack")
		tb.Fatal("no Swarm stack")
	}
	return stack
}

// service is the Swarm name of one of the stack's services.
func (d *deployment) service(name string) string { return d.Name + "_" + name }

// freePorts returns n ports that are free on this host now.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// docker runs the docker CLI and returns its trimmed standard output.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := docker(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// theShop is the stack as the shop suite (e2e/internal/shop) sees it: its
// nginx and its administrator (the development secret set's).
func theShop(tb testing.TB) *shop.Shop {
	tb.Helper()
	d := mustStack(tb)
	pw, err := os.ReadFile(filepath.Join(d.Root, "secrets", "development", "admin_password"))
	if err != nil {
		tb.Fatal(err)
	}
	return &shop.Shop{
		BaseURL:       d.BaseURL,
		TLSURL:        d.TLSURL,
		AdminEmail:    "admin@bazaar.local",
		AdminPassword: strings.TrimRight(string(pw), "\r\n"),
	}
}

// newProduct adds a product with the given stock, as the administrator.
func newProduct(tb testing.TB, stock int) shop.Product {
	tb.Helper()
	s := theShop(tb)
	return shop.AddProduct(tb, s.Admin(tb).API, shop.SampleProduct(shop.UniqueWord(), "swarm", 250, stock))
}
