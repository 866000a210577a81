// Command users serves accounts, logins and access tokens.
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"bazaar/platform/app"
	"bazaar/platform/apperr"
	"bazaar/platform/config"
	"bazaar/platform/lambda"
	"bazaar/platform/pg"
	"bazaar/platform/web"
	"bazaar/users"
	usershttp "bazaar/users/http"
	"bazaar/users/metrics"
	"bazaar/users/postgres"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "admin-password" {
		os.Exit(adminPasswordCommand(os.Args[2:]))
	}
	app.Main("users", func(logger *slog.Logger) (app.Service, error) {
		cfg, err := LoadConfig(&config.Env{})
		if err != nil {
			return nil, err
		}
		return &Main{Config: cfg, Logger: logger}, nil
	})
}

// devAdminPassword is the admin password of .env.example; production
// refuses it.
const devAdminPassword = "change-me-admin"

// minProductionAdminPassword is the shortest admin password production
// accepts, in characters: stricter than the customers' 8.
const minProductionAdminPassword = 12

// Config is the users service's configuration.
type Config struct {
	app.Base
	// SigningKey signs access tokens; nil means "generate one at start",
	// which only development allows.
	SigningKey ed25519.PrivateKey
	// PreviousKeys are public keys of earlier signing keys, still published
	// and accepted so that a key rotation does not log everyone out.
	PreviousKeys []ed25519.PublicKey
	AccessTTL    time.Duration
	RefreshTTL   time.Duration
	// SessionMaxAge is the absolute lifetime of a login's refresh tokens.
	SessionMaxAge time.Duration
	// AdminEmail and AdminPassword, when set, name the admin account
	// created at start-up when no account has the email.
	AdminEmail    string
	AdminPassword string
	// Failed logins allowed in each FailureWindow: per client IP, per
	// account from one client IP, and per account from all of them before
	// each IP is allowed only one (see users.LoginLimiter).
	MaxFailuresPerIP      int
	MaxFailuresPerAccount int
	AccountGuardFailures  int
	FailureWindow         time.Duration
	// MaxRegistrationsPerIP bounds the accounts one client IP may create in
	// each registrationWindow.
	MaxRegistrationsPerIP int
	// CookieSecure sets the Secure attribute of the refresh cookie.
	CookieSecure bool
	// HashConcurrency bounds the password hashes computed at once; each
	// holds 19 MiB, so it bounds memory against the container's limit.
	HashConcurrency int
}

// LoadConfig reads the configuration from the environment.
func LoadConfig(e *config.Env) (Config, error) {
	cfg := Config{
		Base:                  app.LoadBase(e, "users"),
		AccessTTL:             e.Duration("ACCESS_TOKEN_TTL", 15*time.Minute),
		RefreshTTL:            e.Duration("REFRESH_TOKEN_TTL", 720*time.Hour),
		SessionMaxAge:         e.Duration("SESSION_MAX_AGE", 720*time.Hour),
		AdminEmail:            e.String("ADMIN_EMAIL", ""),
		AdminPassword:         e.Secret("ADMIN_PASSWORD"),
		MaxFailuresPerIP:      e.Int("LOGIN_MAX_FAILURES_PER_IP", 50),
		MaxFailuresPerAccount: e.Int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 10),
		AccountGuardFailures:  e.Int("LOGIN_ACCOUNT_GUARD_FAILURES", 100),
		FailureWindow:         e.Duration("LOGIN_FAILURE_WINDOW", 15*time.Minute),
		MaxRegistrationsPerIP: e.Int("REGISTER_MAX_PER_IP", 60),
		HashConcurrency:       e.Int("PASSWORD_HASH_CONCURRENCY", min(runtime.GOMAXPROCS(0), 4)),
	}
	if pem := e.Secret("JWT_PRIVATE_KEY"); pem != "" {
		key, err := users.ParsePrivateKeyPEM(pem)
		e.Check(err == nil, fmt.Sprintf("JWT_PRIVATE_KEY: %v", err))
		cfg.SigningKey = key
	} else {
		e.Check(!cfg.Production(), "JWT_PRIVATE_KEY is required in production (openssl genpkey -algorithm ed25519)")
	}
	if pem := e.String("JWT_PREVIOUS_PUBLIC_KEYS", ""); pem != "" {
		keys, err := users.ParsePublicKeysPEM(pem)
		e.Check(err == nil, fmt.Sprintf("JWT_PREVIOUS_PUBLIC_KEYS: %v", err))
		cfg.PreviousKeys = keys
	}
	secure, err := strconv.ParseBool(e.String("COOKIE_SECURE", "true"))
	e.Check(err == nil, "COOKIE_SECURE must be true or false")
	cfg.CookieSecure = secure || err != nil
	e.Check(cfg.CookieSecure || !cfg.Production(), "COOKIE_SECURE cannot be false in production")

	e.Check(cfg.AccessTTL >= time.Minute && cfg.AccessTTL <= 24*time.Hour, "ACCESS_TOKEN_TTL must be from 1m to 24h")
	e.Check(cfg.RefreshTTL > cfg.AccessTTL && cfg.RefreshTTL <= 365*24*time.Hour, "REFRESH_TOKEN_TTL must exceed ACCESS_TOKEN_TTL and be at most 8760h")
	e.Check(cfg.SessionMaxAge > cfg.AccessTTL && cfg.SessionMaxAge <= 365*24*time.Hour, "SESSION_MAX_AGE must exceed ACCESS_TOKEN_TTL and be at most 8760h")
	e.Check(cfg.MaxFailuresPerIP >= 1, "LOGIN_MAX_FAILURES_PER_IP must be at least 1")
	e.Check(cfg.MaxFailuresPerAccount >= 1, "LOGIN_MAX_FAILURES_PER_ACCOUNT must be at least 1")
	e.Check(cfg.AccountGuardFailures >= cfg.MaxFailuresPerAccount, "LOGIN_ACCOUNT_GUARD_FAILURES must be at least LOGIN_MAX_FAILURES_PER_ACCOUNT")
	e.Check(cfg.FailureWindow >= time.Second, "LOGIN_FAILURE_WINDOW must be at least 1s")
	e.Check(cfg.MaxRegistrationsPerIP >= 1, "REGISTER_MAX_PER_IP must be at least 1")
	e.Check(cfg.HashConcurrency >= 1 && cfg.HashConcurrency <= 64, "PASSWORD_HASH_CONCURRENCY must be from 1 to 64")
	checkAdmin(e, cfg)
	return cfg, e.Err()
}

func checkAdmin(e *config.Env, cfg Config) {
	if cfg.AdminEmail == "" && cfg.AdminPassword == "" {
		return
	}
	if cfg.AdminEmail == "" || cfg.AdminPassword == "" {
		e.Check(false, "ADMIN_EMAIL and ADMIN_PASSWORD must be set together")
		return
	}
	r := users.Registration{Email: cfg.AdminEmail, Password: cfg.AdminPassword, Name: "Administrator"}
	r.Normalize()
	var invalid *apperr.Error
	if err := r.Validate(); errors.As(err, &invalid) {
		for _, f := range invalid.Fields {
			e.Check(f.Field != "email", "ADMIN_EMAIL "+f.Message)
		}
	}
	if msg := adminPasswordProblem(cfg.AdminPassword, cfg.Production()); msg != "" {
		e.Check(false, "ADMIN_PASSWORD "+msg)
	}
}

// adminPasswordProblem says why password cannot be the admin's, or returns
// "": the customers' rules, and in production a greater length and not the
// development default.
func adminPasswordProblem(password string, production bool) string {
	if msg := users.CheckPassword(password); msg != "" || !production {
		return msg
	}
	if password == devAdminPassword {
		return "is the development default; set a real one in production"
	}
	if utf8.RuneCountInString(password) < minProductionAdminPassword {
		return "must be at least 12 characters in production"
	}
	return ""
}

// limiterCapacity bounds the keys each limiter tracks: about 100 bytes
// each, so a few megabytes at worst, whatever an attacker sprays.
const limiterCapacity = 100_000

// registrationWindow is the period REGISTER_MAX_PER_IP counts over.
const registrationWindow = time.Hour

// purgeInterval is how often expired refresh tokens are deleted.
const purgeInterval = time.Hour

// Main is the running users service.
type Main struct {
	Config Config
	Logger *slog.Logger

	pool   *pgxpool.Pool
	server *web.Server
	stop   context.CancelFunc
	purge  sync.WaitGroup
	// purger runs a round per scheduled invocation on Lambda.
	purger *users.Purger
}

// Run connects to PostgreSQL, migrates, creates the admin account if no
// account has its email, starts serving, and starts the purger.
func (m *Main) Run(ctx context.Context) error {
	m.logConfig()
	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var err error
	if m.pool, err = pg.Open(startCtx, m.Config.DB, m.Logger, postgres.Migrations); err != nil {
		return err
	}

	signing := m.Config.SigningKey
	if signing == nil {
		_, signing, _ = ed25519.GenerateKey(nil)
		m.Logger.Warn("JWT_PRIVATE_KEY is empty: signing with an ephemeral key; every token dies with this process and replicas do not share keys")
	}
	keys := users.NewTokenKeys(signing, m.Config.PreviousKeys)
	m.Logger.Info("signing access tokens", "kid", keys.KeyID(), "previous_keys", len(m.Config.PreviousKeys))

	logins := users.NewLoginLimiter(users.LoginLimits{
		PerClient:        m.Config.MaxFailuresPerIP,
		PerAccountClient: m.Config.MaxFailuresPerAccount,
		AccountGuard:     m.Config.AccountGuardFailures,
		Window:           m.Config.FailureWindow,
	}, limiterCapacity)
	svc, err := users.NewService(users.ServiceConfig{
		Store:                  postgres.NewStore(m.pool),
		Keys:                   keys,
		Hasher:                 users.NewPasswordHasher(m.Config.HashConcurrency),
		Logins:                 logins,
		Registrations:          users.NewLimiter(registrationWindow, limiterCapacity),
		RegistrationsPerClient: m.Config.MaxRegistrationsPerIP,
		AccessTTL:              m.Config.AccessTTL,
		RefreshTTL:             m.Config.RefreshTTL,
		SessionMaxAge:          m.Config.SessionMaxAge,
		Logger:                 m.Logger,
	})
	if err != nil {
		return err
	}
	if m.Config.AdminEmail != "" {
		if err := svc.BootstrapAdmin(startCtx, m.Config.AdminEmail, m.Config.AdminPassword); err != nil {
			return err
		}
	}

	m.server = web.NewServer(m.Config.Web, m.Logger, map[string]web.Check{"postgres": m.pool.Ping})
	mx := metrics.New(m.server.Registry, m.pool, logins)
	usershttp.NewHandler(svc, keys, m.Config.CookieSecure, mx).Register(m.server.API)
	if err := m.server.Open(); err != nil {
		return err
	}

	m.purger = users.NewPurger(users.PurgerConfig{Tokens: svc, Logger: m.Logger, Interval: purgeInterval})
	if m.Config.Lambda {
		return nil // a schedule invokes each round
	}
	pctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stop = stop
	m.purge.Go(func() { m.purger.Run(pctx) })
	return nil
}

// Lambda returns what the users function answers (lambda.Service): the
// API, and the purge that the containers run every purgeInterval.
func (m *Main) Lambda() lambda.Handlers {
	return lambda.Handlers{API: m.server.API, Jobs: map[string]lambda.Job{"purge": m.purger.RunOnce}}
}

func (m *Main) logConfig() {
	c := m.Config
	m.Logger.Info("starting",
		"env", c.Env,
		"database", config.Redact(c.DB.URL),
		"jwt_private_key", map[bool]string{true: "set", false: "empty"}[c.SigningKey != nil],
		"access_token_ttl", c.AccessTTL.String(),
		"refresh_token_ttl", c.RefreshTTL.String(),
		"session_max_age", c.SessionMaxAge.String(),
		"admin_email", c.AdminEmail,
		"login_max_failures_per_ip", c.MaxFailuresPerIP,
		"login_max_failures_per_account", c.MaxFailuresPerAccount,
		"login_account_guard_failures", c.AccountGuardFailures,
		"login_failure_window", c.FailureWindow.String(),
		"register_max_per_ip", c.MaxRegistrationsPerIP,
		"cookie_secure", c.CookieSecure,
		"password_hash_concurrency", c.HashConcurrency,
	)
}

// Close drains HTTP traffic, stops the purge loop and closes the pool.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	var errs []error
	if m.server != nil {
		errs = append(errs, m.server.Shutdown(ctx))
	}
	if m.stop != nil {
		m.stop()
		m.purge.Wait()
	}
	if m.pool != nil {
		m.pool.Close()
	}
	return errors.Join(errs...)
}
