package app

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"bazaar/platform/config"
	"bazaar/platform/pg"
	"bazaar/platform/web"
)

// Base holds the settings every service reads.
type Base struct {
	Env             string     // "development" or "production"
	Web             web.Config // Web.InternalToken from INTERNAL_TOKEN(_FILE)
	DB              pg.Config
	ShutdownTimeout time.Duration
	// Lambda is set when the process is an AWS Lambda function: requests
	// arrive as invocations and nothing listens, and the jobs that run on
	// timers in the containers wait for their schedules (package lambda).
	Lambda bool
}

// Production reports whether the service runs with APP_ENV=production, where
// development defaults are refused.
func (b Base) Production() bool { return b.Env == "production" }

// LoadBase reads the shared settings.
//
// In production every secret must come from a file (config.Env.Secret),
// and the internal API's token is required.
func LoadBase(e *config.Env, service string) Base {
	env := e.String("APP_ENV", "development")
	e.SecretFilesOnly = env == "production"
	b := Base{
		Env: env,
		Web: web.Config{
			Service:       service,
			Addr:          e.String("HTTP_ADDR", ":8080"),
			InternalAddr:  e.String("INTERNAL_ADDR", ":8081"),
			InternalToken: e.Secret("INTERNAL_TOKEN"),
			DrainDelay:    e.Duration("DRAIN_DELAY", 0),
		},
		DB: pg.Config{
			URL:            e.Required("DATABASE_URL"),
			Password:       e.Secret("DATABASE_PASSWORD"),
			MaxConns:       int32(e.Int("DB_MAX_CONNS", 10)),
			MinConns:       int32(e.Int("DB_MIN_CONNS", pg.DefaultMinConns)),
			MaxConnecting:  e.Int("DB_MAX_CONNECTING", pg.DefaultMaxConnecting),
			DialTimeout:    e.Duration("DB_DIAL_TIMEOUT", pg.DefaultDialTimeout),
			ConnectTimeout: e.Duration("DB_CONNECT_TIMEOUT", pg.DefaultConnectTimeout),
		},
		ShutdownTimeout: e.Duration("SHUTDOWN_TIMEOUT", 15*time.Second),
		Lambda:          e.String("AWS_LAMBDA_RUNTIME_API", "") != "",
	}
	b.Web.NoListen = b.Lambda
	e.Check(b.Env == "development" || b.Env == "production", "APP_ENV must be development or production")
	e.Check(b.DB.MaxConns >= 1 && b.DB.MaxConns <= 100, "DB_MAX_CONNS must be from 1 to 100")
	e.Check(b.DB.MinConns >= 1 && b.DB.MinConns <= b.DB.MaxConns, "DB_MIN_CONNS must be from 1 to DB_MAX_CONNS")
	e.Check(b.DB.MaxConnecting >= 1 && b.DB.MaxConnecting <= 100, "DB_MAX_CONNECTING must be from 1 to 100")
	e.Check(b.DB.DialTimeout >= 10*time.Millisecond && b.DB.DialTimeout <= time.Minute, "DB_DIAL_TIMEOUT must be from 10ms to 1m")
	e.Check(b.DB.ConnectTimeout >= b.DB.DialTimeout && b.DB.ConnectTimeout <= 5*time.Minute, "DB_CONNECT_TIMEOUT must be from DB_DIAL_TIMEOUT to 5m")
	if b.Production() {
		e.Check(b.Web.InternalToken != "", "INTERNAL_TOKEN_FILE is required in production: the internal API is open without it")
		e.Check(!IsDevSecret(b.Web.InternalToken), "INTERNAL_TOKEN is a development default; set a real one in production")
		if b.DB.URL != "" {
			checkProductionDatabase(e, b.DB)
		}
	}
	return b
}

// IsDevSecret reports whether secret is one of the published development
// secrets (secrets/development), which all end alike so that one rule
// recognises them.
func IsDevSecret(secret string) bool { return strings.HasSuffix(secret, "-dev-password") }

// checkProductionDatabase refuses what must never reach production: a
// password in the URL (an environment variable, which docker inspect
// shows), one that is a published development default, and the
// superuser, whose password no service may hold (each has a role of its
// own).
func checkProductionDatabase(e *config.Env, db pg.Config) {
	cfg, err := pgconn.ParseConfig(db.URL)
	if err != nil {
		// The parse error may quote the URL, password included.
		e.Check(false, "DATABASE_URL is not a valid PostgreSQL connection string")
		return
	}
	e.Check(cfg.Password == "", "DATABASE_URL holds a password; in production it comes from the file DATABASE_PASSWORD_FILE names")
	e.Check(!IsDevSecret(db.Password), "DATABASE_PASSWORD is a development default; set a real one in production")
	e.Check(cfg.User != "postgres", "DATABASE_URL must name the service's own role, not the postgres superuser, in production")
}
