package http

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"bazaar/orders"
	"bazaar/platform/apperr"
	"bazaar/platform/ident"
	"bazaar/platform/web"
)

// FuzzDecodeOrderCreate holds the body of POST /api/orders to one contract:
// it either fails to decode with an invalid-request error (naming at most
// the one key whose value has the wrong type), or becomes lines that NewPlacement accepts or refuses with field
// errors naming the request's own fields. A quantity is read only from a
// plain integer literal, and an accepted placement has 1 to 100 distinct,
// non-empty, lowercase product ids with quantities from 1 to 1000.
func FuzzDecodeOrderCreate(f *testing.F) {
	const product = "0190a5b4-1c2d-7e3f-8a4b-000000000001"
	for _, s := range []string{
		``, `null`, `[]`, `{`, `{}`, `{} {}`, `{"items":null}`, `{"items":[]}`, `{"items":{}}`,
		`{"items":[{"product_id":"` + product + `","quantity":2}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":1},{"product_id":"` + strings.ToUpper(product) + `","quantity":1}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":1e400}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":9223372036854775808}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":-1}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":1.0}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":"2"}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":1e2}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":-0}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":null}]}`,
		`{"items":[{"product_id":"` + product + `\u0000","quantity":1}]}`,
		`{"items":[{"product_id":"../../users","quantity":1}]}`,
		`{"items":[{"product_id":"' OR 1=1 --","quantity":1}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":1,"unit_price_cents":0}]}`,
		`{"items":[{"product_id":"` + product + `","quantity":1}],"total_cents":0}`,
		`{"items":[{"product_id":"a","quantity":1}],"items":[{"product_id":"b","quantity":2}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var b placeBody
		if err := web.DecodeJSON(body, &b); err != nil {
			// At most the one key whose value has the wrong JSON type.
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) > 1 {
				t.Fatalf("DecodeJSON(%q) = %#v, want an invalid-request *apperr.Error", body, err)
			}
			for _, fe := range ae.Fields {
				if !slices.Contains([]string{"items", "items.product_id"}, fe.Field) || fe.Message == "" {
					t.Fatalf("DecodeJSON(%q): field error %+v names no key of the request", body, fe)
				}
			}
			return
		}
		lines := make([]orders.Line, len(b.Items))
		fields := []string{"items"}
		for i, l := range b.Items {
			n := quantity(l.Quantity)
			if n != 0 && strconv.Itoa(n) != string(l.Quantity) {
				t.Fatalf("quantity %s read as %d", l.Quantity, n)
			}
			lines[i] = orders.Line{ProductID: l.ProductID, Quantity: n}
			field := "items[" + strconv.Itoa(i) + "]"
			fields = append(fields, field+".product_id", field+".quantity")
		}
		p, err := orders.NewPlacement(lines)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) == 0 {
				t.Fatalf("NewPlacement = %#v, want an invalid-request *apperr.Error with field errors", err)
			}
			for _, fe := range ae.Fields {
				if !slices.Contains(fields, fe.Field) {
					t.Fatalf("field error %+v names no field of the request", fe)
				}
			}
			return
		}
		accepted := p.Lines()
		if len(accepted) < 1 || len(accepted) > orders.MaxLines {
			t.Fatalf("accepted %d lines", len(accepted))
		}
		seen := map[string]bool{}
		for _, l := range accepted {
			if l.ProductID == "" || l.ProductID != strings.ToLower(l.ProductID) || seen[l.ProductID] ||
				l.Quantity < orders.MinQuantity || l.Quantity > orders.MaxQuantity {
				t.Fatalf("accepted line %+v of %q", l, body)
			}
			seen[l.ProductID] = true
		}
	})
}

// FuzzIdempotencyKey holds the Idempotency-Key header to 1 to 255 printable
// ASCII characters, sent once; anything else is a 400 with a field error.
func FuzzIdempotencyKey(f *testing.F) {
	for _, s := range []string{"order-1", "", " ", strings.Repeat("k", 256), "a\x00b", "a\r\nSet-Cookie: x", "ключ", "\x7f"} {
		f.Add(s, false)
	}
	f.Add("order-1", true)
	f.Fuzz(func(t *testing.T, key string, twice bool) {
		hdr := http.Header{}
		hdr.Add(HeaderIdempotencyKey, key)
		if twice {
			hdr.Add(HeaderIdempotencyKey, key)
		}
		got, has, err := idempotencyKey(hdr)
		if err != nil {
			if ae := (*apperr.Error)(nil); !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) != 1 {
				t.Fatalf("idempotencyKey(%q) = %#v, want a field error", key, err)
			}
			return
		}
		if twice || !has || got != key || len(key) < 1 || len(key) > orders.MaxKeyLength {
			t.Fatalf("accepted %q (sent twice: %v)", key, twice)
		}
		for _, c := range []byte(key) {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("accepted %q with byte %#x", key, c)
			}
		}
	})
}

// FuzzDecodeCursor holds the listing cursor to what it promises: opaque,
// and accepted only in the exact form the API hands out.
func FuzzDecodeCursor(f *testing.F) {
	const id = "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC)
	for _, s := range []string{
		encodeCursor(orders.Cursor{CreatedAt: at, ID: id}),
		encodeCursor(orders.Cursor{CreatedAt: at, ID: strings.ToUpper(id)}),
		encodeCursor(orders.Cursor{CreatedAt: at, ID: id}) + "\n",
		encode("v1:0001:" + id),
		encode("v1:+5:" + id),
		encode("v1:-5:" + id),
		encode("v1:9223372036854775807:" + id),
		encode("v1:9223372036854775808:" + id),
		encode("v1:5:" + id + ":x"),
		"djE6", "", "!!!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cur, ok := decodeCursor(s)
		if !ok {
			return
		}
		if !ident.IsUUID(cur.ID) || cur.ID != strings.ToLower(cur.ID) || cur.CreatedAt.Before(time.Unix(0, 0)) {
			t.Fatalf("decodeCursor(%q) = %+v", s, cur)
		}
		if again := encodeCursor(cur); again != s {
			t.Fatalf("decodeCursor accepted %q, which re-encodes as %q", s, again)
		}
	})
}

func encode(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
