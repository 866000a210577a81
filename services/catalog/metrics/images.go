package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// Images counts product image uploads: those stored, their bytes and
// processing time, and those refused by reason.
type Images struct {
	uploads    prometheus.Counter
	bytes      prometheus.Counter
	refusals   *prometheus.CounterVec
	processing prometheus.Histogram
}

var _ catalog.ImageObserver = (*Images)(nil)

// RefusalReasons are the values of catalog_image_refusals_total's reason.
var RefusalReasons = []string{"unsupported_type", "too_large", "too_many_pixels", "unknown_product", "invalid", "error"}

// NewImages returns Images registered on reg, every reason at zero.
func NewImages(reg prometheus.Registerer) *Images {
	m := &Images{
		uploads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_image_uploads_total",
			Help: "Product images stored.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "catalog_image_upload_bytes_total",
			Help: "Bytes of the product images stored, as uploaded.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "catalog_image_refusals_total",
			Help: "Product image uploads refused, by reason: unsupported_type (415), too_large (413), too_many_pixels (422), unknown_product (404), invalid (400), error (the upload failed on our side).",
		}, []string{"reason"}),
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "catalog_image_processing_seconds",
			Help:    "Time from an image upload's body to the product carrying it: checks, decoding, scaling, encoding, storing.",
			Buckets: []float64{.025, .05, .1, .25, .5, 1, 2, 4, 8, 16},
		}),
	}
	for _, r := range RefusalReasons {
		m.refusals.WithLabelValues(r)
	}
	reg.MustRegister(m.uploads, m.bytes, m.refusals, m.processing)
	return m
}

// ImageStored counts an image stored.
func (m *Images) ImageStored(bytes int, processing time.Duration) {
	m.uploads.Inc()
	m.bytes.Add(float64(bytes))
	m.processing.Observe(processing.Seconds())
}

// ImageRefused counts an upload refused with err.
func (m *Images) ImageRefused(err error) {
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
	m.refusals.WithLabelValues(reason).Inc()
}
