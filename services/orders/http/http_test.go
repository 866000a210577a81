package http_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	ordershttp "bazaar/orders/http"
	"bazaar/orders/internal/tokentest"
	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/platform/web"
)

// newServer serves the API with no service behind it: the requests these
// tests send are refused before reaching it.
func newServer(t *testing.T) (*web.Server, *tokentest.Issuer) {
	t.Helper()
	iss := tokentest.New(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := web.NewServer(web.Config{Service: "orders"}, logger, nil)
	h := &ordershttp.Handler{Verifier: &auth.Verifier{Keys: iss.Keys()}, Logger: logger}
	h.Register(srv.API)
	return srv, iss
}

// The spec lists exactly the routes the server serves.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	srv, _ := newServer(t)
	rec := httptest.NewRecorder()
	srv.API.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/orders/openapi.json", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		t.Fatalf("GET openapi.json = %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &spec); err != nil {
		t.Fatalf("the spec is not JSON: %v", err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.0") {
		t.Errorf("openapi = %q, want 3.0.x", spec.OpenAPI)
	}
	var inSpec []string
	for path, ops := range spec.Paths {
		for method := range ops {
			inSpec = append(inSpec, strings.ToUpper(method)+" "+path)
		}
	}
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var routed []string
	for _, r := range srv.API.Routes() {
		if r.Path == "/healthz" || r.Path == "/readyz" || strings.HasPrefix(r.Method, "echo_") {
			continue
		}
		routed = append(routed, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
	}
	sort.Strings(inSpec)
	sort.Strings(routed)
	if diff := cmp.Diff(inSpec, routed); diff != "" {
		t.Errorf("routes (-in spec +served):\n%s", diff)
	}
}

const p1 = "0190f3a0-0000-7000-8000-000000000001"

func TestRequestsRefusedBeforeTheService(t *testing.T) {
	t.Parallel()
	srv, iss := newServer(t)
	token := iss.Token(t, "alice", auth.RoleCustomer)
	quantityErr := []apperr.FieldError{{Field: "items[0].quantity", Message: "must be an integer from 1 to 1000"}}
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string][]string
		noToken bool
		status  int
		fields  []apperr.FieldError
	}{
		{name: "no token", method: "POST", path: "/api/orders", body: `{"items":[]}`, noToken: true, status: 401},
		{name: "no token on list", method: "GET", path: "/api/orders", noToken: true, status: 401},
		{name: "no token on get", method: "GET", path: "/api/orders/" + p1, noToken: true, status: 401},
		{name: "no token on cancel", method: "POST", path: "/api/orders/" + p1 + "/cancel", noToken: true, status: 401},
		{name: "empty items", method: "POST", path: "/api/orders", body: `{"items":[]}`, status: 400,
			fields: []apperr.FieldError{{Field: "items", Message: "must hold from 1 to 100 lines"}}},
		{name: "no items", method: "POST", path: "/api/orders", body: `{}`, status: 400,
			fields: []apperr.FieldError{{Field: "items", Message: "must hold from 1 to 100 lines"}}},
		{name: "fractional quantity", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1.5}]}`, status: 400, fields: quantityErr},
		{name: "huge exponent", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1e400}]}`, status: 400, fields: quantityErr},
		{name: "huge integer", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":99999999999999999999999}]}`, status: 400, fields: quantityErr},
		{name: "quantity as a string", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":"2"}]}`, status: 400, fields: quantityErr},
		{name: "null quantity", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":null}]}`, status: 400, fields: quantityErr},
		{name: "missing quantity", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `"}]}`, status: 400, fields: quantityErr},
		{name: "quantity 0", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":0}]}`, status: 400, fields: quantityErr},
		{name: "quantity 1001", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1001}]}`, status: 400, fields: quantityErr},
		{name: "duplicate product", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1},{"product_id":"` + p1 + `","quantity":2}]}`, status: 400,
			fields: []apperr.FieldError{{Field: "items[1].product_id", Message: "repeats items[0]; send one line per product"}}},
		{name: "product id not a string", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":7,"quantity":1}]}`, status: 400},
		{name: "unknown field", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1,"price_cents":1}]}`, status: 400},
		{name: "malformed JSON", method: "POST", path: "/api/orders", body: `{"items":[`, status: 400},
		{name: "not JSON", method: "POST", path: "/api/orders", body: `items=1`, headers: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}}, status: 415},
		{name: "body over 1 MiB", method: "POST", path: "/api/orders", body: `{"items":"` + strings.Repeat("x", 1<<20) + `"}`, status: 413},
		{name: "empty idempotency key", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1}]}`,
			headers: map[string][]string{"Idempotency-Key": {""}}, status: 400,
			fields: []apperr.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}}},
		{name: "idempotency key too long", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1}]}`,
			headers: map[string][]string{"Idempotency-Key": {strings.Repeat("k", 256)}}, status: 400,
			fields: []apperr.FieldError{{Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}}},
		{name: "two idempotency keys", method: "POST", path: "/api/orders", body: `{"items":[{"product_id":"` + p1 + `","quantity":1}]}`,
			headers: map[string][]string{"Idempotency-Key": {"a", "b"}}, status: 400,
			fields: []apperr.FieldError{{Field: "Idempotency-Key", Message: "must be sent once"}}},
		{name: "limit 0", method: "GET", path: "/api/orders?limit=0", status: 400,
			fields: []apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to 100"}}},
		{name: "limit 101", method: "GET", path: "/api/orders?limit=101", status: 400,
			fields: []apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to 100"}}},
		{name: "limit not a number", method: "GET", path: "/api/orders?limit=1e400", status: 400,
			fields: []apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to 100"}}},
		{name: "forged cursor", method: "GET", path: "/api/orders?cursor=djE6MTI6bm90LWFuLWlk", status: 400,
			fields: []apperr.FieldError{{Field: "cursor", Message: "is not a cursor returned by this API"}}},
		{name: "cursor not base64", method: "GET", path: "/api/orders?cursor=%00%01", status: 400,
			fields: []apperr.FieldError{{Field: "cursor", Message: "is not a cursor returned by this API"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range tt.headers {
				req.Header[k] = v
			}
			if !tt.noToken {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			rec := httptest.NewRecorder()
			srv.API.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p web.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("body is not a problem: %v", err)
			}
			if p.Status != tt.status || p.Type == "" || p.Detail == "" {
				t.Errorf("problem = %+v", p)
			}
			if tt.fields != nil {
				if diff := cmp.Diff(tt.fields, p.Errors); diff != "" {
					t.Errorf("field errors (-want +got):\n%s", diff)
				}
			}
		})
	}
}
