package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// stubDocker is a docker CLI for images/choose.sh and the Makefile: it logs
// each call to $STUB_LOG; `pull` succeeds (STUB_PULL=ok), hangs (hang) or
// fails as a pull without DNS does; `image inspect` finds every image when
// STUB_PRESENT=yes; `info` fails when STUB_INFO=fail.
const stubDocker = `#!/bin/sh
echo "$*" >>"$STUB_LOG"
case $1 in
pull)
	case ${STUB_PULL:-} in
	ok) echo "$3" ;;
	hang) exec sleep 60 ;;
	*) echo 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 192.0.2.53:53: no such host' >&2; exit 1 ;;
	esac ;;
image) [ "${STUB_PRESENT:-}" = yes ] ;;
info) [ "${STUB_INFO:-}" != fail ] ;;
*) echo "stub docker: unexpected call: $*" >&2; exit 1 ;;
esac
`

// imageRun is one run of a command against the stub docker.
type imageRun struct {
	code           int
	stdout, stderr string
	calls          []string // the docker calls, one per line
	took           time.Duration
}

// runWithStubDocker runs name args... in the repository root with the stub
// docker first on PATH and vars (KEY=VALUE) added to an environment cleared
// of any image choice and of an enclosing make's variables.
func runWithStubDocker(t *testing.T, vars []string, name string, args ...string) imageRun {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(stubDocker), 0o755); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "calls.log")
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasSuffix(k, "_IMAGE"), strings.HasPrefix(k, "BAZAAR_IMAGE"),
			k == "MAKEFLAGS", k == "MFLAGS", k == "MAKELEVEL", k == "MAKEOVERRIDES", k == "PATH":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "STUB_LOG="+logFile)
	cmd := exec.Command(name, args...)
	cmd.Dir = ".."
	cmd.Env = append(env, vars...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	run := imageRun{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if exit, ok := err.(*exec.ExitError); ok {
		run.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if raw, err := os.ReadFile(logFile); err == nil {
		run.calls = strings.Split(strings.TrimSpace(string(raw)), "\n")
	}
	return run
}

// imageTags returns local.env's image variables, in order, with their
// stand-in tags and docker-compose.yml's upstream defaults.
func imageTags(t testing.TB) (keys []string, local, upstream map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "images", "local.env"))
	if err != nil {
		t.Fatal(err)
	}
	local, upstream = map[string]string{}, map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z_]+_IMAGE)=(\S+)$`).FindAllStringSubmatch(string(raw), -1) {
		keys = append(keys, m[1])
		local[m[1]] = m[2]
	}
	compose, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z_]+_IMAGE):-([^}]+)\}`).FindAllStringSubmatch(string(compose), -1) {
		upstream[m[1]] = m[2]
	}
	if len(keys) < 8 {
		t.Fatalf("local.env names %d images: the parser is wrong", len(keys))
	}
	return keys, local, upstream
}

// TestImageChoice runs images/choose.sh against a stub docker: each case
// says which images make would use, or that it refuses.
func TestImageChoice(t *testing.T) {
	t.Parallel()
	keys, local, upstream := imageTags(t)
	assignments := func(choice string, tags map[string]string) string {
		lines := []string{"BAZAAR_IMAGES=" + choice}
		for _, k := range keys {
			lines = append(lines, k+"="+tags[k])
		}
		return strings.Join(lines, "\n") + "\n"
	}
	probe := "pull -q " + upstream["REDIS_EXPORTER_IMAGE"]
	for _, tc := range []struct {
		name       string
		vars       []string
		wantStdout string   // the assignments; "" when it refuses
		wantLine   []string // in the one line on stderr (the message, when it refuses)
		wantCalls  []string // the first docker calls, in order; nil: none at all
	}{{
		name:       "probe pulls: upstream",
		vars:       []string{"STUB_PULL=ok"},
		wantStdout: assignments("upstream", upstream),
		wantLine:   []string{"==> Images: upstream (registry reachable: pulled " + upstream["REDIS_EXPORTER_IMAGE"] + ")"},
		wantCalls:  []string{probe},
	}, {
		name:       "probe fails: local",
		vars:       []string{"STUB_PULL=fail"},
		wantStdout: assignments("local", local),
		wantLine:   []string{"==> Images: local stand-ins", "(no registry: Get ", "no such host)"},
		wantCalls:  []string{probe, "info"},
	}, {
		name:       "probe hangs: local after the timeout",
		vars:       []string{"STUB_PULL=hang", "BAZAAR_IMAGE_PROBE_TIMEOUT=1"},
		wantStdout: assignments("local", local),
		wantLine:   []string{"==> Images: local stand-ins", "timed out after 1s"},
		wantCalls:  []string{probe, "info"},
	}, {
		name:       "probe fails, every upstream image here: upstream",
		vars:       []string{"STUB_PULL=fail", "STUB_PRESENT=yes"},
		wantStdout: assignments("upstream", upstream),
		wantLine:   []string{"==> Images: upstream (no registry: ", "every upstream image is on this machine"},
		wantCalls:  []string{probe, "info", "image inspect " + upstream[keys[0]]},
	}, {
		name:       "BAZAAR_IMAGES=local: local without probing",
		vars:       []string{"BAZAAR_IMAGES=local", "STUB_PULL=ok"},
		wantStdout: assignments("local", local),
		wantLine:   []string{"==> Images: local stand-ins, built from Debian packages (BAZAAR_IMAGES=local)"},
	}, {
		name:       "BAZAAR_IMAGES=upstream, probe pulls: upstream",
		vars:       []string{"BAZAAR_IMAGES=upstream", "STUB_PULL=ok"},
		wantStdout: assignments("upstream", upstream),
		wantLine:   []string{"==> Images: upstream (BAZAAR_IMAGES=upstream; registry reachable: pulled "},
		wantCalls:  []string{probe},
	}, {
		name:      "BAZAAR_IMAGES=upstream, probe fails: refused",
		vars:      []string{"BAZAAR_IMAGES=upstream", "STUB_PULL=fail"},
		wantLine:  []string{"error: BAZAAR_IMAGES=upstream, but Docker cannot pull the upstream images (", "no such host", "Nothing was built"},
		wantCalls: []string{probe, "info"},
	}, {
		name:     "BAZAAR_IMAGES=podman: refused",
		vars:     []string{"BAZAAR_IMAGES=podman", "STUB_PULL=ok"},
		wantLine: []string{"error: BAZAAR_IMAGES='podman' is not a choice: use BAZAAR_IMAGES=upstream", "BAZAAR_IMAGES=local"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run := runWithStubDocker(t, tc.vars, "images/choose.sh")
			if tc.wantStdout == "" && run.code == 0 {
				t.Errorf("exit status 0, want a refusal; stdout:\n%s", run.stdout)
			}
			if tc.wantStdout != "" && run.code != 0 {
				t.Errorf("exit status %d; stderr:\n%s", run.code, run.stderr)
			}
			if run.stdout != tc.wantStdout {
				t.Errorf("stdout:\n%s\nwant:\n%s", run.stdout, tc.wantStdout)
			}
			if lines := strings.Split(strings.TrimSuffix(run.stderr, "\n"), "\n"); len(lines) != 1 {
				t.Errorf("stderr has %d lines, want one:\n%s", len(lines), run.stderr)
			}
			for _, want := range tc.wantLine {
				if !strings.Contains(run.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, run.stderr)
				}
			}
			if tc.wantCalls == nil && run.calls != nil {
				t.Errorf("docker was called: %q", run.calls)
			}
			if len(run.calls) < len(tc.wantCalls) || fmt.Sprint(run.calls[:len(tc.wantCalls)]) != fmt.Sprint(tc.wantCalls) {
				t.Errorf("docker calls %q, want them to begin %q", run.calls, tc.wantCalls)
			}
			if run.took > 10*time.Second {
				t.Errorf("took %v", run.took)
			}
		})
	}
}

// TestImageChoiceMake runs make against the stub docker: the choice is made
// once per run, only for goals that use images, and `make images` pulls or
// builds accordingly; a refused choice stops make before anything is built.
func TestImageChoiceMake(t *testing.T) {
	t.Parallel()
	// make is how the project is run (README): without it, fail rather than
	// hide the test.
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make is not on PATH")
	}
	keys, _, _ := imageTags(t)
	build := regexp.MustCompile(`(?m)^(build|import)\b`)
	for _, tc := range []struct {
		name     string
		vars     []string
		args     []string
		wantCode int
		want     []string // in the output (stdout and stderr)
		lines    int      // "==> Images:" lines
		noDocker bool
	}{{
		name:     "help: no choice",
		args:     []string{"help"},
		want:     []string{"make up"},
		noDocker: true,
	}, {
		name:  "test: decided once",
		vars:  []string{"STUB_PULL=fail"},
		args:  []string{"-n", "test"},
		want:  []string{"==> Images: local stand-ins"},
		lines: 1,
	}, {
		name:  "images, upstream: pulls (nothing missing here), builds nothing",
		vars:  []string{"STUB_PULL=ok", "STUB_PRESENT=yes"},
		args:  []string{"images"},
		want:  []string{"==> Images: upstream (registry reachable", fmt.Sprintf("==> Upstream images: %d already here, 0 pulled", len(keys)+1)},
		lines: 1,
	}, {
		name:     "images, local: images/build.sh (stopped here by the stub)",
		vars:     []string{"BAZAAR_IMAGES=local", "STUB_INFO=fail"},
		args:     []string{"images"},
		wantCode: 2,
		want:     []string{"==> Images: local stand-ins", "build.sh: error: cannot talk to the Docker daemon"},
		lines:    1,
	}, {
		name:     "up, BAZAAR_IMAGES=upstream without a registry: stops, builds nothing",
		vars:     []string{"BAZAAR_IMAGES=upstream", "STUB_PULL=fail"},
		args:     []string{"up"},
		wantCode: 2,
		want:     []string{"error: BAZAAR_IMAGES=upstream, but Docker cannot pull", "*** No images chosen"},
	}, {
		name:     "unit, BAZAAR_IMAGES=yes: refused",
		args:     []string{"unit", "BAZAAR_IMAGES=yes"},
		wantCode: 2,
		want:     []string{"BAZAAR_IMAGES='yes' is not a choice", "*** No images chosen"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run := runWithStubDocker(t, tc.vars, "make", append([]string{"--no-print-directory"}, tc.args...)...)
			out := run.stdout + run.stderr
			if run.code != tc.wantCode {
				t.Errorf("exit status %d, want %d; output:\n%s", run.code, tc.wantCode, out)
			}
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, "==> Images:"); n != tc.lines {
				t.Errorf("%d \"==> Images:\" lines, want %d:\n%s", n, tc.lines, out)
			}
			if tc.noDocker && run.calls != nil {
				t.Errorf("docker was called: %q", run.calls)
			}
			if pulls := strings.Count(strings.Join(run.calls, "\n"), "pull "); pulls > 1 {
				t.Errorf("%d pulls, want at most the probe: %q", pulls, run.calls)
			}
			if m := build.FindString(strings.Join(run.calls, "\n")); m != "" {
				t.Errorf("docker %s was called: %q", m, run.calls)
			}
		})
	}
}

// TestUpstreamPinsAgree: the files that name an upstream image as a default
// (the Swarm stack and its edge image) name
// docker-compose.yml's pin, so one bump moves them all.
func TestUpstreamPinsAgree(t *testing.T) {
	t.Parallel()
	_, _, upstream := imageTags(t)
	pins := regexp.MustCompile(`\$\{([A-Z_]+_IMAGE):-([^}]+)\}|([A-Z_]+_IMAGE)=([^\s"]+)`)
	for _, file := range []string{"swarm/stack.yml", "swarm/edge/Dockerfile", "scripts/swarm-up.sh"} {
		raw, err := os.ReadFile(filepath.Join("..", file))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range pins.FindAllStringSubmatch(string(raw), -1) {
			key, image := m[1]+m[3], m[2]+m[4]
			if want, ok := upstream[key]; ok && image != want && !strings.HasPrefix(image, "$") {
				t.Errorf("%s: %s defaults to %s, docker-compose.yml to %s", file, key, image, want)
			}
		}
	}
}
