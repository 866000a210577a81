package web

import (
	"strconv"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// Page is what a listing request asks for: how many items, and after which.
type Page[T any] struct {
	Limit     int
	After     T    // the decoded cursor; the zero T without one
	HasCursor bool // whether the request has a valid cursor
}

// ParsePage reads the query parameters of a listing: "limit", def when it is
// absent, else an integer from ident.MinLimit to maxLimit; and, when decode
// is not nil, "cursor", which decode must accept. Each invalid one adds a
// problem to v naming the field, and leaves its zero value in the Page.
func ParsePage[T any](c echo.Context, v *apperr.Validation, def, maxLimit int, decode func(string) (T, bool)) Page[T] {
	p := Page[T]{Limit: def}
	if s := c.QueryParam("limit"); s != "" {
		p.Limit = 0
		if n, err := strconv.Atoi(s); err == nil && ident.ValidLimit(n, maxLimit) {
			p.Limit = n
		}
		v.Check(p.Limit != 0, "limit", ident.LimitMessage(maxLimit))
	}
	if s := c.QueryParam("cursor"); s != "" && decode != nil {
		p.After, p.HasCursor = decode(s)
		v.Check(p.HasCursor, "cursor", ident.CursorMessage)
	}
	return p
}
