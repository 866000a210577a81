package orders

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"bazaar/platform/apperr"
)

// Catalog is the catalog's stock reservation API, as orders uses it.
//
// Reserve fails with an *apperr.Error coded apperr.OutOfStock or
// apperr.Unprocessable when the catalog refused the reservation (nothing is
// reserved then), with ErrReservationReleased when the order id was
// released before or is too old to reserve, and with any other error when
// the outcome is unknown.
type Catalog interface {
	Reserve(ctx context.Context, orderID string, lines []Line) (Reservation, error)
	// Release puts the order's reserved stock back, or records that nothing
	// may be reserved for it any more. It is idempotent.
	Release(ctx context.Context, orderID string) error
	// ReservedOrderIDs returns, in ascending order, up to limit ids of
	// orders for which the catalog holds stock, from those between after
	// and before (both excluded).
	ReservedOrderIDs(ctx context.Context, after, before string, limit int) ([]string, error)
}

// MaxReservationAge is how old an order id may be when the catalog is asked
// to reserve stock for it; the catalog refuses older ids.
const MaxReservationAge = 30 * time.Second

// Reservation statuses at the catalog.
const (
	Reserved = "reserved"
	Released = "released"
)

// Reservation is the catalog's record of the stock held for one order.
type Reservation struct {
	OrderID string         `json:"order_id"`
	Status  string         `json:"status"`
	Items   []ReservedItem `json:"items"`
}

// ReservedItem is one reserved line, priced by the catalog at reservation
// time.
type ReservedItem struct {
	ProductID      string `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Currency       string `json:"currency"`
}

// ErrReservationReleased says the catalog will not reserve stock for the
// order id: it was released before, or it is too old.
var ErrReservationReleased = errors.New("the order id was released or is too old to reserve")

// errBadReservation says the catalog's answer does not match the request;
// the reservation's meaning is then unknown and it must be released.
var errBadReservation = errors.New("catalog's reservation does not match the order")

// Reasons an order is rejected, as counted by Metrics.Rejected.
const (
	ReasonOutOfStock     = "out_of_stock"
	ReasonUnknownProduct = "unknown_product"
	ReasonMixedCurrency  = "mixed_currency"
	ReasonTotalTooLarge  = "total_too_large"
)

// rejectionError is a definitive refusal of an order: the client's answer
// and the reason recorded for it.
type rejectionError struct {
	reason string
	err    *apperr.Error
}

func (e *rejectionError) Error() string { return e.reason + ": " + e.err.Error() }

// Unwrap exposes the client's error, so that callers who only look for an
// *apperr.Error find it.
func (e *rejectionError) Unwrap() error { return e.err }

// Price turns the catalog's answer into the order's items, total and
// currency. Items follow the order of lines. It refuses an answer that does
// not reserve exactly the requested lines (errBadReservation), and rejects
// orders whose lines are priced in different currencies or whose total does
// not fit in int64 cents.
func Price(lines []Line, res Reservation) (items []Item, total int64, currency string, err error) {
	if res.Status != Reserved || len(res.Items) != len(lines) {
		return nil, 0, "", errBadReservation
	}
	byID := make(map[string]ReservedItem, len(res.Items))
	for _, ri := range res.Items {
		byID[ri.ProductID] = ri
	}
	items = make([]Item, len(lines))
	for i, l := range lines {
		ri, ok := byID[l.ProductID]
		if !ok || ri.Quantity != l.Quantity || ri.UnitPriceCents < 0 || ri.Currency == "" {
			return nil, 0, "", errBadReservation
		}
		if currency == "" {
			currency = ri.Currency
		} else if ri.Currency != currency {
			return nil, 0, "", &rejectionError{reason: ReasonMixedCurrency, err: apperr.Errorf(apperr.Unprocessable,
				"The products are priced in different currencies (%s and %s); order them separately.", currency, ri.Currency)}
		}
		sub, ok := mulInt64(ri.UnitPriceCents, int64(l.Quantity))
		if ok {
			total, ok = addInt64(total, sub)
		}
		if !ok {
			return nil, 0, "", &rejectionError{reason: ReasonTotalTooLarge, err: apperr.Errorf(apperr.Unprocessable,
				"The order's total is too large; split it into smaller orders.")}
		}
		items[i] = Item{ProductID: l.ProductID, SKU: ri.SKU, Name: ri.Name, Quantity: l.Quantity, UnitPriceCents: ri.UnitPriceCents}
	}
	return items, total, currency, nil
}

// rejectionOf tells whether err is a definitive refusal, from Price or from
// the catalog, and why.
func rejectionOf(err error) (*rejectionError, bool) {
	var re *rejectionError
	if errors.As(err, &re) {
		return re, true
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case apperr.OutOfStock:
			return &rejectionError{reason: ReasonOutOfStock, err: ae}, true
		case apperr.Unprocessable:
			return &rejectionError{reason: ReasonUnknownProduct, err: ae}, true
		}
	}
	return nil, false
}

func mulInt64(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	if a > math.MaxInt64/b {
		return 0, false
	}
	return a * b, true
}

func addInt64(a, b int64) (int64, bool) {
	if a > math.MaxInt64-b {
		return 0, false
	}
	return a + b, true
}

// unknownOutcome is the client's answer when the order could not be
// confirmed in time: it may have been recorded, or may hold stock at the
// catalog. With an idempotency key (claim), a retry with the key learns
// which and never places the order twice; without one, the Service or,
// failing it, the Reconciler's sweep releases stock that no order holds.
func unknownOutcome(op string, claim *KeyClaim, err error) error {
	msg := "The order could not be confirmed in time and may or may not stand. Look for it among your orders before placing it again; an Idempotency-Key makes retrying safe."
	if claim != nil {
		msg = "The order could not be confirmed in time and may or may not stand. Retry with the same Idempotency-Key to learn which; it will not be placed twice."
	}
	return fmt.Errorf("%s: %w (%w)", op, &apperr.Error{Code: apperr.Unavailable, Message: msg}, err)
}
