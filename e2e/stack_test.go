package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go/modules/compose"
	"gopkg.in/yaml.v3"
)

// Stack is a running compose project and where to reach it from the host.
type Stack struct {
	compose    *compose.DockerCompose
	Files      []string // the compose files, docker-compose.yml first
	Services   []string
	BaseURL    string // nginx, e.g. http://127.0.0.1:32768
	HTTPSURL   string // nginx over TLS, e.g. https://127.0.0.1:32769
	Prometheus string // Prometheus's HTTP API
}

var stack *Stack

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		return m.Run() // -short: only the tests that need no stack (lints)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	// A project name of its own, so that runs never share containers.
	s, err := StartStack(ctx, fmt.Sprintf("bazaar-e2e-%d", os.Getpid()))
	if s != nil {
		defer s.Stop()
	}
	if err != nil {
		log.Printf("start stack: %v", err)
		return 1
	}
	stack = s
	return m.Run()
}

// StartStack brings up the project's docker-compose.yml under the given
// project name, with host ports chosen by Docker so that it can run beside
// a `make up` stack. Overrides are further compose files merged on top, by
// paths relative to the repository's root (e.g. the fault stack's
// e2e/toxiproxy/compose.yml); relative paths inside them are resolved, as
// compose does, against the root. It returns a non-nil Stack whenever
// something may need tearing down.
func StartStack(ctx context.Context, project string, overrides ...string) (*Stack, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	env, err := stackEnv(root)
	if err != nil {
		return nil, err
	}
	files := []string{filepath.Join(root, "docker-compose.yml")}
	for _, o := range overrides {
		files = append(files, filepath.Join(root, o))
	}
	dc, err := compose.NewDockerComposeWith(
		compose.WithStackFiles(files...),
		compose.StackIdentifier(project),
	)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	s := &Stack{compose: dc, Files: files}
	s.Services, err = services(files, env)
	if err != nil {
		return s, err
	}
	start := time.Now()
	log.Printf("starting stack %q: %s", project, strings.Join(s.Services, " "))
	err = dc.WithEnv(env).Up(ctx, compose.Wait(true), compose.RunServices(s.Services...))
	if err != nil {
		return s, fmt.Errorf("compose up: %w", err)
	}
	log.Printf("stack up in %s", time.Since(start).Round(time.Second))
	if s.BaseURL, err = s.endpoint(ctx, "nginx", "8080/tcp"); err != nil {
		return s, err
	}
	if s.Prometheus, err = s.endpoint(ctx, "prometheus", "9090/tcp"); err != nil {
		return s, err
	}
	if s.HTTPSURL, err = s.endpoint(ctx, "nginx", "8443/tcp"); err != nil {
		return s, err
	}
	s.HTTPSURL = "https" + strings.TrimPrefix(s.HTTPSURL, "http")
	return s, nil
}

func (s *Stack) endpoint(ctx context.Context, service, port string) (string, error) {
	c, err := s.compose.ServiceContainer(ctx, service)
	if err != nil {
		return "", fmt.Errorf("%s: %w", service, err)
	}
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", fmt.Errorf("%s: %w", service, err)
	}
	return fmt.Sprintf("http://127.0.0.1:%s", p.Port()), nil
}

// Stop removes the stack's containers, networks and volumes.
func (s *Stack) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := s.compose.Down(ctx, compose.RemoveOrphans(true), compose.RemoveVolumes(true)); err != nil {
		log.Printf("compose down: %v", err)
	}
}

// stackEnv is the interpolation environment: the local image names from
// images/local.env (there is no registry to pull upstream images from),
// overridden by the process environment, and ephemeral host ports.
func stackEnv(root string) (map[string]string, error) {
	env := map[string]string{}
	f, err := os.Open(filepath.Join(root, "images", "local.env"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	for k := range env {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	for _, port := range []string{"HTTP_PORT", "HTTPS_PORT", "PROMETHEUS_PORT", "GRAFANA_PORT"} {
		env[port] = "0"
	}
	if out, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil {
		env["GOPROXY"] = strings.TrimSpace(string(out))
	}
	return env, sc.Err()
}

// composeService is what services needs of a compose file's service.
type composeService struct {
	Image string `yaml:"image"`
	Build any    `yaml:"build"`
}

// services lists the services of the compose files (merged: a later file
// overrides an earlier one's image and build). Every image must already be
// on this machine (there is no registry), except Grafana's, which cannot be
// built from Debian packages: without it the stack runs without Grafana.
func services(files []string, env map[string]string) ([]string, error) {
	merged := map[string]composeService{}
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var file struct {
			Services map[string]composeService `yaml:"services"`
		}
		if err := yaml.Unmarshal(raw, &file); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
		}
		for name, svc := range file.Services {
			m := merged[name]
			if svc.Image != "" {
				m.Image = svc.Image
			}
			if svc.Build != nil {
				m.Build = svc.Build
			}
			merged[name] = m
		}
	}
	built := map[string]bool{} // images that compose builds itself
	for _, svc := range merged {
		if svc.Build != nil {
			built[interpolate(svc.Image, env)] = true
		}
	}
	var names []string
	for name, svc := range merged {
		image := interpolate(svc.Image, env)
		if !built[image] && exec.Command("docker", "image", "inspect", image).Run() != nil {
			if name != "grafana" {
				return nil, fmt.Errorf("image %s of service %s is not on this machine: run `make images`", image, name)
			}
			log.Printf("image %s is not on this machine: running without %s", image, name)
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

var variable = regexp.MustCompile(`\$\{(\w+)(?::-([^}]*))?\}`)

// interpolate expands ${NAME} and ${NAME:-default} as compose does.
func interpolate(s string, env map[string]string) string {
	return variable.ReplaceAllStringFunc(s, func(m string) string {
		sub := variable.FindStringSubmatch(m)
		if v := env[sub[1]]; v != "" {
			return v
		}
		return sub[2]
	})
}

// skipWhenShort skips a test that needs a compose stack under -short, which
// runs only the offline tests; in CI (CI=true) such a skip would hide the
// test, so it fails instead.
func skipWhenShort(tb testing.TB) {
	tb.Helper()
	if !testing.Short() {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal("needs a compose stack, but runs with -short in CI; run the end-to-end tests without -short")
	}
	tb.Skip("needs a compose stack; -short runs only the offline tests")
}

// mustStack returns the shared stack.
func mustStack(tb testing.TB) *Stack {
	tb.Helper()
	skipWhenShort(tb)
	if stack == nil {
		tb.Fatal("the stack is not running")
	}
	return stack
}
