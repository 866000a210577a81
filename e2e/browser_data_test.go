package e2e

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// The browser tests make their own data through the API, so that they do
// not depend on seed data nor on each other.

// uniqueWord returns a word of random lowercase letters. Product names that
// contain it are found by a full-text search for it and by nothing else.
func uniqueWord() string {
	const letters = "bcdfghjklmnpqrstvwxz"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// shopProduct is the part of a catalog product the tests look at.
type shopProduct struct {
	ID         string `json:"id"`
	SKU        string `json:"sku"`
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Currency   string `json:"currency"`
	Stock      int    `json:"stock"`
	Category   string `json:"category"`
}

// shopOrder is the part of an order the tests look at.
type shopOrder struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Items  []struct {
		ProductID string `json:"product_id"`
		Quantity  int    `json:"quantity"`
	} `json:"items"`
}

// account is a user with a signed-in API client.
type account struct {
	Email, Password, Name string
	API                   *Client
}

// adminAccount signs in as the admin that the users service creates at start
// (ADMIN_EMAIL, else compose's default, with the admin_password secret).
func adminAccount(t *testing.T) account {
	t.Helper()
	a := account{Email: envOr("ADMIN_EMAIL", "admin@bazaar.local"), Password: secret(t, "admin_password"), Name: "Admin"}
	a.API = signIn(t, a.Email, a.Password)
	return a
}

// newShopper registers a customer through the API and signs it in.
func newShopper(t *testing.T, name string) account {
	t.Helper()
	a := account{Email: fmt.Sprintf("shopper-%s@example.com", uniqueWord()), Password: "correct horse battery", Name: name}
	newClient(t).Do(t, "POST", "/api/users/register", map[string]string{"email": a.Email, "password": a.Password, "name": a.Name}).
		Expect(t, http.StatusCreated, nil)
	a.API = signIn(t, a.Email, a.Password)
	return a
}

func signIn(t *testing.T, email, password string) *Client {
	t.Helper()
	c := newClient(t)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	c.Do(t, "POST", "/api/users/login", map[string]string{"email": email, "password": password}).Expect(t, http.StatusOK, &tok)
	c.Token = tok.AccessToken
	return c
}

// createProduct adds a product through the admin API.
func createProduct(t *testing.T, admin account, name string, priceCents int64, stock int, category string) shopProduct {
	t.Helper()
	var p shopProduct
	admin.API.Do(t, "POST", "/api/catalog/products", map[string]any{
		"sku": "E2E-" + uniqueWord(), "name": name, "description": "Made for the browser tests.",
		"price_cents": priceCents, "currency": "USD", "stock": stock, "category": category,
	}).Expect(t, http.StatusCreated, &p)
	return p
}

// productByID reads a product; the answer's status is returned for 404s.
func productByID(t *testing.T, id string) (shopProduct, int) {
	t.Helper()
	var p shopProduct
	r := newClient(t).Do(t, "GET", "/api/catalog/products/"+url.PathEscape(id), nil)
	if r.Status == http.StatusOK {
		r.Expect(t, http.StatusOK, &p)
	}
	return p, r.Status
}

// searchProducts runs the catalog's full-text search.
func searchProducts(t *testing.T, q string) []shopProduct {
	t.Helper()
	var page struct {
		Items []shopProduct `json:"items"`
	}
	newClient(t).Do(t, "GET", "/api/catalog/products?limit=100&q="+url.QueryEscape(q), nil).Expect(t, http.StatusOK, &page)
	return page.Items
}

// ordersOf lists a customer's orders (the first page is plenty for a test user).
func ordersOf(t *testing.T, a account) []shopOrder {
	t.Helper()
	var page struct {
		Items []shopOrder `json:"items"`
	}
	a.API.Do(t, "GET", "/api/orders?limit=100", nil).Expect(t, http.StatusOK, &page)
	return page.Items
}

// wantStock fails the test unless the product has the given stock.
func wantStock(t *testing.T, p shopProduct, want int) {
	t.Helper()
	got, status := productByID(t, p.ID)
	if status != http.StatusOK || got.Stock != want {
		t.Errorf("%s: status %d, stock %d; want stock %d", p.Name, status, got.Stock, want)
	}
}
