package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// An address no account can have is a wrong login like any other: 401, and
// never a 500 from a store that cannot compare text holding NUL.
func TestLoginWithAddressesNoAccountCanHave(t *testing.T) {
	s := startMain(t, nil)
	for i, email := range []string{
		"nul\x00@example.com",
		"admin@bazaar.test\x00",
		strings.Repeat("a", 10_000) + "@example.com",
		"not an address",
		"Admin <admin@bazaar.test>",
	} {
		r := s.call(http.MethodPost, "/api/users/login", map[string]string{"email": email, "password": "change-me-admin"},
			"X-Forwarded-For", fmt.Sprintf("10.9.0.%d", i+1))
		want(t, r, http.StatusUnauthorized, "unauthorized")
	}
}
