package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/orders"
	"bazaar/orders/catalogclient"
	"bazaar/orders/internal/orderstest"
	"bazaar/orders/internal/tokentest"
	"bazaar/orders/metrics"
	"bazaar/platform/app"
	"bazaar/platform/auth"
	"bazaar/platform/config"
	"bazaar/platform/ident"
	"bazaar/platform/pg"
	"bazaar/platform/pg/pgtest"
	"bazaar/platform/web"
)

// The service tests run the real service (Main) against real PostgreSQL,
// with the catalog replaced by an in-memory fake and the users service by
// a JWKS of a test key.

var (
	db    *pgtest.DB
	dbURL string
	pool  *pgxpool.Pool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	// Main migrates too; migrating at start lets start truncate before it.
	var err error
	if db, err = pgtest.Start(ctx, orderstest.Postgres); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	dbURL, pool = db.URL, db.Pool
	return m.Run()
}

// Products of the fake catalog.
const (
	mug    = "0190f3a0-0000-7000-8000-00000000000a"
	teapot = "0190f3a0-0000-7000-8000-00000000000b"
	dollar = "0190f3a0-0000-7000-8000-00000000000c"
)

type harness struct {
	t       *testing.T
	catalog *fakeCatalog
	iss     *tokentest.Issuer
	main    *Main
	api     string
	// ahead moves the reconciler's clock forward, so that it sweeps
	// reservations of ids made up to that long after the real now.
	ahead atomic.Int64
}

// start runs the service over emptied tables, with a catalog whose mug
// costs 4.50 EUR (10 in stock) and teapot 29.99 EUR (5 in stock).
//
// Catalog calls time out after 150ms with one retry, so the reconciler may
// take a cancellation over 1.8s after its request began (see Main.Run).
func start(t *testing.T) *harness {
	t.Helper()
	return startWith(t, orders.Limits{OpenOrders: orders.DefaultMaxOpenOrders, ReservedUnits: orders.DefaultMaxReservedUnits})
}

// startWith is start with limits on each user's open orders.
func startWith(t *testing.T, limits orders.Limits) *harness {
	t.Helper()
	db.Reset(t)
	h := &harness{t: t, catalog: newFakeCatalog(t), iss: tokentest.New(t)}
	h.catalog.addProduct(mug, "MUG", 450, "EUR", 10)
	h.catalog.addProduct(teapot, "TEAPOT", 2999, "EUR", 5)
	h.catalog.addProduct(dollar, "DOLLAR", 100, "USD", 5)
	jwks := httptest.NewServer(http.HandlerFunc(h.iss.ServeJWKS))
	t.Cleanup(jwks.Close)

	h.main = &Main{
		Config: Config{
			Base: app.Base{
				Env:             "development",
				Web:             web.Config{Service: "orders", Addr: "127.0.0.1:0", InternalAddr: "127.0.0.1:0"},
				DB:              pg.Config{URL: dbURL, MaxConns: 20},
				ShutdownTimeout: 5 * time.Second,
			},
			JWKSURL:           jwks.URL,
			CatalogURL:        h.catalog.srv.URL,
			CatalogTimeout:    150 * time.Millisecond,
			CatalogRetries:    1,
			ReconcileInterval: 50 * time.Millisecond,
			IdempotencyTTL:    time.Hour,
			Limits:            limits,
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:  func() time.Time { return time.Now().Add(time.Duration(h.ahead.Load())) },
	}
	if err := h.main.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := h.main.Close(); err != nil {
			t.Error(err)
		}
	})
	h.api = "http://" + h.main.server.Addr()
	return h
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) order(t *testing.T) orders.Order {
	t.Helper()
	var o orders.Order
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("not an order: %v: %s", err, r.body)
	}
	return o
}

// problemCode is the code of a problem+json response.
func (r response) problemCode(t *testing.T) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, r.body)
	}
	var p web.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, r.body)
	}
	return strings.TrimPrefix(p.Type, web.ProblemTypePrefix)
}

// call sends a request as user ("" for none; "admin" has the admin role).
func (h *harness) call(method, path, user, body string, headers ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.api+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		role := auth.RoleCustomer
		if user == "admin" {
			role = auth.RoleAdmin
		}
		req.Header.Set("Authorization", "Bearer "+h.iss.Token(h.t, user, role))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func lines(items ...any) string {
	var b strings.Builder
	b.WriteString(`{"items":[`)
	for i := 0; i+1 < len(items); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"product_id":%q,"quantity":%d}`, items[i], items[i+1])
	}
	b.WriteString("]}")
	return b.String()
}

// dbStatus is an order's status as stored.
func (h *harness) dbStatus(id string) string {
	h.t.Helper()
	var s string
	if err := pool.QueryRow(h.t.Context(), `SELECT status FROM orders WHERE id = $1`, id).Scan(&s); err != nil {
		h.t.Fatalf("order %s: %v", id, err)
	}
	return s
}

func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := pool.QueryRow(h.t.Context(), query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// eventually waits up to 10s for cond.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric returns the value of one sample of the service's metrics.
func (h *harness) metric(sample string) string {
	h.t.Helper()
	resp, err := http.Get("http://" + h.main.server.InternalAddr() + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), sample+" "); ok {
			return v
		}
	}
	return ""
}

func TestPlaceAndRead(t *testing.T) {
	h := start(t)
	r := h.call("POST", "/api/orders", "alice", lines(mug, 3, strings.ToUpper(teapot), 1), "X-Request-Id", "req-place-1")
	if r.status != http.StatusCreated {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	o := r.order(t)
	want := orders.Order{
		ID: o.ID, UserID: "alice", Status: orders.StatusConfirmed, CreatedAt: o.CreatedAt,
		Items: []orders.Item{
			{ProductID: mug, SKU: "MUG", Name: "Product MUG", Quantity: 3, UnitPriceCents: 450},
			{ProductID: teapot, SKU: "TEAPOT", Name: "Product TEAPOT", Quantity: 1, UnitPriceCents: 2999},
		},
		TotalCents: 3*450 + 2999, Currency: "EUR",
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
	if !ident.IsUUID(o.ID) || time.Since(o.CreatedAt) > time.Minute {
		t.Errorf("id %q, created_at %v", o.ID, o.CreatedAt)
	}
	if h.catalog.stock(mug) != 7 || h.catalog.stock(teapot) != 4 {
		t.Errorf("stock = %d, %d; want 7, 4", h.catalog.stock(mug), h.catalog.stock(teapot))
	}
	if ids := h.catalog.seenRequestIDs(); len(ids) != 1 || ids[0] != "req-place-1" {
		t.Errorf("catalog saw request ids %q, want the client's", ids)
	}

	got := h.call("GET", "/api/orders/"+o.ID, "alice", "")
	if got.status != http.StatusOK {
		t.Fatalf("GET own = %d %s", got.status, got.body)
	}
	if diff := cmp.Diff(o, got.order(t)); diff != "" {
		t.Errorf("GET (-placed +read):\n%s", diff)
	}
	if r := h.call("GET", "/api/orders/"+o.ID, "bob", ""); r.status != http.StatusNotFound || r.problemCode(t) != "not-found" {
		t.Errorf("GET someone else's = %d %s, want 404", r.status, r.body)
	}
	if r := h.call("GET", "/api/orders/"+o.ID, "admin", ""); r.status != http.StatusOK {
		t.Errorf("GET as admin = %d %s, want 200", r.status, r.body)
	}
	for _, id := range []string{orders.NewID(), "42", "not-an-id", strings.Repeat("x", 300)} {
		if r := h.call("GET", "/api/orders/"+id, "alice", ""); r.status != http.StatusNotFound {
			t.Errorf("GET %.20s = %d, want 404", id, r.status)
		}
	}

	var page struct {
		Items      []orders.Order `json:"items"`
		NextCursor *string        `json:"next_cursor"`
	}
	list := h.call("GET", "/api/orders", "alice", "")
	if err := json.Unmarshal(list.body, &page); err != nil || list.status != http.StatusOK {
		t.Fatalf("GET list = %d %s", list.status, list.body)
	}
	if len(page.Items) != 1 || page.Items[0].ID != o.ID || page.NextCursor != nil {
		t.Errorf("alice's list = %s", list.body)
	}
	if r := h.call("GET", "/api/orders", "bob", ""); string(r.body) != "{\"items\":[],\"next_cursor\":null}\n" {
		t.Errorf("bob's list = %s, want empty", r.body)
	}
	if v := h.metric("orders_placed_total"); v != "1" {
		t.Errorf("orders_placed_total = %q, want 1", v)
	}
	if v := h.metric(`orders_revenue_cents_total{currency="EUR"}`); v != "4349" {
		t.Errorf("revenue = %q, want 4349", v)
	}
}

func TestListNewestFirst(t *testing.T) {
	h := start(t)
	var placed []string
	for range 5 {
		r := h.call("POST", "/api/orders", "alice", lines(mug, 1))
		if r.status != http.StatusCreated {
			t.Fatalf("POST = %d %s", r.status, r.body)
		}
		placed = append([]string{r.order(t).ID}, placed...)
	}
	var listed []string
	path := "/api/orders?limit=2"
	for range 5 {
		r := h.call("GET", path, "alice", "")
		var page struct {
			Items      []orders.Order `json:"items"`
			NextCursor *string        `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil || r.status != http.StatusOK {
			t.Fatalf("GET %s = %d %s", path, r.status, r.body)
		}
		for _, o := range page.Items {
			listed = append(listed, o.ID)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/orders?limit=2&cursor=" + *page.NextCursor
	}
	if diff := cmp.Diff(placed, listed); diff != "" {
		t.Errorf("listed (-placed newest first +listed):\n%s", diff)
	}
}

func TestOutOfStock(t *testing.T) {
	h := start(t)
	r := h.call("POST", "/api/orders", "alice", lines(mug, 2, teapot, 6))
	if r.status != http.StatusConflict || r.problemCode(t) != "out-of-stock" {
		t.Fatalf("POST = %d %s, want 409 out-of-stock", r.status, r.body)
	}
	if !strings.Contains(string(r.body), "TEAPOT") {
		t.Errorf("the problem does not name the product: %s", r.body)
	}
	if h.catalog.stock(mug) != 10 || h.catalog.stock(teapot) != 5 {
		t.Errorf("stock = %d, %d; want untouched 10, 5", h.catalog.stock(mug), h.catalog.stock(teapot))
	}
	if n := h.count(`SELECT count(*) FROM orders`); n != 0 {
		t.Errorf("%d orders recorded for a refused placement, want none", n)
	}
	if v := h.metric(`orders_rejected_total{reason="out_of_stock"}`); v != "1" {
		t.Errorf("rejected{out_of_stock} = %q, want 1", v)
	}
}

func TestUnknownProduct(t *testing.T) {
	h := start(t)
	for _, id := range []string{orders.NewID(), "not-a-uuid", "'; DROP TABLE orders; --", strings.Repeat("é", 5000)} {
		r := h.call("POST", "/api/orders", "alice", lines(mug, 1, id, 1))
		if r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "unprocessable-entity" {
			t.Errorf("POST with product %.20q = %d %s, want 422", id, r.status, r.body)
		}
		if len(r.body) > 1000 {
			t.Errorf("the problem echoes the whole id: %d bytes", len(r.body))
		}
	}
	if calls, _, _ := h.catalog.counts(); calls != 1 {
		t.Errorf("catalog got %d reserve calls, want 1 (ids that are not UUIDs need no call)", calls)
	}
	if h.catalog.stock(mug) != 10 {
		t.Errorf("mug stock = %d, want 10", h.catalog.stock(mug))
	}
	if v := h.metric(`orders_rejected_total{reason="unknown_product"}`); v != "4" {
		t.Errorf("rejected{unknown_product} = %q, want 4", v)
	}
}

func TestMixedCurrencies(t *testing.T) {
	h := start(t)
	r := h.call("POST", "/api/orders", "alice", lines(mug, 1, dollar, 1))
	if r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "unprocessable-entity" {
		t.Fatalf("POST = %d %s, want 422", r.status, r.body)
	}
	if h.catalog.stock(mug) != 10 || h.catalog.stock(dollar) != 5 {
		t.Errorf("stock = %d, %d; want given back", h.catalog.stock(mug), h.catalog.stock(dollar))
	}
	if n := h.count(`SELECT count(*) FROM orders`); n != 0 {
		t.Errorf("%d orders recorded for a refused placement, want none", n)
	}
	if v := h.metric(`orders_rejected_total{reason="mixed_currency"}`); v != "1" {
		t.Errorf("rejected{mixed_currency} = %q, want 1", v)
	}
}

// The catalog reserves but its answers never arrive in time: the client
// gets a 503, no order is recorded, and, the request having no
// Idempotency-Key, the stock is released at once (the release too answers
// late, but it is done).
func TestCatalogTimeout(t *testing.T) {
	h := start(t)
	h.catalog.set(func(f *fakeCatalog) { f.delay = time.Second })
	r := h.call("POST", "/api/orders", "alice", lines(mug, 3))
	if r.status != http.StatusServiceUnavailable || r.problemCode(t) != "service-unavailable" {
		t.Fatalf("POST = %d %s, want 503", r.status, r.body)
	}
	if !strings.Contains(string(r.body), "may or may not stand") {
		t.Errorf("the 503 does not say the order may stand: %s", r.body)
	}
	calls, reservations, returned := h.catalog.counts()
	if calls != 2 || reservations != 1 || returned != 1 || h.catalog.stock(mug) != 10 {
		t.Fatalf("catalog: %d reserve calls, %d reservations, %d returned, mug stock %d; want 2 tries of one reservation, given back",
			calls, reservations, returned, h.catalog.stock(mug))
	}
	if n := h.count(`SELECT count(*) FROM orders`); n != 0 {
		t.Errorf("%d orders recorded after a 503, want none", n)
	}
}

// placeFails makes recording orders fail, as when PostgreSQL breaks between
// the reservation and the record, until the returned function is called.
func (h *harness) placeFails() (restore func()) {
	h.t.Helper()
	if _, err := pool.Exec(h.t.Context(), `
		CREATE FUNCTION fail_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'recording fails for the test'; END $$;
		CREATE TRIGGER fail_insert BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION fail_insert()`); err != nil {
		h.t.Fatal(err)
	}
	restore = func() {
		if _, err := pool.Exec(context.Background(), `
			DROP TRIGGER IF EXISTS fail_insert ON orders;
			DROP FUNCTION IF EXISTS fail_insert()`); err != nil {
			h.t.Fatal(err)
		}
	}
	h.t.Cleanup(restore)
	return restore
}

// keyOrderID is the order id the user's idempotency key names.
func (h *harness) keyOrderID(user, key string) string {
	h.t.Helper()
	var id string
	if err := pool.QueryRow(h.t.Context(), `SELECT order_id::text FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
		user, key).Scan(&id); err != nil {
		h.t.Fatal(err)
	}
	return id
}

// A first attempt that reserved and then failed with a 503 leaves its
// stock held under the key's order id; a retry with the same key reserves
// under that id again, which holds nothing more, and records the order:
// one reservation and one order for the key, whichever step failed.
func TestRetryKeepsOneReservation(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail func(h *harness) (restore func())
	}{
		{"catalog answers too late", func(h *harness) func() {
			h.catalog.set(func(f *fakeCatalog) { f.delay = time.Second })
			return func() { h.catalog.set(func(f *fakeCatalog) { f.delay = 0 }) }
		}},
		{"recording fails", (*harness).placeFails},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t)
			body := lines(mug, 3)
			restore := tc.fail(h)
			r := h.call("POST", "/api/orders", "alice", body, "Idempotency-Key", "k-retry")
			if r.status != http.StatusServiceUnavailable || r.problemCode(t) != "service-unavailable" {
				t.Fatalf("POST = %d %s, want 503", r.status, r.body)
			}
			if !strings.Contains(string(r.body), "Retry with the same Idempotency-Key") {
				t.Errorf("the 503 does not tell to retry with the key: %s", r.body)
			}
			first := h.keyOrderID("alice", "k-retry")
			if held := h.catalog.held(); len(held) != 1 || held[0] != first || h.catalog.stock(mug) != 7 {
				t.Fatalf("after the 503 the catalog holds %q (mug stock %d); want the key's order id %s, 7", held, h.catalog.stock(mug), first)
			}
			if n := h.count(`SELECT count(*) FROM orders`); n != 0 {
				t.Fatalf("%d orders recorded after a 503, want none", n)
			}

			restore()
			retry := h.call("POST", "/api/orders", "alice", body, "Idempotency-Key", "k-retry")
			if retry.status != http.StatusCreated || retry.order(t).ID != first {
				t.Fatalf("retry = %d %s, want 201 with order %s", retry.status, retry.body, first)
			}
			if held := h.catalog.held(); len(held) != 1 || held[0] != first || h.catalog.stock(mug) != 7 {
				t.Errorf("after the retry the catalog holds %q (mug stock %d); want only %s, 7", held, h.catalog.stock(mug), first)
			}
			if _, reservations, returned := h.catalog.counts(); reservations != 1 || returned != 0 {
				t.Errorf("catalog: %d reservations, %d returned; want 1, 0", reservations, returned)
			}
			if n := h.count(`SELECT count(*) FROM orders WHERE id = $1`, first); n != 1 || h.count(`SELECT count(*) FROM orders`) != 1 {
				t.Errorf("orders: want exactly the one under %s", first)
			}
			replay := h.call("POST", "/api/orders", "alice", body, "Idempotency-Key", "k-retry")
			if replay.status != http.StatusCreated || replay.header.Get("Idempotent-Replayed") != "true" || replay.order(t).ID != first {
				t.Errorf("replay = %d %s, want the retry's 201", replay.status, replay.body)
			}
		})
	}
}

// A retry that comes once the catalog refuses the key's order id as too
// old releases that id first, so nothing of it stays held, then moves the
// key to a new id and reserves under it.
func TestRetryRenewsTooOldOrderID(t *testing.T) {
	h := start(t)
	body := lines(mug, 3)
	restore := h.placeFails()
	if r := h.call("POST", "/api/orders", "alice", body, "Idempotency-Key", "k-old"); r.status != http.StatusServiceUnavailable {
		t.Fatalf("POST = %d %s, want 503", r.status, r.body)
	}
	old := h.keyOrderID("alice", "k-old")
	if held := h.catalog.held(); len(held) != 1 || held[0] != old {
		t.Fatalf("after the 503 the catalog holds %q, want %s", held, old)
	}
	restore()
	time.Sleep(5 * time.Millisecond)
	h.catalog.set(func(f *fakeCatalog) { f.refuseBefore = time.Now().Truncate(time.Millisecond) })

	retry := h.call("POST", "/api/orders", "alice", body, "Idempotency-Key", "k-old")
	if retry.status != http.StatusCreated {
		t.Fatalf("retry = %d %s, want 201", retry.status, retry.body)
	}
	renewed := retry.order(t).ID
	if renewed == old || !ident.IsUUIDv7(renewed) || h.keyOrderID("alice", "k-old") != renewed {
		t.Fatalf("retry placed order %s (key names %s), want a new id instead of %s", renewed, h.keyOrderID("alice", "k-old"), old)
	}
	want := []string{"reserve " + old, "reserve " + old, "release " + old, "reserve " + renewed}
	if diff := cmp.Diff(want, h.catalog.seenCalls()); diff != "" {
		t.Errorf("catalog calls (-want +got):\n%s", diff)
	}
	if held := h.catalog.held(); len(held) != 1 || held[0] != renewed || h.catalog.stock(mug) != 7 {
		t.Errorf("after the retry the catalog holds %q (mug stock %d); want only %s, 7", held, h.catalog.stock(mug), renewed)
	}
	if n := h.count(`SELECT count(*) FROM orders`); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// Stock reserved under an order id that was never recorded (its request
// died between the two, with the catalog unreachable for the release) is
// released by the reconciler's sweep once no reserve can still arrive for
// that id, and recorded orders keep theirs.
func TestUnrecordedReservationIsSwept(t *testing.T) {
	h := start(t)
	kept := h.call("POST", "/api/orders", "alice", lines(mug, 2)).order(t)
	lost := orders.NewID()
	if _, err := catalogclient.New(catalogclient.Config{BaseURL: h.catalog.srv.URL, Timeout: time.Second}, metrics.New(prometheus.NewRegistry(), nil)).
		Reserve(t.Context(), lost, []orders.Line{{ProductID: mug, Quantity: 3}}); err != nil {
		t.Fatal(err)
	}
	if h.catalog.stock(mug) != 5 {
		t.Fatalf("mug stock = %d, want 5", h.catalog.stock(mug))
	}

	time.Sleep(300 * time.Millisecond) // several rounds: both ids are too young to sweep
	if got := h.catalog.reservationStatus(lost); got != orders.Reserved {
		t.Fatalf("a young reservation was swept: %q", got)
	}
	h.ahead.Store(int64(10 * time.Minute))
	h.eventually("the reconciler releases the lost reservation", func() bool { return h.catalog.reservationStatus(lost) == orders.Released })
	if got := h.catalog.reservationStatus(kept.ID); got != orders.Reserved {
		t.Errorf("the recorded order's reservation is %q, want reserved", got)
	}
	if _, _, returned := h.catalog.counts(); returned != 1 || h.catalog.stock(mug) != 8 {
		t.Errorf("returned %d times, mug stock %d; want once, 8", returned, h.catalog.stock(mug))
	}
	if v := h.metric(`orders_reconciler_settlements_total{outcome="released"}`); v != "1" {
		t.Errorf("settlements{released} = %q, want 1", v)
	}
	if ids := h.catalog.seenRequestIDs(); !slices.Contains(ids, "reconcile-"+lost) {
		t.Errorf("the reconciler's release carries none of the request ids %q", ids)
	}
	var through string
	if err := pool.QueryRow(t.Context(), `SELECT through::text FROM reservation_sweep`).Scan(&through); err != nil || through <= lost {
		t.Errorf("swept through %q (%v), want past %s", through, err, lost)
	}
	if v, err := strconv.ParseFloat(h.metric("orders_reservation_sweep_position_timestamp_seconds"), 64); err != nil || v < float64(time.Now().Unix()) {
		t.Errorf("sweep position metric = %v (%v), want at least now (the clock runs ahead)", v, err)
	}
}

func TestCancel(t *testing.T) {
	h := start(t)
	o := h.call("POST", "/api/orders", "alice", lines(mug, 4)).order(t)
	if r := h.call("POST", "/api/orders/"+o.ID+"/cancel", "bob", ""); r.status != http.StatusNotFound {
		t.Errorf("bob cancels alice's order: %d, want 404", r.status)
	}
	r := h.call("POST", "/api/orders/"+o.ID+"/cancel", "alice", "")
	if r.status != http.StatusOK || r.order(t).Status != orders.StatusCancelled {
		t.Fatalf("cancel = %d %s, want 200 cancelled", r.status, r.body)
	}
	if _, _, returned := h.catalog.counts(); returned != 1 || h.catalog.stock(mug) != 10 {
		t.Errorf("returned %d times, mug stock %d; want once, 10", returned, h.catalog.stock(mug))
	}
	again := h.call("POST", "/api/orders/"+o.ID+"/cancel", "alice", "")
	if again.status != http.StatusConflict || again.problemCode(t) != "conflict" {
		t.Errorf("cancel again = %d %s, want 409 conflict", again.status, again.body)
	}
	if _, _, returned := h.catalog.counts(); returned != 1 || h.catalog.stock(mug) != 10 {
		t.Errorf("after a second cancel: returned %d times, mug stock %d", returned, h.catalog.stock(mug))
	}
	if r := h.call("GET", "/api/orders/"+o.ID, "alice", ""); r.order(t).Status != orders.StatusCancelled {
		t.Errorf("GET after cancel = %s", r.body)
	}

	// An admin may cancel anyone's order; concurrent cancels succeed once.
	o2 := h.call("POST", "/api/orders", "alice", lines(teapot, 2)).order(t)
	var wg sync.WaitGroup
	statuses := make(chan int, 5)
	for range 5 {
		wg.Go(func() { statuses <- h.call("POST", "/api/orders/"+o2.ID+"/cancel", "admin", "").status })
	}
	wg.Wait()
	close(statuses)
	byStatus := map[int]int{}
	for s := range statuses {
		byStatus[s]++
	}
	if byStatus[http.StatusOK] != 1 || byStatus[http.StatusConflict] != 4 {
		t.Errorf("concurrent cancels answered %v, want one 200 and four 409", byStatus)
	}
	if _, _, returned := h.catalog.counts(); returned != 2 || h.catalog.stock(teapot) != 5 {
		t.Errorf("returned %d times, teapot stock %d; want 2, 5", returned, h.catalog.stock(teapot))
	}
	if v := h.metric("orders_cancelled_total"); v != "2" {
		t.Errorf("orders_cancelled_total = %q, want 2", v)
	}
}

// A cancellation the catalog cannot complete is answered 503 and finished
// by the reconciler; the stock still comes back exactly once.
func TestCancelFinishedByReconciler(t *testing.T) {
	h := start(t)
	o := h.call("POST", "/api/orders", "alice", lines(mug, 4)).order(t)
	h.catalog.set(func(f *fakeCatalog) { f.down = true })
	if r := h.call("POST", "/api/orders/"+o.ID+"/cancel", "alice", ""); r.status != http.StatusServiceUnavailable {
		t.Fatalf("cancel with the catalog down = %d %s, want 503", r.status, r.body)
	}
	if r := h.call("GET", "/api/orders/"+o.ID, "alice", ""); r.order(t).Status != orders.StatusCancelling {
		t.Errorf("GET during the cancellation = %s, want cancelling", r.body)
	}
	h.catalog.set(func(f *fakeCatalog) { f.down = false })
	h.eventually("the reconciler finishes the cancellation", func() bool { return h.dbStatus(o.ID) == "cancelled" })
	if _, _, returned := h.catalog.counts(); returned != 1 || h.catalog.stock(mug) != 10 {
		t.Errorf("returned %d times, mug stock %d; want once, 10", returned, h.catalog.stock(mug))
	}
	if r := h.call("POST", "/api/orders/"+o.ID+"/cancel", "alice", ""); r.status != http.StatusConflict {
		t.Errorf("cancel after the reconciler finished = %d, want 409", r.status)
	}
	if v := h.metric(`orders_reconciler_settlements_total{outcome="cancelled"}`); v != "1" {
		t.Errorf("settlements{cancelled} = %q, want 1", v)
	}
	if n := h.count(`SELECT open_orders + reserved_units FROM user_order_totals WHERE user_id = 'alice'`); n != 0 {
		t.Errorf("alice's open orders and units add up to %d after the reconciler's cancellation, want 0", n)
	}
}

// Twenty concurrent requests with one key make one order and one
// reservation; retries replay the first response.
func TestIdempotencyKey(t *testing.T) {
	h := start(t)
	h.catalog.set(func(f *fakeCatalog) { f.delay = 50 * time.Millisecond }) // keep the first in flight
	body := lines(mug, 1)
	const n = 20
	var wg sync.WaitGroup
	results := make(chan response, n)
	for range n {
		wg.Go(func() { results <- h.call("POST", "/api/orders", "alice", body, "Idempotency-Key", "same-key") })
	}
	wg.Wait()
	close(results)
	var created []response
	for r := range results {
		switch {
		case r.status == http.StatusCreated:
			created = append(created, r)
		case r.status == http.StatusConflict && r.problemCode(t) == "request-in-progress":
		default:
			t.Errorf("concurrent request answered %d %s", r.status, r.body)
		}
	}
	if len(created) == 0 {
		t.Fatal("no request placed the order")
	}
	first := created[0].order(t)
	for _, r := range created {
		if r.order(t).ID != first.ID {
			t.Errorf("two orders for one key: %s and %s", first.ID, r.order(t).ID)
		}
	}
	if calls, reservations, _ := h.catalog.counts(); calls != 1 || reservations != 1 || h.catalog.stock(mug) != 9 {
		t.Errorf("catalog: %d calls, %d reservations, stock %d; want one of each, 9", calls, reservations, h.catalog.stock(mug))
	}
	if n := h.count(`SELECT count(*) FROM orders`); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}

	replay := h.call("POST", "/api/orders", "alice", " "+body+"\n", "Idempotency-Key", "same-key")
	if replay.status != http.StatusCreated || replay.header.Get("Idempotent-Replayed") != "true" || replay.order(t).ID != first.ID {
		t.Errorf("replay = %d %s (replayed %q), want the first order", replay.status, replay.body, replay.header.Get("Idempotent-Replayed"))
	}
	if r := h.call("POST", "/api/orders", "alice", lines(mug, 2), "Idempotency-Key", "same-key"); r.status != http.StatusUnprocessableEntity || r.problemCode(t) != "idempotency-key-reused" {
		t.Errorf("same key, other body = %d %s, want 422 idempotency-key-reused", r.status, r.body)
	}
	if r := h.call("POST", "/api/orders", "bob", body, "Idempotency-Key", "same-key"); r.status != http.StatusCreated || r.order(t).ID == first.ID {
		t.Errorf("another user's key = %d %s, want a new order", r.status, r.body)
	}

	// A refusal is a final answer too: it is replayed, not retried.
	h.catalog.set(func(f *fakeCatalog) { f.delay = 0 })
	refused := h.call("POST", "/api/orders", "alice", lines(teapot, 6), "Idempotency-Key", "too-many")
	if refused.status != http.StatusConflict {
		t.Fatalf("out of stock = %d %s", refused.status, refused.body)
	}
	h.catalog.addProduct(teapot, "TEAPOT", 2999, "EUR", 50)
	again := h.call("POST", "/api/orders", "alice", lines(teapot, 6), "Idempotency-Key", "too-many")
	if again.status != http.StatusConflict || !bytes.Equal(again.body, refused.body) || again.problemCode(t) != "out-of-stock" {
		t.Errorf("replayed refusal = %d %s, want the first 409", again.status, again.body)
	}
}

// problemDetail is the detail of a problem+json response.
func (r response) problemDetail(t *testing.T) string {
	t.Helper()
	var p web.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("not a problem: %v: %s", err, r.body)
	}
	return p.Detail
}

// Past a limit, a placement is answered 409 problem+json naming the limit,
// and the catalog holds nothing for it: an order larger than the limit of
// units is refused before it reserves, any other gives its stock back
// once the record refuses it. A refusal under an Idempotency-Key is
// replayed like any other; other users, and the user once an order is
// cancelled, place orders as before.
func TestOrderLimits(t *testing.T) {
	h := startWith(t, orders.Limits{OpenOrders: 2, ReservedUnits: 6})
	first := h.call("POST", "/api/orders", "alice", lines(mug, 2), "Idempotency-Key", "k-first")
	if first.status != http.StatusCreated {
		t.Fatalf("first order = %d %s", first.status, first.body)
	}
	placed := first.order(t)
	if r := h.call("POST", "/api/orders", "alice", lines(teapot, 1)); r.status != http.StatusCreated {
		t.Fatalf("second order = %d %s", r.status, r.body)
	}
	held := h.catalog.held()

	refusals := []struct {
		user, body, key, detail, reason string
		reserves                        int
	}{
		{"alice", lines(mug, 1), "", "the most one user may have (2)", orders.ReasonOpenOrdersLimit, 1},
		{"alice", lines(mug, 1), "k-refused", "the most one user may have (2)", orders.ReasonOpenOrdersLimit, 1},
		{"bob", lines(mug, 4, teapot, 3), "", "may reserve (6 units)", orders.ReasonReservedUnitsLimit, 0},
	}
	for _, tc := range refusals {
		var headers []string
		if tc.key != "" {
			headers = []string{"Idempotency-Key", tc.key}
		}
		calls, _, _ := h.catalog.counts()
		r := h.call("POST", "/api/orders", tc.user, tc.body, headers...)
		if r.status != http.StatusConflict || r.problemCode(t) != "conflict" || !strings.Contains(r.problemDetail(t), tc.detail) {
			t.Errorf("%s past the limit = %d %s, want 409 conflict naming %q", tc.user, r.status, r.body, tc.detail)
		}
		if after, _, _ := h.catalog.counts(); after-calls != tc.reserves {
			t.Errorf("%s past the limit: %d reserve calls, want %d", tc.user, after-calls, tc.reserves)
		}
	}
	if got := h.catalog.held(); !slices.Equal(got, held) || h.catalog.stock(mug) != 8 || h.catalog.stock(teapot) != 4 {
		t.Errorf("the catalog holds %q (stock %d, %d); want only the two orders' %q (8, 4)", got, h.catalog.stock(mug), h.catalog.stock(teapot), held)
	}
	if n := h.count(`SELECT count(*) FROM orders`); n != 2 {
		t.Errorf("%d orders recorded, want 2", n)
	}
	if refused := h.keyOrderID("alice", "k-refused"); h.catalog.reservationStatus(refused) != orders.Released {
		t.Errorf("the refused key's order id %s is %q at the catalog, want released", refused, h.catalog.reservationStatus(refused))
	}
	for reason, want := range map[string]string{orders.ReasonOpenOrdersLimit: "2", orders.ReasonReservedUnitsLimit: "1"} {
		if v := h.metric(`orders_rejected_total{reason="` + reason + `"}`); v != want {
			t.Errorf("rejected{%s} = %q, want %s", reason, v, want)
		}
	}

	// bob's room is his own; what he asks past it is reserved, then given back.
	if r := h.call("POST", "/api/orders", "bob", lines(mug, 3, teapot, 3)); r.status != http.StatusCreated {
		t.Errorf("bob's order up to the limit = %d %s, want 201", r.status, r.body)
	}
	if r := h.call("POST", "/api/orders", "bob", lines(mug, 1)); r.status != http.StatusConflict || !strings.Contains(r.problemDetail(t), "may reserve (6 units)") {
		t.Errorf("bob's order past the limit = %d %s, want 409 naming the limit of units", r.status, r.body)
	}
	if h.catalog.stock(mug) != 5 || h.catalog.stock(teapot) != 1 {
		t.Errorf("stock = %d, %d; want 5, 1", h.catalog.stock(mug), h.catalog.stock(teapot))
	}

	if r := h.call("POST", "/api/orders/"+placed.ID+"/cancel", "alice", ""); r.status != http.StatusOK {
		t.Fatalf("cancel = %d %s", r.status, r.body)
	}
	replay := h.call("POST", "/api/orders", "alice", lines(mug, 1), "Idempotency-Key", "k-refused")
	if replay.status != http.StatusConflict || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the refused key after a cancellation = %d %s, want its 409 replayed", replay.status, replay.body)
	}
	if r := h.call("POST", "/api/orders", "alice", lines(mug, 1), "Idempotency-Key", "k-after"); r.status != http.StatusCreated {
		t.Errorf("an order with a new key after the cancellation = %d %s, want 201", r.status, r.body)
	}
	if n := h.count(`SELECT count(*) FROM orders WHERE status = 'confirmed'`); len(h.catalog.held()) != n {
		t.Errorf("the catalog holds %q for %d confirmed orders", h.catalog.held(), n)
	}
}

// Placements of one user at the same time all reserve their stock; the
// record lets one through a limit of one, and the others give their stock
// back.
func TestOrderLimitUnderConcurrentPlacements(t *testing.T) {
	h := startWith(t, orders.Limits{OpenOrders: 1})
	h.catalog.set(func(f *fakeCatalog) { f.delay = 50 * time.Millisecond }) // all reserve before one records
	const n = 8
	var wg sync.WaitGroup
	results := make(chan response, n)
	for range n {
		wg.Go(func() { results <- h.call("POST", "/api/orders", "alice", lines(mug, 1)) })
	}
	wg.Wait()
	close(results)
	created := 0
	for r := range results {
		switch {
		case r.status == http.StatusCreated:
			created++
		case r.status == http.StatusConflict && r.problemCode(t) == "conflict":
		default:
			t.Errorf("concurrent placement answered %d %s", r.status, r.body)
		}
	}
	if n := h.count(`SELECT count(*) FROM orders`); created != 1 || n != 1 {
		t.Errorf("%d placements answered 201, %d orders recorded; want 1 and 1", created, n)
	}
	_, reservations, returned := h.catalog.counts()
	if held := h.catalog.held(); len(held) != 1 || reservations != n || returned != n-1 || h.catalog.stock(mug) != 9 {
		t.Errorf("%d reservations, %d returned: the catalog holds %q (mug stock %d); want %d, %d and only the order's unit",
			reservations, returned, held, h.catalog.stock(mug), n, n-1)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	env := func(vars map[string]string) *config.Env {
		return &config.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
	}
	cfg, err := LoadConfig(env(map[string]string{"DATABASE_URL": "postgres://orders@db/bazaar"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		JWKSURL:           "http://users:8080/api/users/.well-known/jwks.json",
		CatalogURL:        "http://catalog:8081",
		CatalogTimeout:    5 * time.Second,
		CatalogRetries:    2,
		ReconcileInterval: 5 * time.Second,
		IdempotencyTTL:    24 * time.Hour,
		Limits:            orders.Limits{OpenOrders: 100, ReservedUnits: 1000},
	}
	cfg.Base = app.Base{}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	_, err = LoadConfig(env(map[string]string{
		"DATABASE_URL": "postgres://orders@db/bazaar", "CATALOG_INTERNAL_URL": "catalog:8081",
		"CATALOG_TIMEOUT": "0s", "CATALOG_RETRIES": "-1", "IDEMPOTENCY_TTL": "soon",
		"ORDERS_MAX_OPEN_PER_USER": "-1", "ORDERS_MAX_RESERVED_UNITS_PER_USER": "many",
	}))
	for _, name := range []string{"CATALOG_INTERNAL_URL", "CATALOG_TIMEOUT", "CATALOG_RETRIES", "IDEMPOTENCY_TTL",
		"ORDERS_MAX_OPEN_PER_USER", "ORDERS_MAX_RESERVED_UNITS_PER_USER"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("LoadConfig accepted a bad %s: %v", name, err)
		}
	}
	cfg, err = LoadConfig(env(map[string]string{
		"DATABASE_URL": "postgres://orders@db/bazaar", "ORDERS_MAX_OPEN_PER_USER": "0", "ORDERS_MAX_RESERVED_UNITS_PER_USER": "0",
	}))
	if err != nil || cfg.Limits != (orders.Limits{}) {
		t.Errorf("limits of 0 = %+v, %v; want no limits", cfg.Limits, err)
	}
}
