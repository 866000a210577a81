package log_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"bazaar/platform/log"
)

// syncBuffer is a bytes.Buffer safe for the Buffer's own goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestBufferHoldsInfoAndWritesWarningsAtOnce(t *testing.T) {
	var out syncBuffer
	b := log.NewBuffer(&out, time.Hour)
	logger := log.New(b, "test", slog.LevelInfo)
	logger.Info("first")
	if got := out.String(); got != "" {
		t.Fatalf("an info line was written before any flush: %q", got)
	}
	logger.Warn("second")
	if got := out.String(); !strings.Contains(got, `"msg":"first"`) || !strings.Contains(got, `"msg":"second"`) ||
		strings.Index(got, "first") > strings.Index(got, "second") {
		t.Fatalf("after a warning, wrote %q; want both lines, in order", got)
	}
	logger.With("k", "v").Info("third")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.Contains(got, `"msg":"third"`) {
		t.Fatalf("Close left a line unwritten: %q", got)
	}
}

func TestBufferWritesEveryInterval(t *testing.T) {
	var out syncBuffer
	b := log.NewBuffer(&out, 10*time.Millisecond)
	defer b.Close()
	log.New(b, "test", slog.LevelInfo).Info("line")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), `"msg":"line"`) {
		if time.Now().After(deadline) {
			t.Fatal("the line was not written within 5s of an interval of 10ms")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
