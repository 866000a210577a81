package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"bazaar/users"
	"bazaar/users/metrics"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	logins := users.NewLoginLimiter(users.LoginLimits{PerClient: 5, PerAccountClient: 5, AccountGuard: 5, Window: time.Minute}, 10)
	m := metrics.New(reg, nil, logins)
	m.Login(metrics.LoginFailure)
	m.Login(metrics.LoginFailure)
	m.Registered()
	m.Refreshed()
	m.RefreshReused()
	want := `
# HELP users_logins_total Login attempts by outcome: success, failure (bad credentials) or rate_limited.
# TYPE users_logins_total counter
users_logins_total{outcome="failure"} 2
users_logins_total{outcome="rate_limited"} 0
users_logins_total{outcome="success"} 0
# HELP users_registrations_total Accounts registered.
# TYPE users_registrations_total counter
users_registrations_total 1
# HELP users_token_refreshes_total Refresh tokens successfully rotated for new access tokens.
# TYPE users_token_refreshes_total counter
users_token_refreshes_total 1
# HELP users_refresh_token_reuse_total Already-used refresh tokens presented again; each revoked its whole family.
# TYPE users_refresh_token_reuse_total counter
users_refresh_token_reuse_total 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"users_logins_total", "users_registrations_total", "users_token_refreshes_total", "users_refresh_token_reuse_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "users_login_limiter_keys"); err != nil || n != 3 {
		t.Errorf("users_login_limiter_keys: %d series (%v), want 3 scopes", n, err)
	}
}
