package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"bazaar/orders"
	"bazaar/platform/ident"
)

// fakeCatalog implements the catalog's internal reservation API in memory
// (as catalogclient calls it), with knobs to make it slow or unreachable.
type fakeCatalog struct {
	srv  *httptest.Server
	quit chan struct{}

	mu           sync.Mutex
	products     map[string]*fakeProduct
	reservations map[string]*fakeReservation
	reserveCalls int
	returned     int      // releases that put stock back
	requestIDs   []string // X-Request-Id of every call
	calls        []string // "reserve <order id>" or "release <order id>", in the order they came
	delay        time.Duration
	down         bool
	// refuseBefore makes order ids made before it too old to reserve
	// under, as the catalog refuses ids made more than 30 s ago.
	refuseBefore time.Time
}

type fakeProduct struct {
	sku, name, currency string
	price               int64
	stock               int
}

type fakeReservation struct {
	status string
	items  []orders.ReservedItem
}

func newFakeCatalog(t *testing.T) *fakeCatalog {
	t.Helper()
	f := &fakeCatalog{quit: make(chan struct{}), products: map[string]*fakeProduct{}, reservations: map[string]*fakeReservation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /internal/reservations", f.reserve)
	mux.HandleFunc("POST /internal/reservations/{id}/release", f.release)
	mux.HandleFunc("GET /internal/reservations", f.list)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requestIDs = append(f.requestIDs, r.Header.Get("X-Request-Id"))
		down := f.down
		f.mu.Unlock()
		if down {
			problem(w, http.StatusServiceUnavailable, "service-unavailable", "down for the test")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		close(f.quit)
		f.srv.Close()
	})
	return f
}

func (f *fakeCatalog) addProduct(id, sku string, price int64, currency string, stock int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.products[id] = &fakeProduct{sku: sku, name: "Product " + sku, currency: currency, price: price, stock: stock}
}

func (f *fakeCatalog) stock(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.products[id].stock
}

func (f *fakeCatalog) set(fn func(f *fakeCatalog)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeCatalog) counts() (reserveCalls, reservations, returned int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reserveCalls, len(f.reservations), f.returned
}

// seenCalls returns the reserves and releases received, in order.
func (f *fakeCatalog) seenCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// held returns the order ids whose stock is reserved.
func (f *fakeCatalog) held() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, r := range f.reservations {
		if r.status == orders.Reserved {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (f *fakeCatalog) seenRequestIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requestIDs...)
}

// reservationStatus is what the catalog records for an order, or "".
func (f *fakeCatalog) reservationStatus(orderID string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.reservations[orderID]; ok {
		return r.status
	}
	return ""
}

// answer writes v, late when a delay is set: the work is done, only the
// answer is slow, as when a network drops it.
func (f *fakeCatalog) answer(w http.ResponseWriter, v any) {
	f.mu.Lock()
	delay := f.delay
	f.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-f.quit:
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "/problems/" + code, "title": http.StatusText(status), "status": status, "detail": detail})
}

func (f *fakeCatalog) reserve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		OrderID string        `json:"order_id"`
		Items   []orders.Line `json:"items"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.OrderID == "" || len(req.Items) == 0 {
		problem(w, http.StatusBadRequest, "invalid-request", "bad body")
		return
	}
	f.mu.Lock()
	f.reserveCalls++
	f.calls = append(f.calls, "reserve "+req.OrderID)
	if ident.UUIDTime(req.OrderID).Before(f.refuseBefore) {
		f.mu.Unlock()
		problem(w, http.StatusConflict, "conflict", "the order id was made too long ago")
		return
	}
	if res, ok := f.reservations[req.OrderID]; ok {
		f.mu.Unlock()
		if res.status == orders.Released {
			problem(w, http.StatusConflict, "conflict", "the order's reservation was released")
			return
		}
		f.answer(w, orders.Reservation{OrderID: req.OrderID, Status: res.status, Items: res.items})
		return
	}
	var items []orders.ReservedItem
	for _, l := range req.Items {
		p, ok := f.products[l.ProductID]
		if !ok {
			f.mu.Unlock()
			problem(w, http.StatusUnprocessableEntity, "unprocessable-entity", "No product has id "+l.ProductID+".")
			return
		}
		if p.stock < l.Quantity {
			f.mu.Unlock()
			problem(w, http.StatusConflict, "out-of-stock", "Not enough stock of "+p.sku+".")
			return
		}
		items = append(items, orders.ReservedItem{ProductID: l.ProductID, SKU: p.sku, Name: p.name, Quantity: l.Quantity, UnitPriceCents: p.price, Currency: p.currency})
	}
	for _, it := range items {
		f.products[it.ProductID].stock -= it.Quantity
	}
	f.reservations[req.OrderID] = &fakeReservation{status: orders.Reserved, items: items}
	f.mu.Unlock()
	f.answer(w, orders.Reservation{OrderID: req.OrderID, Status: orders.Reserved, Items: items})
}

func (f *fakeCatalog) release(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	f.calls = append(f.calls, "release "+id)
	res, ok := f.reservations[id]
	switch {
	case !ok:
		f.reservations[id] = &fakeReservation{status: orders.Released} // tombstone
	case res.status == orders.Reserved:
		for _, it := range res.items {
			f.products[it.ProductID].stock += it.Quantity
		}
		res.status = orders.Released
		f.returned++
	}
	f.mu.Unlock()
	f.answer(w, map[string]string{"order_id": id, "status": orders.Released})
}

func (f *fakeCatalog) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, before := q.Get("after"), q.Get("before")
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || after == "" || before == "" {
		problem(w, http.StatusBadRequest, "validation", "after, before and limit are required")
		return
	}
	ids := []string{}
	f.mu.Lock()
	for id, res := range f.reservations {
		if res.status == orders.Reserved && id > after && id < before {
			ids = append(ids, id)
		}
	}
	f.mu.Unlock()
	slices.Sort(ids)
	f.answer(w, map[string][]string{"order_ids": ids[:min(limit, len(ids))]})
}
