package e2e

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// The shop as a customer and an admin use it, through nginx only: the
// journey from registration to a cancelled order, the invariants that hold
// under concurrency and retries, and the answers to strangers, forgers and
// malformed requests. Each test makes its own users and products.

// A customer's journey: register, log in, find a product, order it, see the
// stock go down and the order listed, cancel, and get the stock back once.
func TestShopOrderLifecycle(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	word := uniqueWord()
	p := addProduct(t, admin.API, sampleProduct(word, freshCategory(), 2599, 10))

	shopper := newShopper(t, "Lifecycle Shopper") // registers, then logs in
	me := userID(t, shopper.API)

	found := listProducts(t, url.Values{"q": {word}})
	if len(found.Items) != 1 || !sameProduct(found.Items[0], p) || found.NextCursor != nil {
		t.Fatalf("search for %q: %+v, want exactly %+v", word, found, p)
	}

	var first, second apiOrder
	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{p.ID, 3})).Expect(t, http.StatusCreated, &first)
	wantConfirmed(t, first, me, p, 3)
	if got := stockOf(t, p.ID); got != 7 {
		t.Fatalf("stock after ordering 3 of 10: %d, want 7", got)
	}
	// The search page read above is cached; the product in it is not stale.
	if found := listProducts(t, url.Values{"q": {word}}); len(found.Items) != 1 || found.Items[0].Stock != 7 {
		t.Errorf("search after the order: %+v, want the product with stock 7", found.Items)
	}
	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{p.ID, 1})).Expect(t, http.StatusCreated, &second)
	wantConfirmed(t, second, me, p, 1)
	if got := stockOf(t, p.ID); got != 6 {
		t.Fatalf("stock after ordering 1 more: %d, want 6", got)
	}

	if list := myOrders(t, shopper.API); len(list) != 2 || !equalOrders(list[0], second) || !equalOrders(list[1], first) {
		t.Errorf("my orders %+v, want the second then the first", list)
	}
	var got apiOrder
	shopper.API.Do(t, "GET", "/api/orders/"+first.ID, nil).Expect(t, http.StatusOK, &got)
	if !equalOrders(got, first) {
		t.Errorf("GET order %+v, want %+v", got, first)
	}

	cancelled := first
	cancelled.Status = "cancelled"
	shopper.API.Do(t, "POST", "/api/orders/"+first.ID+"/cancel", nil).Expect(t, http.StatusOK, &got)
	if !equalOrders(got, cancelled) {
		t.Errorf("cancel answered %+v, want %+v", got, cancelled)
	}
	if got := stockOf(t, p.ID); got != 9 {
		t.Fatalf("stock after cancelling the order of 3: %d, want 9", got)
	}
	if found := listProducts(t, url.Values{"q": {word}}); len(found.Items) != 1 || found.Items[0].Stock != 9 {
		t.Errorf("search after cancelling: %+v, want the product with stock 9", found.Items)
	}
	shopper.API.Do(t, "GET", "/api/orders/"+first.ID, nil).Expect(t, http.StatusOK, &got)
	if !equalOrders(got, cancelled) {
		t.Errorf("GET cancelled order %+v, want %+v", got, cancelled)
	}
	if list := myOrders(t, shopper.API); len(list) != 2 || !equalOrders(list[0], second) || !equalOrders(list[1], cancelled) {
		t.Errorf("my orders after cancelling %+v, want the second, then the cancelled first", list)
	}

	shopper.API.Do(t, "POST", "/api/orders/"+first.ID+"/cancel", nil).ExpectProblem(t, http.StatusConflict, "conflict")
	if got := stockOf(t, p.ID); got != 9 {
		t.Fatalf("stock after cancelling twice: %d, want 9 (stock back once)", got)
	}
	shopper.API.Do(t, "POST", "/api/orders/"+second.ID+"/cancel", nil).Expect(t, http.StatusOK, &got)
	if got := stockOf(t, p.ID); got != 10 {
		t.Errorf("stock after cancelling both orders: %d, want 10", got)
	}
}

// An order whose lines cannot all be met reserves nothing.
func TestShopOrderIsAllOrNothing(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	cat := freshCategory()
	plenty := addProduct(t, admin.API, sampleProduct(uniqueWord(), cat, 500, 5))
	scarce := addProduct(t, admin.API, sampleProduct(uniqueWord(), cat, 700, 1))
	shopper := newShopper(t, "Greedy Shopper")

	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{plenty.ID, 2}, orderLine{scarce.ID, 2})).
		ExpectProblem(t, http.StatusConflict, "out-of-stock")
	if a, b := stockOf(t, plenty.ID), stockOf(t, scarce.ID); a != 5 || b != 1 {
		t.Fatalf("stock after a refused order: %d and %d, want 5 and 1 (nothing reserved)", a, b)
	}
	if list := myOrders(t, shopper.API); len(list) != 0 {
		t.Errorf("a refused order is listed: %+v", list)
	}

	var o apiOrder
	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{plenty.ID, 2}, orderLine{scarce.ID, 1})).Expect(t, http.StatusCreated, &o)
	if o.Status != "confirmed" || len(o.Items) != 2 || o.TotalCents != 2*500+700 {
		t.Errorf("order %+v, want confirmed, two lines, total 1700", o)
	}
	if a, b := stockOf(t, plenty.ID), stockOf(t, scarce.ID); a != 3 || b != 0 {
		t.Errorf("stock after the order: %d and %d, want 3 and 0", a, b)
	}
}

// Many customers race for the last units: each unit is sold exactly once.
func TestShopConcurrentOrdersNeverOversell(t *testing.T) {
	t.Parallel()
	// 50 in flight keeps the race real without making it a test of nginx's
	// rate limits (a 429 below is reported as a failure of its own).
	const users, perUser, initial, inFlight = 10, 20, 50, 50
	admin := adminAccount(t)
	p := addProduct(t, admin.API, sampleProduct(uniqueWord(), freshCategory(), 999, initial))
	shoppers := make([]account, users)
	for i := range shoppers {
		shoppers[i] = newShopper(t, fmt.Sprintf("Racer %d", i))
	}

	body := mustJSON(t, orderRequest(orderLine{p.ID, 1}))
	results := concurrently(users*perUser, inFlight, func(i int) (*Response, error) {
		return shoppers[i%users].API.attempt("POST", "/api/orders", body)
	})
	confirmed := map[string]bool{}
	outOfStock := 0
	for i, res := range results {
		r := res.Response
		switch {
		case res.Err != nil:
			t.Errorf("order %d: %v", i, res.Err)
		case r.Status == http.StatusCreated:
			var o apiOrder
			if err := json.Unmarshal(r.Body, &o); err != nil || o.Status != "confirmed" || len(o.Items) != 1 ||
				o.Items[0].ProductID != p.ID || o.Items[0].Quantity != 1 || confirmed[o.ID] {
				t.Errorf("order %d: 201 %s: want a new confirmed order of one unit", i, r.Body)
			}
			confirmed[o.ID] = true
		case r.Status == http.StatusConflict && strings.HasSuffix(problemType(r), "out-of-stock"):
			outOfStock++
		case r.Status == http.StatusTooManyRequests:
			t.Errorf("order %d: nginx rate limited the race (429, Retry-After %q): %s", i, r.Header.Get("Retry-After"), r.Body)
		default:
			t.Errorf("order %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	if len(confirmed) != initial || outOfStock != users*perUser-initial {
		t.Errorf("%d confirmed and %d out of stock, want %d and %d", len(confirmed), outOfStock, initial, users*perUser-initial)
	}

	stock := stockOf(t, p.ID)
	if stock != 0 {
		t.Errorf("final stock %d, want 0", stock)
	}
	// The units the customers see in their own orders, with what is left,
	// are exactly the initial stock.
	listed := 0
	for _, s := range shoppers {
		for _, o := range myOrders(t, s.API) {
			if !confirmed[o.ID] || o.Status != "confirmed" {
				t.Errorf("listed order %+v is not one of the confirmed answers", o)
				continue
			}
			listed += o.Items[0].Quantity
		}
	}
	if listed+stock != initial {
		t.Errorf("confirmed quantities %d + remaining stock %d = %d, want the initial %d", listed, stock, listed+stock, initial)
	}
}

// Retries of one request with one Idempotency-Key, even concurrent ones,
// place one order.
func TestShopIdempotencyKeyPlacesOneOrder(t *testing.T) {
	t.Parallel()
	const requests, quantity, initial = 20, 2, 10
	admin := adminAccount(t)
	p := addProduct(t, admin.API, sampleProduct(uniqueWord(), freshCategory(), 1250, initial))
	shopper := newShopper(t, "Retrying Shopper")
	key := "e2e-key-" + uniqueWord()
	body := mustJSON(t, orderRequest(orderLine{p.ID, quantity}))

	results := concurrently(requests, requests, func(int) (*Response, error) {
		return shopper.API.attempt("POST", "/api/orders", body, "Idempotency-Key", key)
	})
	var placed apiOrder
	answered, inProgress := 0, 0
	for i, res := range results {
		r := res.Response
		switch {
		case res.Err != nil:
			t.Errorf("request %d: %v", i, res.Err)
		case r.Status == http.StatusCreated:
			var o apiOrder
			if err := json.Unmarshal(r.Body, &o); err != nil || o.ID == "" {
				t.Errorf("request %d: 201 %s", i, r.Body)
			} else if placed.ID == "" {
				placed = o
			} else if o.ID != placed.ID {
				t.Errorf("request %d: order %s, but another answer was order %s", i, o.ID, placed.ID)
			}
			answered++
		case r.Status == http.StatusConflict && strings.HasSuffix(problemType(r), "request-in-progress"):
			inProgress++
		default:
			t.Errorf("request %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	t.Logf("%d requests answered with the order, %d with request-in-progress", answered, inProgress)
	if answered == 0 {
		t.Fatal("no request got the order")
	}
	wantConfirmed(t, placed, userID(t, shopper.API), p, quantity)
	if got := stockOf(t, p.ID); got != initial-quantity {
		t.Errorf("stock %d after %d requests with one key, want %d (one decrement)", got, requests, initial-quantity)
	}
	if list := myOrders(t, shopper.API); len(list) != 1 || list[0].ID != placed.ID {
		t.Errorf("my orders %+v, want only %s", list, placed.ID)
	}

	var replay apiOrder
	r := shopper.API.Do(t, "POST", "/api/orders", body, "Idempotency-Key", key).Expect(t, http.StatusCreated, &replay)
	if !equalOrders(replay, placed) {
		t.Errorf("retry answered %+v, want the first answer %+v", replay, placed)
	}
	if h := r.Header.Get("Idempotent-Replayed"); h != "true" {
		t.Errorf("Idempotent-Replayed %q on a retry, want true", h)
	}

	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{p.ID, quantity + 1}), "Idempotency-Key", key).
		ExpectProblem(t, http.StatusUnprocessableEntity, "idempotency-key-reused")
	if got := stockOf(t, p.ID); got != initial-quantity {
		t.Errorf("stock %d after reusing the key, want %d", got, initial-quantity)
	}
	if list := myOrders(t, shopper.API); len(list) != 1 {
		t.Errorf("my orders after reusing the key: %+v, want one", list)
	}

	// Keys belong to their user: another customer's request with the same
	// key is a new order of their own, never a replay of someone else's.
	other := newShopper(t, "Unrelated Shopper")
	var theirs apiOrder
	r = other.API.Do(t, "POST", "/api/orders", body, "Idempotency-Key", key).Expect(t, http.StatusCreated, &theirs)
	wantConfirmed(t, theirs, userID(t, other.API), p, quantity)
	if theirs.ID == placed.ID || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another user's request with the same key got %+v (Idempotent-Replayed %q), want a new order",
			theirs, r.Header.Get("Idempotent-Replayed"))
	}
	if got := stockOf(t, p.ID); got != initial-2*quantity {
		t.Errorf("stock %d after the other user's order, want %d", got, initial-2*quantity)
	}
}

// Concurrent cancels of one order give its stock back once.
func TestShopConcurrentCancelsReturnStockOnce(t *testing.T) {
	t.Parallel()
	const cancels, quantity, initial = 10, 4, 10
	admin := adminAccount(t)
	p := addProduct(t, admin.API, sampleProduct(uniqueWord(), freshCategory(), 800, initial))
	shopper := newShopper(t, "Hasty Canceller")
	var o apiOrder
	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{p.ID, quantity})).Expect(t, http.StatusCreated, &o)

	results := concurrently(cancels, cancels, func(int) (*Response, error) {
		return shopper.API.attempt("POST", "/api/orders/"+o.ID+"/cancel", nil)
	})
	ok := 0
	for i, res := range results {
		r := res.Response
		switch {
		case res.Err != nil:
			t.Errorf("cancel %d: %v", i, res.Err)
		case r.Status == http.StatusOK:
			var got apiOrder
			if err := json.Unmarshal(r.Body, &got); err != nil || got.ID != o.ID || got.Status != "cancelled" {
				t.Errorf("cancel %d: 200 %s, want the order cancelled", i, r.Body)
			}
			ok++
		case r.Status == http.StatusConflict && strings.HasSuffix(problemType(r), "conflict"):
		default:
			t.Errorf("cancel %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	if ok != 1 {
		t.Errorf("%d cancels succeeded, want exactly 1", ok)
	}
	if got := stockOf(t, p.ID); got != initial {
		t.Errorf("stock %d after %d concurrent cancels, want %d (given back once)", got, cancels, initial)
	}
}

// Another customer's order does not exist for a customer; an admin sees it.
func TestShopOrdersOfOthersAreHidden(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	p := addProduct(t, admin.API, sampleProduct(uniqueWord(), freshCategory(), 300, 5))
	alice, bob := newShopper(t, "Alice"), newShopper(t, "Bob")
	var o apiOrder
	alice.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{p.ID, 1})).Expect(t, http.StatusCreated, &o)

	absent := bob.API.Do(t, "GET", "/api/orders/"+randomUUID(), nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	others := bob.API.Do(t, "GET", "/api/orders/"+o.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	if others.Title != absent.Title {
		t.Errorf("someone else's order %+v must look like no order %+v", others, absent)
	}
	bob.API.Do(t, "POST", "/api/orders/"+o.ID+"/cancel", nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	if list := myOrders(t, bob.API); len(list) != 0 {
		t.Errorf("Bob lists orders %+v, want none", list)
	}

	var got apiOrder
	alice.API.Do(t, "GET", "/api/orders/"+o.ID, nil).Expect(t, http.StatusOK, &got)
	if got.Status != "confirmed" || stockOf(t, p.ID) != 4 {
		t.Errorf("after Bob's cancel: order %+v, stock %d; want it confirmed and stock 4", got, stockOf(t, p.ID))
	}
	admin.API.Do(t, "GET", "/api/orders/"+o.ID, nil).Expect(t, http.StatusOK, &got)
	if !equalOrders(got, o) {
		t.Errorf("admin reads %+v, want Alice's order %+v", got, o)
	}
}

// A token that the users service did not issue as it stands is refused by
// every service that verifies tokens.
func TestShopTamperedTokensAreRejected(t *testing.T) {
	t.Parallel()
	shopper := newShopper(t, "Token Tamperer")
	valid := parseJWT(t, shopper.API.Token)
	if valid.encode() != shopper.API.Token {
		t.Fatal("a token taken apart and put together again differs")
	}
	kid, _ := valid.Header["kid"].(string)
	x, ok := jwksKeys(t)[kid]
	if !ok {
		t.Fatalf("the token's kid %q is not in the JWKS", kid)
	}
	public, err := b64url.DecodeString(x)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := map[string]any{"role": "admin"}
	later := time.Now().Add(time.Hour).Unix()
	tokens := map[string]string{
		"alg none":                      valid.with(t, map[string]any{"alg": "none"}, admin).unsigned(),
		"alg NONE, signature kept":      valid.with(t, map[string]any{"alg": "NONE"}, nil).encode(),
		"HS256 keyed with public key":   valid.with(t, map[string]any{"alg": "HS256"}, admin).signHS256(public),
		"HS256 keyed with the JWK x":    valid.with(t, map[string]any{"alg": "HS256"}, admin).signHS256([]byte(x)),
		"role changed to admin":         valid.with(t, nil, admin).encode(),
		"expired":                       valid.with(t, nil, map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}).encode(),
		"another key with the real kid": valid.with(t, nil, map[string]any{"role": "admin", "exp": later}).signEd25519(otherKey),
		"another key with its own kid":  valid.with(t, map[string]any{"kid": "e2e-" + uniqueWord()}, admin).signEd25519(otherKey),
		"signature removed":             valid.unsigned(),
		"garbage":                       "garbage",
		"three garbage parts":           "not.a.jwt",
	}
	authorizations := map[string]string{
		"token without Bearer": shopper.API.Token,
		"Basic credentials":    "Basic " + base64.StdEncoding.EncodeToString([]byte(shopper.Email+":"+shopper.Password)),
		"Bearer and no token":  "Bearer ",
		"no Authorization":     "",
	}
	for name, token := range tokens {
		authorizations[name] = "Bearer " + token
	}

	word := uniqueWord()
	write := sampleProduct(word, freshCategory(), 100, 1)
	endpoints := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/users/me", nil},
		{"GET", "/api/orders", nil},
		{"POST", "/api/catalog/products", write},
	}
	anonymous := newClient(t)
	for name, authorization := range authorizations {
		t.Run(name, func(t *testing.T) {
			var headers []string
			if authorization != "" {
				headers = []string{"Authorization", authorization}
			}
			for _, e := range endpoints {
				r := anonymous.Do(t, e.method, e.path, e.body, headers...)
				if r.Status != http.StatusUnauthorized {
					t.Errorf("%s %s: status %d, want 401: %s", e.method, e.path, r.Status, r.Body)
					continue
				}
				r.ExpectProblem(t, http.StatusUnauthorized, "unauthorized")
			}
		})
	}

	// The genuine token passes where the forgeries failed, so the 401s above
	// were about the tokens; the customer it belongs to may not write.
	shopper.API.Do(t, "GET", "/api/users/me", nil).Expect(t, http.StatusOK, nil)
	shopper.API.Do(t, "GET", "/api/orders", nil).Expect(t, http.StatusOK, nil)
	shopper.API.Do(t, "POST", "/api/catalog/products", write).ExpectProblem(t, http.StatusForbidden, "forbidden")
	if found := listProducts(t, url.Values{"q": {word}}); len(found.Items) != 0 {
		t.Errorf("a forged token created a product: %+v", found.Items)
	}
}

// A customer is refused every admin endpoint, and nothing changes.
func TestShopCustomerOnAdminEndpoints(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	p := addProduct(t, admin.API, sampleProduct(uniqueWord(), freshCategory(), 4200, 3))
	customer := newShopper(t, "Curious Customer")
	word := uniqueWord()
	for _, e := range []struct {
		name, method, path string
		body               any
	}{
		{"create product", "POST", "/api/catalog/products", sampleProduct(word, freshCategory(), 100, 1)},
		{"update product", "PATCH", "/api/catalog/products/" + p.ID, map[string]any{"price_cents": 1, "stock": 0}},
		{"delete product", "DELETE", "/api/catalog/products/" + p.ID, nil},
		{"list users", "GET", "/api/users", nil},
	} {
		t.Run(e.name, func(t *testing.T) {
			customer.API.Do(t, e.method, e.path, e.body).ExpectProblem(t, http.StatusForbidden, "forbidden")
		})
	}
	if got := getProduct(t, p.ID); !sameProduct(got, p) {
		t.Errorf("product after a customer's writes: %+v, want it unchanged: %+v", got, p)
	}
	if found := listProducts(t, url.Values{"q": {word}}); len(found.Items) != 0 {
		t.Errorf("a customer created a product: %+v", found.Items)
	}
	var users apiPage[struct {
		Email string `json:"email"`
	}]
	admin.API.Do(t, "GET", "/api/users", nil).Expect(t, http.StatusOK, &users)
	if len(users.Items) == 0 {
		t.Error("the admin lists no users")
	}
}

// A write that answered 2xx is what the very next read sees, by id, in a
// search and in a category listing, round after round.
func TestShopWritesVisibleToNextRead(t *testing.T) {
	t.Parallel()
	const rounds = 50
	admin := adminAccount(t)
	word, cat := uniqueWord(), freshCategory()
	p := addProduct(t, admin.API, sampleProduct(word, cat, 1000, 500))
	byWord, byCategory := url.Values{"q": {word}}, url.Values{"category": {cat}}

	// seen checks that the product, in each place a shopper may look, is want.
	seen := func(t *testing.T, what string, want apiProduct) {
		t.Helper()
		if got := getProduct(t, want.ID); !sameProduct(got, want) {
			t.Fatalf("%s: GET by id %+v, want %+v", what, got, want)
		}
		for _, q := range []url.Values{byWord, byCategory} {
			if got := listProducts(t, q).Items; len(got) != 1 || !sameProduct(got[0], want) {
				t.Fatalf("%s: listing %s: %+v, want only %+v", what, q.Encode(), got, want)
			}
		}
	}
	seen(t, "created", p) // now cached
	for i := 1; i <= rounds; i++ {
		price, stock := int64(1000+i), 500-i
		var got apiProduct
		admin.API.Do(t, "PATCH", "/api/catalog/products/"+p.ID, map[string]any{"price_cents": price, "stock": stock}).
			Expect(t, http.StatusOK, &got)
		want := p
		want.PriceCents, want.Stock, want.UpdatedAt = price, stock, got.UpdatedAt
		if !sameProduct(got, want) || got.UpdatedAt.Before(p.UpdatedAt) {
			t.Fatalf("round %d: PATCH answered %+v, want %+v", i, got, want)
		}
		seen(t, fmt.Sprintf("round %d", i), got)
		p = got
		// Paced at about 100 requests a second, the rate a shop's admin
		// never reaches, so that nginx's limits stay out of the picture.
		time.Sleep(40 * time.Millisecond)
	}

	// A new name and category move the product in searches and listings.
	renamed, moved := uniqueWord(), freshCategory()
	admin.API.Do(t, "PATCH", "/api/catalog/products/"+p.ID, map[string]any{"name": "Shop test " + renamed + " teapot", "category": moved}).
		Expect(t, http.StatusOK, &p)
	for q, want := range map[string]int{"q=" + word: 0, "category=" + cat: 0, "q=" + renamed: 1, "category=" + moved: 1} {
		query, _ := url.ParseQuery(q)
		if got := listProducts(t, query).Items; len(got) != want || want == 1 && !sameProduct(got[0], p) {
			t.Errorf("after renaming and moving: listing %s: %+v, want %d (%+v)", q, got, want, p)
		}
	}
	cats := categories(t)
	if cats[moved].ProductCount != 1 || cats[cat].ProductCount != 0 {
		t.Errorf("categories after moving: %s %+v, %s %+v; want 1 and 0 products", moved, cats[moved], cat, cats[cat])
	}

	r := admin.API.Do(t, "DELETE", "/api/catalog/products/"+p.ID, nil).Expect(t, http.StatusNoContent, nil)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %s", r.Body)
	}
	newClient(t).Do(t, "GET", "/api/catalog/products/"+p.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	for _, q := range []url.Values{{"q": {renamed}}, {"category": {moved}}} {
		if got := listProducts(t, q).Items; len(got) != 0 {
			t.Errorf("after DELETE: listing %s: %+v, want nothing", q.Encode(), got)
		}
	}
	if n := categories(t)[moved].ProductCount; n != 0 {
		t.Errorf("category %s counts %d products after DELETE, want 0", moved, n)
	}
	admin.API.Do(t, "DELETE", "/api/catalog/products/"+p.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	admin.API.Do(t, "PATCH", "/api/catalog/products/"+p.ID, map[string]any{"stock": 1}).ExpectProblem(t, http.StatusNotFound, "not-found")
}

// Malformed orders are 400s naming the field; orders for products that do
// not exist are 422s; neither reserves anything.
func TestShopOrderValidation(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	p := addProduct(t, admin.API, sampleProduct(uniqueWord(), freshCategory(), 100, 5))
	shopper := newShopper(t, "Careless Shopper")

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no items", orderRequest(), "items"},
		{"items missing", map[string]any{}, "items"},
		{"quantity 0", orderRequest(orderLine{p.ID, 0}), "items[0].quantity"},
		{"quantity -1", orderRequest(orderLine{p.ID, -1}), "items[0].quantity"},
		{"quantity 1001", orderRequest(orderLine{p.ID, 1001}), "items[0].quantity"},
		{"second line's quantity 1001", orderRequest(orderLine{p.ID, 1}, orderLine{randomUUID(), 1001}), "items[1].quantity"},
		{"product id missing", orderRequest(orderLine{"", 1}), "items[0].product_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prob := shopper.API.Do(t, "POST", "/api/orders", tc.body).ExpectProblem(t, http.StatusBadRequest, "invalid-request")
			wantFieldError(t, prob, tc.field)
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		shopper.API.Do(t, "POST", "/api/orders", `{"items":[{"product_id":`).ExpectProblem(t, http.StatusBadRequest, "")
	})
	for _, tc := range []struct {
		name  string
		lines []orderLine
	}{
		{"unknown product", []orderLine{{randomUUID(), 1}}},
		{"product id not a uuid", []orderLine{{"not-a-product", 1}}},
		{"product id a number", []orderLine{{"42", 1}}},
		{"known and unknown product", []orderLine{{p.ID, 1}, {randomUUID(), 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shopper.API.Do(t, "POST", "/api/orders", orderRequest(tc.lines...)).ExpectProblem(t, http.StatusUnprocessableEntity, "unprocessable-entity")
		})
	}
	// 1000 is a valid quantity: too many for the stock, not a malformed request.
	shopper.API.Do(t, "POST", "/api/orders", orderRequest(orderLine{p.ID, 1000})).ExpectProblem(t, http.StatusConflict, "out-of-stock")

	if got := stockOf(t, p.ID); got != 5 {
		t.Errorf("stock %d after refused orders, want 5", got)
	}
	if list := myOrders(t, shopper.API); len(list) != 0 {
		t.Errorf("refused orders are listed: %+v", list)
	}
}

// Paging through a category returns each of its products once, in creation
// order, also when products are added while a client pages.
func TestShopCatalogPagination(t *testing.T) {
	t.Parallel()
	const before, during, limit = 25, 3, 7
	c := newClient(t)
	for _, q := range []string{"limit=101", "limit=0", "limit=ten", "cursor=not-a-cursor"} {
		field, _, _ := strings.Cut(q, "=")
		wantFieldError(t, c.Do(t, "GET", "/api/catalog/products?"+q, nil).ExpectProblem(t, http.StatusBadRequest, "invalid-request"), field)
	}

	admin := adminAccount(t)
	cat := freshCategory()
	var created []string
	for range before {
		created = append(created, addProduct(t, admin.API, sampleProduct(uniqueWord(), cat, 100, 1)).ID)
	}
	if got := listProducts(t, url.Values{"category": {cat}, "limit": {"100"}}); len(got.Items) != before || got.NextCursor != nil {
		t.Errorf("limit=100 lists %d products of %d and next_cursor %v, want all and null", len(got.Items), before, got.NextCursor)
	}

	var listed []string
	var sizes []int
	query := url.Values{"category": {cat}, "limit": {fmt.Sprint(limit)}}
	for {
		pg := listProducts(t, query)
		sizes = append(sizes, len(pg.Items))
		for _, it := range pg.Items {
			if it.Category != cat {
				t.Errorf("listing category %s returned %+v", cat, it)
			}
			listed = append(listed, it.ID)
		}
		if len(sizes) == 1 {
			// Products added after the first page come after the ones
			// already listed; the pages must still neither skip nor repeat.
			for range during {
				created = append(created, addProduct(t, admin.API, sampleProduct(uniqueWord(), cat, 100, 1)).ID)
			}
		}
		if pg.NextCursor == nil {
			break
		}
		if len(pg.Items) != limit || len(sizes) > before+during {
			t.Fatalf("page %d has %d items and a next cursor; want %d", len(sizes), len(pg.Items), limit)
		}
		query.Set("cursor", *pg.NextCursor)
	}
	if !slices.Equal(listed, created) {
		t.Errorf("paging (page sizes %v) listed %d products:\n%v\nwant the %d created, in order:\n%v", sizes, len(listed), listed, len(created), created)
	}
}
