package users

import (
	"container/list"
	"sync"
	"time"
)

// Limiter counts attempts per key in a window that opens at the key's first
// attempt, and refuses those past a limit that each caller gives. It lives in
// process memory: each replica counts on its own, so N replicas allow up to
// N times the limit. That is accepted for login and registration throttling
// (argon2id already makes each password expensive) and keeps the service
// free of a Redis dependency.
//
// Memory is bounded: expired windows are dropped as new ones open, and past
// its capacity the oldest window is dropped early.
type Limiter struct {
	window   time.Duration
	capacity int

	mu    sync.Mutex
	byKey map[string]*list.Element
	// order holds *window values oldest first. Every window has the same
	// length, so opening order is also expiry order and eviction only ever
	// looks at the front.
	order *list.List
}

type window struct {
	key   string
	count int
	ends  time.Time
}

// NewLimiter returns a limiter with windows of length per, tracking at most
// capacity keys.
func NewLimiter(per time.Duration, capacity int) *Limiter {
	return &Limiter{window: per, capacity: max(capacity, 1), byKey: map[string]*list.Element{}, order: list.New()}
}

// Take counts an attempt for key at now and reports whether it is allowed:
// whether fewer than limit attempts were counted in the key's window. A
// refused attempt is not counted; retryAfter then says how long until the
// key's window ends.
//
// Counting before the attempt runs, rather than after it failed, is what
// stops a burst of concurrent guesses from all slipping under the limit.
func (l *Limiter) Take(key string, limit int, now time.Time) (retryAfter time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evictExpired(now)
	if el, found := l.byKey[key]; found {
		w := el.Value.(*window)
		if w.count >= limit {
			return w.ends.Sub(now), false
		}
		w.count++
		return 0, true
	}
	if l.order.Len() >= l.capacity {
		l.remove(l.order.Front())
	}
	l.byKey[key] = l.order.PushBack(&window{key: key, count: 1, ends: now.Add(l.window)})
	return 0, true
}

// Refund takes back one attempt that Take counted for key, for an attempt
// that turned out not to be a failure.
func (l *Limiter) Refund(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[key]; ok {
		if w := el.Value.(*window); w.count > 0 {
			w.count--
		}
	}
}

// Reset forgets every attempt counted for key.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.byKey[key]; ok {
		l.remove(el)
	}
}

// Len returns the number of keys tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}

func (l *Limiter) evictExpired(now time.Time) {
	for el := l.order.Front(); el != nil && !now.Before(el.Value.(*window).ends); el = l.order.Front() {
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.byKey, el.Value.(*window).key)
	l.order.Remove(el)
}
