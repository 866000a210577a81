// Package catalog is the catalog service's domain: products, categories and
// stock reservations, with their validation rules. It knows nothing of HTTP,
// PostgreSQL or Redis; the postgres, cache and http packages adapt it to those.
package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidID reports whether id has the canonical form of a product or order id
// (a UUID in 8-4-4-4-12 hex form). Callers answer "not found" for other forms
// rather than asking the database.
func ValidID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, r := range id {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !isHex(r) {
				return false
			}
		}
	}
	return true
}

func isHex(r rune) bool {
	return '0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F'
}

// NormalizeID returns id in the lowercase form the database prints, so that
// two spellings of one UUID compare equal.
func NormalizeID(id string) string {
	return strings.ToLower(id)
}

// validText reports whether s is UTF-8 text of minLen..maxLen characters. It
// refuses NUL, which PostgreSQL cannot store in text, and every other control
// character but, when multiline, line breaks and tabs.
func validText(s string, minLen, maxLen int, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	if n := utf8.RuneCountInString(s); n < minLen || n > maxLen {
		return false
	}
	for _, r := range s {
		allowed := multiline && strings.ContainsRune("\n\r\t", r)
		if r == 0 || unicode.IsControl(r) && !allowed {
			return false
		}
	}
	return true
}
