package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// Store keeps orders. Every status change is a conditional write that
// succeeds only from the status the status machine expects, so concurrent
// requests and reconcilers never both win.
type Store interface {
	// CreatePending inserts o as pending, to be settled by the Reconciler
	// after settleAfter unless its request settles it first. With a claim,
	// the same transaction links the order to the idempotency key; it fails
	// with an InFlight error when the claim was lost.
	CreatePending(ctx context.Context, o Order, claim *KeyClaim, settleAfter time.Duration) error
	// Settle moves a pending order that no Reconciler has claimed yet to
	// s.Status, or fails with ErrTakenOver.
	Settle(ctx context.Context, id string, s Settlement) (Order, error)
	// Order returns the order with id, or a NotFound error.
	Order(ctx context.Context, id string) (Order, error)
	// Orders returns a page of the user's visible orders, newest first.
	Orders(ctx context.Context, userID string, p PageRequest) (Page, error)
	// BeginCancel moves a confirmed order, or a cancelling one whose
	// previous attempt gave up, to cancelling, held for lease. It reports
	// false when the order is in no such state.
	BeginCancel(ctx context.Context, id string, lease time.Duration) (bool, error)
	// HandOff makes a cancelling order due for the Reconciler at once.
	HandOff(ctx context.Context, id string) error
	// FinishCancel moves a cancelling order to cancelled. It reports false
	// when the order was not cancelling (someone else finished it).
	FinishCancel(ctx context.Context, id string) (Order, bool, error)
	// ClaimUnsettled claims up to limit pending or cancelling orders that
	// are due, holding each for lease, without waiting for orders another
	// replica holds.
	ClaimUnsettled(ctx context.Context, limit int, lease time.Duration) ([]Unsettled, error)
	// Fail moves a pending order to failed. It reports false when the order
	// was no longer pending.
	Fail(ctx context.Context, id string) (bool, error)
	// PurgeKeys deletes up to limit expired idempotency keys.
	PurgeKeys(ctx context.Context, limit int) (int64, error)
}

// Settlement is how a pending order's request settles it.
type Settlement struct {
	Status     Status // StatusConfirmed or StatusRejected
	Items      []Item
	TotalCents int64
	Currency   string
	Reason     string // why it was rejected
}

// Unsettled is an order the Reconciler claimed.
type Unsettled struct {
	ID     string
	Status Status // StatusPending or StatusCancelling
}

// ErrTakenOver says the Reconciler claimed a pending order before its own
// request could settle it; the Reconciler will fail it.
var ErrTakenOver = errors.New("the reconciler took the order over")

// Metrics counts what happens to orders.
type Metrics interface {
	Placed(o Order)
	Rejected(reason string)
	Cancelled()
	Settled(outcome string)
}

// Service places, reads and cancels orders.
type Service struct {
	Store   Store
	Catalog Catalog
	Metrics Metrics
	Logger  *slog.Logger
	// SettleAfter is how long an order may stay pending or cancelling
	// before the Reconciler takes it over. It must exceed the longest a
	// catalog call with its retries can take.
	SettleAfter time.Duration
}

// Place creates an order for userID: pending first, then reserved at the
// catalog and confirmed with the catalog's prices (see the package
// documentation). With a claim, the order is linked to the idempotency key.
func (s *Service) Place(ctx context.Context, userID string, p Placement, claim *KeyClaim) (Order, error) {
	lines := p.Lines()
	for _, l := range lines {
		if !ident.IsUUID(l.ProductID) {
			s.Metrics.Rejected(ReasonUnknownProduct)
			return Order{}, apperr.Errorf(apperr.Unprocessable, "No product has id %s.", quote(l.ProductID))
		}
	}
	o := Order{ID: NewID(), UserID: userID, Status: StatusPending}
	if err := s.Store.CreatePending(ctx, o, claim, s.SettleAfter); err != nil {
		return Order{}, fmt.Errorf("place: %w", err)
	}
	res, err := s.Catalog.Reserve(ctx, o.ID, lines)
	if err != nil {
		if r, ok := rejectionOf(err); ok {
			return Order{}, s.reject(ctx, o.ID, r)
		}
		return Order{}, unknownOutcome("place: reserve "+o.ID, err)
	}
	items, total, currency, err := Price(lines, res)
	if err != nil {
		// The stock is held but the order cannot stand: give it back. If
		// that fails the order stays pending and the Reconciler releases.
		if rerr := s.Catalog.Release(ctx, o.ID); rerr != nil {
			s.Logger.WarnContext(ctx, "release after a refused reservation failed; the reconciler will retry", "order_id", o.ID, "err", rerr)
			if r, ok := rejectionOf(err); ok {
				s.Metrics.Rejected(r.reason)
				return Order{}, r.err
			}
			return Order{}, unknownOutcome("place: release "+o.ID, err)
		}
		if r, ok := rejectionOf(err); ok {
			return Order{}, s.reject(ctx, o.ID, r)
		}
		return Order{}, unknownOutcome("place: price "+o.ID, err)
	}
	o, err = s.Store.Settle(ctx, o.ID, Settlement{Status: StatusConfirmed, Items: items, TotalCents: total, Currency: currency})
	if err != nil {
		// Stock is held but the order is not confirmed: the Reconciler
		// releases it and fails the order.
		return Order{}, unknownOutcome("place: confirm "+o.ID, err)
	}
	s.Metrics.Placed(o)
	return o, nil
}

// reject records a refused order and returns the client's error.
func (s *Service) reject(ctx context.Context, id string, r *rejectionError) error {
	if _, err := s.Store.Settle(ctx, id, Settlement{Status: StatusRejected, Reason: r.reason}); err != nil {
		// Nothing is reserved; a pending order left behind is failed by
		// the Reconciler, so the client's answer stands.
		s.Logger.WarnContext(ctx, "recording a rejected order failed", "order_id", id, "err", err)
	}
	s.Metrics.Rejected(r.reason)
	return r.err
}

// Order returns the order with id if v may see it, else a NotFound error.
func (s *Service) Order(ctx context.Context, v Viewer, id string) (Order, error) {
	notFound := apperr.Errorf(apperr.NotFound, "No order has id %s.", quote(id))
	if !ident.IsUUID(id) {
		return Order{}, notFound
	}
	o, err := s.Store.Order(ctx, id)
	if apperr.Code(err) == apperr.NotFound {
		return Order{}, notFound
	}
	if err != nil {
		return Order{}, err
	}
	if !v.CanSee(o) {
		return Order{}, notFound
	}
	return o, nil
}

// Orders returns a page of the user's own visible orders, newest first.
func (s *Service) Orders(ctx context.Context, userID string, p PageRequest) (Page, error) {
	return s.Store.Orders(ctx, userID, p)
}

// Cancel cancels a confirmed order that v may see and gives its stock back.
// Cancelling an order that is cancelled, or being cancelled by another
// request, is a Conflict. If the catalog cannot be reached the order stays
// cancelling, the client gets a 503, and a retry or the Reconciler finishes.
func (s *Service) Cancel(ctx context.Context, v Viewer, id string) (Order, error) {
	o, err := s.Order(ctx, v, id)
	if err != nil {
		return Order{}, err
	}
	won, err := s.Store.BeginCancel(ctx, id, s.SettleAfter)
	if err != nil {
		return Order{}, fmt.Errorf("cancel: %w", err)
	}
	if !won {
		if o.Status == StatusConfirmed {
			// It changed since we read it; say how it stands now.
			if o, err = s.Store.Order(ctx, id); err != nil {
				return Order{}, fmt.Errorf("cancel: %w", err)
			}
		}
		if o.Status == StatusCancelled {
			return Order{}, apperr.Errorf(apperr.Conflict, "Order %s is already cancelled.", id)
		}
		return Order{}, apperr.Errorf(apperr.Conflict, "Order %s is being cancelled by another request.", id)
	}
	if err := s.Catalog.Release(ctx, id); err != nil {
		if herr := s.Store.HandOff(ctx, id); herr != nil {
			s.Logger.WarnContext(ctx, "handing a cancellation to the reconciler failed; it takes over after its lease", "order_id", id, "err", herr)
		}
		return Order{}, fmt.Errorf("cancel: release %s: %w (%w)", id, &apperr.Error{
			Code:    apperr.Unavailable,
			Message: "The order is being cancelled, but the catalog could not take the stock back yet; it will be finished shortly.",
		}, err)
	}
	o, finished, err := s.Store.FinishCancel(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("cancel: %w", err)
	}
	if finished {
		s.Metrics.Cancelled()
	}
	return o, nil
}
