package e2e

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Budgets of the first visit, generous enough for a busy CI machine: they
// catch a storefront that grows heavy or slow, not noise.
const (
	firstLoadBytesBudget    = 150_000 // bytes on the wire, API answers included
	firstLoadRequestsBudget = 20
	firstGridBudget         = 5 * time.Second
)

// netLog counts the requests of a page and the bytes they took on the wire.
type netLog struct {
	mu       sync.Mutex
	requests map[network.RequestID]*netRequest
}

type netRequest struct {
	url    string
	bytes  float64 // on the wire, headers included
	cached bool    // answered from the browser's cache
	done   bool
}

func (l *netLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.requests = map[network.RequestID]*netRequest{}
}

func (l *netLog) event(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.requests == nil {
		return
	}
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		l.requests[e.RequestID] = &netRequest{url: e.Request.URL}
	case *network.EventRequestServedFromCache:
		if r := l.requests[e.RequestID]; r != nil {
			r.cached = true
		}
	case *network.EventLoadingFinished:
		if r := l.requests[e.RequestID]; r != nil {
			r.bytes, r.done = e.EncodedDataLength, true
		}
	case *network.EventLoadingFailed:
		if r := l.requests[e.RequestID]; r != nil {
			r.done = true
		}
	}
}

func (l *netLog) idle() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.requests {
		if !r.done {
			return false
		}
	}
	return true
}

// loadSummary sums up one page load.
type loadSummary struct {
	requests, fromNetwork, fromCache int
	bytes, apiBytes                  int
	lines                            []string
}

func (l *netLog) summary() loadSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s loadSummary
	reqs := slices.SortedFunc(maps.Values(l.requests), func(a, b *netRequest) int { return strings.Compare(a.url, b.url) })
	for _, r := range reqs {
		s.requests++
		s.bytes += int(r.bytes)
		if strings.Contains(r.url, "/api/") {
			s.apiBytes += int(r.bytes)
		}
		where := "network"
		if r.cached {
			s.fromCache++
			where = "cache"
		} else {
			s.fromNetwork++
		}
		s.lines = append(s.lines, fmt.Sprintf("%7.0f B  %-7s %s", r.bytes, where, r.url))
	}
	return s
}

// pageTimings are the page's own measurements, in ms since navigation start.
type pageTimings struct {
	Grid             float64 `json:"grid"`
	DOMContentLoaded float64 `json:"dcl"`
	Load             float64 `json:"load"`
}

// The weight of the first visit (cold cache) and of the next one (warm
// cache), and the time until the product grid shows. The storefront marks
// that moment with performance.mark("bazaar:first-product-grid"). Not
// parallel, so that other tests do not slow the measurement down.
func TestBrowserFirstLoad(t *testing.T) {
	createProduct(t, adminAccount(t), "Measuring jug "+uniqueWord(), 990, 3, "e2e-measure")
	p := newBrowserPage(t, "")
	var log netLog
	if err := chromedp.Listen(p.ctx, log.event); err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	for _, visit := range []string{"first visit, cold cache", "second visit, warm cache"} {
		log.reset()
		start := chromedp.Navigate(p.base + "/")
		if strings.HasPrefix(visit, "second") {
			start = chromedp.Reload()
		}
		p.do(visit, start, chromedp.WaitVisible(chromedp.CSS("#product-grid .card")))
		timings := browserValue(p, "read the timings", chromedp.Evaluate[pageTimings](`(() => {
			const nav = performance.getEntriesByType("navigation")[0];
			const grid = performance.getEntriesByName("bazaar:first-product-grid")[0];
			return { grid: grid ? grid.startTime : -1, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
		})()`))
		for deadline := time.Now().Add(5 * time.Second); !log.idle() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		s := log.summary()
		fmt.Fprintf(&report, "%s: %d requests (%d over the network, %d from the cache), %d bytes on the wire (%d of them API answers); "+
			"first product grid at %.0f ms, DOMContentLoaded at %.0f ms, load at %.0f ms\n",
			visit, s.requests, s.fromNetwork, s.fromCache, s.bytes, s.apiBytes, timings.Grid, timings.DOMContentLoaded, timings.Load)
		for _, line := range s.lines {
			fmt.Fprintf(&report, "  %s\n", line)
		}
		if strings.HasPrefix(visit, "first") {
			p.shot("01-first-load")
			if s.bytes > firstLoadBytesBudget || s.requests > firstLoadRequestsBudget {
				t.Errorf("first load: %d requests, %d bytes; budget %d requests, %d bytes", s.requests, s.bytes, firstLoadRequestsBudget, firstLoadBytesBudget)
			}
			if grid := time.Duration(timings.Grid * float64(time.Millisecond)); timings.Grid < 0 || grid > firstGridBudget {
				t.Errorf("first product grid at %.0f ms, budget %s", timings.Grid, firstGridBudget)
			}
		}
	}
	t.Log("\n" + report.String())
	if err := os.WriteFile(filepath.Join(p.dir, "page-weight.txt"), []byte(report.String()), 0o644); err != nil {
		t.Error(err)
	}
}
