package web

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"bazaar/platform/apperr"
)

// FuzzDecodeJSON holds DecodeJSON to its contract for any body: it fails
// only with an invalid-request *apperr.Error whose message stays short
// whatever the input; what it accepts is one well-formed JSON value in
// UTF-8, and decoding is stable (the value re-encoded decodes to itself).
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"mug","quantity":2,"price":350,"tags":["a","b"]}`,
		`{"name":"a","name":"b"}`,
		`{"name":"a","NAME":"b"}`,
		`{"tags":["x"],"tag\u017f":["y"]}`,
		`{"quantity":1e400}`,
		`{"price":9223372036854775808}`,
		`{"price":-9223372036854775809}`,
		`{"quantity":-1}`,
		`{"name":"\u0000\ud800\u202e"}`,
		"{\"name\":\"\xc0\xaf\xed\xa0\x80\"}",
		`{"tags":[[[[[[[[[[]]]]]]]]]]}`,
		`{"NAME":"case-folded key"}`,
		`{} {}`,
		`null`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v item
		err := DecodeJSON(body, &v)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.Invalid || len(ae.Fields) > 1 {
				t.Fatalf("DecodeJSON(%q) = %#v, want an invalid-request *apperr.Error", body, err)
			}
			if p := ProblemFor(err); p.Status != 400 || len(p.Detail) > 2*maxEcho {
				t.Fatalf("DecodeJSON(%q) answers %d with %d bytes of detail", body, p.Status, len(p.Detail))
			}
			return
		}
		if !json.Valid(body) || !utf8.Valid(body) {
			t.Fatalf("accepted %q, which is not one JSON value in UTF-8", body)
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", v, err)
		}
		var w item
		if err := DecodeJSON(again, &w); err != nil {
			t.Fatalf("DecodeJSON of its own output %s: %v", again, err)
		}
		if diff := cmp.Diff(v, w); diff != "" {
			t.Fatalf("decoding %q is not stable (-first +second):\n%s", body, diff)
		}
	})
}
