// Package metrics holds the orders service's Prometheus collectors: what
// happens to orders, the calls to the catalog, and the PostgreSQL pool.
package metrics

import (
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/orders"
	"bazaar/orders/catalogclient"
	"bazaar/platform/pg"
)

// Metrics implements orders.Metrics.
type Metrics struct {
	placed    prometheus.Counter
	cancelled prometheus.Counter
	rejected  *prometheus.CounterVec
	revenue   *prometheus.CounterVec
	settled   *prometheus.CounterVec
	swept     prometheus.Gauge

	catalogDuration *prometheus.HistogramVec
	catalogErrors   *prometheus.CounterVec
}

var (
	_ orders.Metrics        = (*Metrics)(nil)
	_ catalogclient.Metrics = (*Metrics)(nil)
)

// New returns Metrics registered on reg, with the statistics of pool when
// pool is not nil. The label values that are known in advance are created
// at once, so that dashboards see zeros, not gaps.
func New(reg prometheus.Registerer, pool *pgxpool.Pool) *Metrics {
	m := &Metrics{
		placed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orders_placed_total",
			Help: "Orders confirmed.",
		}),
		cancelled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "orders_cancelled_total",
			Help: "Orders cancelled, their stock returned to the catalog.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orders_rejected_total",
			Help: "Orders refused, by reason (out_of_stock, unknown_product, mixed_currency, total_too_large, open_orders_limit, reserved_units_limit).",
		}, []string{"reason"}),
		revenue: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orders_revenue_cents_total",
			Help: "Sum of the totals of confirmed orders, in cents, by currency (cancellations are not deducted).",
		}, []string{"currency"}),
		settled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orders_reconciler_settlements_total",
			Help: "Orders the reconciler settled, by outcome: released (stock held for an order never recorded), cancelled (an interrupted cancellation).",
		}, []string{"outcome"}),
		swept: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "orders_reservation_sweep_position_timestamp_seconds",
			Help: "Time (Unix) before which the reconciler has released all stock held for order ids never recorded; it trails the clock by about 75s when all is well.",
		}),
		catalogDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "orders_catalog_request_duration_seconds",
			Help:    "Time of each attempt to call the catalog's reservation API, by operation.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		catalogErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "orders_catalog_request_errors_total",
			Help: "Failed attempts to call the catalog's reservation API, by operation and kind (timeout, connection, status_5xx, unexpected).",
		}, []string{"operation", "kind"}),
	}
	for _, r := range []string{orders.ReasonOutOfStock, orders.ReasonUnknownProduct, orders.ReasonMixedCurrency, orders.ReasonTotalTooLarge,
		orders.ReasonOpenOrdersLimit, orders.ReasonReservedUnitsLimit} {
		m.rejected.WithLabelValues(r)
	}
	for _, o := range []string{orders.SettledReleased, orders.SettledCancelled} {
		m.settled.WithLabelValues(o)
	}
	reg.MustRegister(m.placed, m.cancelled, m.rejected, m.revenue, m.settled, m.swept, m.catalogDuration, m.catalogErrors)
	if pool != nil {
		reg.MustRegister(pg.NewPoolCollector(pool))
	}
	return m
}

// Placed implements orders.Metrics.
func (m *Metrics) Placed(o orders.Order) {
	m.placed.Inc()
	m.revenue.WithLabelValues(o.Currency).Add(float64(o.TotalCents))
}

// Cancelled implements orders.Metrics.
func (m *Metrics) Cancelled() { m.cancelled.Inc() }

// Rejected implements orders.Metrics.
func (m *Metrics) Rejected(reason string) { m.rejected.WithLabelValues(reason).Inc() }

// Settled implements orders.Metrics.
func (m *Metrics) Settled(outcome string) { m.settled.WithLabelValues(outcome).Inc() }

// SweptUntil implements orders.Metrics.
func (m *Metrics) SweptUntil(t time.Time) { m.swept.Set(float64(t.UnixMilli()) / 1000) }

// CatalogAttempt implements catalogclient.Metrics.
func (m *Metrics) CatalogAttempt(op string, d time.Duration) {
	m.catalogDuration.WithLabelValues(op).Observe(d.Seconds())
}

// CatalogError implements catalogclient.Metrics.
func (m *Metrics) CatalogError(op, kind string) { m.catalogErrors.WithLabelValues(op, kind).Inc() }
