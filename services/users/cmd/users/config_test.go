package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"bazaar/platform/config"
)

// env returns a config.Env over vars and the minimum every service needs.
// A *_FILE variable names a file whose contents are the text after "file:".
func env(vars map[string]string) *config.Env {
	all := map[string]string{"DATABASE_URL": "postgres://users:secret@postgres:5432/bazaar"}
	maps.Copy(all, vars)
	return &config.Env{
		Lookup: func(k string) (string, bool) { v, ok := all[k]; return v, ok },
		ReadFile: func(path string) ([]byte, error) {
			if v, ok := strings.CutPrefix(path, "file:"); ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		},
	}
}

func mustPEM(t *testing.T) (string, ed25519.PrivateKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), priv
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SigningKey != nil || cfg.AccessTTL != 15*time.Minute || cfg.RefreshTTL != 720*time.Hour || cfg.SessionMaxAge != 720*time.Hour ||
		cfg.MaxFailuresPerIP != 50 || cfg.MaxFailuresPerAccount != 10 || cfg.AccountGuardFailures != 100 ||
		cfg.FailureWindow != 15*time.Minute || cfg.MaxRegistrationsPerIP != 60 ||
		!cfg.CookieSecure || cfg.AdminEmail != "" || cfg.HashConcurrency < 1 || cfg.HashConcurrency > 4 {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	keyPEM, priv := mustPEM(t)
	prod := func(vars map[string]string) map[string]string {
		all := map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://users@postgres/bazaar",
			"DATABASE_PASSWORD_FILE": "file:a-real-password", "INTERNAL_TOKEN_FILE": "file:internal-token",
			"JWT_PRIVATE_KEY_FILE": "file:" + keyPEM, "ADMIN_EMAIL": "root@shop.example", "ADMIN_PASSWORD_FILE": "file:a long admin secret"}
		maps.Copy(all, vars)
		return all
	}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantErr string // "" when the configuration is valid
	}{
		{"production", prod(nil), ""},
		{"production without a key", prod(map[string]string{"JWT_PRIVATE_KEY_FILE": ""}), "JWT_PRIVATE_KEY is required in production"},
		{"production with the key in a variable", prod(map[string]string{"JWT_PRIVATE_KEY_FILE": "", "JWT_PRIVATE_KEY": keyPEM}), "JWT_PRIVATE_KEY must come from a file in production"},
		{"production with the dev admin password", prod(map[string]string{"ADMIN_PASSWORD_FILE": "file:" + devAdminPassword}), "development default"},
		{"production with a short admin password", prod(map[string]string{"ADMIN_PASSWORD_FILE": "file:elevenchars"}), "at least 12 characters"},
		{"production with insecure cookies", prod(map[string]string{"COOKIE_SECURE": "false"}), "COOKIE_SECURE cannot be false"},
		{"development with the dev admin password", map[string]string{"ADMIN_EMAIL": "admin@bazaar.local", "ADMIN_PASSWORD": devAdminPassword}, ""},
		{"development with insecure cookies", map[string]string{"COOKIE_SECURE": "false"}, ""},
		{"admin email alone", map[string]string{"ADMIN_EMAIL": "admin@bazaar.local"}, "set together"},
		{"admin password alone", map[string]string{"ADMIN_PASSWORD": devAdminPassword}, "set together"},
		{"admin email invalid", map[string]string{"ADMIN_EMAIL": "admin", "ADMIN_PASSWORD": devAdminPassword}, "ADMIN_EMAIL is not a valid email address"},
		{"admin password too short", map[string]string{"ADMIN_EMAIL": "admin@bazaar.local", "ADMIN_PASSWORD": "short"}, "ADMIN_PASSWORD must be 8 to 128 characters"},
		{"key not PEM", map[string]string{"JWT_PRIVATE_KEY": "secret"}, "JWT_PRIVATE_KEY"},
		{"key with escaped newlines", map[string]string{"JWT_PRIVATE_KEY": strings.ReplaceAll(keyPEM, "\n", `\n`)}, ""},
		{"previous keys not PEM", map[string]string{"JWT_PREVIOUS_PUBLIC_KEYS": "nope"}, "JWT_PREVIOUS_PUBLIC_KEYS"},
		{"cookie flag not a boolean", map[string]string{"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE must be true or false"},
		{"access TTL too short", map[string]string{"ACCESS_TOKEN_TTL": "10s"}, "ACCESS_TOKEN_TTL"},
		{"refresh TTL not above access TTL", map[string]string{"ACCESS_TOKEN_TTL": "1h", "REFRESH_TOKEN_TTL": "1h"}, "REFRESH_TOKEN_TTL"},
		{"session max age not above access TTL", map[string]string{"SESSION_MAX_AGE": "15m"}, "SESSION_MAX_AGE"},
		{"no login failures allowed", map[string]string{"LOGIN_MAX_FAILURES_PER_ACCOUNT": "0"}, "LOGIN_MAX_FAILURES_PER_ACCOUNT"},
		{"account guard below the per-account limit", map[string]string{"LOGIN_ACCOUNT_GUARD_FAILURES": "9"}, "LOGIN_ACCOUNT_GUARD_FAILURES"},
		{"no registrations allowed", map[string]string{"REGISTER_MAX_PER_IP": "0"}, "REGISTER_MAX_PER_IP"},
		{"window not a duration", map[string]string{"LOGIN_FAILURE_WINDOW": "15"}, "LOGIN_FAILURE_WINDOW"},
		{"no password hashing", map[string]string{"PASSWORD_HASH_CONCURRENCY": "0"}, "PASSWORD_HASH_CONCURRENCY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := LoadConfig(env(tc.vars))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("LoadConfig: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("LoadConfig error = %v, want one mentioning %q", err, tc.wantErr)
			}
			if err == nil && (tc.vars["JWT_PRIVATE_KEY"] != "" || tc.vars["APP_ENV"] == "production") && !priv.Equal(cfg.SigningKey) {
				t.Error("signing key differs from JWT_PRIVATE_KEY")
			}
		})
	}
}
