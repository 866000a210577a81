package log

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// Buffer gathers log lines for a writer and writes them together, every
// interval or when its buffer fills, so that a busy service makes a few
// writes a second (and Docker a few reads) instead of one per request. A
// logger made by New over a Buffer writes a line of level Warn or above at
// once, with everything before it.
//
// Lines still in the buffer when the process dies without Close are lost:
// at most an interval's worth, and never a warning or an error.
type Buffer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

// bufferSize is how much a Buffer gathers before it writes anyway.
const bufferSize = 64 << 10

// NewBuffer returns a Buffer over w that writes at least every interval.
func NewBuffer(w io.Writer, interval time.Duration) *Buffer {
	b := &Buffer{w: bufio.NewWriterSize(w, bufferSize), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes what is gathered.
func (b *Buffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// Close stops the periodic writes and writes what is left. Lines written
// after Close wait for the next Flush.
func (b *Buffer) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	return b.Flush()
}
