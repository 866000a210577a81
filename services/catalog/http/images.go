package http

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// ImageRoute is the route of a product's image; its PUT reads bodies of up
// to catalog.MaxImageBytes (web.Server.AllowBody).
const ImageRoute = "/api/catalog/products/:id/image"

// putImage makes the body, an image of the type its Content-Type names, the
// product's image. It counts every upload's outcome, the refusals made here
// before the body is read and those of the service alike.
func (h *Handler) putImage(c echo.Context) error {
	p, size, processing, err := h.setImage(c)
	if err != nil {
		h.metrics.ImageRefused(err)
		return err
	}
	h.metrics.ImageStored(size, processing)
	return c.JSON(http.StatusOK, p)
}

// setImage refuses what it can before reading the body, reads it, and has
// the service make it the product's image. It returns the product, the
// body's size and the time the service took.
func (h *Handler) setImage(c echo.Context) (catalog.Product, int, time.Duration, error) {
	req := c.Request()
	contentType := req.Header.Get(echo.HeaderContentType)
	// Refuse a wrong type before reading the body.
	if _, err := catalog.ImageType(contentType); err != nil {
		return catalog.Product{}, 0, 0, err
	}
	if req.ContentLength > catalog.MaxImageBytes {
		return catalog.Product{}, 0, 0, catalog.ImageTooLarge()
	}
	// At most uploadSlots bodies are held in memory at once; the others
	// wait here, before reading theirs.
	select {
	case h.uploads <- struct{}{}:
	case <-req.Context().Done():
		return catalog.Product{}, 0, 0, req.Context().Err()
	}
	defer func() { <-h.uploads }()
	data, err := io.ReadAll(io.LimitReader(req.Body, catalog.MaxImageBytes+1))
	if err != nil {
		if _, ok := errors.AsType[*echo.HTTPError](err); ok { // the body limit
			return catalog.Product{}, 0, 0, catalog.ImageTooLarge()
		}
		return catalog.Product{}, 0, 0, apperr.Errorf(apperr.Invalid, "The image could not be read: the request body ended early.")
	}
	if len(data) > catalog.MaxImageBytes {
		return catalog.Product{}, 0, 0, catalog.ImageTooLarge()
	}
	start := time.Now()
	p, err := h.service.SetImage(req.Context(), c.Param("id"), contentType, data)
	return p, len(data), time.Since(start), err
}

// deleteImage leaves the product without an image.
func (h *Handler) deleteImage(c echo.Context) error {
	if err := h.service.RemoveImage(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
