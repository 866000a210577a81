package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

func newReservations(t *testing.T) (*postgres.ProductService, *postgres.ReservationService) {
	return newStore(t), postgres.NewReservationService(db.Pool)
}

func orderID() string { return uuid.NewString() }

func stock(t *testing.T, id string) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT stock FROM products WHERE id = $1`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func reserve(order string, lines ...catalog.ReservationLine) catalog.ReservationRequest {
	return catalog.ReservationRequest{OrderID: order, Items: lines}
}

func line(p catalog.Product, qty int) catalog.ReservationLine {
	return catalog.ReservationLine{ProductID: p.ID, Quantity: qty}
}

func TestReserveRecordsPricesAndStock(t *testing.T) {
	ps, rs := newReservations(t)
	mug := catalogtest.MustCreate(t, ps, catalogtest.Input("MUG", "Mug", "", "kitchen", 850, 10))
	pot := catalogtest.MustCreate(t, ps, catalogtest.Input("POT", "Teapot", "", "kitchen", 3200, 2))
	order := orderID()
	got, err := rs.Reserve(context.Background(), reserve(order, line(pot, 2), line(mug, 3)))
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.Reservation{OrderID: order, Status: catalog.StatusReserved, Items: []catalog.ReservedItem{
		{ProductID: pot.ID, SKU: "POT", Name: "Teapot", Quantity: 2, UnitPriceCents: 3200, Currency: "USD"},
		{ProductID: mug.ID, SKU: "MUG", Name: "Mug", Quantity: 3, UnitPriceCents: 850, Currency: "USD"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reservation (-want +got):\n%s", diff)
	}
	if a, b := stock(t, mug.ID), stock(t, pot.ID); a != 7 || b != 0 {
		t.Errorf("stock = %d, %d; want 7, 0", a, b)
	}
	found, err := rs.FindReservation(context.Background(), order)
	if err != nil || !cmp.Equal(want, found) {
		t.Errorf("FindReservation = %+v, %v; want %+v", found, err, want)
	}

	// A later price change does not change what was reserved.
	if _, err := ps.UpdateProduct(context.Background(), mug.ID, catalog.ProductInput{PriceCents: ptr(int64(999))}); err != nil {
		t.Fatal(err)
	}
	again, err := rs.Reserve(context.Background(), reserve(order, line(mug, 1)))
	if err != nil || !again.Replayed {
		t.Fatalf("repeat = %+v, %v; want the recorded result, replayed", again, err)
	}
	again.Replayed = false
	if diff := cmp.Diff(want, again); diff != "" {
		t.Errorf("repeat with another body (-want +got):\n%s", diff)
	}
	if n := stock(t, mug.ID); n != 7 {
		t.Errorf("stock after the repeat = %d, want 7", n)
	}
}

func TestReserveAllOrNothing(t *testing.T) {
	ps, rs := newReservations(t)
	plenty := catalogtest.MustCreate(t, ps, catalogtest.Input("A", "Plenty", "", "misc", 100, 100))
	scarce := catalogtest.MustCreate(t, ps, catalogtest.Input("B", "Scarce", "", "misc", 100, 1))
	deleted := catalogtest.MustCreate(t, ps, catalogtest.Input("C", "Gone", "", "misc", 100, 5))
	if err := ps.DeleteProduct(context.Background(), deleted.ID); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		req  catalog.ReservationRequest
		code string
	}{
		"one line short":       {reserve(orderID(), line(plenty, 5), line(scarce, 2)), apperr.OutOfStock},
		"deleted product":      {reserve(orderID(), line(plenty, 5), line(deleted, 1)), apperr.Unprocessable},
		"unknown uuid":         {reserve(orderID(), line(plenty, 5), catalog.ReservationLine{ProductID: uuid.NewString(), Quantity: 1}), apperr.Unprocessable},
		"id of another form":   {reserve(orderID(), line(plenty, 5), catalog.ReservationLine{ProductID: "42", Quantity: 1}), apperr.Unprocessable},
		"unknown before short": {reserve(orderID(), line(scarce, 9), catalog.ReservationLine{ProductID: uuid.NewString(), Quantity: 1}), apperr.Unprocessable},
		"no lines":             {reserve(orderID()), apperr.Invalid},
		"zero quantity":        {reserve(orderID(), line(plenty, 0)), apperr.Invalid},
		"too many units":       {reserve(orderID(), line(plenty, catalog.MaxLineQuantity+1)), apperr.Invalid},
		"repeated product":     {reserve(orderID(), line(plenty, 1), line(plenty, 1)), apperr.Invalid},
		"bad order id":         {reserve("order-1", line(plenty, 1)), apperr.Invalid},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rs.Reserve(context.Background(), c.req)
			catalogtest.WantCode(t, err, c.code)
			if ident.IsUUID(c.req.OrderID) {
				_, err := rs.FindReservation(context.Background(), c.req.OrderID)
				catalogtest.WantCode(t, err, apperr.NotFound)
			}
		})
	}
	if a, b := stock(t, plenty.ID), stock(t, scarce.ID); a != 100 || b != 1 {
		t.Errorf("stock = %d, %d; want 100, 1 (nothing reserved)", a, b)
	}
}

// TestReserveNoOversell races 50 single-unit orders for a stock of 10.
func TestReserveNoOversell(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("HOT", "Hot Item", "", "misc", 100, 10))
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := rs.Reserve(context.Background(), reserve(orderID(), line(p, 1)))
			code := "ok"
			if err != nil {
				code = apperr.Code(err)
			}
			mu.Lock()
			outcomes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if diff := cmp.Diff(map[string]int{"ok": 10, apperr.OutOfStock: 40}, outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if n := stock(t, p.ID); n != 0 {
		t.Errorf("stock = %d, want 0", n)
	}
	var reserved int
	if err := db.Pool.QueryRow(context.Background(), `SELECT coalesce(sum(quantity), 0) FROM reservation_lines WHERE product_id = $1`, p.ID).Scan(&reserved); err != nil || reserved != 10 {
		t.Errorf("recorded units = %d (%v), want 10", reserved, err)
	}
}

// TestReserveOverlappingOrders races orders over the same products listed in
// opposite orders: locking in id order means no deadlock, only successes and
// shortages, and reserved units + stock = initial stock.
func TestReserveOverlappingOrders(t *testing.T) {
	ps, rs := newReservations(t)
	a := catalogtest.MustCreate(t, ps, catalogtest.Input("A", "A", "", "misc", 100, 30))
	b := catalogtest.MustCreate(t, ps, catalogtest.Input("B", "B", "", "misc", 100, 30))
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			req := reserve(orderID(), line(a, 1), line(b, 1))
			if i%2 == 1 {
				req = reserve(orderID(), line(b, 1), line(a, 1))
			}
			if _, err := rs.Reserve(context.Background(), req); err != nil && apperr.Code(err) != apperr.OutOfStock {
				t.Errorf("reserve: %v", err)
			}
		})
	}
	wg.Wait()
	var reservedA, reservedB int
	if err := db.Pool.QueryRow(context.Background(), `
		SELECT coalesce(sum(quantity) FILTER (WHERE product_id = $1), 0), coalesce(sum(quantity) FILTER (WHERE product_id = $2), 0)
		FROM reservation_lines`, a.ID, b.ID).Scan(&reservedA, &reservedB); err != nil {
		t.Fatal(err)
	}
	if sa, sb := stock(t, a.ID), stock(t, b.ID); sa+reservedA != 30 || sb+reservedB != 30 || sa != 0 || sb != 0 {
		t.Errorf("A: stock %d + reserved %d, B: stock %d + reserved %d; want 0 + 30 each", sa, reservedA, sb, reservedB)
	}
}

// TestReserveIdempotentConcurrently sends one order id 20 times at once:
// one decrement, and every call answers the same reservation.
func TestReserveIdempotentConcurrently(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("X", "X", "", "misc", 100, 100))
	order := orderID()
	results := make([]catalog.Reservation, 20)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			res, err := rs.Reserve(context.Background(), reserve(order, line(p, 3)))
			if err != nil {
				t.Error(err)
			}
			res.Replayed = false
			results[i] = res
		})
	}
	wg.Wait()
	for _, r := range results[1:] {
		if diff := cmp.Diff(results[0], r); diff != "" {
			t.Errorf("answers differ (-first +other):\n%s", diff)
		}
	}
	if n := stock(t, p.ID); n != 97 {
		t.Errorf("stock = %d, want 97 (one reservation of 3)", n)
	}
}

func TestReleaseExactlyOnce(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("R", "R", "", "misc", 100, 10))
	order := orderID()
	if _, err := rs.Reserve(context.Background(), reserve(order, line(p, 4))); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	releasedNow := 0
	for range 10 {
		wg.Go(func() {
			res, err := rs.Release(context.Background(), order)
			if err != nil || res.Status != catalog.StatusReleased || len(res.Items) != 1 {
				t.Errorf("release = %+v, %v; want released with its item", res, err)
			}
			if !res.Replayed {
				mu.Lock()
				releasedNow++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := stock(t, p.ID); n != 10 || releasedNow != 1 {
		t.Errorf("stock = %d after %d effective releases; want 10 after 1", n, releasedNow)
	}
	_, err := rs.Reserve(context.Background(), reserve(order, line(p, 4)))
	catalogtest.WantCode(t, err, apperr.Conflict)
	if n := stock(t, p.ID); n != 10 {
		t.Errorf("stock after a reserve of a released order = %d, want 10", n)
	}
	found, err := rs.FindReservation(context.Background(), order)
	if err != nil || found.Status != catalog.StatusReleased || len(found.Items) != 1 {
		t.Errorf("FindReservation = %+v, %v; want released with its item", found, err)
	}
}

func TestReleaseBeforeReserveLeavesTombstone(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("T", "T", "", "misc", 100, 10))
	order := orderID()
	res, err := rs.Release(context.Background(), order)
	want := catalog.Reservation{OrderID: order, Status: catalog.StatusReleased, Items: []catalog.ReservedItem{}}
	if err != nil || !cmp.Equal(want, res) {
		t.Fatalf("release of an unknown order = %+v, %v; want %+v", res, err, want)
	}
	_, err = rs.Reserve(context.Background(), reserve(order, line(p, 1)))
	catalogtest.WantCode(t, err, apperr.Conflict)
	if n := stock(t, p.ID); n != 10 {
		t.Errorf("stock = %d, want 10", n)
	}
	res, err = rs.Release(context.Background(), order)
	if err != nil || !res.Replayed {
		t.Errorf("second release = %+v, %v; want a replay", res, err)
	}
	_, err = rs.Release(context.Background(), "not-a-uuid")
	catalogtest.WantCode(t, err, apperr.Invalid)
	_, err = rs.FindReservation(context.Background(), orderID())
	catalogtest.WantCode(t, err, apperr.NotFound)
	_, err = rs.FindReservation(context.Background(), "x")
	catalogtest.WantCode(t, err, apperr.NotFound)
}

// TestReserveAndReleaseRace races a reservation against the release of the
// same order: whichever comes first, stock ends as it started.
func TestReserveAndReleaseRace(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("Q", "Q", "", "misc", 100, 50))
	var wg sync.WaitGroup
	for range 20 {
		order := orderID()
		wg.Go(func() {
			if _, err := rs.Reserve(context.Background(), reserve(order, line(p, 2))); err != nil && apperr.Code(err) != apperr.Conflict {
				t.Errorf("reserve: %v", err)
			}
		})
		wg.Go(func() {
			if _, err := rs.Release(context.Background(), order); err != nil {
				t.Errorf("release: %v", err)
			}
		})
	}
	wg.Wait()
	if n := stock(t, p.ID); n != 50 {
		t.Errorf("stock = %d, want 50: every order was released", n)
	}
}
