package users_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bazaar/users"
)

type countingPurger struct {
	calls atomic.Int32
	err   error
}

func (c *countingPurger) PurgeExpiredTokens(context.Context) error {
	c.calls.Add(1)
	return c.err
}

// Run purges each interval, logs a failed round and goes on, and returns
// when its context ends.
func TestPurgerRuns(t *testing.T) {
	t.Parallel()
	tokens := &countingPurger{err: errors.New("database gone")}
	var logs bytes.Buffer // read once Run has returned
	p := users.NewPurger(users.PurgerConfig{Tokens: tokens, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for tokens.calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if n := tokens.calls.Load(); n < 3 {
		t.Errorf("%d rounds in 5s, want at least 3", n)
	}
	if !strings.Contains(logs.String(), "database gone") {
		t.Errorf("the failed round was not logged: %q", logs.String())
	}
}
