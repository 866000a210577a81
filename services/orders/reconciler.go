package orders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"bazaar/platform/ident"
	"bazaar/platform/log"
	"bazaar/platform/schedule"
)

// Settlement outcomes counted by Metrics.Settled.
const (
	SettledReleased  = "released"  // stock held for an order that was never recorded was released
	SettledCancelled = "cancelled" // an interrupted cancellation was finished
)

// Reconciler settles what requests left unsettled. Several replicas may
// run one each.
//
// It finishes interrupted cancellations: cancelling orders are claimed
// with a lease, skipping those another replica holds.
//
// It sweeps the catalog's reservations for stock held under order ids that
// were never recorded (the placing request failed, or its process died,
// between the reservation and the record) and releases it. Order ids are
// UUIDv7, ordered by the time they were made, and the catalog refuses to
// reserve for an id older than MaxReservationAge, so once SweepAfter has
// passed since an id was made its reservation can no longer appear, and its
// order is recorded or never will be. The swept position is stored and
// only moves forward, so each reservation is looked at about once.
//
// It also purges expired idempotency keys.
type Reconciler struct {
	cfg ReconcilerConfig
}

// NewReconciler returns a Reconciler over cfg's dependencies.
func NewReconciler(cfg ReconcilerConfig) *Reconciler {
	return &Reconciler{cfg: cfg}
}

// ReconcilerConfig holds what a Reconciler depends on and its timings.
type ReconcilerConfig struct {
	Store   Store
	Catalog Catalog
	Metrics Metrics
	Logger  *slog.Logger
	// Interval is the time between two rounds.
	Interval time.Duration
	// Batch is the most cancellations one round finishes, and the most
	// reservations one request to the catalog lists.
	Batch int
	// Lease is how long a claimed cancellation is held before another
	// round may retry it; it must exceed a catalog call with its retries.
	Lease time.Duration
	// SweepAfter is how old an order id must be before its reservation is
	// swept; it must exceed MaxReservationAge plus the longest a reserve
	// can take to commit, and the clocks' skew between the hosts.
	SweepAfter time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxSweepPages bounds the catalog requests of one round's sweep; a
// backlog drains over a few rounds.
const maxSweepPages = 10

// Run settles a round every Interval until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	schedule.Every(ctx, r.cfg.Interval, func(ctx context.Context) error {
		_, err := r.RunOnce(ctx)
		return err
	}, r.cfg.Logger, "reconcile round failed")
}

// RunOnce runs one round and returns how many orders it settled.
func (r *Reconciler) RunOnce(ctx context.Context) (int, error) {
	purged, err := r.cfg.Store.PurgeKeys(ctx, r.cfg.Batch*10)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	if purged > 0 {
		r.cfg.Logger.DebugContext(ctx, "purged expired idempotency keys", "count", purged)
	}
	cancelled, cerr := r.finishCancels(ctx)
	released, serr := r.sweep(ctx)
	return cancelled + released, errors.Join(cerr, serr)
}

// finishCancels completes the cancellations whose requests did not.
func (r *Reconciler) finishCancels(ctx context.Context) (int, error) {
	ids, err := r.cfg.Store.ClaimCancelling(ctx, r.cfg.Batch, r.cfg.Lease)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	finished := 0
	var errs []error
	for _, id := range ids {
		// The catalog logs the id with each call it answers.
		octx := log.WithRequestID(ctx, "reconcile-"+id)
		if err := r.finishCancel(octx, id); err != nil {
			// The lease expires and a later round retries.
			errs = append(errs, err)
			continue
		}
		finished++
	}
	return finished, errors.Join(errs...)
}

// finishCancel completes a cancellation whose request did not.
func (r *Reconciler) finishCancel(ctx context.Context, id string) error {
	if err := r.cfg.Catalog.Release(ctx, id); err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	_, finished, err := r.cfg.Store.FinishCancel(ctx, id)
	if err != nil {
		return fmt.Errorf("order %s: %w", id, err)
	}
	if finished {
		r.cfg.Metrics.Cancelled()
		r.cfg.Metrics.Settled(SettledCancelled)
		r.cfg.Logger.InfoContext(ctx, "interrupted cancellation finished", "order_id", id)
	}
	return nil
}

// sweep releases the stock held for order ids made between the swept
// position and SweepAfter ago that name no recorded order, and moves the
// position on, page by page.
func (r *Reconciler) sweep(ctx context.Context) (int, error) {
	now := time.Now
	if r.cfg.Now != nil {
		now = r.cfg.Now
	}
	until := firstIDAt(now().Add(-r.cfg.SweepAfter))
	from, err := r.cfg.Store.SweptThrough(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep: %w", err)
	}
	r.cfg.Metrics.SweptUntil(ident.UUIDTime(from))
	released := 0
	for range maxSweepPages {
		if from >= until {
			return released, nil
		}
		ids, err := r.cfg.Catalog.ReservedOrderIDs(ctx, from, until, r.cfg.Batch)
		if err != nil {
			return released, fmt.Errorf("sweep: %w", err)
		}
		n, err := r.releaseUnrecorded(ctx, ids)
		released += n
		if err != nil {
			return released, fmt.Errorf("sweep: %w", err)
		}
		to := until
		if len(ids) == r.cfg.Batch {
			to = ids[len(ids)-1] // a full page: more may follow
		}
		moved, err := r.cfg.Store.AdvanceSweep(ctx, from, to)
		if err != nil {
			return released, fmt.Errorf("sweep: %w", err)
		}
		if !moved {
			return released, nil // another replica swept meanwhile
		}
		from = to
		r.cfg.Metrics.SweptUntil(ident.UUIDTime(from))
	}
	return released, nil
}

// releaseUnrecorded releases the stock of those of ids that name no
// recorded order.
func (r *Reconciler) releaseUnrecorded(ctx context.Context, ids []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	existing, err := r.cfg.Store.Existing(ctx, ids)
	if err != nil {
		return 0, err
	}
	recorded := make(map[string]bool, len(existing))
	for _, id := range existing {
		recorded[id] = true
	}
	released := 0
	for _, id := range ids {
		if recorded[id] {
			continue
		}
		octx := log.WithRequestID(ctx, "reconcile-"+id)
		if err := r.cfg.Catalog.Release(octx, id); err != nil {
			return released, fmt.Errorf("order %s: %w", id, err)
		}
		released++
		r.cfg.Metrics.Settled(SettledReleased)
		r.cfg.Logger.InfoContext(octx, "released the stock of an order that was never recorded", "order_id", id)
	}
	return released, nil
}
