package cache

import (
	"context"

	"bazaar/catalog"
	"bazaar/platform/ident"
)

// ReservationService is a catalog.ReservationService that invalidates the
// entries of the products whose stock a call changed, before answering.
// Listing pages hold no stock (see ProductService), so they stay cached.
type ReservationService struct {
	inner catalog.ReservationService
	cache *Cache
}

var _ catalog.ReservationService = (*ReservationService)(nil)

// NewReservationService returns a ReservationService over inner.
func NewReservationService(inner catalog.ReservationService, c *Cache) *ReservationService {
	return &ReservationService{inner: inner, cache: c}
}

// Reserve takes stock for an order. A repeated call invalidates again: the
// first one may have committed and then failed to answer.
func (s *ReservationService) Reserve(ctx context.Context, r catalog.ReservationRequest) (catalog.Reservation, error) {
	res, err := s.inner.Reserve(ctx, r)
	switch {
	case err == nil:
		s.cache.invalidate(ctx, itemIDs(res), false)
	case mayHaveCommitted(err):
		var ids []string
		for _, line := range r.Items {
			if ident.IsUUID(line.ProductID) {
				ids = append(ids, catalog.NormalizeID(line.ProductID))
			}
		}
		s.cache.invalidate(ctx, ids, false)
	}
	return res, err
}

// Release gives an order's stock back.
func (s *ReservationService) Release(ctx context.Context, orderID string) (catalog.Reservation, error) {
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
func (s *ReservationService) FindReservation(ctx context.Context, orderID string) (catalog.Reservation, error) {
	return s.inner.FindReservation(ctx, orderID)
}

// Reserved reads through: reservations are not cached.
func (s *ReservationService) Reserved(ctx context.Context, after, before string, limit int) ([]string, error) {
	return s.inner.Reserved(ctx, after, before, limit)
}

func itemIDs(res catalog.Reservation) []string {
	ids := make([]string, len(res.Items))
	for i, it := range res.Items {
		ids[i] = it.ProductID
	}
	return ids
}
