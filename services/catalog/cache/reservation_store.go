package cache

import (
	"context"

	"bazaar/catalog"
)

// ReservationStore is a catalog.ReservationStore that invalidates the
// entries of the products whose stock a call changed, before answering.
// Listing pages hold no stock (see ProductStore), so they stay cached.
type ReservationStore struct {
	inner catalog.ReservationStore
	cache *Cache
}

var _ catalog.ReservationStore = (*ReservationStore)(nil)

// NewReservationStore returns a ReservationStore over inner.
func NewReservationStore(inner catalog.ReservationStore, c *Cache) *ReservationStore {
	return &ReservationStore{inner: inner, cache: c}
}

// Reserve takes stock for an order. A repeated call invalidates again: the
// first one may have committed and then failed to answer.
func (s *ReservationStore) Reserve(ctx context.Context, r catalog.ReservationRequest) (catalog.Reservation, error) {
	res, err := s.inner.Reserve(ctx, r)
	switch {
	case err == nil:
		s.cache.invalidate(ctx, itemIDs(res), false)
	case mayHaveCommitted(err):
		ids := make([]string, len(r.Items))
		for i, line := range r.Items {
			ids[i] = line.ProductID
		}
		s.cache.invalidate(ctx, ids, false)
	}
	return res, err
}

// Release gives an order's stock back.
func (s *ReservationStore) Release(ctx context.Context, orderID string) (catalog.Reservation, error) {
	res, err := s.inner.Release(ctx, orderID)
	switch {
	case err == nil:
		s.cache.invalidate(ctx, itemIDs(res), false)
	case mayHaveCommitted(err):
		// Which products the release touched is only known if the
		// database answers now; if it does not, the entries expire.
		if rec, ferr := s.inner.FindReservation(ctx, orderID); ferr == nil {
			s.cache.invalidate(ctx, itemIDs(rec), false)
		}
	}
	return res, err
}

// FindReservation reads through: reservations are not cached.
func (s *ReservationStore) FindReservation(ctx context.Context, orderID string) (catalog.Reservation, error) {
	return s.inner.FindReservation(ctx, orderID)
}

// Reserved reads through: reservations are not cached.
func (s *ReservationStore) Reserved(ctx context.Context, after, before string, limit int) ([]string, error) {
	return s.inner.Reserved(ctx, after, before, limit)
}

func itemIDs(res catalog.Reservation) []string {
	ids := make([]string, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.ProductID
	}
	return ids
}
