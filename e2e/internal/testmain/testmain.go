// Package testmain is what the TestMain of the end-to-end packages that run
// a stack of their own share (the root package on Compose, replica on
// Compose with a standby, swarm on Docker Swarm): the stack brought up
// before the tests and removed after them, the repository's root, and the
// images and host ports the stack gets.
package testmain

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Run runs the package's tests around a stack, and returns the exit code
// for os.Exit. start brings the stack up within timeout, from the
// repository's root (see Root), and returns stop,
// which removes it; stop is called after the tests, and also after a start
// that failed part-way, whenever start returned one. Under -short Run only
// runs the tests: those that need the stack skip (internal/short).
func Run(m *testing.M, timeout time.Duration, start func(ctx context.Context, root string) (stop func(), err error)) int {
	flag.Parse()
	if testing.Short() {
		return m.Run()
	}
	root, err := Root()
	if err != nil {
		log.Print(err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	stop, err := start(ctx, root)
	if stop != nil {
		defer stop()
	}
	if err != nil {
		log.Printf("start stack: %v", err)
		return 1
	}
	return m.Run()
}

// Root returns the repository's root: the nearest folder above the working
// directory (a test's package folder) that holds go.work.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory")
		}
		dir = parent
	}
}

// Ports are the variables of the host ports that the compose and stack
// files publish. The tests set them to 0, for ports that Docker picks, so
// that a stack under test runs beside a `make up` one.
var Ports = []string{"HTTP_PORT", "HTTPS_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "GRAFANA_PORT"}

// Images returns, by variable (POSTGRES_IMAGE, …), the infrastructure
// images that images/local.env names, as the stacks run them: the one the
// process's environment names (make exports what images/choose.sh chose),
// else the local stand-in of local.env; none with BAZAAR_IMAGES=upstream
// (then the compose or stack file's default, the upstream image).
func Images(root string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(root, "images", "local.env"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	upstream := os.Getenv("BAZAAR_IMAGES") == "upstream"
	images := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		if set, ok := os.LookupEnv(k); ok {
			images[k] = set
		} else if !upstream {
			images[k] = v
		}
	}
	return images, sc.Err()
}
