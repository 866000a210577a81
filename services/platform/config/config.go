// Package config reads typed settings from environment variables, collecting
// every problem so that a misconfigured service reports them all at once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through Lookup (os.LookupEnv when nil).
type Env struct {
	Lookup func(string) (string, bool)
	// ReadFile reads the files that *_FILE variables name (os.ReadFile
	// when nil).
	ReadFile func(string) ([]byte, error)
	// SecretFilesOnly refuses secrets given as plain variables: docker
	// inspect shows a container's environment to anyone who may run it.
	SecretFilesOnly bool
	errs            []error
}

func (e *Env) get(key string) (string, bool) {
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(key)
	if !ok || strings.TrimSpace(v) == "" {
		return "", false
	}
	return v, true
}

// String returns the variable, or def when it is unset or empty.
func (e *Env) String(key, def string) string {
	if v, ok := e.get(key); ok {
		return v
	}
	return def
}

// Required returns the variable and records an error when it is unset.
func (e *Env) Required(key string) string {
	v, ok := e.get(key)
	if !ok {
		e.errs = append(e.errs, fmt.Errorf("%s is required", key))
	}
	return v
}

// Secret returns a secret: the contents of the file that KEY_FILE names
// (a Compose or Swarm secret under /run/secrets), without the line break an
// editor leaves at its end; else the variable KEY itself, unless
// SecretFilesOnly; else "".
func (e *Env) Secret(key string) string {
	if path, ok := e.get(key + "_FILE"); ok {
		read := e.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		b, err := read(path)
		if err != nil {
			e.errs = append(e.errs, fmt.Errorf("%s_FILE: %w", key, err))
			return ""
		}
		v := strings.TrimRight(string(b), "\r\n")
		e.Check(strings.TrimSpace(v) != "", key+"_FILE names an empty file")
		return v
	}
	v, ok := e.get(key)
	if ok && e.SecretFilesOnly {
		e.errs = append(e.errs, fmt.Errorf("%s must come from a file in production: set %s_FILE instead", key, key))
		return ""
	}
	return v
}

// Int returns the variable as an int, or def.
func (e *Env) Int(key string, def int) int {
	v, ok := e.get(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not an integer", key, v))
		return def
	}
	return n
}

// Duration returns the variable as a time.Duration ("5s", "250ms"), or def.
func (e *Env) Duration(key string, def time.Duration) time.Duration {
	v, ok := e.get(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not a duration", key, v))
		return def
	}
	return d
}

// Level returns the variable as a slog level ("debug", "info", ...), or info.
func (e *Env) Level(key string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(e.String(key, "info"))); err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %w", key, err))
	}
	return l
}

// Check records msg as an error when ok is false.
func (e *Env) Check(ok bool, msg string) {
	if !ok {
		e.errs = append(e.errs, errors.New(msg))
	}
}

// Err returns every problem found so far, joined, or nil.
func (e *Env) Err() error {
	return errors.Join(e.errs...)
}

// Password parameters of connection strings: in a URL's query
// (postgres://host/db?password=x) and in the key=value form
// (host=db password=x or password='a b').
var (
	queryPassword    = regexp.MustCompile(`(?i)([?&]password=)[^&#]*`)
	keyValuePassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
)

// Redact hides the passwords of a connection string, URL-style or
// key=value, for logging.
func Redact(dsn string) string {
	scheme := strings.Index(dsn, "://")
	if scheme < 0 {
		return keyValuePassword.ReplaceAllString(dsn, "${1}***")
	}
	dsn = queryPassword.ReplaceAllString(dsn, "${1}***")
	at := strings.LastIndex(dsn, "@")
	if at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if user, _, ok := strings.Cut(userinfo, ":"); ok {
		return dsn[:scheme+3] + user + ":***" + dsn[at:]
	}
	return dsn
}
