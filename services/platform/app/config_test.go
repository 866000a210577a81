package app

import (
	"maps"
	"os"
	"strings"
	"testing"
	"time"

	"bazaar/platform/config"
)

// env returns a config.Env over vars on top of a valid development setup.
// A *_FILE variable names a file whose contents are the text after "file:"
// (DATABASE_PASSWORD_FILE=file:s3cret).
func env(vars map[string]string) *config.Env {
	all := map[string]string{"DATABASE_URL": "postgres://catalog:s3cret@postgres:5432/bazaar?sslmode=disable"}
	maps.Copy(all, vars)
	return &config.Env{
		Lookup: func(k string) (string, bool) { v, ok := all[k]; return v, ok },
		ReadFile: func(path string) ([]byte, error) {
			if v, ok := strings.CutPrefix(path, "file:"); ok {
				return []byte(v + "\n"), nil
			}
			return nil, os.ErrNotExist
		},
	}
}

func TestLoadBaseDefaults(t *testing.T) {
	t.Parallel()
	e := env(nil)
	b := LoadBase(e, "catalog")
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	if b.Env != "development" || b.Production() || b.Web.Service != "catalog" || b.Web.Addr != ":8080" ||
		b.Web.InternalAddr != ":8081" || b.DB.MaxConns != 10 || b.DB.MinConns != 2 || b.DB.MaxConnecting != 4 ||
		b.DB.DialTimeout != 500*time.Millisecond || b.DB.ConnectTimeout != 10*time.Second || b.ShutdownTimeout != 15*time.Second {
		t.Errorf("defaults = %+v", b)
	}
}

func TestLoadBase(t *testing.T) {
	t.Parallel()
	// prod is a production setup, its secrets in files.
	prod := func(url, password string) map[string]string {
		return map[string]string{"APP_ENV": "production", "DATABASE_URL": url,
			"DATABASE_PASSWORD_FILE": "file:" + password, "INTERNAL_TOKEN_FILE": "file:internal-token"}
	}
	without := func(vars map[string]string, key string) map[string]string {
		vars[key] = ""
		return vars
	}
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		wantErr string // "" when the configuration is valid
	}{
		{"production with a real password", prod("postgres://catalog@db:5432/bazaar", "Zq8-long-random"), ""},
		{"production, key=value form", prod("host=db user=orders dbname=bazaar", "Zq8-long-random"), ""},
		{"production with a compose default password", prod("postgres://catalog@postgres:5432/bazaar?sslmode=disable", "catalog-dev-password"), "development default"},
		{"production with another service's default", prod("postgres://users@postgres/bazaar", "orders-dev-password"), "development default"},
		{"production with the password in the URL", prod("postgres://catalog:Zq8-long-random@db/bazaar", "Zq8-long-random"), "DATABASE_URL holds a password"},
		{"production, password in key=value form", prod("host=db user=orders password=Zq8-long-random dbname=bazaar", "x"), "DATABASE_URL holds a password"},
		{"production with a plain password variable", without(map[string]string{"APP_ENV": "production", "DATABASE_URL": "postgres://catalog@db/bazaar",
			"DATABASE_PASSWORD": "Zq8-long-random", "INTERNAL_TOKEN_FILE": "file:t"}, ""), "DATABASE_PASSWORD must come from a file in production"},
		{"production without an internal token", without(prod("postgres://catalog@db/bazaar", "Zq8-long-random"), "INTERNAL_TOKEN_FILE"), "INTERNAL_TOKEN_FILE is required"},
		{"production with a missing secret file", func() map[string]string {
			vars := prod("postgres://catalog@db/bazaar", "")
			vars["DATABASE_PASSWORD_FILE"] = "/run/secrets/gone"
			return vars
		}(), "DATABASE_PASSWORD_FILE: file does not exist"},
		{"production as the superuser", prod("postgres://postgres@db/bazaar", "Zq8-long-random"), "not the postgres superuser"},
		{"production with a malformed URL", prod("postgres://catalog@db:port/bazaar", "Zq8-long-random"), "not a valid PostgreSQL connection string"},
		{"development with the compose default", map[string]string{"DATABASE_URL": "postgres://catalog:catalog-dev-password@postgres/bazaar"}, ""},
		{"development as the superuser", map[string]string{"DATABASE_URL": "postgres://postgres:postgres@localhost/bazaar"}, ""},
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is required"},
		{"unknown environment", map[string]string{"APP_ENV": "staging"}, "APP_ENV must be development or production"},
		{"pool too large", map[string]string{"DB_MAX_CONNS": "101"}, "DB_MAX_CONNS must be from 1 to 100"},
		{"pool empty", map[string]string{"DB_MAX_CONNS": "0"}, "DB_MAX_CONNS must be from 1 to 100"},
		{"more warm connections than the pool holds", map[string]string{"DB_MAX_CONNS": "2", "DB_MIN_CONNS": "3"}, "DB_MIN_CONNS must be from 1 to DB_MAX_CONNS"},
		{"no connection attempts", map[string]string{"DB_MAX_CONNECTING": "0"}, "DB_MAX_CONNECTING must be from 1 to 100"},
		{"connect shorter than dial", map[string]string{"DB_DIAL_TIMEOUT": "1s", "DB_CONNECT_TIMEOUT": "500ms"}, "DB_CONNECT_TIMEOUT must be from DB_DIAL_TIMEOUT to 5m"},
		{"timeout not a duration", map[string]string{"SHUTDOWN_TIMEOUT": "15"}, "SHUTDOWN_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := env(tc.vars)
			LoadBase(e, "catalog")
			err := e.Err()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), "Zq8-long-random"):
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}
