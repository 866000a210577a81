package shop

import (
	"net/http"
	"testing"
)

// Traffic is a customer and two products of its own, to drive every kind of
// request the dashboards show: catalog reads (cache hits and misses), 404s,
// logins that succeed and fail, orders placed, cancelled and refused for
// lack of stock, product pictures stored and refused.
type Traffic struct {
	Shop             *Shop
	Admin, Customer  Account
	InStock, SoldOut string
}

// NewTraffic makes the customer and the products.
func NewTraffic(tb testing.TB, s *Shop) *Traffic {
	tb.Helper()
	admin := s.Admin(tb)
	cat := FreshCategory()
	return &Traffic{
		Shop:     s,
		Admin:    admin,
		Customer: s.NewShopper(tb, "Dashboard Shopper"),
		InStock:  AddProduct(tb, admin.API, SampleProduct(UniqueWord(), cat, 1250, 1000)).ID,
		SoldOut:  AddProduct(tb, admin.API, SampleProduct(UniqueWord(), cat, 1250, 0)).ID,
	}
}

// Round sends the n-th (from 1) batch of about twenty requests; failed
// logins only in the first two, to stay within the login limits.
func (tr *Traffic) Round(tb testing.TB, n int) {
	tb.Helper()
	c := tr.Shop.Client()
	c.Do(tb, "GET", "/api/catalog/products?limit=5", nil).Expect(tb, http.StatusOK, nil)
	c.Do(tb, "GET", "/api/catalog/products/"+tr.InStock, nil).Expect(tb, http.StatusOK, nil)
	c.Do(tb, "GET", "/api/catalog/products/"+tr.InStock, nil).Expect(tb, http.StatusOK, nil)
	c.Do(tb, "GET", "/api/catalog/categories", nil).Expect(tb, http.StatusOK, nil)
	c.Do(tb, "GET", "/api/catalog/products/"+RandomUUID(), nil).ExpectProblem(tb, http.StatusNotFound, "")
	c.Do(tb, "GET", "/api/catalog/no-such-route", nil).ExpectProblem(tb, http.StatusNotFound, "")
	c.Do(tb, "GET", "/api/no-such-service", nil).ExpectProblem(tb, http.StatusNotFound, "")

	// A new picture each round (the processing time is a rate), and a refusal.
	image := "/api/catalog/products/" + tr.InStock + "/image"
	tr.Admin.API.Do(tb, "PUT", image, PhotoJPEG(tb, 64, 48, uint64(n)), "Content-Type", "image/jpeg").Expect(tb, http.StatusOK, nil)
	tr.Admin.API.Do(tb, "PUT", image, []byte("GIF89a"), "Content-Type", "image/gif").ExpectProblem(tb, http.StatusUnsupportedMediaType, "")

	tr.Shop.SignIn(tb, tr.Customer.Email, tr.Customer.Password)
	tr.Customer.API.Do(tb, "GET", "/api/users/me", nil).Expect(tb, http.StatusOK, nil)
	if n <= 2 {
		c.Do(tb, "POST", "/api/users/login", map[string]string{"email": tr.Customer.Email, "password": "not-the-password"}).
			ExpectProblem(tb, http.StatusUnauthorized, "")
	}
	var o Order
	tr.Customer.API.Do(tb, "POST", "/api/orders", OrderRequest(OrderLine{ProductID: tr.InStock, Quantity: 1})).
		Expect(tb, http.StatusCreated, &o)
	tr.Customer.API.Do(tb, "POST", "/api/orders", OrderRequest(OrderLine{ProductID: tr.SoldOut, Quantity: 1})).
		ExpectProblem(tb, http.StatusConflict, "out-of-stock")
	tr.Customer.API.Do(tb, "GET", "/api/orders", nil).Expect(tb, http.StatusOK, nil)
	if n%2 == 1 {
		tr.Customer.API.Do(tb, "POST", "/api/orders/"+o.ID+"/cancel", nil).Expect(tb, http.StatusOK, nil)
	}
}
