// Package http serves the catalog's API with echo: the public routes under
// /api/catalog that nginx proxies, and the internal stock reservation routes
// that only other services reach.
package http

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"bazaar/catalog"
	"bazaar/platform/apperr"
	"bazaar/platform/auth"
	"bazaar/platform/ident"
	"bazaar/platform/web"
)

// Handler holds the catalog's public HTTP handlers.
type Handler struct {
	Products catalog.ProductService
	// Verifier checks the access tokens of the admin routes.
	Verifier *auth.Verifier
	// Images sets and removes products' images; without it the image
	// routes are not served.
	Images *catalog.ImageService

	uploads chan struct{} // image bodies being read or processed
}

// uploadSlots is how many image uploads hold their body in memory at once.
const uploadSlots = 4

// Register mounts the public routes on e.
func (h *Handler) Register(e *echo.Echo) {
	admin := []echo.MiddlewareFunc{web.Authenticate(h.Verifier), web.RequireAdmin}
	g := e.Group("/api/catalog")
	g.GET("/openapi.json", serveSpec)
	g.GET("/products", h.listProducts)
	g.POST("/products", h.createProduct, admin...)
	g.GET("/products/:id", h.getProduct)
	g.PATCH("/products/:id", h.updateProduct, admin...)
	g.DELETE("/products/:id", h.deleteProduct, admin...)
	g.GET("/categories", h.listCategories)
	if h.Images != nil {
		h.uploads = make(chan struct{}, uploadSlots)
		e.PUT(ImageRoute, h.putImage, admin...)
		e.DELETE(ImageRoute, h.deleteImage, admin...)
	}
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
	if err := f.Validate(); err != nil {
		return err
	}
	page, err := h.Products.FindProducts(c.Request().Context(), f)
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
	id := c.Param("id")
	if !ident.IsUUID(id) {
		return catalog.ProductNotFound(id)
	}
	p, err := h.Products.FindProduct(c.Request().Context(), id)
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
	p, err := h.Products.CreateProduct(c.Request().Context(), in)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/catalog/products/"+p.ID)
	return c.JSON(http.StatusCreated, p)
}

func (h *Handler) updateProduct(c echo.Context) error {
	id := c.Param("id")
	if !ident.IsUUID(id) {
		return catalog.ProductNotFound(id)
	}
	var in catalog.ProductInput
	if err := web.BindJSON(c, &in); err != nil {
		return err
	}
	p, err := h.Products.UpdateProduct(c.Request().Context(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

func (h *Handler) deleteProduct(c echo.Context) error {
	id := c.Param("id")
	if !ident.IsUUID(id) {
		return catalog.ProductNotFound(id)
	}
	if err := h.Products.DeleteProduct(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) listCategories(c echo.Context) error {
	cats, err := h.Products.FindCategories(c.Request().Context())
	if err != nil {
		return err
	}
	if cats == nil {
		cats = []catalog.Category{}
	}
	return c.JSON(http.StatusOK, cats)
}
