package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/orders"
	"bazaar/orders/internal/orderstest"
	"bazaar/orders/postgres"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/pg"
	"bazaar/platform/pg/pgtest"
)

var (
	db   *pgtest.DB
	pool *pgxpool.Pool
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	var err error
	if db, err = pgtest.Start(ctx, orderstest.Postgres); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer db.Close()
	pool = db.Pool
	// A second run must find nothing to do.
	if err := pg.Migrate(ctx, pool, postgres.Migrations); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// newStore returns a Store over emptied tables.
func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	db.Reset(t)
	return postgres.NewStore(pool)
}

// noLimits leaves each user's open orders unbounded, for the tests of
// other matters.
var noLimits = orders.Limits{}

// confirmed returns a new confirmed order of user, not yet recorded.
func confirmed(user string) orders.Order {
	return orders.Order{
		ID: orders.NewID(), UserID: user, Status: orders.StatusConfirmed,
		Items: []orders.Item{
			{ProductID: orders.NewID(), SKU: "SKU-1", Name: "Mug \"blue\" ☕", Quantity: 2, UnitPriceCents: 450},
			{ProductID: orders.NewID(), SKU: "SKU-2", Name: "Teapot", Quantity: 1, UnitPriceCents: 2999},
		},
		TotalCents: 3899,
		Currency:   "EUR",
	}
}

// mustCreate records a confirmed order of user and returns it.
func mustCreate(t *testing.T, s *postgres.Store, user string) orders.Order {
	t.Helper()
	o := confirmed(user)
	var err error
	if o.CreatedAt, err = s.Create(t.Context(), o, nil, noLimits); err != nil {
		t.Fatal(err)
	}
	return o
}

func TestCreateAndRead(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	o := mustCreate(t, s, "alice")
	got, err := s.Order(ctx, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(o, got); diff != "" {
		t.Errorf("Order() differs from what was created (-created +read):\n%s", diff)
	}
	if time.Since(got.CreatedAt) > time.Minute {
		t.Errorf("created_at = %v", got.CreatedAt)
	}
	if _, err := s.Create(ctx, o, nil, noLimits); err == nil {
		t.Error("an order was created twice")
	}
	if _, err := s.Order(ctx, orders.NewID()); apperr.Code(err) != apperr.NotFound {
		t.Errorf("Order(unknown) err = %v, want not-found", err)
	}
	// The previous release also kept requests that never became orders.
	legacy := orders.NewID()
	if _, err := pool.Exec(ctx, `INSERT INTO orders (id, user_id, status, settle_after) VALUES ($1, 'alice', 'pending', now())`, legacy); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Order(ctx, legacy); apperr.Code(err) != apperr.NotFound {
		t.Errorf("Order(a pending request of the previous release) err = %v, want not-found", err)
	}
	found, err := s.Existing(ctx, []string{orders.NewID(), o.ID, legacy})
	if err != nil || len(found) != 1 || found[0] != o.ID {
		t.Errorf("Existing = %q, %v; want only %s", found, err, o.ID)
	}
	if page, err := s.Orders(ctx, "alice", orders.PageRequest{Limit: 10}); err != nil || len(page.Items) != 1 {
		t.Errorf("Orders = %+v, %v; want only %s", page, err, o.ID)
	}
}

// The sweep position starts below every id and moves only from where the
// mover found it.
func TestSweepPosition(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	start, err := s.SweptThrough(ctx)
	if err != nil || start != "00000000-0000-0000-0000-000000000000" {
		t.Fatalf("SweptThrough = %q, %v; want the lowest id", start, err)
	}
	next := orders.NewID()
	if moved, err := s.AdvanceSweep(ctx, start, next); err != nil || !moved {
		t.Fatalf("AdvanceSweep = %v, %v; want true", moved, err)
	}
	if moved, err := s.AdvanceSweep(ctx, start, orders.NewID()); err != nil || moved {
		t.Errorf("AdvanceSweep from a stale position = %v, %v; want false", moved, err)
	}
	if got, err := s.SweptThrough(ctx); err != nil || got != next {
		t.Errorf("SweptThrough = %q, %v; want %s", got, err, next)
	}
}

// Two claimers never get the same cancelling order, and only due ones.
func TestClaimCancelling(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	const n = 30
	ids := map[string]bool{}
	for range n {
		o := mustCreate(t, s, "alice")
		ids[o.ID] = true
		if won, err := s.BeginCancel(ctx, o.ID, 0); err != nil || !won {
			t.Fatalf("BeginCancel = %v, %v", won, err)
		}
	}
	notDue := mustCreate(t, s, "alice")
	if _, err := s.BeginCancel(ctx, notDue.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "alice") // confirmed, never claimed

	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				batch, err := s.ClaimCancelling(ctx, 3, time.Hour)
				if err != nil {
					t.Error(err)
					return
				}
				if len(batch) == 0 {
					return
				}
				mu.Lock()
				for _, id := range batch {
					claimed[id]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(claimed) != n {
		t.Errorf("claimed %d orders, want %d", len(claimed), n)
	}
	for id, count := range claimed {
		if !ids[id] || count != 1 {
			t.Errorf("order %s claimed %d times (due: %v)", id, count, ids[id])
		}
	}
}

func TestCancelTransitions(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	o := mustCreate(t, s, "alice")

	if won, err := s.BeginCancel(ctx, o.ID, time.Hour); err != nil || !won {
		t.Fatalf("BeginCancel = %v, %v; want true", won, err)
	}
	if won, err := s.BeginCancel(ctx, o.ID, time.Hour); err != nil || won {
		t.Fatalf("BeginCancel while another holds it = %v, %v; want false", won, err)
	}
	if batch, err := s.ClaimCancelling(ctx, 10, time.Hour); err != nil || len(batch) != 0 {
		t.Fatalf("ClaimCancelling during the cancel's lease = %v, %v; want none", batch, err)
	}
	// The request gives up: the cancellation becomes due at once.
	if err := s.HandOff(ctx, o.ID); err != nil {
		t.Fatal(err)
	}
	batch, err := s.ClaimCancelling(ctx, 10, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{o.ID}, batch); diff != "" {
		t.Fatalf("ClaimCancelling after HandOff (-want +got):\n%s", diff)
	}
	got, finished, err := s.FinishCancel(ctx, o.ID)
	if err != nil || !finished || got.Status != orders.StatusCancelled {
		t.Fatalf("FinishCancel = %v, %v, %v", got.Status, finished, err)
	}
	if _, finished, err := s.FinishCancel(ctx, o.ID); err != nil || finished {
		t.Fatalf("FinishCancel twice = %v, %v; want false", finished, err)
	}
	if won, err := s.BeginCancel(ctx, o.ID, time.Hour); err != nil || won {
		t.Fatalf("BeginCancel on a cancelled order = %v, %v; want false", won, err)
	}
}

// Users list only their own orders; pages come newest
// first and, even with orders arriving between pages and orders sharing a
// creation time, never repeat or skip one.
func TestOrdersPagination(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	var want []orders.Order // newest first
	for range 7 {
		want = append([]orders.Order{mustCreate(t, s, "alice")}, want...)
	}
	// Two orders with the same creation time: id breaks the tie.
	same := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	for range 2 {
		o := mustCreate(t, s, "alice")
		if _, err := pool.Exec(ctx, `UPDATE orders SET created_at = $2 WHERE id = $1`, o.ID, same); err != nil {
			t.Fatal(err)
		}
		o.CreatedAt = same
		want = append(want, o)
	}
	if want[7].ID < want[8].ID {
		want[7], want[8] = want[8], want[7]
	}
	// Other users' orders are not listed.
	mustCreate(t, s, "bob")

	var got []orders.Order
	p := orders.PageRequest{Limit: 3}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		page, err := s.Orders(ctx, "alice", p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if page.Next == nil {
			break
		}
		// A newer order arrives between pages; it belongs before page one.
		mustCreate(t, s, "alice")
		p.After = page.Next
	}
	ids := func(list []orders.Order) []string {
		var out []string
		for _, o := range list {
			out = append(out, o.ID)
		}
		return out
	}
	if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
		t.Errorf("listed ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[0], got[0]); diff != "" {
		t.Errorf("first order (-want +got):\n%s", diff)
	}

	bob, err := s.Orders(ctx, "bob", orders.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(bob.Items) != 1 || bob.Items[0].UserID != "bob" || bob.Next != nil {
		t.Errorf("bob's orders = %+v", bob)
	}
}

// Twenty concurrent requests with one key: exactly one wins the claim, the
// others are told the key is in flight; after completion the response is
// replayed; another body is refused.
func TestClaimKeyRace(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	hash := []byte("hash-a")
	const n = 20
	var wg sync.WaitGroup
	claims := make(chan orders.KeyClaim, n)
	var inFlight, other int
	var mu sync.Mutex
	for range n {
		wg.Go(func() {
			claim, stored, err := s.ClaimKey(ctx, "alice", "key-1", hash, time.Hour, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && stored == nil:
				claims <- claim
			case errors.Is(err, orders.ErrKeyInFlight):
				inFlight++
			default:
				other++
				t.Errorf("ClaimKey = %+v, %v", stored, err)
			}
		})
	}
	wg.Wait()
	close(claims)
	if len(claims) != 1 || inFlight != n-1 {
		t.Fatalf("%d winners and %d in flight; want 1 and %d", len(claims), inFlight, n-1)
	}
	claim := <-claims

	// The claim links the order its request creates.
	if _, err := s.Create(ctx, confirmed("alice"), &claim, noLimits); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimKey(ctx, "alice", "key-1", []byte("hash-b"), time.Hour, time.Minute); !errors.Is(err, orders.ErrKeyReused) {
		t.Errorf("another body while in flight: err = %v, want ErrKeyReused", err)
	}
	if err := s.CompleteKey(ctx, claim, 201, []byte(`{"id":"x"}`)); err != nil {
		t.Fatal(err)
	}
	_, stored, err := s.ClaimKey(ctx, "alice", "key-1", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&orders.StoredResponse{Status: 201, Body: []byte(`{"id":"x"}`)}, stored); diff != "" {
		t.Errorf("replay (-want +got):\n%s", diff)
	}
	if _, _, err := s.ClaimKey(ctx, "alice", "key-1", []byte("hash-b"), time.Hour, time.Minute); !errors.Is(err, orders.ErrKeyReused) {
		t.Errorf("another body: err = %v, want ErrKeyReused", err)
	}
	// Keys are per user.
	if _, stored, err := s.ClaimKey(ctx, "bob", "key-1", hash, time.Hour, time.Minute); err != nil || stored != nil {
		t.Errorf("bob's first use of the same key = %+v, %v; want a claim", stored, err)
	}
}

// A request whose outcome was unknown unlocks its key, which keeps its
// order id: the retry takes it over under the same id, and resumes the
// order once it is recorded.
func TestUnlockedAndExpiredKeys(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	hash := []byte("h")

	first, _, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !ident.IsUUIDv7(first.OrderID) || first.Resume != "" {
		t.Fatalf("first claim = %+v, want a UUIDv7 order id and nothing to resume", first)
	}
	if err := s.UnlockKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	second, stored, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil || stored != nil || second.Token == first.Token || second.OrderID != first.OrderID || second.Resume != "" {
		t.Fatalf("claim after unlock = %+v, %+v, %v; want a new token for order id %s", second, stored, err, first.OrderID)
	}
	// The first request lost the key: it can neither record, nor link,
	// nor move, nor unlock it.
	lost := confirmed("alice")
	lost.ID = first.OrderID
	if _, err := s.Create(ctx, lost, &first, noLimits); !errors.Is(err, orders.ErrKeyInFlight) {
		t.Errorf("Create with a lost claim: err = %v, want ErrKeyInFlight", err)
	}
	if _, err := s.Order(ctx, lost.ID); apperr.Code(err) != apperr.NotFound {
		t.Errorf("an order with a lost claim was recorded: err = %v", err)
	}
	if err := s.ReassignKey(ctx, first, first.OrderID, orders.NewID()); !errors.Is(err, orders.ErrKeyInFlight) {
		t.Errorf("ReassignKey with a lost claim: err = %v, want ErrKeyInFlight", err)
	}
	if err := s.UnlockKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute); !errors.Is(err, orders.ErrKeyInFlight) {
		t.Errorf("a lost claim's unlock freed the key: err = %v, want ErrKeyInFlight", err)
	}

	// The claim moves the key to a new id, only from the id it names.
	renewed := orders.NewID()
	if err := s.ReassignKey(ctx, second, orders.NewID(), renewed); !errors.Is(err, orders.ErrKeyInFlight) {
		t.Errorf("ReassignKey from an id the key does not name: err = %v, want ErrKeyInFlight", err)
	}
	if err := s.ReassignKey(ctx, second, second.OrderID, renewed); err != nil {
		t.Fatal(err)
	}
	o := confirmed("alice")
	o.ID = renewed
	if _, err := s.Create(ctx, o, &second, noLimits); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlockKey(ctx, second); err != nil {
		t.Fatal(err)
	}
	third, stored, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil || stored != nil || third.Resume != renewed || third.OrderID != renewed {
		t.Fatalf("claim after the order was recorded = %+v, %+v, %v; want to resume %s", third, stored, err, renewed)
	}
	// A stored response is final: unlocking cannot reopen it.
	if err := s.CompleteKey(ctx, third, 201, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlockKey(ctx, third); err != nil {
		t.Fatal(err)
	}
	if _, stored, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute); err != nil || stored == nil || stored.Status != 201 {
		t.Errorf("claim of a completed key = %+v, %v; want the stored 201", stored, err)
	}

	// A key the previous version of the service claimed has no order id: the take-over
	// gives it one.
	old, _, err := s.ClaimKey(ctx, "alice", "prev", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE idempotency_keys SET order_id = NULL, locked_until = now() WHERE key = 'prev'`); err != nil {
		t.Fatal(err)
	}
	taken, _, err := s.ClaimKey(ctx, "alice", "prev", hash, time.Hour, time.Minute)
	if err != nil || !ident.IsUUIDv7(taken.OrderID) || taken.OrderID == old.OrderID || taken.Resume != "" {
		t.Errorf("take-over of a key with no order id = %+v, %v; want a new order id", taken, err)
	}

	// An expired key is claimed anew, even with another body, and purged.
	expiring, _, err := s.ClaimKey(ctx, "alice", "old", hash, time.Millisecond, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	anew, stored, err := s.ClaimKey(ctx, "alice", "old", []byte("other"), time.Millisecond, time.Minute)
	if err != nil || stored != nil || anew.OrderID == expiring.OrderID {
		t.Fatalf("claim of an expired key = %+v, %+v, %v; want a new order id", anew, stored, err)
	}
	time.Sleep(5 * time.Millisecond)
	if n, err := s.PurgeKeys(ctx, 100); err != nil || n != 1 {
		t.Errorf("PurgeKeys = %d, %v; want 1", n, err)
	}
}

// A request that died holding its key (no answer within the lease) loses
// it: a retry takes over, and resumes the order if it was confirmed.
func TestAbandonedKeys(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	hash := []byte("h")

	dead, _, err := s.ClaimKey(ctx, "alice", "k1", hash, time.Hour, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	o := confirmed("alice")
	if _, err := s.Create(ctx, o, &dead, noLimits); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	retry, stored, err := s.ClaimKey(ctx, "alice", "k1", hash, time.Hour, time.Minute)
	if err != nil || stored != nil || retry.Resume != o.ID {
		t.Fatalf("retry of a dead confirmed request = %+v, %+v, %v; want Resume %s", retry, stored, err, o.ID)
	}
	if err := s.CompleteKey(ctx, dead, 500, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ClaimKey(ctx, "alice", "k1", hash, time.Hour, time.Minute); !errors.Is(err, orders.ErrKeyInFlight) {
		t.Errorf("a dead request's late write must not complete the key: err = %v, want ErrKeyInFlight", err)
	}

	// A dead request that recorded no order: the retry runs again, under
	// the same order id.
	dead, _, err = s.ClaimKey(ctx, "alice", "k2", hash, time.Hour, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	retry, stored, err = s.ClaimKey(ctx, "alice", "k2", hash, time.Hour, time.Minute)
	if err != nil || stored != nil || retry.Resume != "" || retry.Token == dead.Token || retry.OrderID != dead.OrderID {
		t.Fatalf("retry of a dead request with no order = %+v, %+v, %v; want a new claim on order id %s", retry, stored, err, dead.OrderID)
	}
}
