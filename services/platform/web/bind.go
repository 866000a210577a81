package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"bazaar/platform/apperr"
)

// BindJSON decodes the request body into v strictly: the content type must be
// JSON, unknown fields and trailing data are rejected, and every failure is a
// 400 (or 413 past the body limit) that says what was wrong.
func BindJSON(c echo.Context, v any) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != echo.MIMEApplicationJSON {
		return &echo.HTTPError{Code: http.StatusUnsupportedMediaType, Message: "Content-Type must be application/json."}
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.Errorf(apperr.TooLarge, "The request body is larger than %d bytes.", MaxBodyBytes)
		}
		return apperr.Errorf(apperr.Invalid, "The request body could not be read.")
	}
	return DecodeJSON(body, v)
}

// DecodeJSON is BindJSON's decoder, separate so that it can be fuzzed.
//
// Beyond encoding/json's own checks it refuses bytes that are not UTF-8,
// which json would silently turn into U+FFFD, and objects that name a key
// twice, whose earlier values json would silently drop: either way the
// service would act on another request than the one a proxy, a log or the
// client itself reads in the body.
func DecodeJSON(body []byte, v any) error {
	if !utf8.Valid(body) {
		return apperr.Errorf(apperr.Invalid, "The request body is not valid: it is not UTF-8 text.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		e := apperr.Errorf(apperr.Invalid, "The request body is not valid: %s.", clip(describeJSONError(err)))
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field != "" {
			e.Fields = []apperr.FieldError{{Field: clip(typ.Field), Message: "must be " + jsonKind(typ.Type)}}
		}
		return e
	}
	if _, err := dec.Token(); err != io.EOF {
		return apperr.Errorf(apperr.Invalid, "The request body must hold a single JSON value.")
	}
	if key, ok := duplicateKey(body); ok {
		return apperr.Errorf(apperr.Invalid, "The request body is not valid: key %s appears twice in one object.", clip(strconv.Quote(key)))
	}
	return nil
}

func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "it is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "it ends too early"
	case errors.As(err, &syntax):
		return fmt.Sprintf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %q must be %s, not %s", typ.Field, jsonKind(typ.Type), typ.Value)
		}
		return fmt.Sprintf("expected %s, not %s", jsonKind(typ.Type), typ.Value)
	default:
		// json's remaining messages (unknown field, nesting too deep) name
		// only the client's own input.
		return err.Error()
	}
}

// maxEcho bounds how much of the client's own input (a field name, a
// number's digits) an error message repeats, so that a megabyte-long key
// does not come back in the response.
const maxEcho = 200

// clip shortens s to at most maxEcho bytes, on a character boundary.
func clip(s string) string { return clipTo(s, maxEcho) }

// clipTo shortens s to at most n bytes, on a character boundary.
func clipTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// duplicateKey returns the first key that an object of body, a single
// well-formed JSON value, names twice. Keys compare as encoding/json matches
// them to struct fields: case-insensitively, so "sku" and "SKU" are one key.
func duplicateKey(body []byte) (string, bool) {
	type frame struct {
		keys    map[string]bool // nil in an array
		wantKey bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if key, ok := tok.(string); ok {
				folded := foldKey(key)
				if stack[n-1].keys[folded] {
					return key, true
				}
				stack[n-1].keys[folded] = true
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended; in an object, a key comes next.
		if len(stack) == 0 {
			return "", false
		}
		if top := &stack[len(stack)-1]; top.keys != nil {
			top.wantKey = true
		}
	}
}

// foldKey maps every character of s to the smallest of its case-fold
// equivalents, so that foldKey(a) == foldKey(b) exactly when
// strings.EqualFold(a, b), the comparison encoding/json applies to keys.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// jsonKind names a Go type as the JSON value it decodes from, so messages
// speak the client's language rather than the server's.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	default:
		return "another type"
	}
}
