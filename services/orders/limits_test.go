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
		name   string
		limits orders.Limits
		held   orders.Totals
		units  int
		code   string // "" when allowed
	}{
		{"nothing held", limits, orders.Totals{}, 10, ""},
		{"the last open order", limits, orders.Totals{OpenOrders: 2, ReservedUnits: 9}, 1, ""},
		{"one order too many", limits, orders.Totals{OpenOrders: 3, ReservedUnits: 3}, 1, apperr.Conflict},
		{"one unit too many", limits, orders.Totals{OpenOrders: 1, ReservedUnits: 9}, 2, apperr.Conflict},
		{"an order larger than the limit", limits, orders.Totals{}, 11, apperr.Conflict},
		{"no limits", orders.Limits{}, orders.Totals{OpenOrders: 1e6, ReservedUnits: 1e9}, 1000, ""},
		{"no limit of units", orders.Limits{OpenOrders: 3}, orders.Totals{OpenOrders: 2, ReservedUnits: 1e9}, 1000, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.limits.Allow(tt.held, tt.units)
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

func TestUnits(t *testing.T) {
	t.Parallel()
	p, err := orders.NewPlacement([]orders.Line{line(p1, 3), line(p2, 1000)})
	if err != nil {
		t.Fatal(err)
	}
	o := orders.Order{Items: []orders.Item{{Quantity: 3}, {Quantity: 1000}}}
	if p.Units() != 1003 || o.Units() != 1003 {
		t.Errorf("units = %d and %d, want 1003", p.Units(), o.Units())
	}
}
