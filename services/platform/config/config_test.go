package config_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"bazaar/platform/config"
)

func envOf(vars map[string]string) *config.Env {
	return &config.Env{Lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
}

func TestEnvReadsTypedValues(t *testing.T) {
	t.Parallel()
	e := envOf(map[string]string{
		"NAME": "catalog", "BLANK": "   ", "COUNT": "42", "WAIT": "250ms", "LEVEL": "debug", "NEEDED": "here",
	})
	if got := e.String("NAME", "def"); got != "catalog" {
		t.Errorf("String(NAME) = %q", got)
	}
	if got := e.String("UNSET", "def"); got != "def" {
		t.Errorf("String(UNSET) = %q, want the default", got)
	}
	if got := e.String("BLANK", "def"); got != "def" {
		t.Errorf("String(BLANK) = %q: a blank value must count as unset", got)
	}
	if got := e.Int("COUNT", 7); got != 42 {
		t.Errorf("Int(COUNT) = %d", got)
	}
	if got := e.Int("UNSET", 7); got != 7 {
		t.Errorf("Int(UNSET) = %d, want the default", got)
	}
	if got := e.Duration("WAIT", time.Second); got != 250*time.Millisecond {
		t.Errorf("Duration(WAIT) = %s", got)
	}
	if got := e.Duration("UNSET", time.Second); got != time.Second {
		t.Errorf("Duration(UNSET) = %s, want the default", got)
	}
	if got := e.Level("LEVEL"); got != slog.LevelDebug {
		t.Errorf("Level(LEVEL) = %s", got)
	}
	if got := e.Level("UNSET"); got != slog.LevelInfo {
		t.Errorf("Level(UNSET) = %s, want info", got)
	}
	if got := e.Required("NEEDED"); got != "here" {
		t.Errorf("Required(NEEDED) = %q", got)
	}
	e.Check(true, "never reported")
	if err := e.Err(); err != nil {
		t.Errorf("Err() = %v, want nil", err)
	}
}

// Every problem is reported at once, so that one start-up attempt lists all
// that an operator has to fix.
func TestEnvCollectsEveryProblem(t *testing.T) {
	t.Parallel()
	e := envOf(map[string]string{"COUNT": "4x", "WAIT": "15", "LEVEL": "loud", "BLANK": ""})
	if got := e.Int("COUNT", 7); got != 7 {
		t.Errorf("Int of a non-integer = %d, want the default", got)
	}
	if got := e.Duration("WAIT", time.Second); got != time.Second {
		t.Errorf("Duration of a bare number = %s, want the default", got)
	}
	e.Level("LEVEL")
	e.Required("MISSING")
	e.Required("BLANK")
	e.Check(false, "custom rule broken")
	err := e.Err()
	if err == nil {
		t.Fatal("Err() = nil")
	}
	for _, want := range []string{`COUNT: "4x" is not an integer`, `WAIT: "15" is not a duration`, "LEVEL", "MISSING is required", "BLANK is required", "custom rule broken"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEnvDefaultsToTheProcessEnvironment(t *testing.T) {
	t.Setenv("BAZAAR_CONFIG_TEST", "from the process")
	var e config.Env
	if got := e.String("BAZAAR_CONFIG_TEST", ""); got != "from the process" {
		t.Errorf("String = %q", got)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://catalog:s3cret@postgres:5432/bazaar?sslmode=disable", "postgres://catalog:***@postgres:5432/bazaar?sslmode=disable"},
		{"postgres://catalog:p@ss@postgres/bazaar", "postgres://catalog:***@postgres/bazaar"},
		{"redis://:s3cret@redis:6379/0", "redis://:***@redis:6379/0"},
		{"postgres://catalog@postgres/bazaar", "postgres://catalog@postgres/bazaar"},
		{"redis://redis:6379/0", "redis://redis:6379/0"},
		{"host=db user=x", "host=db user=x"},
		{"postgres://catalog@postgres/bazaar?sslmode=disable&password=s3cret", "postgres://catalog@postgres/bazaar?sslmode=disable&password=***"},
		{"postgres://catalog@postgres/bazaar?password=s3cret&sslmode=disable", "postgres://catalog@postgres/bazaar?password=***&sslmode=disable"},
		{"host=db user=x password=s3cret dbname=bazaar", "host=db user=x password=*** dbname=bazaar"},
		{"host=db password = s3cret", "host=db password = ***"},
		{`host=db password='s3 cr\'et' dbname=bazaar`, "host=db password=*** dbname=bazaar"},
	} {
		if got := config.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSecretPrefersAFile(t *testing.T) {
	t.Parallel()
	files := map[string]string{"/run/secrets/db": "s3cret\n", "/run/secrets/blank": "\n"}
	e := envOf(map[string]string{
		"DB_PASSWORD_FILE": "/run/secrets/db", "DB_PASSWORD": "ignored",
		"PLAIN": "from env", "BLANK_FILE": "/run/secrets/blank", "GONE_FILE": "/run/secrets/gone",
	})
	e.ReadFile = func(path string) ([]byte, error) {
		if v, ok := files[path]; ok {
			return []byte(v), nil
		}
		return nil, os.ErrNotExist
	}
	if got := e.Secret("DB_PASSWORD"); got != "s3cret" {
		t.Errorf("Secret(DB_PASSWORD) = %q, want the file's contents without the line break", got)
	}
	if got := e.Secret("PLAIN"); got != "from env" {
		t.Errorf("Secret(PLAIN) = %q, want the variable (development)", got)
	}
	if got := e.Secret("UNSET"); got != "" {
		t.Errorf("Secret(UNSET) = %q", got)
	}
	e.Secret("BLANK")
	e.Secret("GONE")
	err := e.Err()
	for _, want := range []string{"BLANK_FILE names an empty file", "GONE_FILE: file does not exist"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Err() = %v, want it to mention %q", err, want)
		}
	}
}

func TestSecretFilesOnlyRefusesPlainVariables(t *testing.T) {
	t.Parallel()
	e := envOf(map[string]string{"TOKEN": "in the environment"})
	e.SecretFilesOnly = true
	if got := e.Secret("TOKEN"); got != "" {
		t.Errorf("Secret(TOKEN) = %q, want nothing", got)
	}
	if err := e.Err(); err == nil || !strings.Contains(err.Error(), "TOKEN must come from a file in production: set TOKEN_FILE") {
		t.Errorf("Err() = %v", err)
	}
}
