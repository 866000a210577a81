package orders_test

import (
	"testing"

	"bazaar/orders"
	"bazaar/platform/apperr"
)

func TestLimitsAllow(t *testing.T) {
	t.Parallel()
	limits := orders.Limits{OpenOrders: 3, ReservedUnits: 10}
	tests := []struct {
		name  string
		held  orders.Holdings
		units int
		code  string // "" when allowed
	}{
		{"nothing held", orders.Holdings{}, 10, ""},
		{"the last open order", orders.Holdings{Orders: 2, Units: 9}, 1, ""},
		{"one order too many", orders.Holdings{Orders: 3, Units: 3}, 1, apperr.Conflict},
		{"one unit too many", orders.Holdings{Orders: 1, Units: 9}, 2, apperr.Conflict},
		{"an order larger than the limit", orders.Holdings{}, 11, apperr.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := limits.Allow(tt.held, tt.units)
			code := ""
			if err != nil {
				code = apperr.Code(err)
			}
			if code != tt.code {
				t.Errorf("Allow(%+v, %d) = %v, want code %q", tt.held, tt.units, err, tt.code)
			}
		})
	}
}
