package http

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// ImageRoute is the route of a product's image; its PUT reads bodies of up
// to catalog.MaxImageBytes (web.Server.AllowBody).
const ImageRoute = "/api/catalog/products/:id/image"

// putImage makes the body, an image of the type its Content-Type names, the
// product's image.
func (h *Handler) putImage(c echo.Context) error {
	req := c.Request()
	// Refuse a wrong type before reading the body.
	if _, err := catalog.ImageType(req.Header.Get(echo.HeaderContentType)); err != nil {
		return h.Images.Refused(err)
	}
	if req.ContentLength > catalog.MaxImageBytes {
		return h.Images.Refused(catalog.ImageTooLarge())
	}
	// At most uploadSlots bodies are held in memory at once; the others
	// wait here, before reading theirs.
	select {
	case h.uploads <- struct{}{}:
	case <-req.Context().Done():
		return req.Context().Err()
	}
	defer func() { <-h.uploads }()
	data, err := io.ReadAll(io.LimitReader(req.Body, catalog.MaxImageBytes+1))
	if err != nil {
		if _, ok := errors.AsType[*echo.HTTPError](err); ok { // the body limit
			return h.Images.Refused(catalog.ImageTooLarge())
		}
		return h.Images.Refused(apperr.Errorf(apperr.Invalid, "The image could not be read: the request body ended early."))
	}
	if len(data) > catalog.MaxImageBytes {
		return h.Images.Refused(catalog.ImageTooLarge())
	}
	p, err := h.Images.SetImage(req.Context(), c.Param("id"), req.Header.Get(echo.HeaderContentType), data)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// deleteImage leaves the product without an image.
func (h *Handler) deleteImage(c echo.Context) error {
	if err := h.Images.RemoveImage(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
