package http

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// spec is the OpenAPI description of the public routes; a test keeps it and
// Register in step.
//
//go:embed openapi.json
var spec []byte

func serveSpec(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "public, max-age=300")
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, spec)
}
