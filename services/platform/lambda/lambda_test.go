package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/labstack/echo/v4"

	"bazaar/platform/log"
)

// newFunction serves a public echo and an internal one, and collects
// what the function writes.
func newFunction(t *testing.T) (*function, *bytes.Buffer) {
	t.Helper()
	api := echo.New()
	api.IPExtractor = echo.ExtractIPFromXFFHeader()
	api.POST("/api/things/:id", func(c echo.Context) error {
		body, _ := io.ReadAll(c.Request().Body)
		session := ""
		if ck, err := c.Cookie("session"); err == nil {
			session = ck.Value
		}
		c.SetCookie(&http.Cookie{Name: "a", Value: "1"})
		c.SetCookie(&http.Cookie{Name: "b", Value: "2"})
		return c.JSON(http.StatusCreated, map[string]string{
			"id": c.Param("id"), "q": c.QueryParam("q"), "body": string(body), "ip": c.RealIP(),
			"cookie": session, "request_id": c.Request().Header.Get("X-Request-Id"),
		})
	})
	api.GET("/api/blob", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "image/png", []byte{0x89, 'P', 'N', 'G', 0xff})
	})
	internal := echo.New()
	internal.GET("/internal/secret", func(c echo.Context) error { return c.String(http.StatusOK, "internal") })
	var out bytes.Buffer
	buf := log.NewBuffer(&out, time.Hour)
	t.Cleanup(func() { _ = buf.Close() })
	return &function{
		handlers: Handlers{API: api, Internal: internal, Jobs: map[string]Job{"tick": func(context.Context) error { return nil }}},
		service:  "test", logger: slog.New(slog.NewJSONHandler(buf, nil)), out: buf,
	}, &out
}

func invokeJSON(t *testing.T, f *function, ev any) events.APIGatewayV2HTTPResponse {
	t.Helper()
	raw, _ := json.Marshal(ev)
	got, err := f.invoke(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := got.(events.APIGatewayV2HTTPResponse)
	if !ok {
		t.Fatalf("answered %T", got)
	}
	return resp
}

func TestHTTPEvent(t *testing.T) {
	f, out := newFunction(t)
	resp := invokeJSON(t, f, events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "ANY /api/things/{proxy+}", RawPath: "/api/things/a%2Fb", RawQueryString: "q=x+y",
		Headers: map[string]string{"content-type": "application/json", "x-forwarded-for": "10.9.9.9"},
		Cookies: []string{"session=s1", "other=o"}, Body: "e30=", IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: "req-1",
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", SourceIP: "203.0.113.9"}},
	})
	if resp.StatusCode != http.StatusCreated || resp.IsBase64Encoded {
		t.Fatalf("answer %+v", resp)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"id": "a%2Fb", "q": "x y", "body": "{}", "ip": "203.0.113.9", "cookie": "s1", "request_id": "req-1"}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, body[k], v, body)
		}
	}
	if len(resp.Cookies) != 2 || !strings.HasPrefix(resp.Cookies[0], "a=1") || resp.Headers["Set-Cookie"] != "" {
		t.Errorf("cookies %q, headers %v: want two cookies apart from the headers", resp.Cookies, resp.Headers)
	}
	if !strings.Contains(out.String(), `"CloudWatchMetrics"`) || !strings.Contains(out.String(), `"StatusClass":"2xx"`) {
		t.Errorf("no metrics line written before the answer: %q", out.String())
	}

	bin := invokeJSON(t, f, events.APIGatewayV2HTTPRequest{RawPath: "/api/blob",
		RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
	if !bin.IsBase64Encoded || bin.Body != "iVBOR/8=" {
		t.Errorf("binary answer %+v, want base64", bin)
	}
}

// Only a direct invocation reaches the internal routes; an API Gateway
// event for the same path goes to the public API.
func TestInternalRoutes(t *testing.T) {
	f, _ := newFunction(t)
	for key, want := range map[string]int{"ANY /{proxy+}": http.StatusNotFound, "$default": http.StatusNotFound, InvokeRouteKey: http.StatusOK} {
		resp := invokeJSON(t, f, events.APIGatewayV2HTTPRequest{RouteKey: key, RawPath: "/internal/secret",
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}})
		if resp.StatusCode != want {
			t.Errorf("route key %q: %d, want %d", key, resp.StatusCode, want)
		}
	}
}

func TestJobs(t *testing.T) {
	f, out := newFunction(t)
	got, err := f.invoke(context.Background(), []byte(`{"job":"tick"}`))
	if err != nil || got.(jobResult).Job != "tick" {
		t.Fatalf("tick: %v, %v", got, err)
	}
	if !strings.Contains(out.String(), `"Job":"tick"`) || !strings.Contains(out.String(), `"JobFailures":0`) {
		t.Errorf("no job metrics: %q", out.String())
	}
	if _, err := f.invoke(context.Background(), []byte(`{"job":"nope"}`)); err == nil {
		t.Error("an unknown job succeeded")
	}
	if _, err := f.invoke(context.Background(), []byte(`{"other":1}`)); err == nil {
		t.Error("an unknown event succeeded")
	}
}

// The Invoker carries a request to a function and its answer back, signed.
func TestInvoker(t *testing.T) {
	f, _ := newFunction(t)
	var auth, path string
	lambdaAPI := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, path = r.Header.Get("Authorization"), r.URL.Path
		payload, _ := io.ReadAll(r.Body)
		answer, err := f.invoke(r.Context(), payload)
		if err != nil {
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			_, _ = io.WriteString(w, `{"errorMessage":"boom"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer lambdaAPI.Close()
	inv := &Invoker{HTTP: lambdaAPI.Client(), Endpoint: lambdaAPI.URL, Region: "eu-west-1",
		Credentials: func() credentials.Credentials {
			return credentials.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}
		}}
	c := &http.Client{Transport: inv}

	resp, err := c.Get("lambda://fn-catalog/internal/secret")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "internal" {
		t.Errorf("internal route: %d %q", resp.StatusCode, body)
	}
	if path != "/2015-03-31/functions/fn-catalog/invocations" || !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/eu-west-1/lambda/aws4_request") {
		t.Errorf("invoked %s with %q", path, auth)
	}
	resp, err = c.Post("lambda://fn-catalog/api/things/7?q=z", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"body":"{\"a\":1}"`) || len(resp.Header.Values("Set-Cookie")) != 2 {
		t.Errorf("public route: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, err = c.Post("lambda://fn-catalog/api/things/7", "application/json", nil)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("empty body: %v %v", resp, err)
	}
}

func TestLoadSecrets(t *testing.T) {
	ext := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Aws-Parameters-Secrets-Token") != "tok" {
			http.Error(w, "no token", http.StatusForbidden)
			return
		}
		v := map[string]string{"plain": "p4ss", "json": `{"username":"u","password":"j50n"}`}[r.URL.Query().Get("secretId")]
		_ = json.NewEncoder(w).Encode(map[string]string{"SecretString": v})
	}))
	defer ext.Close()
	t.Setenv("AWS_SESSION_TOKEN", "tok")
	t.Setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", ext.URL[strings.LastIndex(ext.URL, ":")+1:])
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("ALPHA_SECRET", "plain")
	t.Setenv("BETA_SECRET", "json#password")
	if err := LoadSecrets(context.Background()); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"ALPHA": "p4ss", "BETA": "j50n"} {
		file := os.Getenv(key + "_FILE")
		b, err := os.ReadFile(file)
		if err != nil || string(b) != want {
			t.Errorf("%s_FILE=%s holds %q (%v), want %q", key, file, b, err, want)
		}
		if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(filepath.Dir(file)) != os.Getenv("TMPDIR") {
			t.Errorf("%s: %v %v", file, st.Mode(), err)
		}
	}
	os.Unsetenv("ALPHA_FILE")
	os.Unsetenv("BETA_FILE")
	t.Setenv("GAMMA_SECRET", "json#nokey")
	os.Unsetenv("ALPHA_SECRET")
	os.Unsetenv("BETA_SECRET")
	if err := LoadSecrets(context.Background()); err == nil || !strings.Contains(err.Error(), "GAMMA_SECRET") {
		t.Errorf("a missing field: %v", err)
	}
}
