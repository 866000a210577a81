// Package ident checks the form of identifiers before they reach a
// database: an id of another form names nothing that exists, so callers
// answer "not found" (or "unknown") without asking anyone.
package ident

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
