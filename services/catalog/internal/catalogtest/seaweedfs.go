package catalogtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SeaweedFSModule is the SeaweedFS release the S3 tests run against: an
// S3-compatible store built from source, so they need nothing but the Go
// module proxy.
const SeaweedFSModule = "github.com/seaweedfs/seaweedfs@v0.0.0-20261109003541-7506e5f91cd6"

// SeaweedFS is a running `weed server` with its S3 gateway.
type SeaweedFS struct {
	// Endpoint is the S3 gateway, http://127.0.0.1:PORT.
	Endpoint             string
	AccessKey, SecretKey string
	cmd                  *exec.Cmd
	dir                  string
}

// WeedBinary returns the weed binary of SeaweedFSModule, building it on the
// first call on a machine (minutes: hundreds of modules) and keeping it in
// the user's cache folder after that. The module's go.mod has replace
// directives, which `go install mod@version` refuses, so it is built in
// place from the module cache with a copy of its go.mod (-modfile), leaving
// the module cache read-only.
func WeedBinary(ctx context.Context) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	version := SeaweedFSModule[strings.LastIndex(SeaweedFSModule, "@")+1:]
	bin := filepath.Join(cache, "bazaar", "weed-"+version)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", SeaweedFSModule).Output()
	if err != nil {
		return "", fmt.Errorf("download %s: %w", SeaweedFSModule, err)
	}
	var mod struct{ Dir, GoMod string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("download %s: %s", SeaweedFSModule, out)
	}
	work, err := os.MkdirTemp("", "weed-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	for _, f := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(filepath.Join(mod.Dir, f))
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(work, f), data, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	build := exec.CommandContext(ctx, "go", "build", "-modfile="+filepath.Join(work, "go.mod"), "-mod=mod",
		"-trimpath", "-ldflags=-s -w", "-o", bin+".partial", "./weed")
	build.Dir = mod.Dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build weed: %w\n%s", err, out)
	}
	return bin, os.Rename(bin+".partial", bin)
}

// freePort returns a port that is free on 127.0.0.1, and whose gRPC
// companion (port + 10000, SeaweedFS's rule) is free too.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port+10000 > 65535 {
			continue
		}
		if g, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000)); err == nil {
			g.Close()
			return port, nil
		}
	}
	return 0, errors.New("no free port pair")
}

// StartSeaweedFS builds weed if needed and starts a master, a volume
// server, a filer and the S3 gateway on 127.0.0.1, storing in a temporary
// folder, with one identity allowed everything.
func StartSeaweedFS(ctx context.Context) (*SeaweedFS, error) {
	bin, err := WeedBinary(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "seaweedfs-")
	if err != nil {
		return nil, err
	}
	s := &SeaweedFS{AccessKey: "bazaar-test", SecretKey: "bazaar-test-secret", dir: dir}
	config, _ := json.Marshal(map[string]any{"identities": []any{map[string]any{
		"name":        "bazaar",
		"credentials": []any{map[string]string{"accessKey": s.AccessKey, "secretKey": s.SecretKey}},
		"actions":     []string{"Admin", "Read", "Write", "List", "Tagging"},
	}}})
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), config, 0o600); err != nil {
		return nil, err
	}
	var ports [4]int
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "server", "-dir="+data, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port="+strconv.Itoa(ports[0]), "-master.volumeSizeLimitMB=64",
		"-volume.port="+strconv.Itoa(ports[1]), "-volume.max=8",
		"-filer", "-filer.port="+strconv.Itoa(ports[2]),
		"-s3", "-s3.port="+strconv.Itoa(ports[3]), "-s3.config="+filepath.Join(dir, "s3.json"))
	logFile, err := os.Create(filepath.Join(dir, "weed.log"))
	if err != nil {
		return nil, err
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start weed: %w", err)
	}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(ports[3])
	// The gateway answers once the filer behind it is up.
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return s, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "weed.log"))
			s.Close()
			return nil, fmt.Errorf("SeaweedFS's S3 gateway did not answer within 90 s: %v\n%s", err, log)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Close stops SeaweedFS and removes its data.
func (s *SeaweedFS) Close() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(s.dir)
}
