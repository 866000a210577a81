package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
)

// ProblemTypePrefix starts every problem "type"; the error code follows it.
// It is a relative URI reference (RFC 9457 §3.1.1), resolved against the
// API's own origin, where the storefront documents each problem type.
const ProblemTypePrefix = "/problems/"

// Problem is an RFC 9457 problem details object.
type Problem struct {
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Errors []apperr.FieldError `json:"errors,omitempty"`
}

var statusOf = map[string]int{
	apperr.Invalid:        http.StatusBadRequest,
	apperr.Unauthorized:   http.StatusUnauthorized,
	apperr.Forbidden:      http.StatusForbidden,
	apperr.NotFound:       http.StatusNotFound,
	apperr.Conflict:       http.StatusConflict,
	apperr.OutOfStock:     http.StatusConflict,
	apperr.InFlight:       http.StatusConflict,
	apperr.TooLarge:       http.StatusRequestEntityTooLarge,
	apperr.Unsupported:    http.StatusUnsupportedMediaType,
	apperr.Unprocessable:  http.StatusUnprocessableEntity,
	apperr.KeyReused:      http.StatusUnprocessableEntity,
	apperr.TooManyRequest: http.StatusTooManyRequests,
	apperr.Unavailable:    http.StatusServiceUnavailable,
	apperr.Internal:       http.StatusInternalServerError,
}

// codeOf names the code for statuses that reach us without a domain error
// (echo's router, body limit and binder).
var codeOf = map[int]string{
	http.StatusBadRequest:            apperr.Invalid,
	http.StatusUnauthorized:          apperr.Unauthorized,
	http.StatusForbidden:             apperr.Forbidden,
	http.StatusNotFound:              apperr.NotFound,
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusRequestEntityTooLarge: apperr.TooLarge,
	http.StatusUnsupportedMediaType:  apperr.Unsupported,
	http.StatusTooManyRequests:       apperr.TooManyRequest,
	http.StatusServiceUnavailable:    apperr.Unavailable,
}

// ProblemFor converts any error into the problem the client sees. Unknown
// errors become a generic 500 whose cause is only logged.
func ProblemFor(err error) Problem {
	var ae *apperr.Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, ok := statusOf[ae.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		return Problem{Type: ProblemTypePrefix + ae.Code, Title: http.StatusText(status), Status: status, Detail: clipTo(ae.Message, 2*maxEcho), Errors: ae.Fields}
	case errors.As(err, &he):
		code, ok := codeOf[he.Code]
		if !ok {
			code = apperr.Internal
		}
		detail := http.StatusText(he.Code)
		if msg, ok := he.Message.(string); ok && (he.Code < 500 || he.Code == http.StatusServiceUnavailable) {
			detail = msg
		}
		return Problem{Type: ProblemTypePrefix + code, Title: http.StatusText(he.Code), Status: he.Code, Detail: detail}
	default:
		return Problem{
			Type:   ProblemTypePrefix + apperr.Internal,
			Title:  http.StatusText(http.StatusInternalServerError),
			Status: http.StatusInternalServerError,
			Detail: "An unexpected error occurred. It has been logged; quote the X-Request-Id header when reporting it.",
		}
	}
}

// handleError is echo's single error handler: every error leaves as
// application/problem+json.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := ProblemFor(err)
	if p.Status >= 500 {
		attrs := []any{"err", err, "path", c.Request().URL.Path}
		if pe, ok := errors.AsType[*panicError](err); ok {
			attrs = append(attrs, "stack", string(pe.stack))
		}
		s.logger.ErrorContext(c.Request().Context(), "request failed", attrs...)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	body, _ := json.Marshal(p)
	_ = c.Blob(p.Status, "application/problem+json", body)
}
