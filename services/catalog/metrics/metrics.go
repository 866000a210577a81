// Package metrics holds the catalog's Prometheus collectors: what happens to
// stock reservations and image uploads, the Redis cache's hits, misses and
// failures, where the reads that may trail are served, and the PostgreSQL
// pool.
package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/catalog"
	"bazaar/catalog/cache"
	"bazaar/catalog/postgres"
	"bazaar/platform/apperr"
	"bazaar/platform/pg"
)

// Metrics counts reservations and releases by outcome and the units of stock
// they move, image uploads, what the cache does, and the reads a standby
// routes.
type Metrics struct {
	reservations, releases *prometheus.CounterVec
	unitsReserved          prometheus.Counter
	unitsReleased          prometheus.Counter

	imageUploads, imageBytes prometheus.Counter
	imageRefusals            *prometheus.CounterVec
	imageProcessing          prometheus.Histogram

	cacheHits, cacheMisses, cacheBypassed *prometheus.CounterVec
	cacheErrors                           prometheus.Counter

	reads *prometheus.CounterVec
}

var (
	_ cache.Metrics        = (*Metrics)(nil)
	_ postgres.ReadCounter = (*Metrics)(nil)
)

// RefusalReasons are the values of catalog_image_refusals_total's reason.
var RefusalReasons = []string{"unsupported_type", "too_large", "too_many_pixels", "unknown_product", "invalid", "error"}

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
		imageUploads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_image_uploads_total",
			Help: "Product images stored.",
		}),
		imageBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_image_upload_bytes_total",
			Help: "Bytes of the product images stored, as uploaded.",
		}),
		imageRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_image_refusals_total",
			Help: "Product image uploads refused, by reason: unsupported_type (415), too_large (413), too_many_pixels (422), unknown_product (404), invalid (400), error (the upload failed on our side).",
		}, []string{"reason"}),
		imageProcessing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "catalog_image_processing_seconds",
			Help:    "Time from an image upload's body to the product carrying it: checks, decoding, scaling, encoding, storing.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2, 4, 8, 16},
		}),
		cacheHits:     kinds("catalog_cache_hits_total", "Reads answered from Redis, by kind of entry."),
		cacheMisses:   kinds("catalog_cache_misses_total", "Reads that loaded from PostgreSQL and filled Redis, by kind of entry."),
		cacheBypassed: kinds("catalog_cache_bypassed_total", "Reads served from PostgreSQL without Redis because Redis was failing, by kind of entry."),
		cacheErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_cache_errors_total",
			Help: "Redis commands of the cache that failed (timeouts, refused connections, errors).",
		}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_db_reads_total",
			Help: "Reads that may trail (listings, search, categories) by the node that served them: standby, or primary with the reason it was not the standby.",
		}, []string{"node", "reason"}),
	}
	for _, o := range []string{"reserved", "replayed", "out_of_stock", "unknown_product", "order_released", "order_expired", "invalid", "error"} {
		m.reservations.WithLabelValues(o)
	}
	for _, o := range []string{"released", "replayed", "tombstone", "invalid", "error"} {
		m.releases.WithLabelValues(o)
	}
	for _, r := range RefusalReasons {
		m.imageRefusals.WithLabelValues(r)
	}
	m.reads.WithLabelValues("standby", "")
	reg.MustRegister(m.reservations, m.releases, m.unitsReserved, m.unitsReleased,
		m.imageUploads, m.imageBytes, m.imageRefusals, m.imageProcessing,
		m.cacheHits, m.cacheMisses, m.cacheBypassed, m.cacheErrors, m.reads)
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

// ImageStored counts an image stored: the upload's bytes and the time from
// its body to the product carrying it.
func (m *Metrics) ImageStored(bytes int, processing time.Duration) {
	m.imageUploads.Inc()
	m.imageBytes.Add(float64(bytes))
	m.imageProcessing.Observe(processing.Seconds())
}

// ImageRefused counts an upload refused with err, by the reason its code
// gives.
func (m *Metrics) ImageRefused(err error) {
	reason := map[string]string{
		apperr.Unsupported:   "unsupported_type",
		apperr.TooLarge:      "too_large",
		apperr.Unprocessable: "too_many_pixels",
		apperr.NotFound:      "unknown_product",
		apperr.Invalid:       "invalid",
	}[apperr.Code(err)]
	if reason == "" || errors.Is(err, context.Canceled) {
		reason = "error"
	}
	m.imageRefusals.WithLabelValues(reason).Inc()
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

// CountRead implements postgres.ReadCounter: one read served by node
// ("standby" or "primary"), and for the primary why it was not the standby.
func (m *Metrics) CountRead(node, reason string) {
	m.reads.WithLabelValues(node, reason).Inc()
}
