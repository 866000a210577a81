package orders

import "bazaar/platform/apperr"

// Limits bound what one user's open orders may hold at once, so that a few
// accounts cannot take the whole inventory by placing orders that they
// never follow up.
//
// An order is open from the moment it is recorded until it is cancelled:
// confirmed or cancelling, its stock is reserved at the catalog all that
// time. Stock held under an order id that no order was recorded under
// (see the package documentation) does not count: such an order is
// refused or retried, and the Reconciler releases its stock.
type Limits struct {
	OpenOrders    int // orders
	ReservedUnits int // units of all the lines of those orders
}

// Default limits. They leave room for load tests and bulk buyers that
// place thousands of orders from one account; a public shop sets limits
// close to what its real customers need.
const (
	DefaultMaxOpenOrders    = 10_000
	DefaultMaxReservedUnits = 100_000
)

// Holdings is what a user's open orders hold.
type Holdings struct {
	Orders int
	Units  int
}

// Reasons an order is refused for a limit, as counted by Metrics.Rejected.
const (
	ReasonOpenOrdersLimit    = "open_orders_limit"
	ReasonReservedUnitsLimit = "reserved_units_limit"
)

// Allow reports whether a user whose open orders hold h may place one more
// order of units: nil, or a Conflict whose message names the limit.
//
// A limit is a Conflict (409), not Too Many Requests (429): it does not
// pass with time, as a rate limit does, but when the user cancels an
// order, and clients that wait and retry on a 429 would never get through.
func (l Limits) Allow(h Holdings, units int) error {
	if h.Orders >= l.OpenOrders {
		return &rejectionError{reason: ReasonOpenOrdersLimit, err: apperr.Errorf(apperr.Conflict,
			"Your open orders have reached the limit of open orders per user (%d); cancel one before placing another.",
			l.OpenOrders)}
	}
	if h.Units+units > l.ReservedUnits {
		return &rejectionError{reason: ReasonReservedUnitsLimit, err: apperr.Errorf(apperr.Conflict,
			"The units of this order (%d) and those your open orders reserve (%d) would exceed the limit of reserved units per user (%d); order fewer or cancel an order first.",
			units, h.Units, l.ReservedUnits)}
	}
	return nil
}
