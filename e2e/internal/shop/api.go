package shop

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// Shop is one deployment of the shop, reached through its nginx.
type Shop struct {
	BaseURL       string // nginx over HTTP, e.g. http://127.0.0.1:8080
	TLSURL        string // nginx over HTTPS (a self-signed certificate); "" when there is none
	AdminEmail    string // the administrator the users service creates at start
	AdminPassword string
}

// Client is an anonymous client of the shop.
func (s *Shop) Client() *Client { return NewClient(s.BaseURL) }

// SignIn signs an account in and returns its client.
func (s *Shop) SignIn(tb testing.TB, email, password string) *Client {
	tb.Helper()
	c := s.Client()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.Do(tb, "POST", "/api/users/login", map[string]string{"email": email, "password": password}).Expect(tb, http.StatusOK, &tok)
	c.Token = tok.AccessToken
	return c
}

// Account is a user with a signed-in API client.
type Account struct {
	Email, Password, Name string
	API                   *Client
}

// Admin signs the administrator in.
func (s *Shop) Admin(tb testing.TB) Account {
	tb.Helper()
	a := Account{Email: s.AdminEmail, Password: s.AdminPassword, Name: "Admin"}
	a.API = s.SignIn(tb, a.Email, a.Password)
	return a
}

// NewShopper registers a customer through the API and signs it in.
func (s *Shop) NewShopper(tb testing.TB, name string) Account {
	tb.Helper()
	a := Account{Email: fmt.Sprintf("shopper-%s@example.com", UniqueWord()), Password: "correct horse battery", Name: name}
	s.Client().Do(tb, "POST", "/api/users/register", map[string]string{"email": a.Email, "password": a.Password, "name": a.Name}).
		Expect(tb, http.StatusCreated, nil)
	a.API = s.SignIn(tb, a.Email, a.Password)
	return a
}

// UniqueWord returns a word of random lowercase letters. Product names that
// contain it are found by a full-text search for it and by nothing else.
func UniqueWord() string {
	const letters = "bcdfghjklmnpqrstvwxz"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// Product is a catalog product as docs/api.md defines it.
type Product struct {
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

// Order is an order as docs/api.md defines it.
type Order struct {
	ID         string      `json:"id"`
	UserID     string      `json:"user_id"`
	Status     string      `json:"status"`
	Items      []OrderItem `json:"items"`
	TotalCents int64       `json:"total_cents"`
	Currency   string      `json:"currency"`
	CreatedAt  time.Time   `json:"created_at"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	ProductID      string `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// Page is one page of a cursor-paginated listing.
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Category is an entry of GET /api/catalog/categories.
type Category struct {
	Slug         string `json:"slug"`
	Name         string `json:"name"`
	ProductCount int    `json:"product_count"`
}

// OrderLine is one line of an order request.
type OrderLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// OrderRequest is the body of POST /api/orders.
func OrderRequest(lines ...OrderLine) map[string][]OrderLine {
	return map[string][]OrderLine{"items": lines}
}

// ProductInput is what an admin sends to create a product.
type ProductInput struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	Currency    string `json:"currency"`
	Stock       int    `json:"stock"`
	Category    string `json:"category"`
}

// SampleProduct is a valid new product whose name holds word, so that a
// full-text search for word finds it and nothing else.
func SampleProduct(word, category string, priceCents int64, stock int) ProductInput {
	return ProductInput{
		SKU: "E2E-SHOP-" + UniqueWord(), Name: "Shop test " + word + " kettle", Description: "Boils water for the shop tests.",
		PriceCents: priceCents, Currency: "USD", Stock: stock, Category: category,
	}
}

// FreshCategory is a category slug no other test uses.
func FreshCategory() string {
	return "e2e-" + UniqueWord()
}

// AddProduct creates a product through the admin API and checks that the
// answer is the product as sent, with its location.
func AddProduct(tb testing.TB, admin *Client, in ProductInput) Product {
	tb.Helper()
	var p Product
	r := admin.Do(tb, "POST", "/api/catalog/products", in).Expect(tb, http.StatusCreated, &p)
	want := Product{ID: p.ID, SKU: in.SKU, Name: in.Name, Description: in.Description, PriceCents: in.PriceCents,
		Currency: in.Currency, Stock: in.Stock, Category: in.Category, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
	if p != want || p.ID == "" || p.CreatedAt.IsZero() || p.UpdatedAt.Before(p.CreatedAt) {
		tb.Fatalf("created product %+v, want %+v", p, want)
	}
	if loc := r.Header.Get("Location"); loc != "/api/catalog/products/"+p.ID {
		tb.Errorf("Location %q, want /api/catalog/products/%s", loc, p.ID)
	}
	return p
}

// Product reads a product that must exist.
func (s *Shop) Product(tb testing.TB, id string) Product {
	tb.Helper()
	var p Product
	s.Client().Do(tb, "GET", "/api/catalog/products/"+url.PathEscape(id), nil).Expect(tb, http.StatusOK, &p)
	return p
}

// StockOf is a product's stock as a shopper sees it.
func (s *Shop) StockOf(tb testing.TB, id string) int {
	tb.Helper()
	return s.Product(tb, id).Stock
}

// ListProducts reads one page of the catalog listing.
func (s *Shop) ListProducts(tb testing.TB, query url.Values) Page[Product] {
	tb.Helper()
	var pg Page[Product]
	r := s.Client().Do(tb, "GET", "/api/catalog/products?"+query.Encode(), nil).Expect(tb, http.StatusOK, &pg)
	if pg.Items == nil {
		tb.Fatalf("listing %s: items must be an array: %s", query.Encode(), r.Body)
	}
	return pg
}

// Categories reads the category list, by slug.
func (s *Shop) Categories(tb testing.TB) map[string]Category {
	tb.Helper()
	var list []Category
	s.Client().Do(tb, "GET", "/api/catalog/categories", nil).Expect(tb, http.StatusOK, &list)
	bySlug := make(map[string]Category, len(list))
	for _, c := range list {
		bySlug[c.Slug] = c
	}
	return bySlug
}

// MyOrders reads the caller's first page of orders; test users have few.
func MyOrders(tb testing.TB, c *Client) []Order {
	tb.Helper()
	var pg Page[Order]
	c.Do(tb, "GET", "/api/orders?limit=100", nil).Expect(tb, http.StatusOK, &pg)
	if pg.NextCursor != nil {
		tb.Fatal("a test user has more than 100 orders")
	}
	return pg.Items
}

// UserID is the id of the signed-in user behind c.
func UserID(tb testing.TB, c *Client) string {
	tb.Helper()
	var me struct {
		ID string `json:"id"`
	}
	c.Do(tb, "GET", "/api/users/me", nil).Expect(tb, http.StatusOK, &me)
	return me.ID
}

// WantConfirmed checks a placed order against what was asked for one
// product: the catalog's price, the product's sku and name, the total.
func WantConfirmed(tb testing.TB, o Order, owner string, p Product, quantity int) {
	tb.Helper()
	want := Order{ID: o.ID, UserID: owner, Status: "confirmed", CreatedAt: o.CreatedAt,
		Items:      []OrderItem{{ProductID: p.ID, SKU: p.SKU, Name: p.Name, Quantity: quantity, UnitPriceCents: p.PriceCents}},
		TotalCents: int64(quantity) * p.PriceCents, Currency: p.Currency}
	if o.ID == "" || o.CreatedAt.IsZero() || !EqualOrders(o, want) {
		tb.Errorf("order %+v, want %+v", o, want)
	}
}

// SameProduct reports whether a and b are the same product in the same
// state; times compare as instants.
func SameProduct(a, b Product) bool {
	times := a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
	a.CreatedAt, a.UpdatedAt, b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return times && a == b
}

// EqualOrders reports whether a and b are the same order in the same state.
func EqualOrders(a, b Order) bool {
	return a.ID == b.ID && a.UserID == b.UserID && a.Status == b.Status && slices.Equal(a.Items, b.Items) &&
		a.TotalCents == b.TotalCents && a.Currency == b.Currency && a.CreatedAt.Equal(b.CreatedAt)
}

// RaceOutcome is what one of many concurrent requests got back.
type RaceOutcome struct {
	Response *Response
	Err      error
}

// Concurrently runs n requests with at most inFlight at once, all released
// together so that they race, and returns their outcomes in order.
func Concurrently(n, inFlight int, send func(i int) (*Response, error)) []RaceOutcome {
	out := make([]RaceOutcome, n)
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

// RandomUUID returns a random (version 4) UUID, which names nothing.
func RandomUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MustJSON encodes v.
func MustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
