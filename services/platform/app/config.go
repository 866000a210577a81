package app

import (
	"time"

	"bazaar/platform/config"
	"bazaar/platform/pg"
	"bazaar/platform/web"
)

// Base holds the settings every service reads.
type Base struct {
	Env             string // "development" or "production"
	Web             web.Config
	DB              pg.Config
	ShutdownTimeout time.Duration
}

// Production reports whether the service runs with APP_ENV=production, where
// development defaults are refused.
func (b Base) Production() bool { return b.Env == "production" }

// LoadBase reads the shared settings.
func LoadBase(e *config.Env, service string) Base {
	b := Base{
		Env: e.String("APP_ENV", "development"),
		Web: web.Config{
			Service:      service,
			Addr:         e.String("HTTP_ADDR", ":8080"),
			InternalAddr: e.String("INTERNAL_ADDR", ":8081"),
			DrainDelay:   e.Duration("DRAIN_DELAY", 0),
		},
		DB: pg.Config{
			URL:      e.Required("DATABASE_URL"),
			MaxConns: int32(e.Int("DB_MAX_CONNS", 10)),
		},
		ShutdownTimeout: e.Duration("SHUTDOWN_TIMEOUT", 15*time.Second),
	}
	e.Check(b.Env == "development" || b.Env == "production", "APP_ENV must be development or production")
	e.Check(b.DB.MaxConns >= 1 && b.DB.MaxConns <= 100, "DB_MAX_CONNS must be from 1 to 100")
	return b
}
