package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"bazaar/platform/auth"
	"bazaar/platform/config"
	"bazaar/platform/log"
	"bazaar/platform/pg/pgtest"
)

// dsn is the test database, shared by every Main the tests start; tests use
// their own email addresses so that they do not meet.
var dsn string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	db, err := pgtest.Start(context.Background(), pgtest.Options{Schema: "users"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	dsn = db.URL
	return m.Run()
}

// service is a running Main with a client for it.
type service struct {
	t        *testing.T
	base     string // API root, http://127.0.0.1:port
	internal string // internal root
	logs     *logBuffer
}

// logBuffer keeps what a service logs, for tests that look for a line.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// mainEnv is the environment of the services the tests start: the test
// database, free ports and an admin account, with vars over them.
func mainEnv(vars map[string]string) *config.Env {
	all := map[string]string{
		"DATABASE_URL":   dsn,
		"HTTP_ADDR":      "127.0.0.1:0",
		"INTERNAL_ADDR":  "127.0.0.1:0",
		"DB_MAX_CONNS":   "4",
		"ADMIN_EMAIL":    "admin@bazaar.test",
		"ADMIN_PASSWORD": "change-me-admin",
	}
	maps.Copy(all, vars)
	return &config.Env{Lookup: func(k string) (string, bool) { v, ok := all[k]; return v, ok }}
}

// startMain runs the real service on free ports against the test database,
// configured by vars over mainEnv, and stops it when the test ends.
func startMain(t *testing.T, vars map[string]string) *service {
	t.Helper()
	cfg, err := LoadConfig(mainEnv(vars))
	if err != nil {
		t.Fatal(err)
	}
	logs := &logBuffer{}
	m := &Main{Config: cfg, Logger: log.New(io.MultiWriter(t.Output(), logs), "users", slog.LevelInfo)}
	if err := m.Run(context.Background()); err != nil {
		_ = m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	return &service{t: t, base: "http://" + m.server.Addr(), internal: "http://" + m.server.InternalAddr(), logs: logs}
}

// response is an HTTP answer with its body read.
type response struct {
	*http.Response
	body []byte
}

// json decodes the body into a map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// cookie returns the refresh cookie the response set, or nil.
func (r response) cookie() *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == "bazaar_refresh" {
			return c
		}
	}
	return nil
}

// call sends a request; body, when not nil, is sent as JSON. headers are
// name, value pairs.
func (s *service) call(method, path string, body any, headers ...string) response {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{resp, b}
}

// want fails the test unless r has the status; for errors it also checks
// that the body is problem+json with the code.
func want(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s = %d %s, want %d", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.body, status)
	}
	if code == "" {
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	if got := r.json(t)["type"]; got != "/problems/"+code {
		t.Errorf("problem type = %v, want /problems/%s", got, code)
	}
}

func uniqueEmail(prefix string) string {
	return fmt.Sprintf("%s.%s@Example.com", prefix, uuid.NewString()[:8])
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// login logs in and returns the decoded token response.
func (s *service) login(email, password string) map[string]any {
	s.t.Helper()
	r := s.call(http.MethodPost, "/api/users/login", map[string]string{"email": email, "password": password})
	want(s.t, r, http.StatusOK, "")
	return r.json(s.t)
}

// metric returns the value of one sample of the internal /metrics page.
func (s *service) metric(sample string) float64 {
	s.t.Helper()
	resp, err := http.Get(s.internal + "/metrics")
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		s.t.Fatalf("metric %s not exported", sample)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func TestRegisterLoginMeRefreshReuseLogout(t *testing.T) {
	s := startMain(t, nil)
	email := uniqueEmail("Ada")

	// Register, with the email trimmed and kept in its case.
	r := s.call(http.MethodPost, "/api/users/register", map[string]string{"email": "  " + email + " ", "password": "correct horse", "name": "Ada"})
	want(t, r, http.StatusCreated, "")
	user := r.json(t)
	id, _ := user["id"].(string)
	if _, err := uuid.Parse(id); err != nil {
		t.Errorf("id %q is not a UUID", id)
	}
	if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(user["created_at"])); err != nil {
		t.Errorf("created_at %v: %v", user["created_at"], err)
	}
	delete(user, "created_at")
	if diff := cmp.Diff(map[string]any{"id": id, "email": email, "name": "Ada", "role": "customer"}, user); diff != "" {
		t.Errorf("registered user (-want +got):\n%s", diff)
	}

	// The same email in another case is taken.
	r = s.call(http.MethodPost, "/api/users/register", map[string]string{"email": strings.ToLower(email), "password": "other password", "name": "Eve"})
	want(t, r, http.StatusConflict, "conflict")

	// Validation lists every bad field.
	r = s.call(http.MethodPost, "/api/users/register", map[string]string{"email": "nope", "password": "short", "name": ""})
	want(t, r, http.StatusBadRequest, "invalid-request")
	if got := len(r.json(t)["errors"].([]any)); got != 3 {
		t.Errorf("%d field errors, want 3: %s", got, r.body)
	}
	r = s.call(http.MethodPost, "/api/users/register", map[string]any{"email": email, "password": "correct horse", "name": "Ada", "role": "admin"})
	want(t, r, http.StatusBadRequest, "invalid-request") // no self-promotion through unknown fields

	// Unknown email and wrong password: the same 401.
	wrong := s.call(http.MethodPost, "/api/users/login", map[string]string{"email": email, "password": "wrong password"})
	want(t, wrong, http.StatusUnauthorized, "unauthorized")
	unknown := s.call(http.MethodPost, "/api/users/login", map[string]string{"email": uniqueEmail("nobody"), "password": "wrong password"})
	want(t, unknown, http.StatusUnauthorized, "unauthorized")
	if !bytes.Equal(wrong.body, unknown.body) {
		t.Errorf("unknown email answered %s, wrong password %s; want the same", unknown.body, wrong.body)
	}

	// Log in, with the email in another case.
	r = s.call(http.MethodPost, "/api/users/login", map[string]string{"email": strings.ToUpper(email), "password": "correct horse"})
	want(t, r, http.StatusOK, "")
	tokens := r.json(t)
	if tokens["token_type"] != "Bearer" || tokens["expires_in"] != float64(900) || tokens["access_token"] == "" {
		t.Errorf("token response = %v", tokens)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	refresh1 := tokens["refresh_token"].(string)
	ck := r.cookie()
	if ck == nil {
		t.Fatal("no bazaar_refresh cookie")
	}
	if ck.Value != refresh1 || !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/api/users" || ck.MaxAge != 720*3600 {
		t.Errorf("cookie = %+v; want the refresh token, HttpOnly, Secure, SameSite=Strict, Path=/api/users, Max-Age=2592000", ck)
	}

	// Me.
	r = s.call(http.MethodGet, "/api/users/me", nil, bearer(tokens["access_token"].(string))...)
	want(t, r, http.StatusOK, "")
	if diff := cmp.Diff(map[string]any{"id": id, "email": email, "name": "Ada", "role": "customer"}, r.json(t)); diff != "" {
		t.Errorf("me (-want +got):\n%s", diff)
	}
	r = s.call(http.MethodGet, "/api/users/me", nil)
	want(t, r, http.StatusUnauthorized, "unauthorized")
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	want(t, s.call(http.MethodGet, "/api/users/me", nil, bearer("not.a.jwt")...), http.StatusUnauthorized, "unauthorized")

	// Refresh with the body, then with the cookie alone.
	r = s.call(http.MethodPost, "/api/users/refresh", map[string]string{"refresh_token": refresh1})
	want(t, r, http.StatusOK, "")
	refreshed := r.json(t)
	refresh2 := refreshed["refresh_token"].(string)
	if refresh2 == refresh1 || r.cookie() == nil || r.cookie().Value != refresh2 {
		t.Errorf("refresh did not rotate: old %q, new %q, cookie %v", refresh1, refresh2, r.cookie())
	}
	want(t, s.call(http.MethodGet, "/api/users/me", nil, bearer(refreshed["access_token"].(string))...), http.StatusOK, "")

	// From the cookie, the new refresh token goes back in the cookie only:
	// page scripts never see it.
	r = s.call(http.MethodPost, "/api/users/refresh", nil, "Cookie", "bazaar_refresh="+refresh2)
	want(t, r, http.StatusOK, "")
	if body := r.json(t); body["access_token"] == "" || body["refresh_token"] != nil {
		t.Errorf("cookie refresh body = %s, want an access token and no refresh token", r.body)
	}
	if r.cookie() == nil || r.cookie().Value == refresh2 || !r.cookie().HttpOnly {
		t.Fatalf("cookie refresh set cookie %v, want a new HttpOnly refresh token", r.cookie())
	}
	refresh3 := r.cookie().Value

	// Replaying the first token revokes the whole family, so the newest
	// token dies too, and the browser is told to drop its cookie.
	want(t, s.call(http.MethodPost, "/api/users/refresh", map[string]string{"refresh_token": refresh1}), http.StatusUnauthorized, "unauthorized")
	r = s.call(http.MethodPost, "/api/users/refresh", nil, "Cookie", "bazaar_refresh="+refresh3)
	want(t, r, http.StatusUnauthorized, "unauthorized")
	if c := r.cookie(); c == nil || c.MaxAge >= 0 {
		t.Errorf("failed cookie refresh: cookie %v, want it cleared", c)
	}
	if got := s.metric("users_refresh_token_reuse_total"); got != 1 {
		t.Errorf("reuse detections = %v, want 1", got)
	}
	if got := s.metric("users_token_refreshes_total"); got != 2 {
		t.Errorf("refreshes = %v, want 2", got)
	}

	// Logout with the cookie revokes that login and clears the cookie.
	refresh4 := s.login(email, "correct horse")["refresh_token"].(string)
	r = s.call(http.MethodPost, "/api/users/logout", nil, "Cookie", "bazaar_refresh="+refresh4)
	want(t, r, http.StatusNoContent, "")
	if c := r.cookie(); c == nil || c.MaxAge >= 0 || c.Path != "/api/users" {
		t.Errorf("logout cookie = %v, want it cleared on /api/users", c)
	}
	want(t, s.call(http.MethodPost, "/api/users/refresh", map[string]string{"refresh_token": refresh4}), http.StatusUnauthorized, "unauthorized")
	want(t, s.call(http.MethodPost, "/api/users/logout", map[string]string{"refresh_token": refresh4}), http.StatusNoContent, "")
	want(t, s.call(http.MethodPost, "/api/users/refresh", nil), http.StatusUnauthorized, "unauthorized")
	want(t, s.call(http.MethodPost, "/api/users/refresh", "{", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType, "unsupported-media-type")

	if got := s.metric(`users_logins_total{outcome="success"}`); got != 2 {
		t.Errorf("successful logins = %v, want 2", got)
	}
	if got := s.metric(`users_logins_total{outcome="failure"}`); got != 2 {
		t.Errorf("failed logins = %v, want 2", got)
	}
	if got := s.metric("users_registrations_total"); got != 1 {
		t.Errorf("registrations = %v, want 1", got)
	}
}

// TestLoginTimingHidesAccounts checks that an unknown email costs a password
// verification too: without it, it would answer many times faster than a
// wrong password and reveal which accounts exist.
func TestLoginTimingHidesAccounts(t *testing.T) {
	s := startMain(t, nil)
	email := uniqueEmail("timing")
	want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": "T"}), http.StatusCreated, "")
	median := func(email string, i int) time.Duration {
		var d []time.Duration
		for j := range 7 {
			start := time.Now()
			r := s.call(http.MethodPost, "/api/users/login", map[string]string{"email": email, "password": "wrong password"},
				"X-Forwarded-For", fmt.Sprintf("10.3.%d.%d", i, j))
			d = append(d, time.Since(start))
			want(t, r, http.StatusUnauthorized, "unauthorized")
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	known, unknown := median(email, 1), median(uniqueEmail("nobody"), 2)
	if ratio := float64(known) / float64(unknown); ratio > 3 || ratio < 1.0/3 {
		t.Errorf("median login time: wrong password %s, unknown email %s; want them alike", known, unknown)
	}
}

func TestTokenOfDeletedUser(t *testing.T) {
	s := startMain(t, nil)
	email := uniqueEmail("gone")
	want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": "Gone"}), http.StatusCreated, "")
	tokens := s.login(email, "correct horse")

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `DELETE FROM users WHERE lower(email) = lower($1)`, email); err != nil {
		t.Fatal(err)
	}
	want(t, s.call(http.MethodGet, "/api/users/me", nil, bearer(tokens["access_token"].(string))...), http.StatusUnauthorized, "unauthorized")
	want(t, s.call(http.MethodPost, "/api/users/refresh", map[string]any{"refresh_token": tokens["refresh_token"]}), http.StatusUnauthorized, "unauthorized")
}

// A login ends SESSION_MAX_AGE after the password was given, however often
// its refresh token was rotated: then refresh is a 401, and the browser is
// told to drop its cookie.
func TestRefreshPastSessionMaxAge(t *testing.T) {
	s := startMain(t, nil)
	email := uniqueEmail("old")
	want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": "Old"}), http.StatusCreated, "")
	r := s.call(http.MethodPost, "/api/users/refresh", map[string]any{"refresh_token": s.login(email, "correct horse")["refresh_token"]})
	want(t, r, http.StatusOK, "")
	token := r.json(t)["refresh_token"].(string)

	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `
		UPDATE refresh_families SET created_at = now() - interval '720 hours 1 minute'
		WHERE user_id = (SELECT id FROM users WHERE lower(email) = lower($1))`, email); err != nil {
		t.Fatal(err)
	}
	r = s.call(http.MethodPost, "/api/users/refresh", nil, "Cookie", "bazaar_refresh="+token)
	want(t, r, http.StatusUnauthorized, "unauthorized")
	if c := r.cookie(); c == nil || c.MaxAge >= 0 {
		t.Errorf("refresh past the session's age: cookie %v, want it cleared", c)
	}
	s.login(email, "correct horse")
}

func TestAdminListsUsers(t *testing.T) {
	s := startMain(t, nil)
	admin := s.login("ADMIN@bazaar.test", "change-me-admin")["access_token"].(string)
	email := uniqueEmail("cust")
	want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": "Cust"}), http.StatusCreated, "")
	customer := s.login(email, "correct horse")["access_token"].(string)

	want(t, s.call(http.MethodGet, "/api/users", nil), http.StatusUnauthorized, "unauthorized")
	want(t, s.call(http.MethodGet, "/api/users", nil, bearer(customer)...), http.StatusForbidden, "forbidden")
	want(t, s.call(http.MethodGet, "/api/users?limit=0", nil, bearer(admin)...), http.StatusBadRequest, "invalid-request")
	want(t, s.call(http.MethodGet, "/api/users?limit=101", nil, bearer(admin)...), http.StatusBadRequest, "invalid-request")
	want(t, s.call(http.MethodGet, "/api/users?cursor=bogus", nil, bearer(admin)...), http.StatusBadRequest, "invalid-request")

	// Walk every page one user at a time: no repeats, and both accounts met.
	seen := map[string]bool{}
	path := "/api/users?limit=1"
	for pages := 0; path != ""; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		r := s.call(http.MethodGet, path, nil, bearer(admin)...)
		want(t, r, http.StatusOK, "")
		page := r.json(t)
		items := page["items"].([]any)
		if len(items) > 1 {
			t.Fatalf("page of %d items, want at most 1", len(items))
		}
		for _, it := range items {
			e := it.(map[string]any)["email"].(string)
			if seen[e] {
				t.Fatalf("%s listed twice", e)
			}
			seen[e] = true
		}
		path = ""
		if next, ok := page["next_cursor"].(string); ok {
			path = "/api/users?limit=1&cursor=" + next
		}
	}
	if !seen["admin@bazaar.test"] || !seen[email] {
		t.Errorf("listing misses the admin or the customer: %v", seen)
	}

	// A restart (or a second replica) with another admin password keeps
	// the existing admin's password.
	again := startMain(t, map[string]string{"ADMIN_PASSWORD": "another admin password"})
	again.login("admin@bazaar.test", "change-me-admin")
}

func TestLoginRateLimits(t *testing.T) {
	s := startMain(t, map[string]string{
		"LOGIN_MAX_FAILURES_PER_ACCOUNT": "3",
		"LOGIN_MAX_FAILURES_PER_IP":      "5",
		"LOGIN_ACCOUNT_GUARD_FAILURES":   "6",
		"LOGIN_FAILURE_WINDOW":           "1m",
	})
	login := func(email, password, ip string) response {
		return s.call(http.MethodPost, "/api/users/login", map[string]string{"email": email, "password": password}, "X-Forwarded-For", ip)
	}
	wantLimited := func(r response) {
		t.Helper()
		want(t, r, http.StatusTooManyRequests, "too-many-requests")
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
			t.Errorf("Retry-After = %q, want 1 to 60 seconds", r.Header.Get("Retry-After"))
		}
	}
	register := func(prefix string) string {
		email := uniqueEmail(prefix)
		want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": prefix}), http.StatusCreated, "")
		return email
	}

	// Per account from one client address: after three failures that
	// client is refused even the right password, and the owner, from
	// another address, signs in.
	carol := register("carol")
	for range 3 {
		want(t, login(carol, "wrong password", "10.0.0.66"), http.StatusUnauthorized, "unauthorized")
	}
	wantLimited(login(strings.ToUpper(carol), "correct horse", "10.0.0.66"))
	want(t, login(carol, "correct horse", "10.0.0.9"), http.StatusOK, "")

	// A success clears the account's failures from that client.
	dave := register("dave")
	for _, password := range []string{"wrong", "wrong", "correct horse", "wrong", "wrong"} {
		r := login(dave, password, "10.1.0.1")
		if r.StatusCode == http.StatusTooManyRequests {
			t.Fatalf("rate limited after a successful login reset the count")
		}
	}

	// A guess spread over many addresses guards the account: past six
	// failures each address gets one, but an address that has not failed
	// still signs in with the right password.
	erin := register("erin")
	for i := range 6 {
		want(t, login(erin, "wrong password", fmt.Sprintf("10.3.0.%d", i)), http.StatusUnauthorized, "unauthorized")
	}
	wantLimited(login(erin, "correct horse", "10.3.0.0"))
	want(t, login(erin, "wrong password", "10.3.0.100"), http.StatusUnauthorized, "unauthorized")
	wantLimited(login(erin, "wrong password", "10.3.0.100"))
	want(t, login(erin, "correct horse", "10.3.0.200"), http.StatusOK, "")

	// Per client address, across accounts that do not even exist.
	for range 5 {
		want(t, login(uniqueEmail("ghost"), "wrong password", "10.2.0.1"), http.StatusUnauthorized, "unauthorized")
	}
	wantLimited(login(uniqueEmail("ghost"), "wrong password", "10.2.0.1"))
	want(t, login(uniqueEmail("ghost"), "wrong password", "10.2.0.2"), http.StatusUnauthorized, "unauthorized")

	if got := s.metric(`users_logins_total{outcome="rate_limited"}`); got != 4 {
		t.Errorf("rate-limited logins = %v, want 4", got)
	}
	if got := s.metric(`users_login_limiter_keys{scope="account_ip"}`); got < 1 {
		t.Errorf("account_ip limiter keys = %v, want some", got)
	}
}

func TestJWKSVerifiesTokensLikeOtherServices(t *testing.T) {
	s := startMain(t, nil)
	r := s.call(http.MethodGet, "/api/users/.well-known/jwks.json", nil)
	want(t, r, http.StatusOK, "")
	if got := r.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("Cache-Control = %q", got)
	}
	var set auth.JWKS
	if err := json.Unmarshal(r.body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", r.body, err)
	}

	token := s.login("admin@bazaar.test", "change-me-admin")["access_token"].(string)
	v := &auth.Verifier{Keys: auth.NewJWKSClient(s.base + "/api/users/.well-known/jwks.json")}
	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("verifying through the JWKS: %v", err)
	}
	if claims.Role != auth.RoleAdmin || claims.Email != "admin@bazaar.test" {
		t.Errorf("claims = %+v", claims)
	}

	// Forgeries with our kid are refused by /me.
	forge := func(method jwt.SigningMethod, key any) string {
		c := *claims
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = set.Keys[0].Kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	_, other, _ := ed25519.GenerateKey(nil)
	pub, err := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	if err != nil {
		t.Fatal(err)
	}
	for name, forged := range map[string]string{
		"other key": forge(jwt.SigningMethodEdDSA, other),
		"HS256":     forge(jwt.SigningMethodHS256, pub),
		"none":      forge(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
	} {
		if r := s.call(http.MethodGet, "/api/users/me", nil, bearer(forged)...); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: /me = %d, want 401", name, r.StatusCode)
		}
	}

	r = s.call(http.MethodGet, "/api/users/openapi.json", nil)
	want(t, r, http.StatusOK, "")
	if r.json(t)["openapi"] != "3.0.3" {
		t.Errorf("openapi.json: %s", r.body[:min(len(r.body), 80)])
	}
}
