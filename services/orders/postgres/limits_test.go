package postgres_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/orders"
	"bazaar/orders/postgres"
	"bazaar/platform/apperr"
)

// Orders made by confirmed hold 3 units each.
const unitsPerOrder = 3

// mustHold fails the test unless the user's open orders hold want.
func mustHold(t *testing.T, s *postgres.Store, user string, want orders.Holdings) {
	t.Helper()
	got, err := s.Holdings(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s's holdings (-want +got):\n%s", user, diff)
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

// Each limit refuses the order that would take a user past it, records
// nothing of it, and leaves other users alone.
func TestLimitRefusesTheOrderPastIt(t *testing.T) {
	tests := []struct {
		name   string
		limits orders.Limits
		detail string
	}{
		{"open orders", orders.Limits{OpenOrders: 2, ReservedUnits: 1000}, "limit of open orders per user (2)"},
		{"reserved units", orders.Limits{OpenOrders: 1000, ReservedUnits: 2*unitsPerOrder + 2}, "limit of reserved units per user (8)"},
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
			mustHold(t, s, "alice", orders.Holdings{Orders: 2, Units: 2 * unitsPerOrder})
			refused := confirmed("alice")
			_, err := s.Create(ctx, refused, nil, tt.limits)
			mustRefuse(t, err, tt.detail)
			if _, err := s.Order(ctx, refused.ID); apperr.Code(err) != apperr.NotFound {
				t.Errorf("the refused order was recorded: err = %v", err)
			}
			mustHold(t, s, "alice", orders.Holdings{Orders: 2, Units: 2 * unitsPerOrder})
			if _, err := s.Create(ctx, confirmed("bob"), nil, tt.limits); err != nil {
				t.Errorf("another user's order: %v", err)
			}
		})
	}
}

// Twenty placements of one user at once, with room for three orders:
// exactly three are recorded, whichever limit leaves that room.
func TestLimitHoldsUnderConcurrentPlacements(t *testing.T) {
	const n, room = 20, 3
	tests := []struct {
		name   string
		limits orders.Limits
	}{
		{"open orders", orders.Limits{OpenOrders: room, ReservedUnits: 1000}},
		{"reserved units", orders.Limits{OpenOrders: 1000, ReservedUnits: room * unitsPerOrder}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			created, refused := 0, 0
			ready := make(chan struct{})
			for range n {
				wg.Go(func() {
					<-ready
					_, err := s.Create(t.Context(), confirmed("alice"), nil, tt.limits)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						created++
					case apperr.Code(err) == apperr.Conflict:
						refused++
					default:
						t.Errorf("Create = %v", err)
					}
				})
			}
			close(ready)
			wg.Wait()
			if created != room || refused != n-room {
				t.Errorf("%d created and %d refused, want %d and %d", created, refused, room, n-room)
			}
			mustHold(t, s, "alice", orders.Holdings{Orders: room, Units: room * unitsPerOrder})
		})
	}
}

// An order keeps its place while it is being cancelled, since the catalog
// still holds its stock, and gives it up once cancelled. Stock held under
// an order id that no order was recorded under takes none.
func TestCancelledOrderFreesItsPlace(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	one := orders.Limits{OpenOrders: 1, ReservedUnits: 1000}
	if _, _, err := s.ClaimKey(ctx, "alice", "never recorded", []byte("h"), time.Hour, time.Minute); err != nil {
		t.Fatal(err)
	}
	o := confirmed("alice")
	if _, err := s.Create(ctx, o, nil, one); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, confirmed("alice"), nil, one)
	mustRefuse(t, err, "limit of open orders per user (1)")

	if won, err := s.BeginCancel(ctx, o.ID, time.Hour); err != nil || !won {
		t.Fatalf("BeginCancel = %v, %v", won, err)
	}
	mustHold(t, s, "alice", orders.Holdings{Orders: 1, Units: unitsPerOrder})
	_, err = s.Create(ctx, confirmed("alice"), nil, one)
	mustRefuse(t, err, "limit of open orders per user (1)")

	if _, finished, err := s.FinishCancel(ctx, o.ID); err != nil || !finished {
		t.Fatalf("FinishCancel = %v, %v", finished, err)
	}
	mustHold(t, s, "alice", orders.Holdings{})
	if _, err := s.Create(ctx, confirmed("alice"), nil, one); err != nil {
		t.Errorf("an order after the cancellation: %v", err)
	}
}

// A user at the limit still gets the answers of requests already placed
// with an idempotency key: the stored response, or the recorded order to
// resume. An order recorded by a retry, after an attempt that recorded
// nothing, counts once.
func TestLimitKeepsIdempotentRetries(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	one := orders.Limits{OpenOrders: 1, ReservedUnits: 1000}
	hash := []byte("h")

	first, _, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt recorded nothing (its outcome was unknown); the
	// retry takes the key over and records the order under the same id.
	if err := s.UnlockKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	retry, _, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	o := confirmed("alice")
	o.ID = retry.OrderID
	if _, err := s.Create(ctx, o, &retry, one); err != nil {
		t.Fatalf("the retry's order: %v", err)
	}
	mustHold(t, s, "alice", orders.Holdings{Orders: 1, Units: unitsPerOrder})

	// Its response was not stored: the next retry resumes the order.
	if err := s.UnlockKey(ctx, retry); err != nil {
		t.Fatal(err)
	}
	resumed, stored, err := s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil || stored != nil || resumed.Resume != o.ID {
		t.Fatalf("claim at the limit = %+v, %+v, %v; want to resume %s", resumed, stored, err, o.ID)
	}
	if err := s.CompleteKey(ctx, resumed, 201, []byte(`{"id":"`+o.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	_, stored, err = s.ClaimKey(ctx, "alice", "k", hash, time.Hour, time.Minute)
	if err != nil || stored == nil || stored.Status != 201 {
		t.Errorf("claim of a completed key at the limit = %+v, %v; want the stored 201", stored, err)
	}
	mustHold(t, s, "alice", orders.Holdings{Orders: 1, Units: unitsPerOrder})
}
