package postgres_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/orders"
	"bazaar/orders/postgres"
	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// Orders made by confirmed hold 3 units each.
const unitsPerOrder = 3

// mustTotal fails the test unless the user's open orders hold want, as
// the totals say and as counting the orders says.
func mustTotal(t *testing.T, s *postgres.Store, user string, want orders.Totals) {
	t.Helper()
	got, err := s.Totals(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s's totals (-want +got):\n%s", user, diff)
	}
	var counted orders.Totals
	if err := pool.QueryRow(t.Context(), `
		SELECT count(DISTINCT o.id), coalesce(sum(i.quantity), 0) FROM orders o JOIN order_items i ON i.order_id = o.id
		WHERE o.user_id = $1 AND o.status IN ('confirmed', 'cancelling')`, user).
		Scan(&counted.OpenOrders, &counted.ReservedUnits); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, counted); diff != "" {
		t.Errorf("%s's open orders (-want +counted):\n%s", user, diff)
	}
}

// mustRefuse fails the test unless err is the refusal of a limit whose
// message contains detail.
func mustRefuse(t *testing.T, err error, detail string) {
	t.Helper()
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.Conflict || !strings.Contains(ae.Message, detail) {
		t.Errorf("err = %v, want a conflict naming %q", err, detail)
	}
}

// Each limit refuses the order that would take a user past it and records
// nothing of it; other users are not held back by it.
func TestLimitRefusesTheOrderPastIt(t *testing.T) {
	tests := []struct {
		name   string
		limits orders.Limits
		detail string
	}{
		{"open orders", orders.Limits{OpenOrders: 2}, "the most one user may have (2)"},
		{"reserved units", orders.Limits{OpenOrders: 100, ReservedUnits: 2*unitsPerOrder + 2}, "may reserve (8 units)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ctx := t.Context()
			for range 2 {
				if _, err := s.Create(ctx, confirmed("alice"), nil, tt.limits); err != nil {
					t.Fatal(err)
				}
			}
			refused := confirmed("alice")
			_, err := s.Create(ctx, refused, nil, tt.limits)
			mustRefuse(t, err, tt.detail)
			if _, err := s.Order(ctx, refused.ID); apperr.Code(err) != apperr.NotFound {
				t.Errorf("the refused order was recorded: err = %v", err)
			}
			mustTotal(t, s, "alice", orders.Totals{OpenOrders: 2, ReservedUnits: 2 * unitsPerOrder})
			for range 2 {
				if _, err := s.Create(ctx, confirmed("bob"), nil, tt.limits); err != nil {
					t.Errorf("bob's order: %v", err)
				}
			}
			mustTotal(t, s, "bob", orders.Totals{OpenOrders: 2, ReservedUnits: 2 * unitsPerOrder})
		})
	}
}

// A user's first order is held to the limit of units too.
func TestLimitRefusesAFirstOrderTooLarge(t *testing.T) {
	s := newStore(t)
	_, err := s.Create(t.Context(), confirmed("alice"), nil, orders.Limits{ReservedUnits: unitsPerOrder - 1})
	mustRefuse(t, err, "may reserve (2 units)")
	mustTotal(t, s, "alice", orders.Totals{})
}

// Zero is no limit; the totals are kept all the same, so that a limit set
// later counts the orders placed before it.
func TestNoLimit(t *testing.T) {
	s := newStore(t)
	for range 5 {
		mustCreate(t, s, "alice")
	}
	mustTotal(t, s, "alice", orders.Totals{OpenOrders: 5, ReservedUnits: 5 * unitsPerOrder})
	_, err := s.Create(t.Context(), confirmed("alice"), nil, orders.Limits{OpenOrders: 5})
	mustRefuse(t, err, "You have 5 open orders")
}

// widePool returns a pool of as many connections as placements the tests
// run at once, so that they meet in PostgreSQL, not in the pool's queue.
func widePool(t *testing.T, conns int32) *pgxpool.Pool {
	t.Helper()
	cfg := pool.Config().Copy()
	cfg.MaxConns, cfg.MinConns = conns, conns
	wide, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wide.Close)
	return wide
}

// Twenty placements of each of two users at once, with room for five
// orders each: exactly five of each user's are recorded, whichever limit
// leaves that room, and the totals match the orders.
func TestLimitHoldsUnderConcurrentPlacements(t *testing.T) {
	const n, room = 20, 5
	tests := []struct {
		name   string
		limits orders.Limits
	}{
		{"open orders", orders.Limits{OpenOrders: room, ReservedUnits: 1000}},
		{"reserved units", orders.Limits{OpenOrders: 1000, ReservedUnits: room*unitsPerOrder + unitsPerOrder - 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newStore(t)
			s := postgres.NewStore(widePool(t, 2*n))
			var wg sync.WaitGroup
			var mu sync.Mutex
			created := map[string]int{}
			ready := make(chan struct{})
			for i := range 2 * n {
				user := []string{"alice", "bob"}[i%2]
				wg.Go(func() {
					<-ready
					_, err := s.Create(t.Context(), confirmed(user), nil, tt.limits)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						created[user]++
					case apperr.Code(err) != apperr.Conflict:
						t.Errorf("Create = %v", err)
					}
				})
			}
			close(ready)
			wg.Wait()
			if created["alice"] != room || created["bob"] != room {
				t.Errorf("created %v, want %d of each user's %d", created, room, n)
			}
			for _, user := range []string{"alice", "bob"} {
				mustTotal(t, s, user, orders.Totals{OpenOrders: room, ReservedUnits: room * unitsPerOrder})
			}
		})
	}
}

// An order keeps its place while it is being cancelled, since the catalog
// still holds its stock, and gives it up once cancelled, once.
func TestCancelledOrderFreesItsPlace(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	one := orders.Limits{OpenOrders: 1, ReservedUnits: 1000}
	o := confirmed("alice")
	if _, err := s.Create(ctx, o, nil, one); err != nil {
		t.Fatal(err)
	}
	if won, err := s.BeginCancel(ctx, o.ID, time.Hour); err != nil || !won {
		t.Fatalf("BeginCancel = %v, %v", won, err)
	}
	mustTotal(t, s, "alice", orders.Totals{OpenOrders: 1, ReservedUnits: unitsPerOrder})
	_, err := s.Create(ctx, confirmed("alice"), nil, one)
	mustRefuse(t, err, "the most one user may have (1)")

	for range 2 {
		if _, _, err := s.FinishCancel(ctx, o.ID); err != nil {
			t.Fatal(err)
		}
	}
	mustTotal(t, s, "alice", orders.Totals{})
	if _, err := s.Create(ctx, confirmed("alice"), nil, one); err != nil {
		t.Errorf("an order after the cancellation: %v", err)
	}
	mustTotal(t, s, "alice", orders.Totals{OpenOrders: 1, ReservedUnits: unitsPerOrder})
}

// A placement whose idempotency key was taken over records nothing and
// counts nothing; the one that took it over counts its order once, and a
// refusal leaves the key's order id alone.
func TestLimitWithIdempotencyKeys(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	one := orders.Limits{OpenOrders: 1}
	hash := []byte("h")
	first, _, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UnlockKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	retry, _, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	lost := confirmed("alice")
	lost.ID = first.OrderID
	if _, err := s.Create(ctx, lost, &first, one); !errors.Is(err, orders.ErrKeyInFlight) {
		t.Fatalf("Create with a lost claim: err = %v, want ErrKeyInFlight", err)
	}
	mustTotal(t, s, "alice", orders.Totals{})
	o := confirmed("alice")
	o.ID = retry.OrderID
	if _, err := s.Create(ctx, o, &retry, one); err != nil {
		t.Fatal(err)
	}
	mustTotal(t, s, "alice", orders.Totals{OpenOrders: 1, ReservedUnits: unitsPerOrder})

	other, _, err := s.ClaimKey(ctx, "alice", "k2", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	refused := confirmed("alice")
	refused.ID = other.OrderID
	_, err = s.Create(ctx, refused, &other, one)
	mustRefuse(t, err, "the most one user may have (1)")
	var keyOrder string
	if err := pool.QueryRow(ctx, `SELECT order_id::text FROM idempotency_keys WHERE key = 'k2'`).Scan(&keyOrder); err != nil || keyOrder != other.OrderID {
		t.Errorf("the refused key names order %q (%v), want %s", keyOrder, err, other.OrderID)
	}
	mustTotal(t, s, "alice", orders.Totals{OpenOrders: 1, ReservedUnits: unitsPerOrder})
}

// previousRelease writes an order as the release before the limits did,
// with lines of the given quantities.
func previousRelease(t *testing.T, db *pgxpool.Pool, user, status string, quantities ...int) string {
	t.Helper()
	id := orders.NewID()
	if _, err := db.Exec(t.Context(), `INSERT INTO orders (id, user_id, status, total_cents, currency) VALUES ($1, $2, $3, 100, 'EUR')`,
		id, user, status); err != nil {
		t.Fatal(err)
	}
	for i, q := range quantities {
		if _, err := db.Exec(t.Context(), `INSERT INTO order_items (order_id, line, product_id, sku, name, quantity, unit_price_cents)
			VALUES ($1, $2, $3, 'SKU', 'Name', $4, 1)`, id, i, orders.NewID(), q); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// The migration counts the open orders that exist; orders the previous
// release records after it, while it still runs, are not counted, and
// cancelling them takes nothing out.
func TestMigrationCountsExistingOrders(t *testing.T) {
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA backfill`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := pool.Exec(context.Background(), `DROP SCHEMA backfill CASCADE`); err != nil {
			t.Error(err)
		}
	})
	cfg := pool.Config().Copy()
	cfg.ConnConfig.RuntimeParams["search_path"] = "backfill"
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before := fstest.MapFS{}
	for _, name := range []string{"0001_orders.sql", "0002_reserve_first.sql"} {
		b, err := fs.ReadFile(postgres.Migrations, "migrations/"+name)
		if err != nil {
			t.Fatal(err)
		}
		before[name] = &fstest.MapFile{Data: b}
	}
	if err := pg.Migrate(ctx, db, before); err != nil {
		t.Fatal(err)
	}
	previousRelease(t, db, "alice", "confirmed", 2, 5)
	cancelling := previousRelease(t, db, "alice", "cancelling", 4)
	previousRelease(t, db, "alice", "cancelled", 100)
	previousRelease(t, db, "bob", "cancelled", 1)
	if _, err := db.Exec(ctx, `INSERT INTO orders (id, user_id, status, settle_after) VALUES ($1, 'carol', 'pending', now())`, orders.NewID()); err != nil {
		t.Fatal(err)
	}

	if err := pg.Migrate(ctx, db, postgres.Migrations); err != nil {
		t.Fatal(err)
	}
	s := postgres.NewStore(db)
	for user, want := range map[string]orders.Totals{
		"alice": {OpenOrders: 2, ReservedUnits: 11},
		"bob":   {},
		"carol": {},
	} {
		if got, err := s.Totals(ctx, user); err != nil || got != want {
			t.Errorf("%s's totals after the migration = %+v, %v; want %+v", user, got, err, want)
		}
	}

	uncounted := previousRelease(t, db, "alice", "cancelling", 7)
	for _, id := range []string{cancelling, uncounted} {
		if _, finished, err := s.FinishCancel(ctx, id); err != nil || !finished {
			t.Fatalf("FinishCancel(%s) = %v, %v", id, finished, err)
		}
	}
	if got, err := s.Totals(ctx, "alice"); err != nil || got != (orders.Totals{OpenOrders: 1, ReservedUnits: 7}) {
		t.Errorf("alice's totals after the cancellations = %+v, %v; want 1 order of 7 units", got, err)
	}
}
