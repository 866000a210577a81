package main

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

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/platform/auth"
	"bazaar/platform/config"
	"bazaar/platform/pg/pgtest"
)

var (
	db  *pgtest.DB
	rds *catalogtest.Redis
)

func TestMain(m *testing.M) {
	pgtest.Main(m, func(ctx context.Context) (func(), error) {
		var err error
		if db, err = pgtest.Start(ctx, catalogtest.Postgres); err != nil {
			return nil, err
		}
		if rds, err = catalogtest.StartRedis(ctx); err != nil {
			db.Close()
			return nil, err
		}
		return func() { rds.Close(); db.Close() }, nil
	})
}

func env(vars map[string]string) *config.Env {
	return &config.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
}

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{"DATABASE_URL": "postgres://catalog@postgres/bazaar"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisURL != "redis://redis:6379/0" || cfg.CacheTTL != 5*time.Minute || cfg.RedisTimeout != 200*time.Millisecond ||
		cfg.JWKSURL != "http://users:8080/api/users/.well-known/jwks.json" || cfg.Web.Addr != ":8080" || cfg.Web.InternalAddr != ":8081" {
		t.Errorf("defaults = %+v", cfg)
	}
	for name, vars := range map[string]map[string]string{
		"no database":        {},
		"ttl under a second": {"DATABASE_URL": "x", "CACHE_TTL": "500ms"},
		"ttl not a duration": {"DATABASE_URL": "x", "CACHE_TTL": "five minutes"},
		"redis url":          {"DATABASE_URL": "x", "REDIS_URL": "http://redis"},
		"redis timeout":      {"DATABASE_URL": "x", "REDIS_TIMEOUT": "1h"},
	} {
		if _, err := LoadConfig(env(vars)); err == nil {
			t.Errorf("%s: LoadConfig accepted %v", name, vars)
		}
	}
}

// TestMainServes starts the service as main does, on free ports, and goes
// through the public and internal APIs.
func TestMainServes(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kid := auth.KeyID(pub)
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(auth.JWKS{Keys: []auth.JWK{auth.PublicJWK(kid, pub)}})
	}))
	defer jwks.Close()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: "admin", Issuer: auth.Issuer, Audience: jwt.ClaimStrings{auth.Audience},
			ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
		},
		Role: auth.RoleAdmin,
	})
	tok.Header["kid"] = kid
	admin, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}

	cfg, err := LoadConfig(env(map[string]string{
		"DATABASE_URL":   db.URL,
		"REDIS_URL":      rds.URL,
		"USERS_JWKS_URL": jwks.URL,
		"HTTP_ADDR":      "127.0.0.1:0",
		"INTERNAL_ADDR":  "127.0.0.1:0",
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	}()
	api, internal := "http://"+m.server.Addr(), "http://"+m.server.InternalAddr()

	call := func(method, url, token, body string, wantStatus int, out any) {
		t.Helper()
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s = %d %s, want %d", method, url, resp.StatusCode, b, wantStatus)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v in %s", method, url, err, b)
			}
		}
	}

	call(http.MethodGet, api+"/readyz", "", "", http.StatusOK, nil)
	var p catalog.Product
	call(http.MethodPost, api+"/api/catalog/products", admin, `{"sku":"MAIN-1","name":"Served","price_cents":500,"stock":5,"category":"misc"}`, http.StatusCreated, &p)
	call(http.MethodPost, api+"/api/catalog/products", admin, `{"sku":"MAIN-1","name":"Again","price_cents":500,"stock":5,"category":"misc"}`, http.StatusConflict, nil)
	call(http.MethodGet, api+"/api/catalog/products/"+p.ID, "", "", http.StatusOK, &p)
	order, expired := catalogtest.OrderID(), catalogtest.OrderIDAt(time.Now().Add(-2*time.Minute))
	call(http.MethodPost, internal+"/internal/reservations", "", `{"order_id":"`+order+`","items":[{"product_id":"`+p.ID+`","quantity":2}]}`, http.StatusOK, nil)
	call(http.MethodPost, internal+"/internal/reservations", "", `{"order_id":"`+expired+`","items":[{"product_id":"`+p.ID+`","quantity":1}]}`, http.StatusConflict, nil)
	call(http.MethodGet, api+"/api/catalog/products/"+p.ID, "", "", http.StatusOK, &p)
	if p.Stock != 3 {
		t.Errorf("stock after reserving 2 of 5 = %d, want 3", p.Stock)
	}
	call(http.MethodGet, internal+"/internal/reservations/"+order, "", "", http.StatusOK, nil)
	var reserved struct {
		OrderIDs []string `json:"order_ids"`
	}
	call(http.MethodGet, internal+"/internal/reservations?after=00000000-0000-0000-0000-000000000000&before=ffffffff-ffff-ffff-ffff-ffffffffffff", "", "", http.StatusOK, &reserved)
	if len(reserved.OrderIDs) != 1 || reserved.OrderIDs[0] != order {
		t.Errorf("reserved order ids = %v, want [%s]", reserved.OrderIDs, order)
	}
	call(http.MethodGet, api+"/internal/reservations?after=00000000-0000-0000-0000-000000000000&before=ffffffff-ffff-ffff-ffff-ffffffffffff", "", "", http.StatusNotFound, nil)
	call(http.MethodPost, api+"/internal/reservations", "", `{}`, http.StatusNotFound, nil) // never on the public port
	call(http.MethodGet, api+"/metrics", "", "", http.StatusNotFound, nil)

	req, _ := http.NewRequest(http.MethodGet, internal+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{`catalog_cache_hits_total{kind="product"}`, `catalog_reservations_total{outcome="reserved"} 1`, `catalog_reservations_total{outcome="order_expired"} 1`, `catalog_stock_units_reserved_total 2`, "pgxpool_max_conns"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
