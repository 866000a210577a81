// Package metrics holds the catalog's Prometheus collectors: what happens to
// stock reservations, the Redis cache's hits, misses and failures, and the
// PostgreSQL pool.
package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/catalog"
	"bazaar/catalog/cache"
	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// Metrics counts reservations and releases by outcome and the units of stock
// they move, and what the cache does.
type Metrics struct {
	reservations, releases *prometheus.CounterVec
	unitsReserved          prometheus.Counter
	unitsReleased          prometheus.Counter

	cacheHits, cacheMisses, cacheBypassed *prometheus.CounterVec
	cacheErrors                           prometheus.Counter
}

var _ cache.Metrics = (*Metrics)(nil)

// New returns Metrics registered on reg, with the statistics of pool when
// pool is not nil. The outcomes and kinds are created at once, so that
// dashboards see zeros, not gaps.
func New(reg prometheus.Registerer, pool *pgxpool.Pool) *Metrics {
	kinds := func(name, help string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"kind"})
		for _, k := range cache.Kinds {
			v.WithLabelValues(k)
		}
		return v
	}
	m := &Metrics{
		reservations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_reservations_total",
			Help: "Stock reservation requests by outcome: reserved, replayed (same order id again), out_of_stock, unknown_product, order_released, order_expired (order id made too long ago), invalid, error.",
		}, []string{"outcome"}),
		releases: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_releases_total",
			Help: "Stock release requests by outcome: released, replayed (already released), tombstone (nothing was reserved), invalid, error.",
		}, []string{"outcome"}),
		unitsReserved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_stock_units_reserved_total",
			Help: "Units of stock taken by reservations.",
		}),
		unitsReleased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_stock_units_released_total",
			Help: "Units of stock given back by releases.",
		}),
		cacheHits:     kinds("catalog_cache_hits_total", "Reads answered from Redis, by kind of entry."),
		cacheMisses:   kinds("catalog_cache_misses_total", "Reads that loaded from PostgreSQL and filled Redis, by kind of entry."),
		cacheBypassed: kinds("catalog_cache_bypassed_total", "Reads served from PostgreSQL without Redis because Redis was failing, by kind of entry."),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_cache_errors_total",
			Help: "Redis commands of the cache that failed (timeouts, refused connections, errors).",
		}),
	}
	for _, o := range []string{"reserved", "replayed", "out_of_stock", "unknown_product", "order_released", "order_expired", "invalid", "error"} {
		m.reservations.WithLabelValues(o)
	}
	for _, o := range []string{"released", "replayed", "tombstone", "invalid", "error"} {
		m.releases.WithLabelValues(o)
	}
	reg.MustRegister(m.reservations, m.releases, m.unitsReserved, m.unitsReleased,
		m.cacheHits, m.cacheMisses, m.cacheBypassed, m.cacheErrors)
	if pool != nil {
		reg.MustRegister(pg.NewPoolCollector(pool))
	}
	return m
}

// ReserveInvalid counts a reservation request that could not be read.
func (m *Metrics) ReserveInvalid() { m.reservations.WithLabelValues("invalid").Inc() }

// Reserved counts the outcome of a reservation request.
func (m *Metrics) Reserved(res catalog.Reservation, err error) {
	outcome := "reserved"
	switch {
	case catalog.IsOrderExpired(err):
		outcome = "order_expired"
	case err != nil:
		outcome = map[string]string{
			apperr.Invalid:       "invalid",
			apperr.OutOfStock:    "out_of_stock",
			apperr.Unprocessable: "unknown_product",
			apperr.Conflict:      "order_released",
		}[apperr.Code(err)]
		if outcome == "" {
			outcome = "error"
		}
	case res.Replayed:
		outcome = "replayed"
	default:
		m.unitsReserved.Add(float64(res.Units()))
	}
	m.reservations.WithLabelValues(outcome).Inc()
}

// Released counts the outcome of a release request.
func (m *Metrics) Released(res catalog.Reservation, err error) {
	outcome := "released"
	switch {
	case err != nil && apperr.Code(err) == apperr.Invalid:
		outcome = "invalid"
	case err != nil:
		outcome = "error"
	case res.Replayed:
		outcome = "replayed"
	case len(res.Items) == 0:
		outcome = "tombstone"
	default:
		m.unitsReleased.Add(float64(res.Units()))
	}
	m.releases.WithLabelValues(outcome).Inc()
}

// CacheHits implements cache.Metrics.
func (m *Metrics) CacheHits(kind string, n int) { m.cacheHits.WithLabelValues(kind).Add(float64(n)) }

// CacheMisses implements cache.Metrics.
func (m *Metrics) CacheMisses(kind string, n int) {
	m.cacheMisses.WithLabelValues(kind).Add(float64(n))
}

// CacheBypassed implements cache.Metrics.
func (m *Metrics) CacheBypassed(kind string, n int) {
	m.cacheBypassed.WithLabelValues(kind).Add(float64(n))
}

// CacheError implements cache.Metrics.
func (m *Metrics) CacheError() { m.cacheErrors.Inc() }
