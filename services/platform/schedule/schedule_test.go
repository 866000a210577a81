package schedule_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"bazaar/platform/schedule"
)

// Rounds come every interval, a failed one is logged and does not stop
// the next, and Every returns once ctx ends.
func TestEvery(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer // written by Every's goroutine, read once it returned
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	rounds := make(chan int, 10)
	n := 0
	done := make(chan struct{})
	go func() {
		schedule.Every(ctx, 5*time.Millisecond, func(context.Context) error {
			n++
			rounds <- n
			if n == 1 {
				return errors.New("store down")
			}
			return nil
		}, logger, "sweeping")
		close(done)
	}()
	for want := 1; want <= 3; want++ {
		select {
		case got := <-rounds:
			if got != want {
				t.Fatalf("round %d, want %d", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no round %d within 10s", want)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Every did not return after ctx ended")
	}
	if got := logs.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, `msg=sweeping err="store down"`) {
		t.Errorf("logs %q, want the one failed round as a warning", got)
	}
}
