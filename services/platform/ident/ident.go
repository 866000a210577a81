// Package ident checks the form of identifiers before they reach a
// database: an id of another form names nothing that exists, so callers
// answer "not found" (or "unknown") without asking anyone.
package ident

import (
	"strconv"
	"strings"
	"time"
)

// IsUUID reports whether s is a UUID in its 36-character 8-4-4-4-12 hex form.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F') {
				return false
			}
		}
	}
	return true
}

// IsUUIDv7 reports whether s is, in the form IsUUID accepts, a version-7
// UUID of the RFC 9562 variant: one that carries the time it was made.
func IsUUIDv7(s string) bool {
	return IsUUID(s) && s[14] == '7' && strings.IndexByte("89abAB", s[19]) >= 0
}

// UUIDTime returns the time in the first 48 bits of s, a UUID in the form
// IsUUID accepts, read as Unix milliseconds: for a UUIDv7, when it was made.
func UUIDTime(s string) time.Time {
	ms, _ := strconv.ParseInt(s[:8]+s[9:13], 16, 64)
	return time.UnixMilli(ms)
}
