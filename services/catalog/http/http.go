// Package http serves the catalog's API with echo: the public routes under
// /api/catalog that nginx proxies, and the internal stock reservation routes
// that only other services reach.
package http

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"bazaar/catalog"
	"bazaar/catalog/metrics"
	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/platform/ident"
	"bazaar/platform/web"
)

// Handler holds the catalog's public HTTP handlers.
type Handler struct {
	service  *catalog.Service
	verifier *auth.Verifier
	metrics  *metrics.Metrics
	uploads  chan struct{} // image bodies being read or processed
}

// uploadSlots is how many image uploads hold their body in memory at once.
const uploadSlots = 4

// NewHandler returns a Handler serving svc, whose admin routes take the
// access tokens verifier accepts, counting image uploads in m.
func NewHandler(svc *catalog.Service, verifier *auth.Verifier, m *metrics.Metrics) *Handler {
	return &Handler{service: svc, verifier: verifier, metrics: m, uploads: make(chan struct{}, uploadSlots)}
}

// Register mounts the public routes on e.
func (h *Handler) Register(e *echo.Echo) {
	admin := []echo.MiddlewareFunc{web.Authenticate(h.verifier), web.RequireAdmin}
	g := e.Group("/api/catalog")
	g.GET("/openapi.json", serveSpec)
	g.GET("/products", h.listProducts)
	g.POST("/products", h.createProduct, admin...)
	g.GET("/products/:id", h.getProduct)
	g.PATCH("/products/:id", h.updateProduct, admin...)
	g.DELETE("/products/:id", h.deleteProduct, admin...)
	g.GET("/categories", h.listCategories)
	e.PUT(ImageRoute, h.putImage, admin...)
	e.DELETE(ImageRoute, h.deleteImage, admin...)
}

type productPage struct {
	Items      []catalog.Product `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

func (h *Handler) listProducts(c echo.Context) error {
	var v apperr.Validation
	p := web.ParsePage(c, &v, catalog.DefaultLimit, catalog.MaxLimit, ident.DecodeCursor)
	if err := v.Err(); err != nil {
		return err
	}
	f := catalog.ProductFilter{
		Query:    strings.TrimSpace(c.QueryParam("q")),
		Category: c.QueryParam("category"),
		Limit:    p.Limit,
		After:    p.After,
	}
	page, err := h.service.FindProducts(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := productPage{Items: page.Items}
	if out.Items == nil {
		out.Items = []catalog.Product{}
	}
	if page.Next != "" {
		next := ident.EncodeCursor(page.Next)
		out.NextCursor = &next
	}
	return c.JSON(http.StatusOK, out)
}

func (h *Handler) getProduct(c echo.Context) error {
	p, err := h.service.FindProduct(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (h *Handler) createProduct(c echo.Context) error {
	var in catalog.ProductInput
	if err := web.BindJSON(c, &in); err != nil {
		return err
	}
	p, err := h.service.CreateProduct(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/catalog/products/"+p.ID)
	return c.JSON(http.StatusCreated, p)
}

func (h *Handler) updateProduct(c echo.Context) error {
	var in catalog.ProductInput
	if err := web.BindJSON(c, &in); err != nil {
		return err
	}
	p, err := h.service.UpdateProduct(c.Request().Context(), c.Param("id"), in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (h *Handler) deleteProduct(c echo.Context) error {
	if err := h.service.DeleteProduct(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) listCategories(c echo.Context) error {
	cats, err := h.service.FindCategories(c.Request().Context())
	if err != nil {
		return err
	}
	if cats == nil {
		cats = []catalog.Category{}
	}
	return c.JSON(http.StatusOK, cats)
}
