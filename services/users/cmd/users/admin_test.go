package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// The start-up never promotes an account it did not create: whoever
// registered ADMIN_EMAIL first stays a customer with their own password,
// the service starts all the same, and the log says so at error level.
func TestAdminBootstrapLeavesOtherAccountsAlone(t *testing.T) {
	s := startMain(t, nil)
	email := uniqueEmail("squatter")
	want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": email, "password": "correct horse", "name": "Squatter"}), http.StatusCreated, "")

	again := startMain(t, map[string]string{"ADMIN_EMAIL": strings.ToUpper(email), "ADMIN_PASSWORD": "the admin password"})
	want(t, again.call(http.MethodPost, "/api/users/login", map[string]string{"email": email, "password": "the admin password"}), http.StatusUnauthorized, "unauthorized")
	token := again.login(email, "correct horse")["access_token"].(string)
	r := again.call(http.MethodGet, "/api/users/me", nil, bearer(token)...)
	want(t, r, http.StatusOK, "")
	if role := r.json(t)["role"]; role != "customer" {
		t.Errorf("role = %v, want customer: the account was promoted", role)
	}
	if logs := again.logs.String(); !strings.Contains(logs, `"level":"ERROR","msg":"an account that is not an admin has ADMIN_EMAIL`) {
		t.Errorf("no error logged about the account with ADMIN_EMAIL; log:\n%s", logs)
	}
}

// The admin-password command changes the password of the running
// service's admin account in place and signs the admin out everywhere.
func TestAdminPasswordCommand(t *testing.T) {
	admin := uniqueEmail("root")
	vars := map[string]string{"ADMIN_EMAIL": admin, "ADMIN_PASSWORD": "the first password"}
	s := startMain(t, vars)
	before := s.login(admin, "the first password")
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))

	for _, tc := range []struct{ name, input, wantErr string }{
		{"no input", "", "no password on standard input"},
		{"empty line", "\n", "no password on standard input"},
		{"too short", "short\n", "the new password must be 8 to 128 characters"},
	} {
		if _, err := setAdminPassword(context.Background(), mainEnv(vars), strings.NewReader(tc.input), logger); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: setAdminPassword = %v, want an error mentioning %q", tc.name, err, tc.wantErr)
		}
	}
	s.login(admin, "the first password")

	email, err := setAdminPassword(context.Background(), mainEnv(vars), strings.NewReader(" a new password \r\nignored\n"), logger)
	if err != nil || email != admin {
		t.Fatalf("setAdminPassword = %q, %v; want %q", email, err, admin)
	}
	want(t, s.call(http.MethodPost, "/api/users/login", map[string]string{"email": admin, "password": "the first password"}), http.StatusUnauthorized, "unauthorized")
	after := s.login(admin, " a new password ")
	if before["access_token"] == after["access_token"] {
		t.Error("the same access token twice")
	}
	want(t, s.call(http.MethodPost, "/api/users/refresh", map[string]any{"refresh_token": before["refresh_token"]}), http.StatusUnauthorized, "unauthorized")
	r := s.call(http.MethodGet, "/api/users/me", nil, bearer(after["access_token"].(string))...)
	want(t, r, http.StatusOK, "")
	if role := r.json(t)["role"]; role != "admin" {
		t.Errorf("role = %v after the change, want admin", role)
	}

	// An ADMIN_EMAIL whose account is not an admin is not touched.
	customer := uniqueEmail("customer")
	want(t, s.call(http.MethodPost, "/api/users/register", map[string]string{"email": customer, "password": "correct horse", "name": "C"}), http.StatusCreated, "")
	_, err = setAdminPassword(context.Background(), mainEnv(map[string]string{"ADMIN_EMAIL": customer}), strings.NewReader("a new password\n"), logger)
	if err == nil || !strings.Contains(err.Error(), "No admin account has the email") {
		t.Errorf("setAdminPassword for a customer = %v, want a not-found error", err)
	}
	s.login(customer, "correct horse")
}
