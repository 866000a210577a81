package e2e

import (
	"net/url"
	"testing"

	"bazaar/e2e/internal/shop"
)

// The public contract's shapes and helpers (docs/api.md), as the shop suite
// in e2e/internal/shop defines them, under the names the root package's
// tests use, on the shared stack.

type (
	apiProduct   = shop.Product
	apiOrder     = shop.Order
	apiOrderItem = shop.OrderItem
	apiCategory  = shop.Category
	orderLine    = shop.OrderLine
	productInput = shop.ProductInput
	raceOutcome  = shop.RaceOutcome
)

// apiPage is one page of a cursor-paginated listing.
type apiPage[T any] = shop.Page[T]

// orderRequest is the body of POST /api/orders.
func orderRequest(lines ...orderLine) map[string][]orderLine { return shop.OrderRequest(lines...) }

// sampleProduct is a valid new product whose name holds word.
func sampleProduct(word, category string, priceCents int64, stock int) productInput {
	return shop.SampleProduct(word, category, priceCents, stock)
}

// freshCategory is a category slug no other test uses.
func freshCategory() string { return shop.FreshCategory() }

// addProduct creates a product through the admin API and checks the answer.
func addProduct(t *testing.T, admin *Client, in productInput) apiProduct {
	t.Helper()
	return shop.AddProduct(t, admin, in)
}

// getProduct reads a product that must exist.
func getProduct(t *testing.T, id string) apiProduct {
	t.Helper()
	return theShop(t).Product(t, id)
}

// stockOf is a product's stock as a shopper sees it.
func stockOf(t *testing.T, id string) int {
	t.Helper()
	return theShop(t).StockOf(t, id)
}

// listProducts reads one page of the catalog listing.
func listProducts(t *testing.T, query url.Values) apiPage[apiProduct] {
	t.Helper()
	return theShop(t).ListProducts(t, query)
}

// myOrders reads the caller's first page of orders.
func myOrders(t *testing.T, c *Client) []apiOrder {
	t.Helper()
	return shop.MyOrders(t, c)
}

// userID is the id of the signed-in user behind c.
func userID(t *testing.T, c *Client) string {
	t.Helper()
	return shop.UserID(t, c)
}

// wantConfirmed checks a placed order of one product.
func wantConfirmed(t *testing.T, o apiOrder, owner string, p apiProduct, quantity int) {
	t.Helper()
	shop.WantConfirmed(t, o, owner, p, quantity)
}

// wantFieldError checks that a validation problem names field.
func wantFieldError(t *testing.T, p Problem, field string) {
	t.Helper()
	shop.WantFieldError(t, p, field)
}

// randomUUID returns a random (version 4) UUID, which names nothing.
func randomUUID() string { return shop.RandomUUID() }

// problemType is the type of a problem+json body, or "" for another body.
func problemType(r *Response) string { return shop.ProblemType(r) }

// categories reads the category list, by slug.
func categories(t *testing.T) map[string]apiCategory {
	t.Helper()
	return theShop(t).Categories(t)
}

// sameProduct reports whether a and b are the same product in the same state.
func sameProduct(a, b apiProduct) bool { return shop.SameProduct(a, b) }

// equalOrders reports whether a and b are the same order in the same state.
func equalOrders(a, b apiOrder) bool { return shop.EqualOrders(a, b) }

// concurrently runs n requests with at most inFlight at once, all released
// together so that they race (Client.Attempt sends one without failing the
// test from another goroutine).
func concurrently(n, inFlight int, send func(i int) (*Response, error)) []raceOutcome {
	return shop.Concurrently(n, inFlight, send)
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	return shop.MustJSON(t, v)
}
