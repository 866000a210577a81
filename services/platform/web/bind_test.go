package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
)

// item stands for a service's request body.
type item struct {
	Name     string   `json:"name"`
	Quantity int      `json:"quantity"`
	Price    *int64   `json:"price"`
	Tags     []string `json:"tags"`
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       string // in the error's message; "" when the body must decode
	}{
		{"valid", `{"name":"mug","quantity":2,"price":350,"tags":["a"]}`, ""},
		{"surrounding whitespace", " \n{\"name\":\"mug\"}\n\t", ""},
		{"null", `null`, ""},
		{"NUL and odd unicode escapes stay data", `{"name":"a\u0000b\u202e\ud800"}`, ""},
		{"multi-byte text", `{"name":"Ünïcödé ✓ 𝕏"}`, ""},
		{"invalid UTF-8", "{\"name\":\"\xff\"}", "not UTF-8"},
		{"overlong UTF-8", "{\"name\":\"\xc0\xaf\"}", "not UTF-8"},
		{"UTF-16 surrogate as bytes", "{\"name\":\"\xed\xa0\x80\"}", "not UTF-8"},
		{"duplicate key", `{"name":"a","quantity":1,"name":"b"}`, `key "name" appears twice`},
		{"duplicate key in another case", `{"name":"a","NAME":"b"}`, `key "NAME" appears twice`},
		{"duplicate key by case folding", `{"tags":[],"tag\u017f":[]}`, "appears twice"},
		{"key past the limit echoed short", `{"` + strings.Repeat("k", 5000) + `":1}`, "…"},
		{"empty", ``, "it is empty"},
		{"only spaces", `   `, "it is empty"},
		{"cut short", `{"name":"mug"`, "it ends too early"},
		{"malformed", `{"name" "mug"}`, "malformed JSON at byte"},
		{"single quotes", `{'name':'mug'}`, "malformed JSON"},
		{"trailing comma", `{"name":"mug",}`, "malformed JSON"},
		{"wrong type", `{"quantity":"two"}`, `field "quantity" must be an integer, not string`},
		{"fraction for an integer", `{"quantity":1.5}`, `field "quantity" must be an integer`},
		{"number past int64", `{"price":9223372036854775808}`, `field "price" must be an integer`},
		{"number past float64", `{"quantity":1e400}`, `field "quantity" must be an integer`},
		{"array for an object", `[]`, "expected an object, not array"},
		{"unknown field", `{"name":"mug","admin":true}`, `unknown field "admin"`},
		{"two values", `{} {}`, "a single JSON value"},
		{"trailing garbage", `{"name":"mug"} x`, "a single JSON value"},
		{"trailing bracket", `{"name":"mug"}]`, "a single JSON value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v item
			err := DecodeJSON([]byte(tc.body), &v)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("DecodeJSON(%q) = %v", tc.body, err)
				}
				return
			}
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || !strings.Contains(ae.Message, tc.want) {
				t.Fatalf("DecodeJSON(%q) = %v, want an invalid-request error mentioning %q", tc.body, err, tc.want)
			}
		})
	}
}

// Objects nested anywhere are checked for duplicate keys; the same key in
// sibling objects is no duplicate.
func TestDecodeJSONDuplicateKeysNested(t *testing.T) {
	t.Parallel()
	for body, dup := range map[string]bool{
		`{"a":{"b":1,"b":2}}`:                   true,
		`[{"a":1},{"a":2,"c":[{"d":1,"d":1}]}]`: true,
		`{"a":[{"x":1},{"x":1}],"b":{"x":1}}`:   false,
		`[{"a":1},{"a":2},[],{}]`:               false,
		`{"a":{},"b":{"a":{}},"c":"a"}`:         false,
	} {
		var v any
		err := DecodeJSON([]byte(body), &v)
		if got := err != nil; got != dup {
			t.Errorf("DecodeJSON(%s) = %v, want a duplicate-key error: %v", body, err, dup)
		}
	}
}

func TestBindJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, body string
		status                  int // 0 when the body must bind
	}{
		{"json", "application/json", `{"name":"mug"}`, 0},
		{"json with a charset", "application/json; charset=utf-8", `{"name":"mug"}`, 0},
		{"json, capitalised", "Application/JSON", `{"name":"mug"}`, 0},
		{"no content type", "", `{"name":"mug"}`, http.StatusUnsupportedMediaType},
		{"form", "application/x-www-form-urlencoded", `name=mug`, http.StatusUnsupportedMediaType},
		{"text", "text/plain", `{"name":"mug"}`, http.StatusUnsupportedMediaType},
		{"json suffix", "application/problem+json", `{"name":"mug"}`, http.StatusUnsupportedMediaType},
		{"malformed media type", "application/json; charset", `{"name":"mug"}`, http.StatusUnsupportedMediaType},
		{"malformed body", "application/json", `{"name":`, http.StatusBadRequest},
		{"exactly the limit", "application/json", `{"name":"` + strings.Repeat("a", MaxBodyBytes-len(`{"name":""}`)) + `"}`, 0},
		{"one byte past the limit", "application/json", `{"name":"` + strings.Repeat("a", MaxBodyBytes-len(`{"name":""}`)+1) + `"}`, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set(echo.HeaderContentType, tc.contentType)
			}
			rec := httptest.NewRecorder()
			// The body limit as the server applies it, without the
			// middleware, so that BindJSON meets http.MaxBytesError itself.
			req.Body = http.MaxBytesReader(rec, req.Body, MaxBodyBytes)
			var v item
			err := BindJSON(echo.New().NewContext(req, rec), &v)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("BindJSON = %v", err)
				}
				return
			}
			if got := ProblemFor(err).Status; got != tc.status {
				t.Fatalf("BindJSON = %v (status %d), want status %d", err, got, tc.status)
			}
		})
	}
}
