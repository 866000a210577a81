package ident

import (
	"encoding/base64"
	"strings"
)

// Listing cursors are opaque to clients: the last id of a page, versioned and
// base64url-encoded so the format can change without breaking old links.
const cursorVersion = "v1:"

// EncodeCursor returns the cursor that continues a listing after id.
func EncodeCursor(afterID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorVersion + afterID))
}

// DecodeCursor accepts exactly the cursors EncodeCursor makes from ids in the
// lowercase form the database prints: any other spelling (padding, other
// alphabets, uppercase ids, stray bits) is refused, so that a cursor is never
// a way to send arbitrary input to a store.
func DecodeCursor(s string) (afterID string, ok bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(b), cursorVersion)
	if !ok || !IsUUID(id) || id != strings.ToLower(id) || EncodeCursor(id) != s {
		return "", false
	}
	return id, true
}
