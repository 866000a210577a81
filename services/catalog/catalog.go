// Package catalog is the catalog service's domain: products, categories,
// their images and stock reservations, with their validation rules, and the
// Service that carries out the use cases over the stores it defines
// (ProductStore, ReservationStore, ImageProcessor, MediaStore). It knows
// nothing of HTTP, PostgreSQL or Redis; the http, postgres, cache, imaging,
// media and metrics packages adapt it to those.
package catalog

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"bazaar/platform/text"
)

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

// validName reports whether s can name a product or a category: one line of
// 1..maxLen characters, not only spaces, without invisible formatting
// characters.
func validName(s string, maxLen int) bool {
	return validText(s, 1, maxLen, false) && strings.TrimSpace(s) != "" && !text.HasFormatChar(s)
}
