package users_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"bazaar/users"
)

var testLimits = users.LoginLimits{PerClient: 5, PerAccountClient: 3, AccountGuard: 6, Window: time.Minute}

// admit fails the test unless the attempt is let through.
func admit(t *testing.T, l *users.LoginLimiter, account, client string, now time.Time) *users.LoginAttempt {
	t.Helper()
	a, err := l.Admit(account, client, now)
	if err != nil {
		t.Fatalf("Admit(%q, %q) = %v, want it let through", account, client, err)
	}
	return a
}

// wantRefused fails the test unless the attempt is refused until the
// window that opened at opened ends.
func wantRefused(t *testing.T, l *users.LoginLimiter, account, client string, now, opened time.Time) {
	t.Helper()
	_, err := l.Admit(account, client, now)
	var limited *users.RateLimitError
	if !errors.As(err, &limited) {
		t.Fatalf("Admit(%q, %q) = %v, want a *RateLimitError", account, client, err)
	}
	if want := opened.Add(testLimits.Window).Sub(now); limited.RetryAfter != want {
		t.Errorf("Admit(%q, %q): retry after %s, want %s", account, client, limited.RetryAfter, want)
	}
}

// A client that keeps guessing one account is stopped, and the account's
// owner still signs in from another address.
func TestLoginLimiterAttackerCannotLockOwnerOut(t *testing.T) {
	t.Parallel()
	l := users.NewLoginLimiter(testLimits, 100)
	for i := range testLimits.PerAccountClient {
		admit(t, l, "ada@example.com", "10.0.0.66", t0.Add(time.Duration(i)*time.Second)) // each a failure
	}
	wantRefused(t, l, "ada@example.com", "10.0.0.66", t0.Add(10*time.Second), t0)
	admit(t, l, "ada@example.com", "10.0.0.1", t0.Add(10*time.Second)).Succeeded()

	// The attacker's other guesses are its own business, up to its limit.
	admit(t, l, "bob@example.com", "10.0.0.66", t0.Add(11*time.Second))
	admit(t, l, "bob@example.com", "10.0.0.66", t0.Add(12*time.Second))
	wantRefused(t, l, "carol@example.com", "10.0.0.66", t0.Add(13*time.Second), t0)
	admit(t, l, "carol@example.com", "10.0.0.2", t0.Add(13*time.Second))
}

// A guess spread over many addresses guards the account: each address,
// those that failed before included, then gets one failure on it, while an
// address that has not failed on it still gets in.
func TestLoginLimiterGuardsAccountGuessedFromManyClients(t *testing.T) {
	t.Parallel()
	l := users.NewLoginLimiter(testLimits, 100)
	const account = "ada@example.com"
	client := func(i int) string { return fmt.Sprintf("10.1.0.%d", i) }
	for i := range testLimits.AccountGuard {
		admit(t, l, account, client(i), t0) // each a failure
	}

	wantRefused(t, l, account, client(0), t0.Add(time.Second), t0)
	admit(t, l, account, client(100), t0.Add(2*time.Second))
	wantRefused(t, l, account, client(100), t0.Add(3*time.Second), t0.Add(2*time.Second))

	// The owner, from an address that has not failed, signs in, and may do
	// so again: a success clears that address's failures.
	owner := client(200)
	admit(t, l, account, owner, t0.Add(4*time.Second)).Succeeded()
	admit(t, l, account, owner, t0.Add(5*time.Second)).Succeeded()

	// Another account is not guarded.
	for i := range testLimits.PerAccountClient {
		admit(t, l, "bob@example.com", client(0), t0.Add(time.Duration(6+i)*time.Second))
	}

	// Once the windows end, the account is no longer guarded.
	for i := range testLimits.PerAccountClient {
		admit(t, l, account, client(1), t0.Add(time.Minute+time.Duration(i)*time.Second))
	}
}

// Void takes an attempt back everywhere, Succeeded takes back the client's
// and forgets the account's failures from that client; an address no
// account can have counts against the client only.
func TestLoginLimiterGivesBack(t *testing.T) {
	t.Parallel()
	l := users.NewLoginLimiter(testLimits, 100)
	for i := range 2 * testLimits.PerClient {
		admit(t, l, "ada@example.com", "10.2.0.1", t0.Add(time.Duration(i)*time.Second)).Void()
	}
	for range testLimits.PerAccountClient - 1 {
		admit(t, l, "ada@example.com", "10.2.0.1", t0)
	}
	admit(t, l, "ada@example.com", "10.2.0.1", t0).Succeeded()
	for range testLimits.PerAccountClient {
		admit(t, l, "ada@example.com", "10.2.0.1", t0.Add(time.Second))
	}
	wantRefused(t, l, "ada@example.com", "10.2.0.1", t0.Add(2*time.Second), t0)

	admit(t, l, "", "10.2.0.2", t0)
	if got := l.Tracked(); got["ip"] != 2 || got["account"] != 1 || got["account_ip"] != 1 {
		t.Errorf("Tracked = %v, want 2 addresses, 1 account, 1 account with an address", got)
	}
}
