package http

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/catalog"
	"bazaar/platform/apperr"
	"bazaar/platform/web"
)

// Internal holds the stock reservation handlers, mounted on the internal
// server only: the orders service calls them and nginx never proxies there.
type Internal struct {
	reservations catalog.ReservationService
	metrics      *reservationMetrics
}

// NewInternal returns the internal handlers over svc, registering their
// metrics with reg.
func NewInternal(svc catalog.ReservationService, reg prometheus.Registerer) *Internal {
	return &Internal{reservations: svc, metrics: newReservationMetrics(reg)}
}

// Register mounts the internal routes on e.
func (h *Internal) Register(e *echo.Echo) {
	g := e.Group("/internal/reservations")
	g.POST("", h.reserve)
	g.GET("", h.listReserved)
	g.GET("/:order_id", h.getReservation)
	g.POST("/:order_id/release", h.release)
}

func (h *Internal) reserve(c echo.Context) error {
	var req catalog.ReservationRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.metrics.reservations.WithLabelValues("invalid").Inc()
		return err
	}
	res, err := h.reservations.Reserve(c.Request().Context(), req)
	h.metrics.reserved(res, err)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h *Internal) release(c echo.Context) error {
	res, err := h.reservations.Release(c.Request().Context(), c.Param("order_id"))
	h.metrics.released(res, err)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h *Internal) getReservation(c echo.Context) error {
	res, err := h.reservations.FindReservation(c.Request().Context(), c.Param("order_id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// reservedIDs is the answer of GET /internal/reservations.
type reservedIDs struct {
	OrderIDs []string `json:"order_ids"`
}

// listReserved answers the order ids still reserved strictly between the
// UUIDs after and before, ascending, at most limit (by default
// catalog.DefaultReservedLimit): the orders service sweeps them for orders
// it never recorded.
func (h *Internal) listReserved(c echo.Context) error {
	after, before, limit := c.QueryParam("after"), c.QueryParam("before"), catalog.DefaultReservedLimit
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			n = 0 // out of range: ValidateReservedRange says what a limit must be
		}
		limit = n
	}
	if err := catalog.ValidateReservedRange(after, before, limit); err != nil {
		return err
	}
	ids, err := h.reservations.Reserved(c.Request().Context(), after, before, limit)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	return c.JSON(http.StatusOK, reservedIDs{OrderIDs: ids})
}

type reservationMetrics struct {
	reservations, releases *prometheus.CounterVec
	unitsReserved          prometheus.Counter
	unitsReleased          prometheus.Counter
}

func newReservationMetrics(reg prometheus.Registerer) *reservationMetrics {
	m := &reservationMetrics{
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
	}
	for _, o := range []string{"reserved", "replayed", "out_of_stock", "unknown_product", "order_released", "order_expired", "invalid", "error"} {
		m.reservations.WithLabelValues(o)
	}
	for _, o := range []string{"released", "replayed", "tombstone", "invalid", "error"} {
		m.releases.WithLabelValues(o)
	}
	reg.MustRegister(m.reservations, m.releases, m.unitsReserved, m.unitsReleased)
	return m
}

func (m *reservationMetrics) reserved(res catalog.Reservation, err error) {
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

func (m *reservationMetrics) released(res catalog.Reservation, err error) {
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
