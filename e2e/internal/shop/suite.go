package shop

import (
	"crypto/ed25519"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// Tests is the shop suite: the shop as a customer and an admin use it,
// through nginx only: the storefront, the journey from registration to a
// cancelled order, the invariants that hold under concurrency and retries,
// and the answers to strangers, forgers and malformed requests. Each test
// makes its own users and products, so they may run in parallel, and on a
// stack that other tests use. The root e2e package runs each as
// TestShop<Name>, e2e/swarm all of them through Run.
var Tests = []struct {
	Name string
	Run  func(t *testing.T, s *Shop)
}{
	{"Storefront", Storefront},
	{"OrderLifecycle", OrderLifecycle},
	{"OrderIsAllOrNothing", OrderIsAllOrNothing},
	{"ConcurrentOrdersNeverOversell", ConcurrentOrdersNeverOversell},
	{"IdempotencyKeyPlacesOneOrder", IdempotencyKeyPlacesOneOrder},
	{"ConcurrentCancelsReturnStockOnce", ConcurrentCancelsReturnStockOnce},
	{"OrdersOfOthersAreHidden", OrdersOfOthersAreHidden},
	{"TamperedTokensAreRejected", TamperedTokensAreRejected},
	{"CustomerOnAdminEndpoints", CustomerOnAdminEndpoints},
	{"WritesVisibleToNextRead", WritesVisibleToNextRead},
	{"OrderValidation", OrderValidation},
	{"CatalogPagination", CatalogPagination},
}

// Run runs every test of the suite against s, in parallel subtests named
// as in Tests.
func Run(t *testing.T, s *Shop) {
	for _, tc := range Tests {
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			tc.Run(t, s)
		})
	}
}

// Storefront: the site answers its page over HTTP and, where the stack has
// it, HTTPS, with the request id nginx assigns.
func Storefront(t *testing.T, s *Shop) {
	bases := []string{s.BaseURL}
	if s.TLSURL != "" {
		bases = append(bases, s.TLSURL)
	}
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the stacks' self-signed pair
	}}
	for _, base := range bases {
		resp, err := c.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %s/: %v", base, err)
		}
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<html") {
			t.Errorf("GET %s/: status %d, body %.200s; want 200 and the storefront's page", base, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Request-Id") == "" {
			t.Errorf("GET %s/: no X-Request-Id", base)
		}
	}
}

// OrderLifecycle: a customer's journey: register, log in, find a product, order it, see the
// stock go down and the order listed, cancel, and get the stock back once.
func OrderLifecycle(t *testing.T, s *Shop) {
	admin := s.Admin(t)
	word := UniqueWord()
	p := AddProduct(t, admin.API, SampleProduct(word, FreshCategory(), 2599, 10))

	shopper := s.NewShopper(t, "Lifecycle Shopper") // registers, then logs in
	me := UserID(t, shopper.API)

	found := s.ListProducts(t, url.Values{"q": {word}})
	if len(found.Items) != 1 || !SameProduct(found.Items[0], p) || found.NextCursor != nil {
		t.Fatalf("search for %q: %+v, want exactly %+v", word, found, p)
	}

	var first, second Order
	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{p.ID, 3})).Expect(t, http.StatusCreated, &first)
	WantConfirmed(t, first, me, p, 3)
	if got := s.StockOf(t, p.ID); got != 7 {
		t.Fatalf("stock after ordering 3 of 10: %d, want 7", got)
	}
	// The search page read above is cached; the product in it is not stale.
	if found := s.ListProducts(t, url.Values{"q": {word}}); len(found.Items) != 1 || found.Items[0].Stock != 7 {
		t.Errorf("search after the order: %+v, want the product with stock 7", found.Items)
	}
	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{p.ID, 1})).Expect(t, http.StatusCreated, &second)
	WantConfirmed(t, second, me, p, 1)
	if got := s.StockOf(t, p.ID); got != 6 {
		t.Fatalf("stock after ordering 1 more: %d, want 6", got)
	}

	if list := MyOrders(t, shopper.API); len(list) != 2 || !EqualOrders(list[0], second) || !EqualOrders(list[1], first) {
		t.Errorf("my orders %+v, want the second then the first", list)
	}
	var got Order
	shopper.API.Do(t, "GET", "/api/orders/"+first.ID, nil).Expect(t, http.StatusOK, &got)
	if !EqualOrders(got, first) {
		t.Errorf("GET order %+v, want %+v", got, first)
	}

	cancelled := first
	cancelled.Status = "cancelled"
	shopper.API.Do(t, "POST", "/api/orders/"+first.ID+"/cancel", nil).Expect(t, http.StatusOK, &got)
	if !EqualOrders(got, cancelled) {
		t.Errorf("cancel answered %+v, want %+v", got, cancelled)
	}
	if got := s.StockOf(t, p.ID); got != 9 {
		t.Fatalf("stock after cancelling the order of 3: %d, want 9", got)
	}
	if found := s.ListProducts(t, url.Values{"q": {word}}); len(found.Items) != 1 || found.Items[0].Stock != 9 {
		t.Errorf("search after cancelling: %+v, want the product with stock 9", found.Items)
	}
	shopper.API.Do(t, "GET", "/api/orders/"+first.ID, nil).Expect(t, http.StatusOK, &got)
	if !EqualOrders(got, cancelled) {
		t.Errorf("GET cancelled order %+v, want %+v", got, cancelled)
	}
	if list := MyOrders(t, shopper.API); len(list) != 2 || !EqualOrders(list[0], second) || !EqualOrders(list[1], cancelled) {
		t.Errorf("my orders after cancelling %+v, want the second, then the cancelled first", list)
	}

	shopper.API.Do(t, "POST", "/api/orders/"+first.ID+"/cancel", nil).ExpectProblem(t, http.StatusConflict, "conflict")
	if got := s.StockOf(t, p.ID); got != 9 {
		t.Fatalf("stock after cancelling twice: %d, want 9 (stock back once)", got)
	}
	shopper.API.Do(t, "POST", "/api/orders/"+second.ID+"/cancel", nil).Expect(t, http.StatusOK, &got)
	if got := s.StockOf(t, p.ID); got != 10 {
		t.Errorf("stock after cancelling both orders: %d, want 10", got)
	}
}

// OrderIsAllOrNothing: an order whose lines cannot all be met reserves
// nothing.
func OrderIsAllOrNothing(t *testing.T, s *Shop) {
	admin := s.Admin(t)
	cat := FreshCategory()
	plenty := AddProduct(t, admin.API, SampleProduct(UniqueWord(), cat, 500, 5))
	scarce := AddProduct(t, admin.API, SampleProduct(UniqueWord(), cat, 700, 1))
	shopper := s.NewShopper(t, "Greedy Shopper")

	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{plenty.ID, 2}, OrderLine{scarce.ID, 2})).
		ExpectProblem(t, http.StatusConflict, "out-of-stock")
	if a, b := s.StockOf(t, plenty.ID), s.StockOf(t, scarce.ID); a != 5 || b != 1 {
		t.Fatalf("stock after a refused order: %d and %d, want 5 and 1 (nothing reserved)", a, b)
	}
	if list := MyOrders(t, shopper.API); len(list) != 0 {
		t.Errorf("a refused order is listed: %+v", list)
	}

	var o Order
	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{plenty.ID, 2}, OrderLine{scarce.ID, 1})).Expect(t, http.StatusCreated, &o)
	if o.Status != "confirmed" || len(o.Items) != 2 || o.TotalCents != 2*500+700 {
		t.Errorf("order %+v, want confirmed, two lines, total 1700", o)
	}
	if a, b := s.StockOf(t, plenty.ID), s.StockOf(t, scarce.ID); a != 3 || b != 0 {
		t.Errorf("stock after the order: %d and %d, want 3 and 0", a, b)
	}
}

// ConcurrentOrdersNeverOversell: many customers race for the last units: each unit is sold exactly once.
func ConcurrentOrdersNeverOversell(t *testing.T, s *Shop) {
	// 50 in flight keeps the race real without making it a test of nginx's
	// rate limits (a 429 below is reported as a failure of its own).
	const users, perUser, initial, inFlight = 10, 20, 50, 50
	admin := s.Admin(t)
	p := AddProduct(t, admin.API, SampleProduct(UniqueWord(), FreshCategory(), 999, initial))
	shoppers := make([]Account, users)
	for i := range shoppers {
		shoppers[i] = s.NewShopper(t, fmt.Sprintf("Racer %d", i))
	}

	body := MustJSON(t, OrderRequest(OrderLine{p.ID, 1}))
	results := Concurrently(users*perUser, inFlight, func(i int) (*Response, error) {
		return shoppers[i%users].API.Attempt("POST", "/api/orders", body)
	})
	confirmed := map[string]bool{}
	outOfStock := 0
	for i, res := range results {
		r := res.Response
		switch {
		case res.Err != nil:
			t.Errorf("order %d: %v", i, res.Err)
		case r.Status == http.StatusCreated:
			var o Order
			if err := json.Unmarshal(r.Body, &o); err != nil || o.Status != "confirmed" || len(o.Items) != 1 ||
				o.Items[0].ProductID != p.ID || o.Items[0].Quantity != 1 || confirmed[o.ID] {
				t.Errorf("order %d: 201 %s: want a new confirmed order of one unit", i, r.Body)
			}
			confirmed[o.ID] = true
		case r.Status == http.StatusConflict && strings.HasSuffix(ProblemType(r), "out-of-stock"):
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

	stock := s.StockOf(t, p.ID)
	if stock != 0 {
		t.Errorf("final stock %d, want 0", stock)
	}
	// The units the customers see in their own orders, with what is left,
	// are exactly the initial stock.
	listed := 0
	for _, sh := range shoppers {
		for _, o := range MyOrders(t, sh.API) {
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

// IdempotencyKeyPlacesOneOrder: retries of one request with one
// Idempotency-Key, even concurrent ones, place one order.
func IdempotencyKeyPlacesOneOrder(t *testing.T, s *Shop) {
	const requests, quantity, initial = 20, 2, 10
	admin := s.Admin(t)
	p := AddProduct(t, admin.API, SampleProduct(UniqueWord(), FreshCategory(), 1250, initial))
	shopper := s.NewShopper(t, "Retrying Shopper")
	key := "e2e-key-" + UniqueWord()
	body := MustJSON(t, OrderRequest(OrderLine{p.ID, quantity}))

	results := Concurrently(requests, requests, func(int) (*Response, error) {
		return shopper.API.Attempt("POST", "/api/orders", body, "Idempotency-Key", key)
	})
	var placed Order
	answered, inProgress := 0, 0
	for i, res := range results {
		r := res.Response
		switch {
		case res.Err != nil:
			t.Errorf("request %d: %v", i, res.Err)
		case r.Status == http.StatusCreated:
			var o Order
			if err := json.Unmarshal(r.Body, &o); err != nil || o.ID == "" {
				t.Errorf("request %d: 201 %s", i, r.Body)
			} else if placed.ID == "" {
				placed = o
			} else if o.ID != placed.ID {
				t.Errorf("request %d: order %s, but another answer was order %s", i, o.ID, placed.ID)
			}
			answered++
		case r.Status == http.StatusConflict && strings.HasSuffix(ProblemType(r), "request-in-progress"):
			inProgress++
		default:
			t.Errorf("request %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	t.Logf("%d requests answered with the order, %d with request-in-progress", answered, inProgress)
	if answered == 0 {
		t.Fatal("no request got the order")
	}
	WantConfirmed(t, placed, UserID(t, shopper.API), p, quantity)
	if got := s.StockOf(t, p.ID); got != initial-quantity {
		t.Errorf("stock %d after %d requests with one key, want %d (one decrement)", got, requests, initial-quantity)
	}
	if list := MyOrders(t, shopper.API); len(list) != 1 || list[0].ID != placed.ID {
		t.Errorf("my orders %+v, want only %s", list, placed.ID)
	}

	var replay Order
	r := shopper.API.Do(t, "POST", "/api/orders", body, "Idempotency-Key", key).Expect(t, http.StatusCreated, &replay)
	if !EqualOrders(replay, placed) {
		t.Errorf("retry answered %+v, want the first answer %+v", replay, placed)
	}
	if h := r.Header.Get("Idempotent-Replayed"); h != "true" {
		t.Errorf("Idempotent-Replayed %q on a retry, want true", h)
	}

	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{p.ID, quantity + 1}), "Idempotency-Key", key).
		ExpectProblem(t, http.StatusUnprocessableEntity, "idempotency-key-reused")
	if got := s.StockOf(t, p.ID); got != initial-quantity {
		t.Errorf("stock %d after reusing the key, want %d", got, initial-quantity)
	}
	if list := MyOrders(t, shopper.API); len(list) != 1 {
		t.Errorf("my orders after reusing the key: %+v, want one", list)
	}

	// Keys belong to their user: another customer's request with the same
	// key is a new order of their own, never a replay of someone else's.
	other := s.NewShopper(t, "Unrelated Shopper")
	var theirs Order
	r = other.API.Do(t, "POST", "/api/orders", body, "Idempotency-Key", key).Expect(t, http.StatusCreated, &theirs)
	WantConfirmed(t, theirs, UserID(t, other.API), p, quantity)
	if theirs.ID == placed.ID || r.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("another user's request with the same key got %+v (Idempotent-Replayed %q), want a new order",
			theirs, r.Header.Get("Idempotent-Replayed"))
	}
	if got := s.StockOf(t, p.ID); got != initial-2*quantity {
		t.Errorf("stock %d after the other user's order, want %d", got, initial-2*quantity)
	}
}

// ConcurrentCancelsReturnStockOnce: concurrent cancels of one order give
// its stock back once.
func ConcurrentCancelsReturnStockOnce(t *testing.T, s *Shop) {
	const cancels, quantity, initial = 10, 4, 10
	admin := s.Admin(t)
	p := AddProduct(t, admin.API, SampleProduct(UniqueWord(), FreshCategory(), 800, initial))
	shopper := s.NewShopper(t, "Hasty Canceller")
	var o Order
	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{p.ID, quantity})).Expect(t, http.StatusCreated, &o)

	results := Concurrently(cancels, cancels, func(int) (*Response, error) {
		return shopper.API.Attempt("POST", "/api/orders/"+o.ID+"/cancel", nil)
	})
	ok := 0
	for i, res := range results {
		r := res.Response
		switch {
		case res.Err != nil:
			t.Errorf("cancel %d: %v", i, res.Err)
		case r.Status == http.StatusOK:
			var got Order
			if err := json.Unmarshal(r.Body, &got); err != nil || got.ID != o.ID || got.Status != "cancelled" {
				t.Errorf("cancel %d: 200 %s, want the order cancelled", i, r.Body)
			}
			ok++
		case r.Status == http.StatusConflict && strings.HasSuffix(ProblemType(r), "conflict"):
		default:
			t.Errorf("cancel %d: status %d: %s", i, r.Status, r.Body)
		}
	}
	if ok != 1 {
		t.Errorf("%d cancels succeeded, want exactly 1", ok)
	}
	if got := s.StockOf(t, p.ID); got != initial {
		t.Errorf("stock %d after %d concurrent cancels, want %d (given back once)", got, cancels, initial)
	}
}

// OrdersOfOthersAreHidden: another customer's order does not exist for a
// customer; an admin sees it.
func OrdersOfOthersAreHidden(t *testing.T, s *Shop) {
	admin := s.Admin(t)
	p := AddProduct(t, admin.API, SampleProduct(UniqueWord(), FreshCategory(), 300, 5))
	alice, bob := s.NewShopper(t, "Alice"), s.NewShopper(t, "Bob")
	var o Order
	alice.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{p.ID, 1})).Expect(t, http.StatusCreated, &o)

	absent := bob.API.Do(t, "GET", "/api/orders/"+RandomUUID(), nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	others := bob.API.Do(t, "GET", "/api/orders/"+o.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	if others.Title != absent.Title {
		t.Errorf("someone else's order %+v must look like no order %+v", others, absent)
	}
	bob.API.Do(t, "POST", "/api/orders/"+o.ID+"/cancel", nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	if list := MyOrders(t, bob.API); len(list) != 0 {
		t.Errorf("Bob lists orders %+v, want none", list)
	}

	var got Order
	alice.API.Do(t, "GET", "/api/orders/"+o.ID, nil).Expect(t, http.StatusOK, &got)
	if got.Status != "confirmed" || s.StockOf(t, p.ID) != 4 {
		t.Errorf("after Bob's cancel: order %+v, stock %d; want it confirmed and stock 4", got, s.StockOf(t, p.ID))
	}
	admin.API.Do(t, "GET", "/api/orders/"+o.ID, nil).Expect(t, http.StatusOK, &got)
	if !EqualOrders(got, o) {
		t.Errorf("admin reads %+v, want Alice's order %+v", got, o)
	}
}

// TamperedTokensAreRejected: a token that the users service did not issue
// as it stands is refused by every service that verifies tokens.
func TamperedTokensAreRejected(t *testing.T, s *Shop) {
	shopper := s.NewShopper(t, "Token Tamperer")
	valid := parseJWT(t, shopper.API.Token)
	if valid.encode() != shopper.API.Token {
		t.Fatal("a token taken apart and put together again differs")
	}
	kid, _ := valid.Header["kid"].(string)
	x, ok := s.jwksKeys(t)[kid]
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
		"another key with its own kid":  valid.with(t, map[string]any{"kid": "e2e-" + UniqueWord()}, admin).signEd25519(otherKey),
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

	word := UniqueWord()
	write := SampleProduct(word, FreshCategory(), 100, 1)
	endpoints := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/users/me", nil},
		{"GET", "/api/orders", nil},
		{"POST", "/api/catalog/products", write},
	}
	anonymous := s.Client()
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
	if found := s.ListProducts(t, url.Values{"q": {word}}); len(found.Items) != 0 {
		t.Errorf("a forged token created a product: %+v", found.Items)
	}
}

// CustomerOnAdminEndpoints: a customer is refused every admin endpoint,
// and nothing changes.
func CustomerOnAdminEndpoints(t *testing.T, s *Shop) {
	admin := s.Admin(t)
	p := AddProduct(t, admin.API, SampleProduct(UniqueWord(), FreshCategory(), 4200, 3))
	customer := s.NewShopper(t, "Curious Customer")
	word := UniqueWord()
	for _, e := range []struct {
		name, method, path string
		body               any
	}{
		{"create product", "POST", "/api/catalog/products", SampleProduct(word, FreshCategory(), 100, 1)},
		{"update product", "PATCH", "/api/catalog/products/" + p.ID, map[string]any{"price_cents": 1, "stock": 0}},
		{"delete product", "DELETE", "/api/catalog/products/" + p.ID, nil},
		{"list users", "GET", "/api/users", nil},
	} {
		t.Run(e.name, func(t *testing.T) {
			customer.API.Do(t, e.method, e.path, e.body).ExpectProblem(t, http.StatusForbidden, "forbidden")
		})
	}
	if got := s.Product(t, p.ID); !SameProduct(got, p) {
		t.Errorf("product after a customer's writes: %+v, want it unchanged: %+v", got, p)
	}
	if found := s.ListProducts(t, url.Values{"q": {word}}); len(found.Items) != 0 {
		t.Errorf("a customer created a product: %+v", found.Items)
	}
	var users Page[struct {
		Email string `json:"email"`
	}]
	admin.API.Do(t, "GET", "/api/users", nil).Expect(t, http.StatusOK, &users)
	if len(users.Items) == 0 {
		t.Error("the admin lists no users")
	}
}

// WritesVisibleToNextRead: a write that answered 2xx is what the very next
// read sees, by id, in a
// search and in a category listing, round after round.
func WritesVisibleToNextRead(t *testing.T, s *Shop) {
	const rounds = 50
	admin := s.Admin(t)
	word, cat := UniqueWord(), FreshCategory()
	p := AddProduct(t, admin.API, SampleProduct(word, cat, 1000, 500))
	byWord, byCategory := url.Values{"q": {word}}, url.Values{"category": {cat}}

	// seen checks that the product, in each place a shopper may look, is want.
	seen := func(t *testing.T, what string, want Product) {
		t.Helper()
		if got := s.Product(t, want.ID); !SameProduct(got, want) {
			t.Fatalf("%s: GET by id %+v, want %+v", what, got, want)
		}
		for _, q := range []url.Values{byWord, byCategory} {
			if got := s.ListProducts(t, q).Items; len(got) != 1 || !SameProduct(got[0], want) {
				t.Fatalf("%s: listing %s: %+v, want only %+v", what, q.Encode(), got, want)
			}
		}
	}
	seen(t, "created", p) // now cached
	for i := 1; i <= rounds; i++ {
		price, stock := int64(1000+i), 500-i
		var got Product
		admin.API.Do(t, "PATCH", "/api/catalog/products/"+p.ID, map[string]any{"price_cents": price, "stock": stock}).
			Expect(t, http.StatusOK, &got)
		want := p
		want.PriceCents, want.Stock, want.UpdatedAt = price, stock, got.UpdatedAt
		if !SameProduct(got, want) || got.UpdatedAt.Before(p.UpdatedAt) {
			t.Fatalf("round %d: PATCH answered %+v, want %+v", i, got, want)
		}
		seen(t, fmt.Sprintf("round %d", i), got)
		p = got
		// Paced at about 100 requests a second, the rate a shop's admin
		// never reaches, so that nginx's limits stay out of the picture.
		time.Sleep(40 * time.Millisecond)
	}

	// A new name and category move the product in searches and listings.
	renamed, moved := UniqueWord(), FreshCategory()
	admin.API.Do(t, "PATCH", "/api/catalog/products/"+p.ID, map[string]any{"name": "Shop test " + renamed + " teapot", "category": moved}).
		Expect(t, http.StatusOK, &p)
	for q, want := range map[string]int{"q=" + word: 0, "category=" + cat: 0, "q=" + renamed: 1, "category=" + moved: 1} {
		query, _ := url.ParseQuery(q)
		if got := s.ListProducts(t, query).Items; len(got) != want || want == 1 && !SameProduct(got[0], p) {
			t.Errorf("after renaming and moving: listing %s: %+v, want %d (%+v)", q, got, want, p)
		}
	}
	cats := s.Categories(t)
	if cats[moved].ProductCount != 1 || cats[cat].ProductCount != 0 {
		t.Errorf("categories after moving: %s %+v, %s %+v; want 1 and 0 products", moved, cats[moved], cat, cats[cat])
	}

	r := admin.API.Do(t, "DELETE", "/api/catalog/products/"+p.ID, nil).Expect(t, http.StatusNoContent, nil)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body: %s", r.Body)
	}
	s.Client().Do(t, "GET", "/api/catalog/products/"+p.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	for _, q := range []url.Values{{"q": {renamed}}, {"category": {moved}}} {
		if got := s.ListProducts(t, q).Items; len(got) != 0 {
			t.Errorf("after DELETE: listing %s: %+v, want nothing", q.Encode(), got)
		}
	}
	if n := s.Categories(t)[moved].ProductCount; n != 0 {
		t.Errorf("category %s counts %d products after DELETE, want 0", moved, n)
	}
	admin.API.Do(t, "DELETE", "/api/catalog/products/"+p.ID, nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	admin.API.Do(t, "PATCH", "/api/catalog/products/"+p.ID, map[string]any{"stock": 1}).ExpectProblem(t, http.StatusNotFound, "not-found")
}

// OrderValidation: malformed orders are 400s naming the field; orders for products that do
// not exist are 422s; neither reserves anything.
func OrderValidation(t *testing.T, s *Shop) {
	admin := s.Admin(t)
	p := AddProduct(t, admin.API, SampleProduct(UniqueWord(), FreshCategory(), 100, 5))
	shopper := s.NewShopper(t, "Careless Shopper")

	for _, tc := range []struct {
		name  string
		body  any
		field string
	}{
		{"no items", OrderRequest(), "items"},
		{"items missing", map[string]any{}, "items"},
		{"quantity 0", OrderRequest(OrderLine{p.ID, 0}), "items[0].quantity"},
		{"quantity -1", OrderRequest(OrderLine{p.ID, -1}), "items[0].quantity"},
		{"quantity 1001", OrderRequest(OrderLine{p.ID, 1001}), "items[0].quantity"},
		{"second line's quantity 1001", OrderRequest(OrderLine{p.ID, 1}, OrderLine{RandomUUID(), 1001}), "items[1].quantity"},
		{"product id missing", OrderRequest(OrderLine{"", 1}), "items[0].product_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prob := shopper.API.Do(t, "POST", "/api/orders", tc.body).ExpectProblem(t, http.StatusBadRequest, "invalid-request")
			WantFieldError(t, prob, tc.field)
		})
	}
	t.Run("malformed JSON", func(t *testing.T) {
		shopper.API.Do(t, "POST", "/api/orders", `{"items":[{"product_id":`).ExpectProblem(t, http.StatusBadRequest, "")
	})
	for _, tc := range []struct {
		name  string
		lines []OrderLine
	}{
		{"unknown product", []OrderLine{{RandomUUID(), 1}}},
		{"product id not a uuid", []OrderLine{{"not-a-product", 1}}},
		{"product id a number", []OrderLine{{"42", 1}}},
		{"known and unknown product", []OrderLine{{p.ID, 1}, {RandomUUID(), 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shopper.API.Do(t, "POST", "/api/orders", OrderRequest(tc.lines...)).ExpectProblem(t, http.StatusUnprocessableEntity, "unprocessable-entity")
		})
	}
	// 1000 is a valid quantity: too many for the stock, not a malformed request.
	shopper.API.Do(t, "POST", "/api/orders", OrderRequest(OrderLine{p.ID, 1000})).ExpectProblem(t, http.StatusConflict, "out-of-stock")

	if got := s.StockOf(t, p.ID); got != 5 {
		t.Errorf("stock %d after refused orders, want 5", got)
	}
	if list := MyOrders(t, shopper.API); len(list) != 0 {
		t.Errorf("refused orders are listed: %+v", list)
	}
}

// CatalogPagination: paging through a category returns each of its
// products once, in creation
// order, also when products are added while a client pages.
func CatalogPagination(t *testing.T, s *Shop) {
	const before, during, limit = 25, 3, 7
	c := s.Client()
	for _, q := range []string{"limit=101", "limit=0", "limit=ten", "cursor=not-a-cursor"} {
		field, _, _ := strings.Cut(q, "=")
		WantFieldError(t, c.Do(t, "GET", "/api/catalog/products?"+q, nil).ExpectProblem(t, http.StatusBadRequest, "invalid-request"), field)
	}

	admin := s.Admin(t)
	cat := FreshCategory()
	var created []string
	for range before {
		created = append(created, AddProduct(t, admin.API, SampleProduct(UniqueWord(), cat, 100, 1)).ID)
	}
	if got := s.ListProducts(t, url.Values{"category": {cat}, "limit": {"100"}}); len(got.Items) != before || got.NextCursor != nil {
		t.Errorf("limit=100 lists %d products of %d and next_cursor %v, want all and null", len(got.Items), before, got.NextCursor)
	}

	var listed []string
	var sizes []int
	query := url.Values{"category": {cat}, "limit": {fmt.Sprint(limit)}}
	for {
		pg := s.ListProducts(t, query)
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
				created = append(created, AddProduct(t, admin.API, SampleProduct(UniqueWord(), cat, 100, 1)).ID)
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
