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
	// Create records o, confirmed, with its items, and returns when it was
	// created. With a claim, the same statement links the order to the
	// idempotency key; it fails with ErrKeyInFlight, recording nothing,
	// when the claim was lost. The same statement also counts o in its
	// user's Totals, or, when o would take them past limits, records
	// nothing and fails with the error of limits.Allow: placements at the
	// same time cannot pass a limit together.
	Create(ctx context.Context, o Order, claim *KeyClaim, limits Limits) (time.Time, error)
	// Order returns the order with id, or a NotFound error.
	Order(ctx context.Context, id string) (Order, error)
	// Orders returns a page of the user's orders, newest first.
	Orders(ctx context.Context, userID string, p PageRequest) (Page, error)
	// BeginCancel moves a confirmed order, or a cancelling one whose
	// previous attempt gave up, to cancelling, held for lease. It reports
	// false when the order is in no such state.
	BeginCancel(ctx context.Context, id string, lease time.Duration) (bool, error)
	// HandOff makes a cancelling order due for the Reconciler at once.
	HandOff(ctx context.Context, id string) error
	// FinishCancel moves a cancelling order to cancelled, and takes it out
	// of its user's Totals in the same statement. It reports false when the
	// order was not cancelling (someone else finished it).
	FinishCancel(ctx context.Context, id string) (Order, bool, error)
	// ClaimCancelling claims up to limit cancelling orders that are due,
	// holding each for lease, without waiting for orders another replica
	// holds, and returns their ids.
	ClaimCancelling(ctx context.Context, limit int, lease time.Duration) ([]string, error)
	// Existing returns those of ids that name recorded orders.
	Existing(ctx context.Context, ids []string) ([]string, error)
	// SweptThrough returns the order id up to which the Reconciler has
	// checked the catalog's reservations (see Reconciler).
	SweptThrough(ctx context.Context) (string, error)
	// AdvanceSweep moves the swept position from from to to. It reports
	// false when another replica moved it first.
	AdvanceSweep(ctx context.Context, from, to string) (bool, error)
	// ReassignKey moves the claimed idempotency key from order id oldID to
	// newID. It fails with ErrKeyInFlight, changing nothing, when the claim
	// was lost or the key no longer names oldID.
	ReassignKey(ctx context.Context, claim KeyClaim, oldID, newID string) error
	// PurgeKeys deletes up to limit expired idempotency keys.
	PurgeKeys(ctx context.Context, limit int) (int64, error)
}

// Metrics counts what happens to orders.
type Metrics interface {
	Placed(o Order)
	Rejected(reason string)
	Cancelled()
	Settled(outcome string)
	// SweptUntil says that no order id made before t holds stock without
	// an order any more: the sweep position's time.
	SweptUntil(t time.Time)
}

// ServiceConfig holds what a Service depends on.
type ServiceConfig struct {
	Store   Store
	Catalog Catalog
	Metrics Metrics
	Logger  *slog.Logger
	// CancelLease is how long an order may stay cancelling before the
	// Reconciler takes it over. It must exceed the longest a catalog call
	// with its retries can take.
	CancelLease time.Duration
	// Limits bound each user's open orders.
	Limits Limits
}

// Service places, reads and cancels orders.
type Service struct {
	cfg ServiceConfig
}

// NewService returns a Service over cfg's dependencies.
func NewService(cfg ServiceConfig) *Service {
	return &Service{cfg: cfg}
}

// Place reserves the stock of p at the catalog under an order id, and then
// records the order confirmed with the catalog's prices (see the package
// documentation). Without a claim the order id is new. With one, it is the
// claim's, the same for every attempt with the idempotency key, so that a
// retry holds no more stock than one attempt does, and the order is linked
// to the key. A claim that names a recorded order (Resume) is not for
// Place: the caller answers with that order.
//
// The user's Limits are enforced when the order is recorded, in the same
// statement (see the package documentation); an order refused there gives
// its stock back. Only an order larger than the limit of units by itself
// is refused before anything is reserved.
func (s *Service) Place(ctx context.Context, userID string, p Placement, claim *KeyClaim) (Order, error) {
	lines := p.Lines()
	for _, l := range lines {
		if !ident.IsUUID(l.ProductID) {
			s.cfg.Metrics.Rejected(ReasonUnknownProduct)
			return Order{}, apperr.Errorf(apperr.Unprocessable, "No product has id %s.", quote(l.ProductID))
		}
	}
	if r, ok := rejectionOf(s.cfg.Limits.Allow(Totals{}, p.Units())); ok {
		s.cfg.Metrics.Rejected(r.reason)
		return Order{}, r.err
	}
	id := NewID()
	if claim != nil {
		id = claim.OrderID
	}
	res, err := s.cfg.Catalog.Reserve(ctx, id, lines)
	if errors.Is(err, ErrReservationReleased) && claim != nil {
		// An earlier attempt with the key made the id too long ago (or
		// its stock was released).
		if id, err = s.renew(ctx, claim); err != nil {
			return Order{}, err
		}
		res, err = s.cfg.Catalog.Reserve(ctx, id, lines)
	}
	if r, ok := rejectionOf(err); ok {
		s.cfg.Metrics.Rejected(r.reason)
		return Order{}, r.err
	}
	if err != nil {
		// With a key, the id stays held for a retry, which reserves under
		// it again (or else the Reconciler's sweep releases it): releasing
		// it here could take the stock of an order that a retry, having
		// taken the key over, is recording under the same id.
		if claim == nil {
			s.release(ctx, id)
		}
		return Order{}, unknownOutcome("place: reserve "+id, claim, err)
	}
	items, total, currency, err := Price(lines, res)
	if err != nil {
		// The stock is held but the order cannot stand, now or on a retry
		// (it would be priced alike): give it back.
		s.release(ctx, id)
		if r, ok := rejectionOf(err); ok {
			s.cfg.Metrics.Rejected(r.reason)
			return Order{}, r.err
		}
		return Order{}, unknownOutcome("place: price "+id, claim, err)
	}
	o := Order{ID: id, UserID: userID, Status: StatusConfirmed, Items: items, TotalCents: total, Currency: currency}
	if o.CreatedAt, err = s.cfg.Store.Create(ctx, o, claim, s.cfg.Limits); err != nil {
		if errors.Is(err, ErrKeyInFlight) {
			// Nothing was recorded: another request took the key, and the
			// order id with it, over; its stock is that request's now.
			return Order{}, err
		}
		if r, ok := rejectionOf(err); ok {
			// Nothing was recorded: the user's open orders leave no room
			// for this one. As for an order priced in several currencies,
			// the refusal is final (a retry with the key replays it), so
			// the stock goes back.
			s.release(ctx, id)
			s.cfg.Metrics.Rejected(r.reason)
			return Order{}, r.err
		}
		// The order may or may not have been recorded, so its stock must
		// stay: a retry with the key resumes the order or records it, and
		// otherwise the Reconciler's sweep releases it if it was not.
		return Order{}, unknownOutcome("place: record "+id, claim, err)
	}
	s.cfg.Metrics.Placed(o)
	return o, nil
}

// renew moves the claim's key to a new order id when the catalog refuses
// to reserve under its id, which is too old (or was released). The old id
// is released first, so that nothing an earlier attempt reserved under it
// stays held: its order was not recorded (ClaimKey resumes it then), and
// none can be any more, since the catalog refuses the id.
func (s *Service) renew(ctx context.Context, claim *KeyClaim) (string, error) {
	old, id := claim.OrderID, NewID()
	if err := s.cfg.Catalog.Release(ctx, old); err != nil {
		return "", unknownOutcome("place: release "+old, claim, err)
	}
	if err := s.cfg.Store.ReassignKey(ctx, *claim, old, id); err != nil {
		if errors.Is(err, ErrKeyInFlight) {
			return "", err
		}
		return "", unknownOutcome("place: reassign "+old, claim, err)
	}
	claim.OrderID = id
	return id, nil
}

// release gives back the stock the catalog may hold for an order that is
// not recorded, and makes sure no reserve still in flight can take more.
// Should the catalog be unreachable, the Reconciler's sweep releases it.
func (s *Service) release(ctx context.Context, id string) {
	if err := s.cfg.Catalog.Release(context.WithoutCancel(ctx), id); err != nil {
		s.cfg.Logger.WarnContext(ctx, "releasing the stock of an unrecorded order failed; the reconciler will", "order_id", id, "err", err)
	}
}

// Order returns the order with id if v may see it, else a NotFound error.
func (s *Service) Order(ctx context.Context, v Viewer, id string) (Order, error) {
	notFound := apperr.Errorf(apperr.NotFound, "No order has id %s.", quote(id))
	if !ident.IsUUID(id) {
		return Order{}, notFound
	}
	o, err := s.cfg.Store.Order(ctx, id)
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
	return s.cfg.Store.Orders(ctx, userID, p)
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
	won, err := s.cfg.Store.BeginCancel(ctx, id, s.cfg.CancelLease)
	if err != nil {
		return Order{}, fmt.Errorf("cancel: %w", err)
	}
	if !won {
		if o.Status == StatusConfirmed {
			// It changed since we read it; say how it stands now.
			if o, err = s.cfg.Store.Order(ctx, id); err != nil {
				return Order{}, fmt.Errorf("cancel: %w", err)
			}
		}
		if o.Status == StatusCancelled {
			return Order{}, apperr.Errorf(apperr.Conflict, "Order %s is already cancelled.", id)
		}
		return Order{}, apperr.Errorf(apperr.Conflict, "Order %s is being cancelled by another request.", id)
	}
	if err := s.cfg.Catalog.Release(ctx, id); err != nil {
		if herr := s.cfg.Store.HandOff(ctx, id); herr != nil {
			s.cfg.Logger.WarnContext(ctx, "handing a cancellation to the reconciler failed; it takes over after its lease", "order_id", id, "err", herr)
		}
		return Order{}, fmt.Errorf("cancel: release %s: %w (%w)", id, &apperr.Error{
			Code:    apperr.Unavailable,
			Message: "The order is being cancelled, but the catalog could not take the stock back yet; it will be finished shortly.",
		}, err)
	}
	o, finished, err := s.cfg.Store.FinishCancel(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("cancel: %w", err)
	}
	if finished {
		s.cfg.Metrics.Cancelled()
	}
	return o, nil
}
