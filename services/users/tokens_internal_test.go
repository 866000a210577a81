package users

import (
	"bytes"
	"strings"
	"testing"
)

func TestRefreshTokenHash(t *testing.T) {
	t.Parallel()
	token, hash := newRefreshToken()
	if len(token) != 43 {
		t.Errorf("token %q has %d characters, want 43 (32 bytes base64url)", token, len(token))
	}
	got, ok := hashRefreshToken(token)
	if !ok || !bytes.Equal(got, hash) {
		t.Errorf("hashRefreshToken(token) = %x, %v; want the hash newRefreshToken stored", got, ok)
	}
	other, _ := newRefreshToken()
	if other == token {
		t.Error("two refresh tokens are equal")
	}
	for _, bad := range []string{"", "short", token + "A", token[:42], strings.Repeat("!", 43)} {
		if _, ok := hashRefreshToken(bad); ok {
			t.Errorf("hashRefreshToken(%q) accepted a malformed token", bad)
		}
	}
}
