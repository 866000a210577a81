package postgres_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"bazaar/catalog"
	"bazaar/catalog/internal/catalogtest"
	"bazaar/catalog/postgres"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// newReservations returns a store to create products with, and a Service
// over the PostgreSQL stores, which checks and normalizes each request
// before the reservation store sees it.
func newReservations(t *testing.T) (*postgres.ProductStore, *catalog.Service) {
	ps := newStore(t)
	return ps, catalog.NewService(catalog.ServiceConfig{Products: ps, Reservations: postgres.NewReservationStore(db.Pool)})
}

func orderID() string { return catalogtest.OrderID() }

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
		"version 4 order id":   {reserve(uuid.NewString(), line(plenty, 1)), apperr.Invalid},
		"expired order id":     {reserve(catalogtest.OrderIDAt(time.Now().Add(-2*time.Minute)), line(plenty, 1)), apperr.Conflict},
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

// TestReserveAgeRule refuses order ids made more than MaxReservationAge ago,
// even for a reservation already recorded under one, and reserves under
// younger ones.
func TestReserveAgeRule(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("AGE", "Age", "", "misc", 100, 10))

	old := catalogtest.OrderIDAt(time.Now().Add(-2 * time.Minute))
	_, err := rs.Reserve(context.Background(), reserve(old, line(p, 1)))
	catalogtest.WantCode(t, err, apperr.Conflict)
	if !catalog.IsOrderExpired(err) {
		t.Errorf("reserve under an id made 2 minutes ago = %v, want OrderExpired", err)
	}
	if n := stock(t, p.ID); n != 10 {
		t.Errorf("stock = %d, want 10 (nothing reserved)", n)
	}
	_, err = rs.FindReservation(context.Background(), old)
	catalogtest.WantCode(t, err, apperr.NotFound)

	young := catalogtest.OrderIDAt(time.Now().Add(-10 * time.Second))
	res, err := rs.Reserve(context.Background(), reserve(young, line(p, 2)))
	if err != nil || res.Status != catalog.StatusReserved || res.Replayed {
		t.Fatalf("reserve under an id made 10 s ago = %+v, %v; want reserved", res, err)
	}
	if n := stock(t, p.ID); n != 8 {
		t.Errorf("stock = %d, want 8", n)
	}

	// A reservation recorded under an id that has expired since is not
	// replayed.
	recorded := catalogtest.OrderIDAt(time.Now().Add(-2 * time.Minute))
	if _, err := db.Pool.Exec(context.Background(), `INSERT INTO reservations (order_id, status) VALUES ($1, 'reserved')`, recorded); err != nil {
		t.Fatal(err)
	}
	_, err = rs.Reserve(context.Background(), reserve(recorded, line(p, 1)))
	if !catalog.IsOrderExpired(err) {
		t.Errorf("replay under an expired id = %v, want OrderExpired", err)
	}
	if n := stock(t, p.ID); n != 8 {
		t.Errorf("stock = %d, want 8", n)
	}
}

func TestReserved(t *testing.T) {
	ps, rs := newReservations(t)
	p := catalogtest.MustCreate(t, ps, catalogtest.Input("L", "L", "", "misc", 100, 100))
	const zero, top = "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"
	// Seven ids in the order they were made: 0, 1, 4 and 6 stay reserved, 2
	// is released, 3 is a tombstone, 5 is never used.
	start := time.Now().Add(-20 * time.Second)
	ids := make([]string, 7)
	for i := range ids {
		ids[i] = catalogtest.OrderIDAt(start.Add(time.Duration(i) * time.Second))
	}
	for _, i := range []int{6, 0, 4, 2, 1} {
		if _, err := rs.Reserve(context.Background(), reserve(ids[i], line(p, 1))); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{2, 3} {
		if _, err := rs.Release(context.Background(), ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name          string
		after, before string
		limit         int
		want          []string
	}{
		{"all", zero, top, catalog.MaxReservedLimit, []string{ids[0], ids[1], ids[4], ids[6]}},
		{"bounds are exclusive", ids[0], ids[6], catalog.MaxReservedLimit, []string{ids[1], ids[4]}},
		{"bounds that are no reservation", ids[2], ids[5], catalog.MaxReservedLimit, []string{ids[4]}},
		{"limit keeps the first", zero, top, 3, []string{ids[0], ids[1], ids[4]}},
		{"limit from after", ids[1], top, 1, []string{ids[4]}},
		{"uppercase bounds", strings.ToUpper(ids[0]), strings.ToUpper(ids[6]), catalog.MaxReservedLimit, []string{ids[1], ids[4]}},
		{"none", ids[6], top, catalog.MaxReservedLimit, []string{}},
		{"empty range", ids[4], ids[0], catalog.MaxReservedLimit, []string{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := rs.Reserved(context.Background(), c.after, c.before, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("Reserved (-want +got):\n%s", diff)
			}
		})
	}
	for name, args := range map[string]struct {
		after, before string
		limit         int
	}{
		"bad after":     {"x", top, 1},
		"bad before":    {zero, "", 1},
		"limit zero":    {zero, top, 0},
		"limit too big": {zero, top, catalog.MaxReservedLimit + 1},
	} {
		_, err := rs.Reserved(context.Background(), args.after, args.before, args.limit)
		if apperr.Code(err) != apperr.Invalid {
			t.Errorf("%s: error %v, want code %s", name, err, apperr.Invalid)
		}
	}
}
