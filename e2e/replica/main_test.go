// Package replica runs the shop with the Compose profile replica (a
// streaming standby, synchronous commits, read routing) on a compose
// project of its own, and damages it: the standby killed under load, then
// the primary killed under load and `make failover` (scripts/failover.sh),
// then the lost primary brought back by scripts/rejoin.sh.
package replica

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/testmain"
)

// project is the stack under test.
type project struct {
	Root    string // the repository's root
	Name    string // the compose project's name
	BaseURL string // nginx, e.g. http://127.0.0.1:41234
	// Prometheus is its HTTP API, e.g. http://127.0.0.1:41235.
	Prometheus string
	env        []string // the environment of every docker compose and script run
	// StreamAfter is how long the standby took to stream after the stack
	// was up: the yardstick for waiting on it again.
	StreamAfter time.Duration
}

var stack *project

func TestMain(m *testing.M) {
	os.Exit(testmain.Run(m, 15*time.Minute, func(ctx context.Context, root string) (func(), error) {
		p, err := start(ctx, root, fmt.Sprintf("bazaar-replica-%d", os.Getpid()))
		if p == nil {
			return nil, err
		}
		stack = p
		return p.down, err
	}))
}

// start brings the stack up with the profile replica and waits until the
// standby streams.
func start(ctx context.Context, root, name string) (*project, error) {
	env, err := composeEnv(root, name)
	if err != nil {
		return nil, err
	}
	p := &project{Root: root, Name: name, env: env}
	began := time.Now()
	// The services' images as the root package's stack (or make up) built
	// them; built here only when missing, since a build is three compiles.
	for _, svc := range []string{"catalog", "users", "orders"} {
		if exec.CommandContext(ctx, "docker", "image", "inspect", "bazaar/"+svc+":dev").Run() != nil {
			log.Printf("building %s: its image is missing", svc)
			if _, err := p.compose(ctx, "build", svc); err != nil {
				return p, err
			}
		}
	}
	log.Printf("starting stack %q with the profile replica", name)
	if _, err := p.compose(ctx, "up", "-d", "--wait", "--no-build"); err != nil {
		return p, err
	}
	up := time.Now()
	log.Printf("stack up in %s", time.Since(began).Round(time.Second))
	out, err := p.compose(ctx, "port", "nginx", "8080")
	if err != nil {
		return p, err
	}
	p.BaseURL = "http://" + strings.Replace(strings.TrimSpace(out), "0.0.0.0", "127.0.0.1", 1)
	if out, err = p.compose(ctx, "port", "prometheus", "9090"); err != nil {
		return p, err
	}
	p.Prometheus = "http://" + strings.Replace(strings.TrimSpace(out), "0.0.0.0", "127.0.0.1", 1)
	// The standby is healthy once it accepts connections; streaming (and
	// synchronous commits, which the sync guard turns on) follow.
	for {
		if n, _ := p.sql(ctx, "postgres", "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND sync_state = 'sync'"); n == "1" {
			break
		}
		if ctx.Err() != nil {
			return p, fmt.Errorf("the standby does not stream synchronously: %w", ctx.Err())
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.StreamAfter = time.Since(up)
	log.Printf("standby streaming synchronously %s after the stack was up", p.StreamAfter.Round(time.Millisecond))
	return p, nil
}

// composeEnv is the environment of the project: the images of
// testmain.Images, ephemeral host ports, the profile replica, the project's
// name.
func composeEnv(root, name string) ([]string, error) {
	images, err := testmain.Images(root)
	if err != nil {
		return nil, err
	}
	env := os.Environ()
	for k, v := range images {
		env = append(env, k+"="+v)
	}
	for _, port := range testmain.Ports {
		env = append(env, port+"=0")
	}
	return append(env, "COMPOSE_PROJECT_NAME="+name, "COMPOSE_PROFILES=replica", "COMPOSE_FILE="+filepath.Join(root, "docker-compose.yml")), nil
}

// compose runs docker compose on the project and returns its output.
func (p *project) compose(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"compose"}, args...)...)
	cmd.Dir, cmd.Env = p.Root, p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("docker compose %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// script runs one of scripts/ on the project and returns its output.
func (p *project) script(ctx context.Context, name string, env ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.Root, "scripts", name))
	cmd.Dir, cmd.Env = p.Root, append(p.env, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("scripts/%s: %w\n%s", name, err, out)
	}
	return string(out), nil
}

// sql runs a query as the superuser on one node and returns its output.
func (p *project) sql(ctx context.Context, node, query string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := p.compose(ctx, "exec", "-T", node, "psql", "-XAtq", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", "bazaar", "-c", query)
	return strings.TrimSpace(out), err
}

// down removes the project with its volumes.
func (p *project) down() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, err := p.compose(ctx, "down", "--volumes", "--remove-orphans", "--timeout", "10"); err != nil {
		log.Printf("compose down: %v\n%s", err, out)
	}
}
