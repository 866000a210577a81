package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shop tests check the public contract (docs/api.md) through nginx. These
// helpers hold the contract's shapes in full, so that a test can compare
// every field a user sees.

// apiProduct is a catalog product as docs/api.md defines it.
type apiProduct struct {
	ID          string    `json:"id"`
	SKU         string    `json:"sku"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	PriceCents  int64     `json:"price_cents"`
	Currency    string    `json:"currency"`
	Stock       int       `json:"stock"`
	Category    string    `json:"category"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// apiOrder is an order as docs/api.md defines it.
type apiOrder struct {
	ID         string         `json:"id"`
	UserID     string         `json:"user_id"`
	Status     string         `json:"status"`
	Items      []apiOrderItem `json:"items"`
	TotalCents int64          `json:"total_cents"`
	Currency   string         `json:"currency"`
	CreatedAt  time.Time      `json:"created_at"`
}

// apiOrderItem is one line of an order.
type apiOrderItem struct {
	ProductID      string `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// apiPage is one page of a cursor-paginated listing.
type apiPage[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// apiCategory is an entry of GET /api/catalog/categories.
type apiCategory struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	ProductCount int    `json:"product_count"`
}

// orderLine is one line of an order request.
type orderLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// orderRequest is the body of POST /api/orders.
func orderRequest(lines ...orderLine) map[string][]orderLine {
	return map[string][]orderLine{"items": lines}
}

// productInput is what an admin sends to create a product.
type productInput struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Stock       int    `json:"stock"`
	Category    string `json:"category"`
}

// sampleProduct is a valid new product whose name holds word, so that a
// full-text search for word finds it and nothing else.
func sampleProduct(word, category string, priceCents int64, stock int) productInput {
	return productInput{
		SKU: "E2E-SHOP-" + uniqueWord(), Name: "Shop test " + word + " kettle", Description: "Boils water for the shop tests.",
		PriceCents: priceCents, Currency: "USD", Stock: stock, Category: category,
	}
}

// freshCategory is a category slug no other test uses.
func freshCategory() string {
	return "e2e-" + uniqueWord()
}

// addProduct creates a product through the admin API and checks that the
// answer is the product as sent, with its location.
func addProduct(t *testing.T, admin *Client, in productInput) apiProduct {
	t.Helper()
	var p apiProduct
	r := admin.Do(t, "POST", "/api/catalog/products", in).Expect(t, http.StatusCreated, &p)
	want := apiProduct{ID: p.ID, SKU: in.SKU, Name: in.Name, Description: in.Description, PriceCents: in.PriceCents,
		Currency: in.Currency, Stock: in.Stock, Category: in.Category, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if p != want || p.ID == "" || p.CreatedAt.IsZero() || p.UpdatedAt.Before(p.CreatedAt) {
		t.Fatalf("created product %+v, want %+v", p, want)
	}
	if loc := r.Header.Get("Location"); loc != "/api/catalog/products/"+p.ID {
		t.Errorf("Location %q, want /api/catalog/products/%s", loc, p.ID)
	}
	return p
}

// getProduct reads a product that must exist.
func getProduct(t *testing.T, id string) apiProduct {
	t.Helper()
	var p apiProduct
	newClient(t).Do(t, "GET", "/api/catalog/products/"+url.PathEscape(id), nil).Expect(t, http.StatusOK, &p)
	return p
}

// stockOf is a product's stock as a shopper sees it.
func stockOf(t *testing.T, id string) int {
	t.Helper()
	return getProduct(t, id).Stock
}

// listProducts reads one page of the catalog listing.
func listProducts(t *testing.T, query url.Values) apiPage[apiProduct] {
	t.Helper()
	var pg apiPage[apiProduct]
	r := newClient(t).Do(t, "GET", "/api/catalog/products?"+query.Encode(), nil).Expect(t, http.StatusOK, &pg)
	if pg.Items == nil {
		t.Fatalf("listing %s: items must be an array: %s", query.Encode(), r.Body)
	}
	return pg
}

// categories reads the category list.
func categories(t *testing.T) map[string]apiCategory {
	t.Helper()
	var list []apiCategory
	newClient(t).Do(t, "GET", "/api/catalog/categories", nil).Expect(t, http.StatusOK, &list)
	bySlug := make(map[string]apiCategory, len(list))
	for _, c := range list {
		bySlug[c.Slug] = c
	}
	return bySlug
}

// myOrders reads the caller's first page of orders; test users have few.
func myOrders(t *testing.T, c *Client) []apiOrder {
	t.Helper()
	var pg apiPage[apiOrder]
	c.Do(t, "GET", "/api/orders?limit=100", nil).Expect(t, http.StatusOK, &pg)
	if pg.NextCursor != nil {
		t.Fatal("a test user has more than 100 orders")
	}
	return pg.Items
}

// userID is the id of the signed-in user behind c.
func userID(t *testing.T, c *Client) string {
	t.Helper()
	var me struct {
		ID string `json:"id"`
	}
	c.Do(t, "GET", "/api/users/me", nil).Expect(t, http.StatusOK, &me)
	return me.ID
}

// wantConfirmed checks a placed order against what was asked for one
// product: the catalog's price, the product's sku and name, the total.
func wantConfirmed(t *testing.T, o apiOrder, owner string, p apiProduct, quantity int) {
	t.Helper()
	want := apiOrder{ID: o.ID, UserID: owner, Status: "confirmed", CreatedAt: o.CreatedAt,
		Items:      []apiOrderItem{{ProductID: p.ID, SKU: p.SKU, Name: p.Name, Quantity: quantity, UnitPriceCents: p.PriceCents}},
		TotalCents: int64(quantity) * p.PriceCents, Currency: p.Currency}
	if o.ID == "" || o.CreatedAt.IsZero() || !equalOrders(o, want) {
		t.Errorf("order %+v, want %+v", o, want)
	}
}

// sameProduct reports whether a and b are the same product in the same
// state; times compare as instants.
func sameProduct(a, b apiProduct) bool {
	times := a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
	a.CreatedAt, a.UpdatedAt, b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return times && a == b
}

// equalOrders reports whether a and b are the same order in the same state.
func equalOrders(a, b apiOrder) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Status == b.Status && slices.Equal(a.Items, b.Items) &&
		a.TotalCents == b.TotalCents && a.Currency == b.Currency && a.CreatedAt.Equal(b.CreatedAt)
}

// wantFieldError checks that a validation problem names field.
func wantFieldError(t *testing.T, p Problem, field string) {
	t.Helper()
	for _, e := range p.Errors {
		if e.Field == field && e.Message != "" {
			return
		}
	}
	t.Errorf("problem %+v: want a field error for %q", p, field)
}

// attempt sends one request like Client.Do, but returns a transport error
// instead of failing the test: t.Fatal may only be called from the test's
// own goroutine, and the concurrency tests send from many. The body is sent
// as it is, as JSON.
func (c *Client) attempt(method, path string, body []byte, headers ...string) (*Response, error) {
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// raceOutcome is what one of many concurrent requests got back.
type raceOutcome struct {
	Response *Response
	Err      error
}

// concurrently runs n requests with at most inFlight at once, all released
// together so that they race, and returns their outcomes in order.
func concurrently(n, inFlight int, send func(i int) (*Response, error)) []raceOutcome {
	out := make([]raceOutcome, n)
	slots := make(chan struct{}, inFlight)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			slots <- struct{}{}
			defer func() { <-slots }()
			out[i].Response, out[i].Err = send(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// randomUUID returns a random (version 4) UUID, which names nothing.
func randomUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// problemType is the type of a problem+json body, or "" for another body.
func problemType(r *Response) string {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		return ""
	}
	var p Problem
	if json.Unmarshal(r.Body, &p) != nil || p.Status != r.Status {
		return ""
	}
	return p.Type
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwtParts is a token taken apart, to be put together again with changes.
type jwtParts struct {
	Header, Claims map[string]any
	// segments are the token's own base64url parts. A part changed by
	// with is encoded anew; the others stay byte for byte as issued, so that
	// a tampered token differs from the real one only where intended.
	segments [3]string
}

var b64url = base64.RawURLEncoding

// parseJWT takes a compact JWS apart without checking it.
func parseJWT(t *testing.T, token string) jwtParts {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", token)
	}
	j := jwtParts{segments: [3]string(parts)}
	for i, dst := range []*map[string]any{&j.Header, &j.Claims} {
		raw, err := b64url.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("token part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("token part %d: %v", i, err)
		}
	}
	return j
}

// with returns a copy of j whose header and claims have the given changes
// (nil: no change).
func (j jwtParts) with(t *testing.T, header, claims map[string]any) jwtParts {
	t.Helper()
	if header != nil {
		j.Header = merged(j.Header, header)
		j.segments[0] = b64url.EncodeToString(mustJSON(t, j.Header))
	}
	if claims != nil {
		j.Claims = merged(j.Claims, claims)
		j.segments[1] = b64url.EncodeToString(mustJSON(t, j.Claims))
	}
	return j
}

func merged(m, changes map[string]any) map[string]any {
	m = maps.Clone(m)
	maps.Copy(m, changes)
	return m
}

// signingInput is the part of the token that the signature covers.
func (j jwtParts) signingInput() string {
	return j.segments[0] + "." + j.segments[1]
}

// encode puts the token together with its original signature, which no
// longer matches when the header or claims were changed.
func (j jwtParts) encode() string {
	return j.signingInput() + "." + j.segments[2]
}

// unsigned puts the token together with an empty signature.
func (j jwtParts) unsigned() string {
	return j.signingInput() + "."
}

// signEd25519 signs the token with key.
func (j jwtParts) signEd25519(key ed25519.PrivateKey) string {
	return j.signingInput() + "." + b64url.EncodeToString(ed25519.Sign(key, []byte(j.signingInput())))
}

// signHS256 signs the token with HMAC-SHA256 under secret.
func (j jwtParts) signHS256(secret []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(j.signingInput()))
	return j.signingInput() + "." + b64url.EncodeToString(mac.Sum(nil))
}

// jwksKeys returns the users service's published signing keys by kid.
func jwksKeys(t *testing.T) map[string]string {
	t.Helper()
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			X   string `json:"x"`
		} `json:"keys"`
	}
	newClient(t).Do(t, "GET", "/api/users/.well-known/jwks.json", nil).Expect(t, http.StatusOK, &set)
	keys := map[string]string{}
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Kid == "" {
			t.Fatalf("JWKS key %+v: want an Ed25519 key with a kid", k)
		}
		keys[k.Kid] = k.X
	}
	if len(keys) == 0 {
		t.Fatal("the JWKS has no keys")
	}
	return keys
}
