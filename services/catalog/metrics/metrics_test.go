package metrics

import (
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

func TestReservationUnitsCounted(t *testing.T) {
	m := New(prometheus.NewRegistry(), nil)
	res := catalog.Reservation{Status: catalog.StatusReleased, Items: []catalog.ReservedItem{{Quantity: 2}, {Quantity: 5}}}
	m.Released(res, nil)
	m.Released(catalog.Reservation{Status: catalog.StatusReleased, Items: []catalog.ReservedItem{}}, nil)
	m.Reserved(res, nil)
	if got := testutil.ToFloat64(m.unitsReleased); got != 7 {
		t.Errorf("units released = %v, want 7", got)
	}
	if got := testutil.ToFloat64(m.unitsReserved); got != 7 {
		t.Errorf("units reserved = %v, want 7", got)
	}
	if got := testutil.ToFloat64(m.releases.WithLabelValues("tombstone")); got != 1 {
		t.Errorf("tombstones = %v, want 1", got)
	}
}

func TestOutcomes(t *testing.T) {
	m := New(prometheus.NewRegistry(), nil)
	m.ReserveInvalid()
	m.Reserved(catalog.Reservation{}, apperr.Errorf(apperr.OutOfStock, "no"))
	m.Reserved(catalog.Reservation{}, errors.New("boom"))
	m.Released(catalog.Reservation{}, apperr.Errorf(apperr.Invalid, "no"))
	m.Released(catalog.Reservation{Replayed: true}, nil)
	for _, c := range []struct {
		vec     *prometheus.CounterVec
		outcome string
	}{
		{m.reservations, "invalid"}, {m.reservations, "out_of_stock"}, {m.reservations, "error"},
		{m.releases, "invalid"}, {m.releases, "replayed"},
	} {
		if got := testutil.ToFloat64(c.vec.WithLabelValues(c.outcome)); got != 1 {
			t.Errorf("%s = %v, want 1", c.outcome, got)
		}
	}
	if got := testutil.ToFloat64(m.reservations.WithLabelValues("reserved")); got != 0 {
		t.Errorf("reserved = %v, want 0", got)
	}
}
