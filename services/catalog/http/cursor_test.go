package http

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	id := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	got, ok := decodeCursor(encodeCursor(id))
	if !ok || got != id {
		t.Fatalf("decode(encode(%s)) = %q, %v", id, got, ok)
	}
}

func TestCursorRejectsWhatItDidNotMake(t *testing.T) {
	id := "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"
	good := encodeCursor(id)
	for name, s := range map[string]string{
		"empty":         "",
		"garbage":       "!!!",
		"raw id":        id,
		"padded":        good + "==",
		"std alphabet":  base64.StdEncoding.EncodeToString([]byte(cursorVersion + id + "?>")),
		"other version": base64.RawURLEncoding.EncodeToString([]byte("v2:" + id)),
		"no version":    base64.RawURLEncoding.EncodeToString([]byte(id)),
		"not an id":     base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + "1 OR 1=1")),
		"uppercase id":  base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + strings.ToUpper(id))),
		"trailing data": base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + id + "x")),
		"truncated":     good[:len(good)-1],
		"extra char":    good + "A",
	} {
		if got, ok := decodeCursor(s); ok {
			t.Errorf("%s: decodeCursor(%q) = %q, accepted", name, s, got)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor("0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"))
	f.Add("djE6")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := decodeCursor(s)
		if ok && encodeCursor(id) != s {
			t.Fatalf("accepted %q, which encodes as %q", s, encodeCursor(id))
		}
	})
}
