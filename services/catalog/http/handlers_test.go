package http

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/catalog"
	"bazaar/catalog/metrics"
	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/platform/web"
)

// fakeProducts answers with canned values and records what it was asked.
type fakeProducts struct {
	page    catalog.ProductPage
	filter  catalog.ProductFilter
	product catalog.Product
	err     error
	calls   int
}

func (f *fakeProducts) FindProducts(_ context.Context, filter catalog.ProductFilter) (catalog.ProductPage, error) {
	f.calls++
	f.filter = filter
	return f.page, f.err
}

func (f *fakeProducts) FindProduct(context.Context, string) (catalog.Product, error) {
	f.calls++
	return f.product, f.err
}

func (f *fakeProducts) FindCategories(context.Context) ([]catalog.Category, error) {
	f.calls++
	return nil, f.err
}

func (f *fakeProducts) CreateProduct(context.Context, catalog.ProductInput) (catalog.Product, error) {
	f.calls++
	return f.product, f.err
}

func (f *fakeProducts) UpdateProduct(context.Context, string, catalog.ProductInput) (catalog.Product, error) {
	f.calls++
	return f.product, f.err
}

func (f *fakeProducts) SetProductImage(context.Context, string, *catalog.Image) (catalog.Product, error) {
	f.calls++
	return f.product, f.err
}

func (f *fakeProducts) DeleteProduct(context.Context, string) error {
	f.calls++
	return f.err
}

// tokens signs access tokens that the test server's verifier accepts.
type tokens struct {
	kid  string
	priv ed25519.PrivateKey
}

func newTokens(t *testing.T) (*tokens, *auth.Verifier) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := auth.KeyID(pub)
	return &tokens{kid: kid, priv: priv}, &auth.Verifier{Keys: auth.StaticKeys{kid: pub}}
}

func (k *tokens) sign(t *testing.T, role string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   "0190a5b4-0000-7000-8000-000000000001",
			Issuer:    auth.Issuer,
			Audience:  jwt.ClaimStrings{auth.Audience},
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
		},
		Role: role,
	})
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newTestServer(t *testing.T, products catalog.ProductStore, verifier *auth.Verifier) *web.Server {
	t.Helper()
	if verifier == nil {
		_, verifier = newTokens(t)
	}
	s := web.NewServer(web.Config{Service: "catalog"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	svc := catalog.NewService(catalog.ServiceConfig{Products: products})
	NewHandler(svc, verifier, metrics.New(s.Registry, nil)).Register(s.API)
	return s
}

func do(t *testing.T, s *web.Server, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.API.ServeHTTP(rec, req)
	return rec
}

func problem(t *testing.T, rec *httptest.ResponseRecorder) web.Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json (status %d, body %s)", ct, rec.Code, rec.Body)
	}
	var p web.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestListProductsValidatesQuery(t *testing.T) {
	for name, c := range map[string]struct {
		query, field string
	}{
		"limit zero":        {"limit=0", "limit"},
		"limit too big":     {"limit=101", "limit"},
		"limit not integer": {"limit=ten", "limit"},
		"limit overflow":    {"limit=99999999999999999999", "limit"},
		"q too long":        {"q=" + strings.Repeat("a", 201), "q"},
		"q with NUL":        {"q=a%00b", "q"},
		"q not UTF-8":       {"q=%ff", "q"},
		"bad category":      {"category=Home%20Garden", "category"},
		"forged cursor":     {"cursor=abc", "cursor"},
	} {
		t.Run(name, func(t *testing.T) {
			products := &fakeProducts{}
			rec := do(t, newTestServer(t, products, nil), http.MethodGet, "/api/catalog/products?"+c.query, "", "")
			p := problem(t, rec)
			if rec.Code != http.StatusBadRequest || len(p.Errors) != 1 || p.Errors[0].Field != c.field {
				t.Errorf("status %d, errors %+v; want 400 on %s", rec.Code, p.Errors, c.field)
			}
			if products.calls != 0 {
				t.Error("the store was asked")
			}
		})
	}
}

func TestListProductsPages(t *testing.T) {
	next := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	products := &fakeProducts{page: catalog.ProductPage{Items: []catalog.Product{{ID: next}}, Next: next}}
	s := newTestServer(t, products, nil)
	rec := do(t, s, http.MethodGet, "/api/catalog/products?q=+tea+pot+&category=kitchen&limit=1", "", "")
	var body struct {
		Items      []catalog.Product `json:"items"`
		NextCursor *string           `json:"next_cursor"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK || body.NextCursor == nil {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	if want := (catalog.ProductFilter{Query: "tea pot", Category: "kitchen", Limit: 1}); products.filter != want {
		t.Errorf("filter = %+v, want %+v", products.filter, want)
	}
	do(t, s, http.MethodGet, "/api/catalog/products?cursor="+*body.NextCursor, "", "")
	if products.filter.After != next || products.filter.Limit != catalog.DefaultLimit {
		t.Errorf("filter from the cursor = %+v, want after %s with the default limit", products.filter, next)
	}

	products.page = catalog.ProductPage{}
	rec = do(t, s, http.MethodGet, "/api/catalog/products", "", "")
	if got := strings.TrimSpace(rec.Body.String()); got != `{"items":[],"next_cursor":null}` {
		t.Errorf("last empty page = %s", got)
	}
}

func TestGetProduct(t *testing.T) {
	id := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	products := &fakeProducts{product: catalog.Product{ID: id, SKU: "A"}}
	s := newTestServer(t, products, nil)
	rec := do(t, s, http.MethodGet, "/api/catalog/products/"+id, "", "")
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"sku":"A"`) {
		t.Errorf("GET = %d %s", rec.Code, rec.Body)
	}
	for _, bad := range []string{"abc", "1", "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0", "%27%20OR%201=1"} {
		rec := do(t, s, http.MethodGet, "/api/catalog/products/"+bad, "", "")
		if p := problem(t, rec); rec.Code != http.StatusNotFound || p.Type != "/problems/not-found" {
			t.Errorf("GET %s = %d %+v, want 404", bad, rec.Code, p)
		}
	}
	if products.calls != 1 {
		t.Errorf("store asked %d times, want once (malformed ids are not looked up)", products.calls)
	}
}

func TestAdminRoutes(t *testing.T) {
	keys, verifier := newTokens(t)
	other, _ := newTokens(t)
	id := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	valid := `{"sku":"A-1","name":"A","price_cents":100,"stock":1,"category":"misc"}`
	admin, customer := keys.sign(t, auth.RoleAdmin), keys.sign(t, auth.RoleCustomer)
	for _, c := range []struct {
		name, method, target, token, body string
		status                            int
	}{
		{"create without token", http.MethodPost, "/api/catalog/products", "", valid, http.StatusUnauthorized},
		{"create with a foreign key", http.MethodPost, "/api/catalog/products", other.sign(t, auth.RoleAdmin), valid, http.StatusUnauthorized},
		{"create as customer", http.MethodPost, "/api/catalog/products", customer, valid, http.StatusForbidden},
		{"create", http.MethodPost, "/api/catalog/products", admin, valid, http.StatusCreated},
		{"create invalid", http.MethodPost, "/api/catalog/products", admin, `{"sku":"A 1"}`, http.StatusBadRequest},
		{"create unknown field", http.MethodPost, "/api/catalog/products", admin, `{"sku":"A-1","colour":"red"}`, http.StatusBadRequest},
		{"create not JSON", http.MethodPost, "/api/catalog/products", admin, `sku=A-1`, http.StatusBadRequest},
		{"update as customer", http.MethodPatch, "/api/catalog/products/" + id, customer, `{"stock":2}`, http.StatusForbidden},
		{"update", http.MethodPatch, "/api/catalog/products/" + id, admin, `{"stock":2}`, http.StatusOK},
		{"update nothing", http.MethodPatch, "/api/catalog/products/" + id, admin, `{}`, http.StatusBadRequest},
		{"update float stock", http.MethodPatch, "/api/catalog/products/" + id, admin, `{"stock":2.5}`, http.StatusBadRequest},
		{"update bad id", http.MethodPatch, "/api/catalog/products/nope", admin, `{"stock":2}`, http.StatusNotFound},
		{"delete without token", http.MethodDelete, "/api/catalog/products/" + id, "", "", http.StatusUnauthorized},
		{"delete as customer", http.MethodDelete, "/api/catalog/products/" + id, customer, "", http.StatusForbidden},
		{"delete bad id", http.MethodDelete, "/api/catalog/products/nope", admin, "", http.StatusNotFound},
		{"delete", http.MethodDelete, "/api/catalog/products/" + id, admin, "", http.StatusNoContent},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := do(t, newTestServer(t, &fakeProducts{product: catalog.Product{ID: id}}, verifier), c.method, c.target, c.token, c.body)
			if rec.Code != c.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, c.status, rec.Body)
			}
			if c.status >= 400 {
				problem(t, rec)
			}
			if c.status == http.StatusCreated && rec.Header().Get("Location") != "/api/catalog/products/"+id {
				t.Errorf("Location = %q", rec.Header().Get("Location"))
			}
		})
	}
}

func TestStoreErrorsBecomeProblems(t *testing.T) {
	keys, verifier := newTokens(t)
	for code, status := range map[string]int{
		apperr.Conflict:    http.StatusConflict,
		apperr.Unavailable: http.StatusServiceUnavailable,
		apperr.NotFound:    http.StatusNotFound,
	} {
		products := &fakeProducts{err: apperr.Errorf(code, "from the store")}
		body := `{"sku":"A-1","name":"A","price_cents":100,"stock":1,"category":"misc"}`
		rec := do(t, newTestServer(t, products, verifier), http.MethodPost, "/api/catalog/products", keys.sign(t, auth.RoleAdmin), body)
		want := web.Problem{Type: "/problems/" + code, Title: http.StatusText(status), Status: status, Detail: "from the store"}
		if diff := cmp.Diff(want, problem(t, rec)); diff != "" || rec.Code != status {
			t.Errorf("%s: status %d (-want +got):\n%s", code, rec.Code, diff)
		}
	}
}

// fakeReservations answers with a canned reservation, order ids or error,
// and records what Reserved was asked.
type fakeReservations struct {
	res catalog.Reservation
	ids []string
	err error

	calls         int
	after, before string
	limit         int
}

func (f *fakeReservations) Reserve(context.Context, catalog.ReservationRequest) (catalog.Reservation, error) {
	return f.res, f.err
}

func (f *fakeReservations) Release(context.Context, string) (catalog.Reservation, error) {
	return f.res, f.err
}

func (f *fakeReservations) FindReservation(context.Context, string) (catalog.Reservation, error) {
	return f.res, f.err
}

func (f *fakeReservations) Reserved(_ context.Context, after, before string, limit int) ([]string, error) {
	f.calls++
	f.after, f.before, f.limit = after, before, limit
	return f.ids, f.err
}

// doInternal serves one request of the internal routes over store.
// It returns the server's metrics registry and the answer.
func doInternal(t *testing.T, store catalog.ReservationStore, method, target, body string) (*prometheus.Registry, *httptest.ResponseRecorder) {
	t.Helper()
	s := web.NewServer(web.Config{Service: "catalog"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	svc := catalog.NewService(catalog.ServiceConfig{Reservations: store})
	NewInternal(svc, metrics.New(s.Registry, nil)).Register(s.Internal)
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Internal.ServeHTTP(rec, req)
	return s.Registry, rec
}

func TestInternalReservations(t *testing.T) {
	// A new order id: the service refuses to reserve under an old one.
	order := uuid.Must(uuid.NewV7()).String()
	reserved := catalog.Reservation{OrderID: order, Status: catalog.StatusReserved, Items: []catalog.ReservedItem{
		{ProductID: order, SKU: "A", Name: "A", Quantity: 3, UnitPriceCents: 100, Currency: "USD"},
	}}
	body := `{"order_id":"` + order + `","items":[{"product_id":"` + order + `","quantity":3}]}`
	for _, c := range []struct {
		name, method, target, body string
		svc                        *fakeReservations
		status                     int
		outcome                    string
	}{
		{"reserve", http.MethodPost, "/internal/reservations", body, &fakeReservations{res: reserved}, http.StatusOK, "reserved"},
		{"replay", http.MethodPost, "/internal/reservations", body, &fakeReservations{res: catalog.Reservation{OrderID: order, Status: catalog.StatusReserved, Items: reserved.Items, Replayed: true}}, http.StatusOK, "replayed"},
		{"malformed", http.MethodPost, "/internal/reservations", `{"order_id":`, &fakeReservations{}, http.StatusBadRequest, "invalid"},
		{"out of stock", http.MethodPost, "/internal/reservations", body, &fakeReservations{err: apperr.Errorf(apperr.OutOfStock, "no")}, http.StatusConflict, "out_of_stock"},
		{"unknown product", http.MethodPost, "/internal/reservations", body, &fakeReservations{err: apperr.Errorf(apperr.Unprocessable, "no")}, http.StatusUnprocessableEntity, "unknown_product"},
		{"released order", http.MethodPost, "/internal/reservations", body, &fakeReservations{err: apperr.Errorf(apperr.Conflict, "no")}, http.StatusConflict, "order_released"},
		{"expired order id", http.MethodPost, "/internal/reservations", body, &fakeReservations{err: catalog.OrderExpired(order)}, http.StatusConflict, "order_expired"},
		{"store down", http.MethodPost, "/internal/reservations", body, &fakeReservations{err: apperr.Errorf(apperr.Unavailable, "no")}, http.StatusServiceUnavailable, "error"},
		{"release", http.MethodPost, "/internal/reservations/" + order + "/release", "", &fakeReservations{res: catalog.Reservation{OrderID: order, Status: catalog.StatusReleased, Items: reserved.Items}}, http.StatusOK, ""},
		{"get", http.MethodGet, "/internal/reservations/" + order, "", &fakeReservations{res: reserved}, http.StatusOK, ""},
		{"get unknown", http.MethodGet, "/internal/reservations/" + order, "", &fakeReservations{err: catalog.ReservationNotFound(order)}, http.StatusNotFound, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			reg, rec := doInternal(t, c.svc, c.method, c.target, c.body)
			if rec.Code != c.status {
				t.Fatalf("status = %d, want %d (%s)", rec.Code, c.status, rec.Body)
			}
			if c.status == http.StatusOK {
				var got catalog.Reservation
				if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || got.OrderID != order || len(got.Items) != 1 {
					t.Errorf("body = %s", rec.Body)
				}
			} else {
				problem(t, rec)
			}
			if c.outcome != "" {
				if n := outcomeCount(t, reg, "catalog_reservations_total", c.outcome); n != 1 {
					t.Errorf("reservations{outcome=%s} = %v, want 1", c.outcome, n)
				}
			}
		})
	}
}

// outcomeCount returns the value of the counter name{outcome=outcome} of reg.
func outcomeCount(t *testing.T, reg *prometheus.Registry, name, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			if l := m.GetLabel(); f.GetName() == name && len(l) == 1 && l[0].GetValue() == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{outcome=%q}", name, outcome)
	return 0
}

func TestExpiredOrderProblem(t *testing.T) {
	order := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	body := `{"order_id":"` + order + `","items":[{"product_id":"` + order + `","quantity":3}]}`
	_, rec := doInternal(t, &fakeReservations{err: catalog.OrderExpired(order)}, http.MethodPost, "/internal/reservations", body)
	want := web.Problem{Type: "/problems/conflict", Title: "Conflict", Status: http.StatusConflict,
		Detail: `Order id "` + order + `" was made more than 30s ago; stock is reserved only within 30s of making the order id.`}
	if diff := cmp.Diff(want, problem(t, rec)); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}
}

func TestListReserved(t *testing.T) {
	const zero, before = "00000000-0000-0000-0000-000000000000", "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	ids := []string{"0190a5b4-0000-7000-8000-000000000001", "0190a5b4-0000-7000-8000-000000000002"}
	for _, c := range []struct {
		name, query string
		ids         []string
		limit       int
		body        string
	}{
		{"default limit", "after=" + zero + "&before=" + before, ids, catalog.DefaultReservedLimit, `{"order_ids":["` + ids[0] + `","` + ids[1] + `"]}`},
		{"limit", "after=" + zero + "&before=" + before + "&limit=1000", ids[:1], 1000, `{"order_ids":["` + ids[0] + `"]}`},
		{"none", "after=" + zero + "&before=" + before + "&limit=1", nil, 1, `{"order_ids":[]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc := &fakeReservations{ids: c.ids}
			_, rec := doInternal(t, svc, http.MethodGet, "/internal/reservations?"+c.query, "")
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != http.StatusOK || got != c.body {
				t.Errorf("status %d, body %s; want 200 %s", rec.Code, got, c.body)
			}
			if svc.after != zero || svc.before != before || svc.limit != c.limit {
				t.Errorf("asked Reserved(%q, %q, %d); want (%q, %q, %d)", svc.after, svc.before, svc.limit, zero, before, c.limit)
			}
		})
	}

	for name, c := range map[string]struct {
		query  string
		fields []string
	}{
		"no parameters":     {"", []string{"after", "before"}},
		"no after":          {"before=" + before, []string{"after"}},
		"no before":         {"after=" + zero, []string{"before"}},
		"empty after":       {"after=&before=" + before, []string{"after"}},
		"bad after":         {"after=x&before=" + before, []string{"after"}},
		"bad before":        {"after=" + zero + "&before=" + before + "0", []string{"before"}},
		"limit zero":        {"after=" + zero + "&before=" + before + "&limit=0", []string{"limit"}},
		"limit negative":    {"after=" + zero + "&before=" + before + "&limit=-1", []string{"limit"}},
		"limit too big":     {"after=" + zero + "&before=" + before + "&limit=1001", []string{"limit"}},
		"limit not integer": {"after=" + zero + "&before=" + before + "&limit=ten", []string{"limit"}},
		"limit overflow":    {"after=" + zero + "&before=" + before + "&limit=99999999999999999999", []string{"limit"}},
	} {
		t.Run(name, func(t *testing.T) {
			svc := &fakeReservations{ids: ids}
			_, rec := doInternal(t, svc, http.MethodGet, "/internal/reservations?"+c.query, "")
			p := problem(t, rec)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			if rec.Code != http.StatusBadRequest || p.Type != "/problems/invalid-request" || !cmp.Equal(c.fields, got) {
				t.Errorf("status %d, problem %+v; want 400 on %v", rec.Code, p, c.fields)
			}
			if svc.calls != 0 {
				t.Error("the store was asked")
			}
		})
	}

	_, rec := doInternal(t, &fakeReservations{err: apperr.Errorf(apperr.Unavailable, "down")}, http.MethodGet, "/internal/reservations?after="+zero+"&before="+before, "")
	if p := problem(t, rec); rec.Code != http.StatusServiceUnavailable || p.Detail != "down" {
		t.Errorf("store error: status %d, problem %+v; want 503", rec.Code, p)
	}
}

// A name with an invisible format character is an ordinary validation
// failure: 400 problem+json naming the field.
func TestNamesWithFormatCharactersAreInvalid(t *testing.T) {
	keys, verifier := newTokens(t)
	admin := keys.sign(t, auth.RoleAdmin)
	id := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	for _, c := range []struct {
		name, method, target, body string
		field                      string
	}{
		{"create name with RLO", http.MethodPost, "/api/catalog/products",
			`{"sku":"A-1","name":"Lamp\u202Egnp.exe","price_cents":100,"stock":1,"category":"misc"}`, "name"},
		{"create category name with ZWSP", http.MethodPost, "/api/catalog/products",
			`{"sku":"A-1","name":"Lamp","price_cents":100,"stock":1,"category":"misc","category_name":"Mi\u200Bsc"}`, "category_name"},
		{"update name with BOM", http.MethodPatch, "/api/catalog/products/" + id, `{"name":"\uFEFFLamp"}`, "name"},
		{"create emoji name", http.MethodPost, "/api/catalog/products",
			`{"sku":"A-1","name":"Caf\u00e9 \ud83d\udc69\u200d\ud83d\udcbb","price_cents":100,"stock":1,"category":"misc"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := do(t, newTestServer(t, &fakeProducts{product: catalog.Product{ID: id}}, verifier), c.method, c.target, admin, c.body)
			if c.field == "" {
				if rec.Code != http.StatusCreated {
					t.Fatalf("status = %d, want 201 (%s)", rec.Code, rec.Body)
				}
				return
			}
			p := problem(t, rec)
			var got []string
			for _, f := range p.Errors {
				got = append(got, f.Field)
			}
			if rec.Code != http.StatusBadRequest || p.Type != "/problems/invalid-request" || !cmp.Equal([]string{c.field}, got) {
				t.Errorf("status %d, problem %+v; want 400 on %s", rec.Code, p, c.field)
			}
		})
	}
}
