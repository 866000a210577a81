package http

import "github.com/prometheus/client_golang/prometheus"

// metrics are the users service's business metrics.
type metrics struct {
	logins        *prometheus.CounterVec
	registrations prometheus.Counter
	refreshes     prometheus.Counter
	reuses        prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
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
	// Start the outcomes at zero so that rate() works before the first
	// failure and alerts can reference every series.
	for _, o := range []string{"success", "failure", "rate_limited"} {
		m.logins.WithLabelValues(o)
	}
	reg.MustRegister(m.logins, m.registrations, m.refreshes, m.reuses)
	return m
}
