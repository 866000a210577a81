package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// A well-formed caller's request id is adopted; any other is replaced by a
// new one of 32 hex digits.
func TestRequestID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		sent  string
		adopt bool
	}{
		{"req-1", true},
		{"a.b_c:d-E9", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"with space", false},
		{"semi;colon", false},
		{"é", false},
		{"new\nline", false},
	} {
		e := echo.New()
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set(HeaderRequestID, tt.sent)
		rec := httptest.NewRecorder()
		var seen string
		h := requestID(func(c echo.Context) error {
			seen = c.Response().Header().Get(HeaderRequestID)
			return nil
		})
		if err := h(e.NewContext(req, rec)); err != nil {
			t.Fatal(err)
		}
		if adopted := seen == tt.sent; adopted != tt.adopt {
			t.Errorf("sent %q: request id %q, adopted %v, want %v", tt.sent, seen, adopted, tt.adopt)
		}
		if !tt.adopt && (len(seen) != 32 || strings.Trim(seen, "0123456789abcdef") != "") {
			t.Errorf("sent %q: made %q, want 32 hex digits", tt.sent, seen)
		}
	}
}
