package orders_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"bazaar/orders"
	"bazaar/platform/apperr"
)

func TestPrice(t *testing.T) {
	t.Parallel()
	lines := []orders.Line{line(p1, 3), line(p2, 1)}
	reserved := func(items ...orders.ReservedItem) orders.Reservation {
		return orders.Reservation{OrderID: "o", Status: orders.Reserved, Items: items}
	}
	mug := orders.ReservedItem{ProductID: p1, SKU: "MUG", Name: "Mug", Quantity: 3, UnitPriceCents: 450, Currency: "EUR"}
	pot := orders.ReservedItem{ProductID: p2, SKU: "POT", Name: "Teapot", Quantity: 1, UnitPriceCents: 2999, Currency: "EUR"}

	t.Run("priced by the catalog, in the client's order", func(t *testing.T) {
		t.Parallel()
		items, total, currency, err := orders.Price(lines, reserved(pot, mug))
		if err != nil {
			t.Fatal(err)
		}
		want := []orders.Item{
			{ProductID: p1, SKU: "MUG", Name: "Mug", Quantity: 3, UnitPriceCents: 450},
			{ProductID: p2, SKU: "POT", Name: "Teapot", Quantity: 1, UnitPriceCents: 2999},
		}
		if diff := cmp.Diff(want, items); diff != "" {
			t.Errorf("items (-want +got):\n%s", diff)
		}
		if total != 3*450+2999 || currency != "EUR" {
			t.Errorf("total = %d %s, want %d EUR", total, currency, 3*450+2999)
		}
	})

	free := pot
	free.UnitPriceCents = 0
	usd := pot
	usd.Currency = "USD"
	huge := mug
	huge.UnitPriceCents = math.MaxInt64 / 2
	almost := pot
	almost.UnitPriceCents = math.MaxInt64 - 3*450
	over := pot
	over.UnitPriceCents = math.MaxInt64 - 3*450 + 1
	wrongQty := pot
	wrongQty.Quantity = 2
	negative := pot
	negative.UnitPriceCents = -1
	tests := []struct {
		name  string
		res   orders.Reservation
		total int64
		code  string // "" when valid
	}{
		{"a free product", reserved(mug, free), 1350, ""},
		{"total exactly at the int64 limit", reserved(mug, almost), math.MaxInt64, ""},
		{"mixed currencies", reserved(mug, usd), 0, apperr.Unprocessable},
		{"line subtotal overflows", reserved(huge, pot), 0, apperr.Unprocessable},
		{"total overflows", reserved(mug, over), 0, apperr.Unprocessable},
		{"catalog reserved another quantity", reserved(mug, wrongQty), 0, apperr.Internal},
		{"catalog left a line out", reserved(mug), 0, apperr.Internal},
		{"catalog answered another product", reserved(mug, orders.ReservedItem{ProductID: "x", Quantity: 1, Currency: "EUR"}), 0, apperr.Internal},
		{"negative price", reserved(mug, negative), 0, apperr.Internal},
		{"not reserved", orders.Reservation{Status: orders.Released, Items: []orders.ReservedItem{mug, pot}}, 0, apperr.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, total, _, err := orders.Price(lines, tt.res)
			if tt.code == "" {
				if err != nil || total != tt.total {
					t.Fatalf("Price = %d, %v; want %d", total, err, tt.total)
				}
				return
			}
			if err == nil || apperr.Code(err) != tt.code {
				t.Fatalf("Price err = %v (code %s), want code %s", err, apperr.Code(err), tt.code)
			}
		})
	}
}
