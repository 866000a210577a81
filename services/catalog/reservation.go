package catalog

import (
	"errors"
	"fmt"
	"time"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// Reservation statuses. A released reservation with no items is a tombstone:
// a release that arrived before (or instead of) its reservation, which makes
// any later reservation under the same order id fail.
const (
	StatusReserved = "reserved"
	StatusReleased = "released"
)

// Limits of a reservation request.
const (
	MaxReservationLines = 100
	MaxLineQuantity     = 1000
)

// MaxReservationAge is how long after making an order id stock may be
// reserved under it, by the catalog's clock. Order ids are UUIDv7, which
// carry the time they were made; an older id is refused, a replay included.
// So once an order id is older than this (plus the time a reservation takes
// to commit), no reservation can appear under it any more, and the orders
// service can release whatever is reserved under the ids it never recorded,
// for good.
const MaxReservationAge = 30 * time.Second

// ReservationRequest asks to take stock for every line of an order, all or
// nothing. OrderID makes it idempotent.
type ReservationRequest struct {
	OrderID string            `json:"order_id"`
	Items   []ReservationLine `json:"items"`
}

// ReservationLine is one product and how many units of it to reserve.
type ReservationLine struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Normalize validates r and returns it with its ids in canonical lowercase
// form. Malformed requests, and an order id that is not a UUIDv7, are
// Invalid. An order id made more than MaxReservationAge before now is a
// Conflict (OrderExpired). A product id that is not a UUID is
// Unprocessable, as an unknown product is: callers pass their clients' ids
// through, whatever their form.
func (r ReservationRequest) Normalize(now time.Time) (ReservationRequest, error) {
	var v apperr.Validation
	v.Check(ident.IsUUIDv7(r.OrderID), "order_id", "must be a UUIDv7")
	v.Check(len(r.Items) >= 1 && len(r.Items) <= MaxReservationLines, "items", "must hold 1 to 100 lines")
	out := ReservationRequest{OrderID: NormalizeID(r.OrderID), Items: make([]ReservationLine, len(r.Items))}
	seen := make(map[string]bool, len(r.Items))
	unknown := -1
	for i, line := range r.Items {
		id := NormalizeID(line.ProductID)
		v.Check(line.Quantity >= 1 && line.Quantity <= MaxLineQuantity, fmt.Sprintf("items[%d].quantity", i), "must be an integer from 1 to 1000")
		v.Check(!seen[id], fmt.Sprintf("items[%d].product_id", i), "must not repeat a product of an earlier line")
		if !ident.IsUUID(id) && unknown < 0 {
			unknown = i
		}
		seen[id] = true
		out.Items[i] = ReservationLine{ProductID: id, Quantity: line.Quantity}
	}
	if err := v.Err(); err != nil {
		return ReservationRequest{}, err
	}
	if now.Sub(ident.UUIDTime(out.OrderID)) > MaxReservationAge {
		return ReservationRequest{}, OrderExpired(out.OrderID)
	}
	if unknown >= 0 {
		return ReservationRequest{}, UnknownProduct(r.Items[unknown].ProductID)
	}
	return out, nil
}

// OrderExpired is the Conflict for a reservation under an order id made more
// than MaxReservationAge ago. IsOrderExpired recognizes it.
func OrderExpired(orderID string) error {
	return &expiredError{apperr.Errorf(apperr.Conflict,
		"Order id %q was made more than %v ago; stock is reserved only within %v of making the order id.",
		orderID, MaxReservationAge, MaxReservationAge)}
}

// IsOrderExpired reports whether err is, or wraps, an error of OrderExpired.
func IsOrderExpired(err error) bool {
	var e *expiredError
	return errors.As(err, &e)
}

// expiredError marks the Conflict of OrderExpired, which apperr.Code and the
// problem responses see through Unwrap.
type expiredError struct {
	err *apperr.Error
}

func (e *expiredError) Error() string { return e.err.Error() }
func (e *expiredError) Unwrap() error { return e.err }

// UnknownProduct is the error for a reservation line whose product does not
// exist or was deleted.
func UnknownProduct(id string) error {
	return apperr.Errorf(apperr.Unprocessable, "No product has id %q.", id)
}

// ReservedItem is a reserved line with the product's details at the time of
// the reservation, so that the order records the price it was given.
type ReservedItem struct {
	ProductID      string `json:"product_id"`
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	Currency       string `json:"currency"`
}

// Reservation is the recorded outcome for one order id.
type Reservation struct {
	OrderID string         `json:"order_id"`
	Status  string         `json:"status"`
	Items   []ReservedItem `json:"items"`
	// Replayed is set when the call changed nothing and returned what an
	// earlier call recorded: a repeated reservation or release.
	Replayed bool `json:"-"`
}

// Units is the number of units over all items.
func (r Reservation) Units() int {
	n := 0
	for _, it := range r.Items {
		n += it.Quantity
	}
	return n
}

// Limits of a listing of reserved order ids.
const (
	DefaultReservedLimit = 500
	MaxReservedLimit     = 1000
)

// ValidateReservedRange checks the arguments of Service.Reserved:
// after and before are UUIDs of any version, and limit is from 1 to
// MaxReservedLimit.
func ValidateReservedRange(after, before string, limit int) error {
	var v apperr.Validation
	v.Check(ident.IsUUID(after), "after", "must be a UUID")
	v.Check(ident.IsUUID(before), "before", "must be a UUID")
	v.Check(ident.ValidLimit(limit, MaxReservedLimit), "limit", ident.LimitMessage(MaxReservedLimit))
	return v.Err()
}

// ReservationNotFound is the error for an order id with no reservation.
func ReservationNotFound(orderID string) error {
	return apperr.Errorf(apperr.NotFound, "No reservation has order id %q.", orderID)
}
