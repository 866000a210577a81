package lambda

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"bazaar/e2e/internal/short"
)

var functions = []string{"users", "catalog", "orders"}

// The shop's journey through the test gateway, each service a Lambda
// function under the emulator: register, log in, browse, search, order,
// retry the order idempotently, cancel, and edit a product as the admin;
// then the scheduled jobs, the logs and metrics the functions wrote, and
// the cold and warm timings.
func TestShopOnLambda(t *testing.T) {
	short.Skip(t, "the functions built, PostgreSQL and Redis")
	dir := t.TempDir()
	sizes := buildZips(t, filepath.Join(dir, "zips"))
	rie := buildRIE(t, dir)
	// The builds aside (minutes with a cold cache), the test takes under a
	// minute.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	passwords := map[string]string{}
	for _, k := range []string{"postgres", "catalog", "users", "orders", "exporter", "redis", "internal", "admin"} {
		passwords[k] = k + "-" + rand.Text()
	}
	pgAddr := startPostgres(ctx, t, passwords)
	redisAddr := startRedis(ctx, t, passwords["redis"])

	_, key, _ := ed25519.GenerateKey(nil)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dbSecret := func(role string) string {
		b, _ := json.Marshal(map[string]string{"username": role, "password": passwords[role]})
		return string(b)
	}
	secrets := newSecretsExtension(t, map[string]string{
		"bazaar/internal-token":        passwords["internal"],
		"bazaar/db/catalog":            dbSecret("catalog"),
		"bazaar/db/users":              dbSecret("users"),
		"bazaar/db/orders":             dbSecret("orders"),
		"bazaar/redis/catalog":         passwords["redis"],
		"bazaar/users/jwt-private-key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"bazaar/users/admin-password":  passwords["admin"],
	})

	api := &lambdaAPI{functions: map[string]*function{}, invokes: map[string]int{}}
	apiSrv := httptest.NewServer(api)
	t.Cleanup(apiSrv.Close)

	// The variables deploy/aws/template.yaml gives the functions, with
	// this machine's addresses; the database is local, so without TLS.
	dbURL := func(role string) string {
		return "postgres://" + role + "@" + pgAddr + "/bazaar?sslmode=disable&default_query_exec_mode=cache_describe"
	}
	common := []string{
		"APP_ENV=production", "DB_MAX_CONNS=2", "DB_MIN_CONNS=1",
		"INTERNAL_TOKEN_SECRET=bazaar/internal-token",
		"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT=" + secrets.port(),
		"AWS_ENDPOINT_URL_LAMBDA=" + apiSrv.URL,
		"USERS_JWKS_URL=lambda://bazaar-users/api/users/.well-known/jwks.json",
	}
	env := map[string][]string{
		"users": {"DATABASE_URL=" + dbURL("users"), "DATABASE_PASSWORD_SECRET=bazaar/db/users#password",
			"JWT_PRIVATE_KEY_SECRET=bazaar/users/jwt-private-key",
			"ADMIN_EMAIL=admin@shop.example", "ADMIN_PASSWORD_SECRET=bazaar/users/admin-password"},
		"catalog": {"DATABASE_URL=" + dbURL("catalog"), "DATABASE_PASSWORD_SECRET=bazaar/db/catalog#password",
			"REDIS_URL=redis://" + redisAddr + "/0", "REDIS_PASSWORD_SECRET=bazaar/redis/catalog",
			// The template's bucket is S3; here a folder stands in for it.
			"MEDIA_DIR=" + t.TempDir()},
		"orders": {"DATABASE_URL=" + dbURL("orders"), "DATABASE_PASSWORD_SECRET=bazaar/db/orders#password",
			"CATALOG_INTERNAL_URL=lambda://bazaar-catalog"},
	}
	fns := map[string]*function{}
	for _, name := range functions {
		bootstrap := unzipBootstrap(t, filepath.Join(dir, "zips", name+".zip"), filepath.Join(dir, "task", name))
		fns[name] = startFunction(t, rie, name, bootstrap, append(slices.Clone(common), env[name]...))
		api.functions["bazaar-"+name] = fns[name]
	}
	gw := &gateway{sourceIP: "198.51.100.7", routes: []route{
		{"ANY /api/users/{proxy+}", "/api/users/", fns["users"]},
		{"ANY /api/users", "/api/users", fns["users"]},
		{"ANY /api/catalog/{proxy+}", "/api/catalog/", fns["catalog"]},
		{"ANY /api/orders/{proxy+}", "/api/orders/", fns["orders"]},
		{"ANY /api/orders", "/api/orders", fns["orders"]},
	}}
	gwSrv := httptest.NewServer(gw)
	t.Cleanup(gwSrv.Close)
	c := &client{t: t, base: gwSrv.URL}

	// Cold starts: the first invocation of each function initialises it.
	cold := map[string]time.Duration{}
	for _, name := range functions {
		start := time.Now()
		var spec map[string]any
		c.do("GET", "/api/"+name+"/openapi.json", "", nil, nil).expect(http.StatusOK, &spec)
		cold[name] = time.Since(start)
	}

	// The admin, created at the users function's start from its secrets.
	var adminTokens tokens
	c.do("POST", "/api/users/login", "", map[string]string{"email": "admin@shop.example", "password": passwords["admin"]}, nil).
		expect(http.StatusOK, &adminTokens)

	// A customer registers and logs in.
	email := "shopper-" + strings.ToLower(rand.Text()[:8]) + "@shop.example"
	var user struct{ ID, Email, Role string }
	c.do("POST", "/api/users/register", "", map[string]string{"email": email, "password": "correct horse battery", "name": "Lambda Shopper"}, nil).
		expect(http.StatusCreated, &user)
	if user.Role != "customer" {
		t.Fatalf("registered %+v, want a customer", user)
	}
	var customer tokens
	login := c.do("POST", "/api/users/login", "", map[string]string{"email": email, "password": "correct horse battery"}, nil)
	login.expect(http.StatusOK, &customer)
	if !strings.Contains(login.header.Get("Set-Cookie"), "bazaar_refresh=") {
		t.Errorf("login set no refresh cookie: %q", login.header.Values("Set-Cookie"))
	}
	var me struct{ ID, Email string }
	c.do("GET", "/api/users/me", customer.AccessToken, nil, nil).expect(http.StatusOK, &me)
	if me.ID != user.ID || me.Email != email {
		t.Fatalf("me %+v, want %+v", me, user)
	}

	// The admin adds a product (the catalog verifies the admin's token with
	// the users function's keys, by direct invocation).
	word := "lambdaword" + strings.ToLower(rand.Text()[:6])
	var p product
	c.do("POST", "/api/catalog/products", adminTokens.AccessToken, map[string]any{
		"sku": "LMB-" + rand.Text()[:6], "name": "Serverless Kettle " + word, "description": "Boils on demand.",
		"price_cents": 2599, "stock": 10, "category": "kitchen",
	}, nil).expect(http.StatusCreated, &p)
	// A customer may not.
	c.do("POST", "/api/catalog/products", customer.AccessToken, map[string]any{
		"sku": "LMB-NOPE", "name": "Nope", "price_cents": 1, "stock": 1, "category": "kitchen",
	}, nil).expect(http.StatusForbidden, nil)

	// Browse and search.
	var got product
	c.do("GET", "/api/catalog/products/"+p.ID, "", nil, nil).expect(http.StatusOK, &got)
	if got.ID != p.ID || got.Stock != 10 || got.PriceCents != 2599 {
		t.Fatalf("product %+v, want %+v", got, p)
	}
	var page struct{ Items []product }
	c.do("GET", "/api/catalog/products?"+url.Values{"category": {"kitchen"}}.Encode(), "", nil, nil).expect(http.StatusOK, &page)
	if !slices.ContainsFunc(page.Items, func(x product) bool { return x.ID == p.ID }) {
		t.Errorf("browsing kitchen: %+v, want %s among them", page.Items, p.ID)
	}
	c.do("GET", "/api/catalog/products?"+url.Values{"q": {word}}.Encode(), "", nil, nil).expect(http.StatusOK, &page)
	if len(page.Items) != 1 || page.Items[0].ID != p.ID {
		t.Fatalf("search for %q: %+v, want exactly %s", word, page.Items, p.ID)
	}

	// Order 3, with an idempotency key; the orders function reserves the
	// stock by invoking the catalog function.
	order := map[string]any{"items": []map[string]any{{"product_id": p.ID, "quantity": 3}}}
	idem := http.Header{"Idempotency-Key": {"lambda-" + rand.Text()}}
	var placed, replayed apiOrder
	c.do("POST", "/api/orders", customer.AccessToken, order, idem).expect(http.StatusCreated, &placed)
	if placed.Status != "confirmed" || placed.TotalCents != 3*2599 || placed.UserID != user.ID {
		t.Fatalf("placed %+v, want a confirmed order of 3 for %s", placed, user.ID)
	}
	if s := stock(c, p.ID); s != 7 {
		t.Fatalf("stock after ordering 3 of 10: %d, want 7", s)
	}
	// The retry with the same key is the same order, and reserves nothing.
	retry := c.do("POST", "/api/orders", customer.AccessToken, order, idem)
	retry.expect(http.StatusCreated, &replayed)
	if replayed.ID != placed.ID || retry.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry answered order %s (Idempotent-Replayed %q), want %s replayed", replayed.ID, retry.header.Get("Idempotent-Replayed"), placed.ID)
	}
	if s := stock(c, p.ID); s != 7 {
		t.Fatalf("stock after the retry: %d, want still 7", s)
	}
	var list struct{ Items []apiOrder }
	c.do("GET", "/api/orders", customer.AccessToken, nil, nil).expect(http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].ID != placed.ID {
		t.Errorf("my orders %+v, want only %s", list.Items, placed.ID)
	}

	// Cancel: the stock comes back once.
	var cancelled apiOrder
	c.do("POST", "/api/orders/"+placed.ID+"/cancel", customer.AccessToken, nil, nil).expect(http.StatusOK, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Fatalf("cancel answered %+v, want cancelled", cancelled)
	}
	c.do("POST", "/api/orders/"+placed.ID+"/cancel", customer.AccessToken, nil, nil).expect(http.StatusConflict, nil)
	if s := stock(c, p.ID); s != 10 {
		t.Fatalf("stock after cancelling: %d, want 10", s)
	}

	// The admin edits the product; the next read sees it (Redis is shared
	// by every instance, so no instance serves the old price).
	var edited product
	c.do("PATCH", "/api/catalog/products/"+p.ID, adminTokens.AccessToken, map[string]any{"price_cents": 1999}, nil).
		expect(http.StatusOK, &edited)
	c.do("GET", "/api/catalog/products/"+p.ID, "", nil, nil).expect(http.StatusOK, &got)
	if edited.PriceCents != 1999 || got.PriceCents != 1999 {
		t.Errorf("after the edit: answered %d, read %d, want 1999", edited.PriceCents, got.PriceCents)
	}

	// No public route reaches the internal API: API Gateway has none, and
	// a path under /internal/ in an API Gateway event goes to the public
	// API, which does not have it.
	c.do("GET", "/internal/reservations", "", nil, nil).expect(http.StatusNotFound, nil)
	c.do("GET", "/api/catalog/../../internal/reservations", "", nil, nil).expect(http.StatusNotFound, nil)

	// The scheduled jobs, as EventBridge invokes them.
	for name, job := range map[string]string{"users": "purge", "orders": "reconcile", "catalog": "media-collect"} {
		answer, err := fns[name].call(ctx, []byte(`{"job":"`+job+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Job          string
			ErrorMessage string `json:"errorMessage"`
		}
		if err := json.Unmarshal(answer, &r); err != nil || r.Job != job {
			t.Errorf("%s job %s answered %s, want its result", name, job, answer)
		}
	}
	if answer, err := fns["orders"].call(ctx, []byte(`{"job":"nonesuch"}`)); err == nil && !bytes.Contains(answer, []byte("errorMessage")) {
		t.Errorf("an unknown job answered %s, want an error", answer)
	}

	// Warm latency: the same read, many times, through the gateway.
	var warm []time.Duration
	for range 40 {
		start := time.Now()
		c.do("GET", "/api/catalog/products/"+p.ID, "", nil, nil).expect(http.StatusOK, nil)
		warm = append(warm, time.Since(start))
	}
	var warmOrders []time.Duration
	for range 10 {
		start := time.Now()
		c.do("POST", "/api/orders", customer.AccessToken, map[string]any{"items": []map[string]any{{"product_id": p.ID, "quantity": 1}}}, nil).
			expect(http.StatusCreated, nil)
		warmOrders = append(warmOrders, time.Since(start))
	}

	// What the functions wrote: every invocation's request line and its
	// metrics line (Embedded Metric Format) were written before it
	// answered; the secrets came from the extension, the invocations of
	// each other were signed.
	time.Sleep(200 * time.Millisecond) // the emulator copies output asynchronously
	for _, name := range functions {
		out := fns[name].out.String()
		if n := strings.Count(out, `"CloudWatchMetrics"`); n < fns[name].calls-1 {
			t.Errorf("%s wrote %d metric lines for %d invocations", name, n, fns[name].calls)
		}
		if !strings.Contains(out, `"Namespace":"Bazaar"`) {
			t.Errorf("%s's metric lines are not in the Bazaar namespace", name)
		}
		if !strings.Contains(out, `"msg":"request"`) {
			t.Errorf("%s logged no request line", name)
		}
		if strings.Contains(out, passwords["internal"]) || strings.Contains(out, passwords[name]) {
			t.Errorf("%s's output holds a secret", name)
		}
	}
	if !strings.Contains(fns["orders"].out.String(), `"Job":"reconcile"`) {
		t.Errorf("orders wrote no metrics for the reconcile job")
	}
	for id, want := range map[string]int{"bazaar/internal-token": 3, "bazaar/db/orders": 1, "bazaar/users/jwt-private-key": 1} {
		if got := secrets.reads[id]; got != want {
			t.Errorf("secret %s read %d times, want %d (once per cold start)", id, got, want)
		}
	}
	if api.unsigned > 0 || api.invokes["bazaar-catalog"] == 0 || api.invokes["bazaar-users"] == 0 {
		t.Errorf("direct invocations: %v, %d unsigned; want catalog and users invoked, all signed", api.invokes, api.unsigned)
	}

	// The figures.
	// The emulator's INIT REPORT: from starting the bootstrap to its
	// first request for work, which is what Lambda reports as Init
	// Duration. (Its REPORT line's "Init Duration" is not: the emulator
	// does not wait for the runtime there.)
	initRE := regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)
	for _, name := range functions {
		m := initRE.FindStringSubmatch(fns[name].out.String())
		initMS := "?"
		if m != nil {
			initMS = strings.TrimRight(strings.TrimRight(m[1], "0"), ".")
		}
		t.Logf("%-8s zip %5.2f MiB; cold start: init %s ms, first request %v through the gateway", name,
			float64(sizes[name])/(1<<20), initMS, cold[name].Round(time.Millisecond))
	}
	t.Logf("warm GET /api/catalog/products/{id}: %s", summary(warm))
	t.Logf("warm POST /api/orders (orders invokes catalog): %s", summary(warmOrders))
}

type tokens struct {
	AccessToken string `json:"access_token"`
}

type product struct {
	ID         string `json:"id"`
	PriceCents int    `json:"price_cents"`
	Stock      int    `json:"stock"`
}

type apiOrder struct {
	ID         string `json:"id"`
	UserID     string `json:"user_id"`
	Status     string `json:"status"`
	TotalCents int    `json:"total_cents"`
}

func stock(c *client, id string) int {
	var p product
	c.do("GET", "/api/catalog/products/"+id, "", nil, nil).expect(http.StatusOK, &p)
	return p.Stock
}

func summary(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(f float64) time.Duration { return s[int(f*float64(len(s)-1))].Round(100 * time.Microsecond) }
	return fmt.Sprintf("n=%d median %v p90 %v max %v", len(s), q(0.5), q(0.9), s[len(s)-1].Round(100*time.Microsecond))
}

// client sends requests to the gateway.
type client struct {
	t    *testing.T
	base string
}

type reply struct {
	t      *testing.T
	req    string
	status int
	header http.Header
	body   []byte
}

func (c *client) do(method, path, token string, body any, h http.Header) reply {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return reply{t: c.t, req: method + " " + path, status: resp.StatusCode, header: resp.Header, body: b}
}

func (r reply) expect(status int, into any) {
	r.t.Helper()
	if r.status != status {
		r.t.Fatalf("%s: %d %s, want %d", r.req, r.status, r.body, status)
	}
	if into != nil {
		if err := json.Unmarshal(r.body, into); err != nil {
			r.t.Fatalf("%s: decode %s: %v", r.req, r.body, err)
		}
	}
}
