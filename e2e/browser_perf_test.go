package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"bazaar/e2e/internal/shop"
)

// Budgets of the first visit, generous enough for a busy CI machine: they
// catch a storefront that grows heavy or slow, not noise.
const (
	firstLoadBytesBudget    = 150_000 // bytes on the wire, API answers included
	firstLoadRequestsBudget = 20
	firstGridBudget         = 5 * time.Second
)

// The first visit of a page of pictured products (shop.js's PAGE_SIZE):
// the page as without pictures plus a thumbnail a product. Measured: 24
// requests, 781 KB, of which 12 thumbnails of 62 KB (400 × 300 px of
// noise, the heaviest a photo gets at that size); a full-size image is
// four times that.
const (
	picturedProducts                = 12
	thumbnailBytesBudget            = 75_000
	picturedFirstLoadBytesBudget    = firstLoadBytesBudget + picturedProducts*thumbnailBytesBudget
	picturedFirstLoadRequestsBudget = firstLoadRequestsBudget + picturedProducts
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
	all                              []netRequest // sorted by URL
}

func (l *netLog) summary() loadSummary {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s loadSummary
	reqs := slices.SortedFunc(maps.Values(l.requests), func(a, b *netRequest) int { return strings.Compare(a.url, b.url) })
	for _, r := range reqs {
		s.requests++
		s.all = append(s.all, *r)
		s.bytes += int(r.bytes)
		if strings.Contains(r.url, "/api/") {
			s.apiBytes += int(r.bytes)
		}
		if r.cached {
			s.fromCache++
		} else {
			s.fromNetwork++
		}
	}
	return s
}

// pageTimings are the page's own measurements, in ms since navigation start.
type pageTimings struct {
	Grid             float64 `json:"grid"`
	DOMContentLoaded float64 `json:"dcl"`
	Load             float64 `json:"load"`
}

// visit is one measured load of a page.
type visit struct {
	name    string
	summary loadSummary
	timings pageTimings
}

// measureVisits loads the storefront address path twice, with a cold cache
// and then warm (a reload), and returns both visits. A visit ends when the
// JavaScript predicate ready holds and the network is idle.
func measureVisits(t *testing.T, p *browserPage, path, ready string) []visit {
	t.Helper()
	var log netLog
	if err := chromedp.Listen(p.ctx, log.event); err != nil {
		t.Fatal(err)
	}
	var visits []visit
	for _, name := range []string{"first visit, cold cache", "second visit, warm cache"} {
		log.reset()
		start := chromedp.Navigate(p.base + path)
		if len(visits) > 0 {
			start = chromedp.Reload()
		}
		p.do(name, start, chromedp.WaitVisible(chromedp.CSS("#product-grid .card")))
		p.waitFor(name+": wait until the page is ready", ready)
		timings := browserValue(p, "read the timings", chromedp.Evaluate[pageTimings](`(() => {
			const nav = performance.getEntriesByType("navigation")[0];
			const grid = performance.getEntriesByName("bazaar:first-product-grid")[0];
			return { grid: grid ? grid.startTime : -1, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd };
		})()`))
		for deadline := time.Now().Add(5 * time.Second); !log.idle() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		visits = append(visits, visit{name: name, summary: log.summary(), timings: timings})
	}
	return visits
}

// reportVisits logs the visits and writes them to the test's screenshot
// folder as page-weight.txt.
func reportVisits(t *testing.T, p *browserPage, visits []visit) {
	t.Helper()
	var report strings.Builder
	for _, v := range visits {
		s := v.summary
		fmt.Fprintf(&report, "%s: %d requests (%d over the network, %d from the cache), %d bytes on the wire (%d of them API answers); "+
			"first product grid at %.0f ms, DOMContentLoaded at %.0f ms, load at %.0f ms\n",
			v.name, s.requests, s.fromNetwork, s.fromCache, s.bytes, s.apiBytes, v.timings.Grid, v.timings.DOMContentLoaded, v.timings.Load)
		for _, r := range s.all {
			where := "network"
			if r.cached {
				where = "cache"
			}
			fmt.Fprintf(&report, "  %7.0f B  %-7s %s\n", r.bytes, where, r.url)
		}
	}
	t.Log("\n" + report.String())
	if err := os.WriteFile(filepath.Join(p.dir, "page-weight.txt"), []byte(report.String()), 0o644); err != nil {
		t.Error(err)
	}
}

// The weight of the first visit (cold cache) and of the next one (warm
// cache), and the time until the product grid shows. The storefront marks
// that moment with performance.mark("bazaar:first-product-grid"). Not
// parallel, so that other tests do not slow the measurement down.
func TestBrowserFirstLoad(t *testing.T) {
	createProduct(t, adminAccount(t), "Measuring jug "+uniqueWord(), 990, 3, "e2e-measure")
	p := newBrowserPage(t, "")
	visits := measureVisits(t, p, "/", "() => true")
	p.shot("01-first-load")
	reportVisits(t, p, visits)
	first := visits[0]
	if s := first.summary; s.bytes > firstLoadBytesBudget || s.requests > firstLoadRequestsBudget {
		t.Errorf("first load: %d requests, %d bytes; budget %d requests, %d bytes", s.requests, s.bytes, firstLoadRequestsBudget, firstLoadBytesBudget)
	}
	if grid := time.Duration(first.timings.Grid * float64(time.Millisecond)); first.timings.Grid < 0 || grid > firstGridBudget {
		t.Errorf("first product grid at %.0f ms, budget %s", first.timings.Grid, firstGridBudget)
	}
}

// The first visit of a page of products that all have pictures: the grid
// fetches thumbnails only (srcset with sizes that a card's width fits), at
// most one a product, never a full-size image, and the weight stays within
// a budget; the next visit takes them from the cache. The images load
// lazily, but a page of twelve lies within the browser's loading distance,
// so all twelve come. Not parallel, as TestBrowserFirstLoad.
func TestBrowserFirstLoadWithPictures(t *testing.T) {
	admin := adminAccount(t)
	category := "e2e-pictures-" + uniqueWord()
	thumbnails, fullSize := map[string]bool{}, map[string]bool{}
	for i := range picturedProducts {
		prod := createProduct(t, admin, fmt.Sprintf("Picture %02d %s", i, uniqueWord()), 1200, 5, category)
		var withImage productWithImage
		admin.API.Do(t, "PUT", "/api/catalog/products/"+prod.ID+"/image", shop.PhotoJPEG(t, 800, 600, uint64(100+i)), "Content-Type", "image/jpeg").
			Expect(t, http.StatusOK, &withImage)
		thumbnails[withImage.Image.ThumbnailURL] = true
		fullSize[withImage.Image.URL] = true
	}

	p := newBrowserPage(t, "")
	// Ready when every thumbnail in the viewport has loaded.
	visits := measureVisits(t, p, "/#/?category="+category, `() => {
		const shown = [...document.querySelectorAll("#product-grid img.thumb")].filter((i) => i.getBoundingClientRect().top < innerHeight);
		return shown.length > 0 && shown.every((i) => i.complete && i.naturalWidth > 0);
	}`)
	p.shot("01-first-load")
	reportVisits(t, p, visits)

	for _, v := range visits {
		var fetched, cached int
		for _, r := range v.summary.all {
			path := strings.TrimPrefix(r.url, p.base)
			switch {
			case fullSize[path]:
				t.Errorf("%s: the full-size image %s was fetched", v.name, path)
			case thumbnails[path]:
				fetched++
				if r.cached {
					cached++
				}
				if r.bytes > thumbnailBytesBudget {
					t.Errorf("%s: the thumbnail %s took %.0f bytes, budget %d", v.name, path, r.bytes, thumbnailBytesBudget)
				}
			case strings.HasPrefix(path, "/media/"):
				t.Errorf("%s: %s is no thumbnail of the page's products", v.name, path)
			}
		}
		t.Logf("%s: %d of the %d thumbnails requested, %d of them from the cache", v.name, fetched, picturedProducts, cached)
		if fetched == 0 || fetched > picturedProducts {
			t.Errorf("%s: %d thumbnails requested, want 1 to %d", v.name, fetched, picturedProducts)
		}
		if v.name != visits[0].name && cached != fetched {
			t.Errorf("%s: %d of %d thumbnails came over the network again", v.name, fetched-cached, fetched)
		}
	}
	if s := visits[0].summary; s.requests > picturedFirstLoadRequestsBudget || s.bytes > picturedFirstLoadBytesBudget {
		t.Errorf("first load with pictures: %d requests, %d bytes; budget %d requests, %d bytes",
			s.requests, s.bytes, picturedFirstLoadRequestsBudget, picturedFirstLoadBytesBudget)
	}
}
