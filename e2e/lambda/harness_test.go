// Package lambda tests the shop as AWS Lambda functions, here without an AWS
// account: each service's bootstrap, unzipped from the zip that
// scripts/lambda.sh builds, runs under the AWS Lambda Runtime Interface
// Emulator (RIE); a small gateway turns HTTP requests into API Gateway v2
// events and back; a small Lambda API routes the functions' direct
// invocations of each other; a stand-in for the Parameters and Secrets
// Lambda Extension hands out the secrets; PostgreSQL and Redis are real,
// in containers. It also checks deploy/aws/template.yaml for consistency.
package lambda

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// rieVersion is the emulator's module version (the proxy serves only this
// pseudo-version).
const rieVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// maxBootstrap is the budget of each bootstrap.
const maxBootstrap = 20 << 20

// Test credentials: the functions sign their invocations with them, and the
// Lambda API stand-in checks that they did.
const (
	testAccessKey    = "AKIDBAZAARTEST"
	testSessionToken = "bazaar-test-session-token"
)

func repoRoot(tb testing.TB) string {
	tb.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		tb.Fatal(err)
	}
	return root
}

func image(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	return def
}

// buildZips runs scripts/lambda.sh into dir and returns each zip's size.
func buildZips(tb testing.TB, dir string) map[string]int64 {
	tb.Helper()
	cmd := exec.Command(filepath.Join(repoRoot(tb), "scripts/lambda.sh"), dir)
	cmd.Env = append(os.Environ(), "LAMBDA_ARCH=amd64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("scripts/lambda.sh: %v\n%s", err, out)
	}
	tb.Logf("%s", bytes.TrimSpace(out))
	sizes := map[string]int64{}
	for _, fn := range functions {
		st, err := os.Stat(filepath.Join(dir, fn+".zip"))
		if err != nil {
			tb.Fatal(err)
		}
		sizes[fn] = st.Size()
	}
	return sizes
}

// unzipBootstrap extracts the zip's one file, which must be an executable
// named bootstrap, as Lambda requires of provided.al2023 functions.
func unzipBootstrap(tb testing.TB, zipPath, dir string) string {
	tb.Helper()
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
		tb.Fatalf("%s holds %d files, the first %q; want only bootstrap", zipPath, len(zr.File), zr.File[0].Name)
	}
	f := zr.File[0]
	if f.Mode()&0o111 == 0 {
		tb.Fatalf("%s: bootstrap is not executable (%v)", zipPath, f.Mode())
	}
	if f.UncompressedSize64 > maxBootstrap {
		tb.Errorf("%s: bootstrap is %d bytes, over 20 MiB", zipPath, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	path := filepath.Join(dir, "bootstrap")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(w, rc); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// buildRIE builds the emulator from its module, in a module of its own so
// that its requirements stay out of this one's.
func buildRIE(tb testing.TB, dir string) string {
	tb.Helper()
	mod := filepath.Join(dir, "rie")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		tb.Fatal(err)
	}
	gomod := "module rie\n\ngo 1.26\n\nrequire github.com/aws/aws-lambda-runtime-interface-emulator " + rieVersion + "\n"
	if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, "aws-lambda-rie")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
	cmd.Dir = mod
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build the Runtime Interface Emulator: %v\n%s", err, out)
	}
	return bin
}

// startPostgres starts PostgreSQL with the roles and schemas db/init makes
// for the stack, and returns its host:port.
func startPostgres(ctx context.Context, tb testing.TB, passwords map[string]string) string {
	tb.Helper()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image: image("POSTGRES_IMAGE", "bazaar/postgres:15"),
			Env: map[string]string{
				"POSTGRES_USER":        "postgres",
				"POSTGRES_PASSWORD":    passwords["postgres"],
				"POSTGRES_DB":          "bazaar",
				"CATALOG_DB_PASSWORD":  passwords["catalog"],
				"USERS_DB_PASSWORD":    passwords["users"],
				"ORDERS_DB_PASSWORD":   passwords["orders"],
				"EXPORTER_DB_PASSWORD": passwords["exporter"],
			},
			Files: []testcontainers.ContainerFile{{
				HostFilePath:      filepath.Join(repoRoot(tb), "db/init/10-service-schemas.sh"),
				ContainerFilePath: "/docker-entrypoint-initdb.d/10-service-schemas.sh",
				FileMode:          0o755,
			}},
			ExposedPorts: []string{"5432/tcp"},
			WaitingFor: wait.ForAll(
				wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
				wait.ForListeningPort("5432/tcp"),
			).WithDeadline(2 * time.Minute),
		},
		Started: true,
	})
	if ctr != nil {
		tb.Cleanup(func() { _ = testcontainers.TerminateContainer(ctr) })
	}
	if err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	ep, err := ctr.PortEndpoint(ctx, "5432/tcp", "")
	if err != nil {
		tb.Fatal(err)
	}
	return ep
}

// startRedis starts Redis with a password and returns its host:port.
func startRedis(ctx context.Context, tb testing.TB, password string) string {
	tb.Helper()
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        image("REDIS_IMAGE", "bazaar/redis:7.0"),
			Cmd:          []string{"redis-server", "--requirepass", password},
			ExposedPorts: []string{"6379/tcp"},
			WaitingFor: wait.ForAll(
				wait.ForLog("Ready to accept connections"),
				wait.ForListeningPort("6379/tcp"),
			).WithDeadline(time.Minute),
		},
		Started: true,
	})
	if ctr != nil {
		tb.Cleanup(func() { _ = testcontainers.TerminateContainer(ctr) })
	}
	if err != nil {
		tb.Fatalf("start redis: %v", err)
	}
	ep, err := ctr.PortEndpoint(ctx, "6379/tcp", "")
	if err != nil {
		tb.Fatal(err)
	}
	return ep
}

// secretsExtension stands in for the AWS Parameters and Secrets Lambda
// Extension's local API: GET /secretsmanager/get?secretId=ID with the
// session token in X-Aws-Parameters-Secrets-Token.
type secretsExtension struct {
	secrets map[string]string
	mu      sync.Mutex
	reads   map[string]int
	srv     *httptest.Server
}

func newSecretsExtension(tb testing.TB, secrets map[string]string) *secretsExtension {
	s := &secretsExtension{secrets: secrets, reads: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/secretsmanager/get" || r.Header.Get("X-Aws-Parameters-Secrets-Token") != testSessionToken {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		id := r.URL.Query().Get("secretId")
		v, ok := s.secrets[id]
		if !ok {
			http.Error(w, "ResourceNotFoundException: "+id, http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.reads[id]++
		s.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:012345678912:secret:" + id, "Name": id, "SecretString": v})
	}))
	tb.Cleanup(s.srv.Close)
	return s
}

func (s *secretsExtension) port() string {
	_, port, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	return port
}

// function is one bootstrap under its own emulator.
type function struct {
	name   string
	invoke string // the emulator's invoke URL
	mu     sync.Mutex
	out    *syncBuffer
	// calls counts the invocations the function answered.
	calls int
}

// syncBuffer collects the emulator's output: its START/END/REPORT lines
// and whatever the bootstrap writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func freePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startFunction runs bootstrap under the emulator with env (KEY=VALUE).
func startFunction(tb testing.TB, rie, name, bootstrap string, env []string) *function {
	tb.Helper()
	invokeAddr, runtimeAddr := freePort(tb), freePort(tb)
	cmd := exec.Command(rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", runtimeAddr, bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + tb.TempDir(),
		"AWS_LAMBDA_FUNCTION_NAME=bazaar-" + name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512", "AWS_LAMBDA_FUNCTION_TIMEOUT=30",
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + testAccessKey, "AWS_SECRET_ACCESS_KEY=bazaar-test-secret",
		"AWS_SESSION_TOKEN=" + testSessionToken, "LOG_LEVEL=info"}
	cmd.Env = append(base, env...)
	f := &function{name: name, invoke: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = f.out, f.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the emulator for %s: %v", name, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("%s's output:\n%s", name, f.out.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", invokeAddr)
		if err == nil {
			c.Close()
			return f
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the emulator for %s does not listen: %v\n%s", name, err, f.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// call invokes the function with payload and returns its answer. The
// emulator runs one invocation at a time, as one execution environment
// does; calls wait their turn.
func (f *function) call(ctx context.Context, payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.invoke, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: the emulator answered %d: %s", f.name, resp.StatusCode, body)
	}
	f.calls++
	return body, nil
}

// lambdaAPI stands in for the Lambda Invoke API the functions call each
// other through: POST /2015-03-31/functions/<name>/invocations, signed.
type lambdaAPI struct {
	functions map[string]*function // by function name
	mu        sync.Mutex
	unsigned  int
	invokes   map[string]int
}

func (a *lambdaAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2015-03-31/functions/")
	name, ok2 := strings.CutSuffix(rest, "/invocations")
	f := a.functions[name]
	if !ok || !ok2 || r.Method != http.MethodPost || f == nil {
		http.Error(w, `{"Type":"User","message":"Function not found"}`, http.StatusNotFound)
		return
	}
	auth := r.Header.Get("Authorization")
	signed := strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+testAccessKey+"/") &&
		strings.Contains(auth, "/us-east-1/lambda/aws4_request") && r.Header.Get("X-Amz-Security-Token") == testSessionToken
	a.mu.Lock()
	a.invokes[name]++
	if !signed {
		a.unsigned++
	}
	a.mu.Unlock()
	if !signed {
		http.Error(w, `{"message":"The security token included in the request is invalid."}`, http.StatusForbidden)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	answer, err := f.call(r.Context(), payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(answer)
}

// route is one route of the HTTP API: a path prefix and its function, as
// deploy/aws/template.yaml declares them.
type route struct {
	key    string // the API Gateway route key
	prefix string
	fn     *function
}

// gateway turns HTTP requests into API Gateway HTTP API events (payload
// format 2.0), invokes the route's function, and turns the answer back.
type gateway struct {
	routes []route
	// sourceIP is the client address API Gateway reports.
	sourceIP string
	seq      int
	mu       sync.Mutex
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rt *route
	for i := range g.routes {
		if strings.HasPrefix(r.URL.Path, g.routes[i].prefix) {
			rt = &g.routes[i]
			break
		}
	}
	if rt == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"Not Found"}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.seq++
	id := fmt.Sprintf("gw-%06d", g.seq)
	g.mu.Unlock()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       rt.key,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{"host": r.Host, "x-forwarded-proto": "https", "x-forwarded-for": g.sourceIP},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.key,
			AccountID:    "012345678912",
			APIID:        "bazaartest",
			Stage:        "$default",
			RequestID:    id,
			DomainName:   r.Host,
			DomainPrefix: "bazaartest",
			TimeEpoch:    time.Now().UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: r.Method, Path: r.URL.Path, Protocol: r.Proto, SourceIP: g.sourceIP, UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		if k == "Cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					ev.Cookies = append(ev.Cookies, strings.TrimSpace(c))
				}
			}
			continue
		}
		ev.Headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	if utf8.Valid(body) {
		ev.Body = string(body)
	} else {
		ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	raw, err := rt.fn.call(r.Context(), payload)
	if err != nil {
		http.Error(w, `{"message":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(raw, &resp); err != nil || resp.StatusCode == 0 {
		// API Gateway answers 500 to a function error or a malformed answer.
		http.Error(w, `{"message":"Internal Server Error"}`, http.StatusInternalServerError)
		return
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	out := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if out, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			http.Error(w, `{"message":"Internal Server Error"}`, http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Apigw-Requestid", id)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}
