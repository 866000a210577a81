// Package text holds the rules for text that people see, shared by the
// services that store names.
package text

import "unicode"

// HasFormatChar reports whether s contains a Unicode format character
// (category Cf) other than a zero-width joiner or non-joiner inside a word.
// Format characters are invisible: bidi controls such as U+202E reorder the
// text shown around them, and zero-width ones such as U+200B and U+FEFF make
// names that look the same differ. U+200D (ZWJ) and U+200C (ZWNJ) between two
// visible characters are kept, since emoji sequences (woman, ZWJ, laptop is
// "woman technologist") and scripts such as Persian and Devanagari need them.
func HasFormatChar(s string) bool {
	rs := []rune(s)
	for i, r := range rs {
		if !unicode.Is(unicode.Cf, r) {
			continue
		}
		joiner := r == '\u200c' || r == '\u200d'
		if joiner && i > 0 && i < len(rs)-1 && visible(rs[i-1]) && visible(rs[i+1]) {
			continue
		}
		return true
	}
	return false
}

// visible reports whether r is a letter, mark, digit, punctuation or symbol.
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}
