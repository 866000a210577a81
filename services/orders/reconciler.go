package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"bazaar/platform/log"
)

// Settlement outcomes counted by Metrics.Settled.
const (
	SettledReleased        = "released"         // a pending order's reservation was found and released
	SettledNone            = "none"             // nothing was reserved; a tombstone now blocks a late reserve
	SettledAlreadyReleased = "already_released" // the catalog had released it already
	SettledCancelled       = "cancelled"        // an interrupted cancellation was finished
)

// Reconciler settles what requests left unsettled: pending orders whose
// reservation's outcome is unknown become failed after their stock is
// released, interrupted cancellations are finished, and expired idempotency
// keys are purged. Several replicas may run one each: orders are claimed
// with a lease, skipping those another replica holds.
type Reconciler struct {
	Store   Store
	Catalog Catalog
	Metrics Metrics
	Logger  *slog.Logger
	// Interval is the time between two rounds.
	Interval time.Duration
	// Batch is the most orders one round settles.
	Batch int
	// Lease is how long a claimed order is held before another round may
	// retry it; it must exceed two catalog calls with their retries.
	Lease time.Duration
}

// Run settles a round every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	t := time.NewTicker(r.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
				r.Logger.WarnContext(ctx, "reconcile round failed", "err", err)
			}
		}
	}
}

// RunOnce runs one round and returns how many orders it settled.
func (r *Reconciler) RunOnce(ctx context.Context) (int, error) {
	purged, err := r.Store.PurgeKeys(ctx, r.Batch*10)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	if purged > 0 {
		r.Logger.DebugContext(ctx, "purged expired idempotency keys", "count", purged)
	}
	batch, err := r.Store.ClaimUnsettled(ctx, r.Batch, r.Lease)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	settled := 0
	var errs []error
	for _, u := range batch {
		// The catalog logs the id with each call it answers.
		octx := log.WithRequestID(ctx, "reconcile-"+u.ID)
		var err error
		switch u.Status {
		case StatusPending:
			err = r.settlePending(octx, u.ID)
		case StatusCancelling:
			err = r.finishCancel(octx, u.ID)
		default:
			err = fmt.Errorf("order %s: cannot settle status %q", u.ID, u.Status)
		}
		if err != nil {
			// The lease expires and a later round retries.
			errs = append(errs, err)
			continue
		}
		settled++
	}
	return settled, errors.Join(errs...)
}

// settlePending releases whatever the catalog holds for a pending order,
// including nothing (the release then leaves a tombstone so that a reserve
// still in flight cannot succeed), and fails the order.
func (r *Reconciler) settlePending(ctx context.Context, id string) error {
	outcome := SettledReleased
	res, err := r.Catalog.Reservation(ctx, id)
	switch {
	case errors.Is(err, ErrNoReservation):
		outcome = SettledNone
	case err != nil:
		return fmt.Errorf("order %s: %w", id, err)
	case res.Status == Released:
		outcome = SettledAlreadyReleased
	}
	if outcome != SettledAlreadyReleased {
		if err := r.Catalog.Release(ctx, id); err != nil {
			return fmt.Errorf("order %s: %w", id, err)
		}
	}
	failed, err := r.Store.Fail(ctx, id)
	if err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	if failed {
		r.Metrics.Settled(outcome)
		r.Logger.InfoContext(ctx, "pending order failed", "order_id", id, "reservation", outcome)
	}
	return nil
}

// finishCancel completes a cancellation whose request did not.
func (r *Reconciler) finishCancel(ctx context.Context, id string) error {
	if err := r.Catalog.Release(ctx, id); err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	_, finished, err := r.Store.FinishCancel(ctx, id)
	if err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	if finished {
		r.Metrics.Cancelled()
		r.Metrics.Settled(SettledCancelled)
		r.Logger.InfoContext(ctx, "interrupted cancellation finished", "order_id", id)
	}
	return nil
}
