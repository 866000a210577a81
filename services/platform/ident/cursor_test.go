package ident

import (
	"encoding/base64"
	"strings"
	"testing"
)

const someID = "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"

func TestCursorRoundTrip(t *testing.T) {
	got, ok := DecodeCursor(EncodeCursor(someID))
	if !ok || got != someID {
		t.Fatalf("decode(encode(%s)) = %q, %v", someID, got, ok)
	}
}

func TestCursorRejectsWhatItDidNotMake(t *testing.T) {
	good := EncodeCursor(someID)
	for name, s := range map[string]string{
		"empty":         "",
		"garbage":       "!!!",
		"raw id":        someID,
		"padded":        good + "==",
		"newline":       good + "\n",
		"std alphabet":  base64.StdEncoding.EncodeToString([]byte(cursorVersion + someID + "?>")),
		"other version": base64.RawURLEncoding.EncodeToString([]byte("v2:" + someID)),
		"no version":    base64.RawURLEncoding.EncodeToString([]byte(someID)),
		"not an id":     base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + "1 OR 1=1")),
		"uppercase id":  EncodeCursor(strings.ToUpper(someID)),
		"trailing data": base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + someID + "x")),
		"truncated":     good[:len(good)-1],
		"extra char":    good + "A",
	} {
		if got, ok := DecodeCursor(s); ok {
			t.Errorf("%s: DecodeCursor(%q) = %q, accepted", name, s, got)
		}
	}
}

// FuzzDecodeCursor holds the cursor to what it promises: opaque, and
// accepted only in the exact form the API hands out.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		EncodeCursor(someID),
		EncodeCursor(strings.ToUpper(someID)),
		EncodeCursor(someID) + "\n",
		EncodeCursor(someID) + "==",
		"djE6", "", "!!!",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		after, ok := DecodeCursor(s)
		if !ok {
			return
		}
		if !IsUUID(after) {
			t.Fatalf("DecodeCursor(%q) = %q, not an id", s, after)
		}
		if again := EncodeCursor(after); again != s {
			t.Fatalf("DecodeCursor accepted %q, which re-encodes as %q", s, again)
		}
	})
}
