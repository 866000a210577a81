package http

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"bazaar/catalog"
	"bazaar/catalog/metrics"
	"bazaar/platform/apperr"
	"bazaar/platform/web"
)

// Internal holds the stock reservation handlers, mounted on the internal
// server only: the orders service calls them and nginx never proxies there.
type Internal struct {
	service *catalog.Service
	metrics *metrics.Metrics
}

// NewInternal returns the internal handlers over svc, counting what they do
// in m.
func NewInternal(svc *catalog.Service, m *metrics.Metrics) *Internal {
	return &Internal{service: svc, metrics: m}
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
		h.metrics.ReserveInvalid()
		return err
	}
	res, err := h.service.Reserve(c.Request().Context(), req)
	h.metrics.Reserved(res, err)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h *Internal) release(c echo.Context) error {
	res, err := h.service.Release(c.Request().Context(), c.Param("order_id"))
	h.metrics.Released(res, err)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h *Internal) getReservation(c echo.Context) error {
	res, err := h.service.FindReservation(c.Request().Context(), c.Param("order_id"))
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
	var v apperr.Validation
	p := web.ParsePage[string](c, &v, catalog.DefaultReservedLimit, catalog.MaxReservedLimit, nil)
	if err := v.Err(); err != nil {
		return err
	}
	ids, err := h.service.Reserved(c.Request().Context(), c.QueryParam("after"), c.QueryParam("before"), p.Limit)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{}
	}
	return c.JSON(http.StatusOK, reservedIDs{OrderIDs: ids})
}
