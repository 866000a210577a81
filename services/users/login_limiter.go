package users

import (
	"crypto/sha256"
	"time"
)

// LoginLimits are the failed logins a LoginLimiter allows in each Window.
type LoginLimits struct {
	// PerClient bounds the failures from one client address, whatever the
	// accounts tried.
	PerClient int
	// PerAccountClient bounds the failures for one account from one client
	// address.
	PerAccountClient int
	// AccountGuard is the number of failures for one account, from every
	// address together, past which the account is guarded: each address then
	// gets a single failure on it until the windows end.
	AccountGuard int
	Window       time.Duration
}

// LoginLimiter stops password guessing without handing anyone the power to
// lock an account's owner out. Failures are counted per client address and
// per account and address, and past either limit that client is refused
// (for every account, or for that one). Across all addresses an account only
// becomes guarded, which lowers its limit per address to one failure: a
// guess spread over many addresses is cut to one try per address, while the
// owner, signing in from an address that has not failed on the account,
// still gets in with the right password.
type LoginLimiter struct {
	limits   LoginLimits
	clients  *Limiter
	pairs    *Limiter
	accounts *Limiter
}

// NewLoginLimiter returns a LoginLimiter whose limiters each track at most
// capacity keys.
func NewLoginLimiter(limits LoginLimits, capacity int) *LoginLimiter {
	return &LoginLimiter{
		limits:   limits,
		clients:  NewLimiter(limits.Window, capacity),
		pairs:    NewLimiter(limits.Window, capacity),
		accounts: NewLimiter(limits.Window, capacity),
	}
}

// LoginAttempt is a login attempt that a LoginLimiter let through. It counts
// as a failure unless Succeeded or Void is called.
type LoginAttempt struct {
	l       *LoginLimiter
	client  string
	account string // "" for an address no account can have
	pair    string
	// accountCounted is false when the account was already guarded, so the
	// attempt was not added to its count and must not be taken back from it.
	accountCounted bool
}

// Admit counts a login attempt from client for account before the password
// is checked: counting first is what keeps a burst of concurrent guesses
// within the limits. account is the EmailKey of the address tried, or "" for
// an address no account can have, which counts against the client alone. A
// refused attempt is counted nowhere and is a *RateLimitError.
func (l *LoginLimiter) Admit(account, client string, now time.Time) (*LoginAttempt, error) {
	if wait, ok := l.clients.Take(client, l.limits.PerClient, now); !ok {
		return nil, loginLimited(wait)
	}
	a := &LoginAttempt{l: l, client: client}
	if account == "" {
		return a, nil
	}
	a.account, a.pair = account, pairKey(account, client)
	// A guarded account's count is not taken further: it stays guarded
	// until its window ends.
	_, a.accountCounted = l.accounts.Take(account, l.limits.AccountGuard, now)
	perPair := l.limits.PerAccountClient
	if !a.accountCounted {
		perPair = 1
	}
	if wait, ok := l.pairs.Take(a.pair, perPair, now); !ok {
		l.clients.Refund(client)
		if a.accountCounted {
			l.accounts.Refund(account)
		}
		return nil, loginLimited(wait)
	}
	return a, nil
}

// Succeeded records a right password: the attempt is taken back, and the
// failures of the account from this client are forgotten. The account's
// count across addresses keeps its other failures, so that an owner signing
// in does not give a guess spread over many addresses a fresh start.
func (a *LoginAttempt) Succeeded() {
	a.l.clients.Refund(a.client)
	if a.accountCounted {
		a.l.accounts.Refund(a.account)
	}
	a.l.pairs.Reset(a.pair)
}

// Void takes the attempt back entirely: it was no guess, because the
// password could not be checked (the database or the hasher failed).
func (a *LoginAttempt) Void() {
	a.l.clients.Refund(a.client)
	if a.accountCounted {
		a.l.accounts.Refund(a.account)
	}
	a.l.pairs.Refund(a.pair)
}

// Tracked returns the number of keys each limiter tracks, by scope: "ip",
// "account_ip" and "account".
func (l *LoginLimiter) Tracked() map[string]int {
	return map[string]int{"ip": l.clients.Len(), "account_ip": l.pairs.Len(), "account": l.accounts.Len()}
}

// pairKey is the key of an account and a client address. It is a hash so
// that every key has the same short length whatever the email's, and the
// limiter's capacity bounds its memory.
func pairKey(account, client string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + client))
	return string(sum[:16])
}

func loginLimited(wait time.Duration) *RateLimitError {
	return &RateLimitError{RetryAfter: wait, Reason: "Too many failed login attempts"}
}
