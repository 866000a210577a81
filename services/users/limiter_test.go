package users_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bazaar/users"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func TestLimiterWindow(t *testing.T) {
	t.Parallel()
	l := users.NewLimiter(time.Minute, 100)
	for i := range 3 {
		if _, ok := l.Take("k", 3, t0.Add(time.Duration(i)*time.Second)); !ok {
			t.Fatalf("attempt %d refused, want allowed", i+1)
		}
	}
	wait, ok := l.Take("k", 3, t0.Add(20*time.Second))
	if ok {
		t.Fatal("4th attempt allowed, want refused")
	}
	if want := 40 * time.Second; wait != want {
		t.Errorf("retry after %s, want %s (the window opened at the first attempt)", wait, want)
	}
	if _, ok := l.Take("k", 4, t0.Add(20*time.Second)); !ok {
		t.Error("4th attempt under a limit of 4 refused: the limit is each caller's")
	}
	if _, ok := l.Take("other", 3, t0.Add(20*time.Second)); !ok {
		t.Error("another key refused: keys must be counted apart")
	}
	if _, ok := l.Take("k", 3, t0.Add(time.Minute)); !ok {
		t.Error("attempt after the window refused, want a fresh window")
	}
}

func TestLimiterRefusedAttemptsAreNotCounted(t *testing.T) {
	t.Parallel()
	l := users.NewLimiter(time.Minute, 100)
	l.Take("k", 1, t0)
	for range 5 {
		l.Take("k", 1, t0.Add(30*time.Second))
	}
	if _, ok := l.Take("k", 1, t0.Add(time.Minute)); !ok {
		t.Error("refused attempts extended the window")
	}
}

func TestLimiterRefundAndReset(t *testing.T) {
	t.Parallel()
	l := users.NewLimiter(time.Minute, 100)
	l.Take("k", 2, t0)
	l.Take("k", 2, t0)
	l.Refund("k")
	if _, ok := l.Take("k", 2, t0); !ok {
		t.Fatal("refunded attempt still counted")
	}
	if _, ok := l.Take("k", 2, t0); ok {
		t.Fatal("limit not reached after refund and two takes")
	}
	l.Reset("k")
	if _, ok := l.Take("k", 2, t0); !ok {
		t.Error("attempt refused after Reset")
	}
	l.Refund("unknown") // must not panic or create anything
	if got := l.Len(); got != 1 {
		t.Errorf("Len = %d, want 1", got)
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	t.Parallel()
	l := users.NewLimiter(time.Minute, 10)
	for i := range 50 {
		l.Take(fmt.Sprint("ip-", i), 1, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if got := l.Len(); got != 10 {
		t.Errorf("Len = %d after 50 keys, want the capacity 10", got)
	}
	// The oldest windows were the ones dropped.
	if _, ok := l.Take("ip-49", 1, t0.Add(time.Second)); ok {
		t.Error("newest key forgotten, want the oldest dropped first")
	}
	if _, ok := l.Take("ip-0", 1, t0.Add(time.Second)); !ok {
		t.Error("oldest key still limited, want it dropped")
	}

	// Expired windows go as soon as a new attempt arrives.
	l.Take("late", 1, t0.Add(2*time.Minute))
	if got := l.Len(); got != 1 {
		t.Errorf("Len = %d after every window expired, want 1", got)
	}
}

func TestLimiterConcurrentTakes(t *testing.T) {
	t.Parallel()
	l := users.NewLimiter(time.Minute, 100)
	var allowed atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, ok := l.Take("k", 10, t0); ok {
				allowed.Add(1)
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 10 {
		t.Errorf("%d of 100 concurrent attempts allowed, want exactly 10", got)
	}
}
