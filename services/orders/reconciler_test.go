package orders_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"bazaar/orders"
)

// The sweep's unit tests run the Reconciler over in-memory fakes of the
// store's sweep position and of the catalog's reservations; the service
// tests (cmd/orders) run it against PostgreSQL.

type sweepStore struct {
	orders.Store // only the methods below are called
	recorded     map[string]bool
	through      string
	moves        int
	// interfere runs before each move, as another replica could.
	interfere func(s *sweepStore)
}

func (s *sweepStore) PurgeKeys(context.Context, int) (int64, error) { return 0, nil }

func (s *sweepStore) ClaimCancelling(context.Context, int, time.Duration) ([]string, error) {
	return nil, nil
}

func (s *sweepStore) Existing(_ context.Context, ids []string) ([]string, error) {
	var found []string
	for _, id := range ids {
		if s.recorded[id] {
			found = append(found, id)
		}
	}
	return found, nil
}

func (s *sweepStore) SweptThrough(context.Context) (string, error) { return s.through, nil }

func (s *sweepStore) AdvanceSweep(_ context.Context, from, to string) (bool, error) {
	if s.interfere != nil {
		s.interfere(s)
	}
	if s.through != from {
		return false, nil
	}
	s.through, s.moves = to, s.moves+1
	return true, nil
}

type sweepCatalog struct {
	orders.Catalog // only the methods below are called
	reserved       []string
	released       []string
	lists          int
	failRelease    string
}

func (c *sweepCatalog) ReservedOrderIDs(_ context.Context, after, before string, limit int) ([]string, error) {
	c.lists++
	var ids []string
	for _, id := range c.reserved {
		if id > after && id < before && len(ids) < limit {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (c *sweepCatalog) Release(_ context.Context, id string) error {
	if id == c.failRelease {
		return errors.New("catalog unreachable")
	}
	c.released = append(c.released, id)
	c.reserved = slices.DeleteFunc(c.reserved, func(r string) bool { return r == id })
	return nil
}

type countSettled struct {
	settled    map[string]int
	sweptUntil time.Time
}

func (m *countSettled) Placed(orders.Order)    {}
func (m *countSettled) Rejected(string)        {}
func (m *countSettled) Cancelled()             {}
func (m *countSettled) Settled(outcome string) { m.settled[outcome]++ }
func (m *countSettled) SweptUntil(t time.Time) { m.sweptUntil = t }

// idAt returns an order id made at t, distinct by n.
func idAt(t time.Time, n byte) string {
	b := []byte("00000000-0000-7000-8000-0000000000")
	ms := t.UnixMilli()
	const hex = "0123456789abcdef"
	for i, pos := range []int{0, 2, 4, 6, 9, 11} {
		v := byte(ms >> (40 - 8*i))
		b[pos], b[pos+1] = hex[v>>4], hex[v&15]
	}
	return string(b) + string([]byte{hex[n>>4], hex[n&15]})
}

// newSweep returns a Reconciler whose clock reads *now.
func newSweep(now *time.Time, store *sweepStore, catalog *sweepCatalog) (*orders.Reconciler, *countSettled) {
	m := &countSettled{settled: map[string]int{}}
	return orders.NewReconciler(orders.ReconcilerConfig{
		Store: store, Catalog: catalog, Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Batch: 2, SweepAfter: time.Minute, Now: func() time.Time { return *now },
	}), m
}

func TestSweepReleasesOnlyOldUnrecordedReservations(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-2*time.Minute), now.Add(-30*time.Second)
	// Five old reservations (two pages and a half), two of them recorded
	// orders, and one young unrecorded one that a request may still record.
	ids := []string{idAt(old, 1), idAt(old, 2), idAt(old, 3), idAt(old, 4), idAt(old, 5), idAt(young, 6)}
	store := &sweepStore{through: "00000000-0000-0000-0000-000000000000", recorded: map[string]bool{ids[1]: true, ids[3]: true}}
	catalog := &sweepCatalog{reserved: slices.Clone(ids)}
	clock := now
	r, m := newSweep(&clock, store, catalog)

	n, err := r.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{ids[0], ids[2], ids[4]}; n != 3 || !cmp.Equal(catalog.released, want) {
		t.Errorf("released %d: %q, want %q", n, catalog.released, want)
	}
	if m.settled[orders.SettledReleased] != 3 {
		t.Errorf("settled = %v, want 3 released", m.settled)
	}
	if store.through >= ids[5] || store.through <= ids[4] {
		t.Errorf("swept through %s, want between the last old id and the young one", store.through)
	}
	if want := now.Add(-time.Minute); !m.sweptUntil.Equal(want) {
		t.Errorf("swept until %v, want %v", m.sweptUntil, want)
	}

	// Once the young reservation is old enough, the next round takes it
	// and asks the catalog only about what it has not seen.
	clock = now.Add(time.Minute)
	lists := catalog.lists
	if n, err := r.RunOnce(t.Context()); err != nil || n != 1 || catalog.released[len(catalog.released)-1] != ids[5] {
		t.Errorf("second round released %d (%v): %q", n, err, catalog.released)
	}
	if catalog.lists-lists != 1 {
		t.Errorf("second round listed %d pages, want 1", catalog.lists-lists)
	}
}

// A release that fails keeps the position, so that a later round retries;
// a position another replica moved ends the round.
func TestSweepRetriesAndYields(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Minute)
	ids := []string{idAt(old, 1), idAt(old, 2), idAt(old, 3)}
	start := "00000000-0000-0000-0000-000000000000"
	store := &sweepStore{through: start, recorded: map[string]bool{}}
	catalog := &sweepCatalog{reserved: slices.Clone(ids), failRelease: ids[1]}
	r, _ := newSweep(&now, store, catalog)

	if _, err := r.RunOnce(t.Context()); err == nil {
		t.Error("a failed release was not reported")
	}
	if store.through != start || !cmp.Equal(catalog.released, ids[:1]) {
		t.Errorf("after a failed release: through %s, released %q; want the position kept", store.through, catalog.released)
	}
	catalog.failRelease = ""
	if _, err := r.RunOnce(t.Context()); err != nil || !cmp.Equal(catalog.released, ids) {
		t.Errorf("retry: %v, released %q; want the other two too", err, catalog.released)
	}

	other := "01000000-0000-0000-0000-000000000000"
	store.through, store.moves = start, 0
	catalog.reserved, catalog.released, catalog.lists = slices.Clone(ids), nil, 0
	store.interfere = func(s *sweepStore) { s.through, s.interfere = other, nil }
	if _, err := r.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if store.through != other || store.moves != 0 || catalog.lists != 1 {
		t.Errorf("through %s after %d moves and %d lists; want the other replica's position kept", store.through, store.moves, catalog.lists)
	}
}
