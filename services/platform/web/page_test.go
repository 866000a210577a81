package web_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/web"
)

func TestParsePage(t *testing.T) {
	t.Parallel()
	const id = "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	cursor := ident.EncodeCursor(id)
	for _, c := range []struct {
		query  string
		want   web.Page[string]
		fields []apperr.FieldError
	}{
		{"", web.Page[string]{Limit: 20}, nil},
		{"limit=1", web.Page[string]{Limit: 1}, nil},
		{"limit=50&cursor=" + cursor, web.Page[string]{Limit: 50, After: id, HasCursor: true}, nil},
		{"limit=0", web.Page[string]{}, []apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to 50"}}},
		{"limit=51", web.Page[string]{}, []apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to 50"}}},
		{"limit=ten&cursor=x", web.Page[string]{}, []apperr.FieldError{
			{Field: "limit", Message: "must be an integer from 1 to 50"},
			{Field: "cursor", Message: "is not a cursor returned by this API"}}},
		{"limit=99999999999999999999", web.Page[string]{}, []apperr.FieldError{{Field: "limit", Message: "must be an integer from 1 to 50"}}},
	} {
		e := echo.New()
		ctx := e.NewContext(httptest.NewRequest(http.MethodGet, "/?"+c.query, nil), httptest.NewRecorder())
		var v apperr.Validation
		got := web.ParsePage(ctx, &v, 20, 50, ident.DecodeCursor)
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("%q: page (-want +got):\n%s", c.query, diff)
		}
		var fields []apperr.FieldError
		if err, ok := v.Err().(*apperr.Error); ok {
			fields = err.Fields
		}
		if diff := cmp.Diff(c.fields, fields); diff != "" {
			t.Errorf("%q: problems (-want +got):\n%s", c.query, diff)
		}
	}
}

// Without a decoder the cursor is not read: the listing has none.
func TestParsePageWithoutCursor(t *testing.T) {
	t.Parallel()
	ctx := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/?cursor=x", nil), httptest.NewRecorder())
	var v apperr.Validation
	if p := web.ParsePage[string](ctx, &v, 500, 1000, nil); p.Limit != 500 || v.Err() != nil {
		t.Errorf("page %+v, err %v; want limit 500, no error", p, v.Err())
	}
}
