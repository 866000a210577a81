// Package metrics holds the users service's Prometheus collectors: logins,
// registrations and refresh tokens, the login limiter's size, and the
// PostgreSQL pool.
package metrics

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"bazaar/platform/pg"
	"bazaar/users"
)

// Outcomes of a login, the "outcome" label of users_logins_total.
const (
	LoginSuccess     = "success"
	LoginFailure     = "failure"
	LoginRateLimited = "rate_limited"
)

// Metrics counts what the users service does.
type Metrics struct {
	logins        *prometheus.CounterVec
	registrations prometheus.Counter
	refreshes     prometheus.Counter
	reuses        prometheus.Counter
}

// New returns Metrics registered on reg, with the statistics of pool and the
// keys logins tracks when they are not nil. The login outcomes start at zero
// so that rate() works before the first failure and alerts can reference
// every series.
func New(reg prometheus.Registerer, pool *pgxpool.Pool, logins *users.LoginLimiter) *Metrics {
	m := &Metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "users_logins_total",
			Help: "Login attempts by outcome: success, failure (bad credentials) or rate_limited.",
		}, []string{"outcome"}),
		registrations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "users_registrations_total",
			Help: "Accounts registered.",
		}),
		refreshes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "users_token_refreshes_total",
			Help: "Refresh tokens successfully rotated for new access tokens.",
		}),
		reuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "users_refresh_token_reuse_total",
			Help: "Already-used refresh tokens presented again; each revoked its whole family.",
		}),
	}
	for _, o := range []string{LoginSuccess, LoginFailure, LoginRateLimited} {
		m.logins.WithLabelValues(o)
	}
	reg.MustRegister(m.logins, m.registrations, m.refreshes, m.reuses)
	if pool != nil {
		reg.MustRegister(pg.NewPoolCollector(pool))
	}
	if logins != nil {
		for scope := range logins.Tracked() {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "users_login_limiter_keys",
				Help:        "Keys (client IPs, accounts, or accounts with a client IP) with failed logins counted in the current window, in this replica.",
				ConstLabels: prometheus.Labels{"scope": scope},
			}, func() float64 { return float64(logins.Tracked()[scope]) }))
		}
	}
	return m
}

// Login counts a login attempt by outcome (LoginSuccess, …).
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Registered counts an account registered.
func (m *Metrics) Registered() { m.registrations.Inc() }

// Refreshed counts a refresh token rotated.
func (m *Metrics) Refreshed() { m.refreshes.Inc() }

// RefreshReused counts a used refresh token presented again.
func (m *Metrics) RefreshReused() { m.reuses.Inc() }
