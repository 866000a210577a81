package e2e

import (
	"context"
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
	"go.yaml.in/yaml/v3"

	"bazaar/e2e/internal/short"
	"bazaar/e2e/internal/testmain"
)

// Stack is a running compose project and where to reach it from the host.
type Stack struct {
	compose    *compose.DockerCompose
	Project    string   // the compose project's name
	Files      []string // the compose files, docker-compose.yml first
	Services   []string
	BaseURL    string // nginx, e.g. http://127.0.0.1:32768
	HTTPSURL   string // nginx over TLS, e.g. https://127.0.0.1:32769
	Prometheus string // Prometheus's HTTP API
}

var stack *Stack

func TestMain(m *testing.M) {
	os.Exit(testmain.Run(m, 20*time.Minute, func(ctx context.Context, _ string) (func(), error) {
		// A project name of its own, so that runs never share containers.
		// The shop and its no-stale-read tests run with a streaming standby
		// that serves the catalog's listings (docs/database.md).
		s, err := StartStackWithProfiles(ctx, fmt.Sprintf("bazaar-e2e-%d", os.Getpid()), []string{"replica"})
		if s == nil {
			return nil, err
		}
		stack = s
		return s.Stop, err
	}))
}

// StartStack brings up the project's docker-compose.yml under the given
// project name, with host ports chosen by Docker so that it can run beside
// a `make up` stack. Overrides are further compose files merged on top, by
// paths relative to the repository's root (e.g. the fault stack's
// e2e/toxiproxy/compose.yml); relative paths inside them are resolved, as
// compose does, against the root. It returns a non-nil Stack whenever
// something may need tearing down.
func StartStack(ctx context.Context, project string, overrides ...string) (*Stack, error) {
	return StartStackWithProfiles(ctx, project, nil, overrides...)
}

// StartStackWithProfiles is StartStack with Compose profiles enabled
// besides those of COMPOSE_PROFILES.
func StartStackWithProfiles(ctx context.Context, project string, profiles []string, overrides ...string) (*Stack, error) {
	root, err := testmain.Root()
	if err != nil {
		return nil, err
	}
	env, err := stackEnv(root)
	if err != nil {
		return nil, err
	}
	for _, p := range profiles {
		if !slices.Contains(strings.Split(env["COMPOSE_PROFILES"], ","), p) {
			env["COMPOSE_PROFILES"] = strings.TrimPrefix(env["COMPOSE_PROFILES"]+","+p, ",")
		}
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
	s := &Stack{compose: dc, Files: files, Project: project}
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

// stackEnv is the interpolation environment: the images (testmain.Images:
// those that make chose and exported, else local.env's stand-ins, or with
// BAZAAR_IMAGES=upstream compose's defaults), ephemeral host ports, the
// profiles of the process's COMPOSE_PROFILES and the host's GOPROXY.
func stackEnv(root string) (map[string]string, error) {
	env, err := testmain.Images(root)
	if err != nil {
		return nil, err
	}
	for _, port := range testmain.Ports {
		env[port] = "0"
	}
	// Optional services (Grafana) only when asked for here, whatever a
	// developer's .env enables for `make up`.
	env["COMPOSE_PROFILES"] = os.Getenv("COMPOSE_PROFILES")
	if out, err := exec.Command("go", "env", "GOPROXY").Output(); err == nil {
		env["GOPROXY"] = strings.TrimSpace(string(out))
	}
	return env, nil
}

// adoptableNetworks creates the project's networks before StartStack does,
// so that the docker compose CLI (which the scripts use) can manage the
// stack: testcontainers replaces the labels of the networks it creates, so
// their configuration hash never matches the one the CLI computes, and the
// CLI's `up` would try to recreate the networks under running containers.
// A network with compose's project labels and no hash is adopted by both.
func adoptableNetworks(t *testing.T, project string) {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Networks map[string]any `yaml:"networks"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil || len(file.Networks) == 0 {
		t.Fatalf("docker-compose.yml: no networks (%v)", err)
	}
	for network := range file.Networks {
		name := project + "_" + network
		out, err := exec.Command("docker", "network", "create", "--label", "com.docker.compose.project="+project,
			"--label", "com.docker.compose.network="+network, name).CombinedOutput()
		if err != nil {
			t.Fatalf("docker network create %s: %v\n%s", name, err, out)
		}
		// Normally removed with the stack; this covers a start that failed first.
		t.Cleanup(func() { exec.Command("docker", "network", "rm", name).Run() })
	}
}

// secretsDir is the stacks' secrets: SECRETS_DIR, as compose reads it,
// else the development set.
func secretsDir() string {
	if dir := os.Getenv("SECRETS_DIR"); dir != "" {
		return dir
	}
	return "../secrets/development"
}

// secret returns one of the stacks' secrets, as the containers read it.
func secret(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(secretsDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\r\n")
}

// secretNames lists the secrets in the stacks' set.
func secretNames(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(secretsDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// internalGet returns the docker arguments that GET url (a service's
// internal port: http://catalog-internal:8081/metrics) as Prometheus does:
// from the project's internal network, with the internal token. No
// container there has curl, so one of nginx's image (env's NGINX_IMAGE,
// KEY=VALUE pairs) joins the network for the call.
func internalGet(t testing.TB, project string, env []string, url string) []string {
	t.Helper()
	_, _, upstream := imageTags(t)
	image := upstream["NGINX_IMAGE"]
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "NGINX_IMAGE="); ok && v != "" {
			image = v
		}
	}
	return []string{"run", "--rm", "--network", project + "_internal", "--cap-drop", "ALL", image,
		"curl", "-fsS", "--max-time", "10", "-H", "Authorization: Bearer " + secret(t, "internal_token"), url}
}

// composeService is what services needs of a compose file's service.
type composeService struct {
	Image    string   `yaml:"image"`
	Build    any      `yaml:"build"`
	Profiles []string `yaml:"profiles"`
}

// services lists the services of the compose files (merged: a later file
// overrides an earlier one's image, build and profiles) that run with the
// profiles env's COMPOSE_PROFILES enables. Every image must already be on
// this machine, or be one that compose builds.
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
			if svc.Profiles != nil {
				m.Profiles = svc.Profiles
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
	enabled := strings.Split(env["COMPOSE_PROFILES"], ",")
	var names []string
	for name, svc := range merged {
		if len(svc.Profiles) > 0 && !slices.ContainsFunc(svc.Profiles, func(p string) bool { return slices.Contains(enabled, p) }) {
			continue
		}
		image := interpolate(svc.Image, env)
		if !built[image] && exec.Command("docker", "image", "inspect", image).Run() != nil {
			return nil, fmt.Errorf("image %s of service %s is not on this machine: run `make images`", image, name)
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

// mustStack returns the shared stack.
func mustStack(tb testing.TB) *Stack {
	tb.Helper()
	short.Skip(tb, "a compose stack")
	if stack == nil {
		tb.Fatal("the stack is not running")
	}
	return stack
}
