package orders

import "bazaar/platform/apperr"

// Limits bound what one user's open orders may hold, so that a few
// accounts cannot reserve the whole inventory. Zero is no limit.
//
// An order is open from the moment it is recorded until it is cancelled:
// confirmed or cancelling, the catalog holds its stock all that time.
// Orders have no later state (paid, shipped) that closes them, so until
// they do, the limits bound the orders a user has ever placed and not
// cancelled.
type Limits struct {
	OpenOrders    int // orders
	ReservedUnits int // units over all the lines of those orders
}

// Default limits: far above what a shopper places, yet a bound on what one
// account can hold.
const (
	DefaultMaxOpenOrders    = 100
	DefaultMaxReservedUnits = 1000
)

// Totals is what a user's open orders hold.
type Totals struct {
	OpenOrders    int
	ReservedUnits int
}

// Reasons an order is refused for a limit, as counted by Metrics.Rejected.
const (
	ReasonOpenOrdersLimit    = "open_orders_limit"
	ReasonReservedUnitsLimit = "reserved_units_limit"
)

// Allow reports whether a user whose open orders hold t may place one more
// order of units: nil, or a Conflict whose message names the limit.
//
// A limit is a Conflict (409), not Too Many Requests (429): it does not
// pass with time, as a rate limit does, but when the user cancels an
// order, and a client that waits and retries on a 429 would never get
// through.
func (l Limits) Allow(t Totals, units int) error {
	if l.OpenOrders > 0 && t.OpenOrders >= l.OpenOrders {
		return &rejectionError{reason: ReasonOpenOrdersLimit, err: apperr.Errorf(apperr.Conflict,
			"You have %d open orders, the most one user may have (%d); an order stays open until it is cancelled. Cancel one before placing another.",
			t.OpenOrders, l.OpenOrders)}
	}
	if l.ReservedUnits > 0 && t.ReservedUnits+units > l.ReservedUnits {
		return &rejectionError{reason: ReasonReservedUnitsLimit, err: apperr.Errorf(apperr.Conflict,
			"This order's %d units and the %d your open orders reserve would pass the most one user may reserve (%d units); order fewer, or cancel an order first.",
			units, t.ReservedUnits, l.ReservedUnits)}
	}
	return nil
}
