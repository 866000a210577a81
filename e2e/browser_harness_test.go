package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Bounds of the browser tests: a broken UI fails fast instead of hanging.
const (
	browserTestTimeout = 4 * time.Minute  // a whole test, browser start included
	stepTimeout        = 20 * time.Second // one step: a click and what it waits for
)

// screenshotRoot holds one folder of screenshots per test, for people to
// look through (CI keeps e2e/artifacts/ as a build artifact).
const screenshotRoot = "artifacts/screenshots"

// screenshotDirs holds the screenshot folders cleared in this run.
var screenshotDirs sync.Map

// viewport is a window size that every screenshot is taken at.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	desktopViewport = viewport{"1280", 1280, 800, false}
	phoneViewport   = viewport{"375", 375, 812, true}
	viewports       = []viewport{desktopViewport, phoneViewport}
)

// browserPage is one headless Chromium with one tab, driven by a test.
type browserPage struct {
	t    *testing.T
	ctx  context.Context // the tab; bounded by browserTestTimeout
	base string          // the storefront, e.g. http://127.0.0.1:32768
	dir  string          // this test's screenshot folder
	role string          // prefixes screenshot names when a test drives two browsers

	mu       sync.Mutex
	problems []string // uncaught exceptions and Content-Security-Policy violations
}

// newBrowserPage starts a fresh Chromium (a new profile: no cookies, empty
// cache) for the test. role names it in screenshots and messages when a test
// uses more than one browser ("" for the only one).
func newBrowserPage(t *testing.T, role string) *browserPage {
	t.Helper()
	base := mustStack(t).BaseURL
	ctx, cancel := context.WithTimeout(context.Background(), browserTestTimeout)
	t.Cleanup(cancel)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		// Chromium runs as root in CI containers, where its sandbox cannot start.
		chromedp.NoSandbox,
		// The flags of ENVIRONMENT.md: headless, and no first-run setup,
		// background networking, component updates or sync, which dial out.
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(int(desktopViewport.width), int(desktopViewport.height)),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	p := &browserPage{t: t, ctx: tab, base: base, role: role, dir: filepath.Join(screenshotRoot, t.Name())}
	// The first browser of a test clears the screenshots of an earlier run.
	if _, seen := screenshotDirs.LoadOrStore(p.dir, true); !seen {
		if err := os.RemoveAll(p.dir); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(p.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.watchConsole()
	// Registered after the tab's cancel, so it runs before the tab closes.
	t.Cleanup(p.checkConsole)
	p.do("set the desktop viewport", chromedp.EmulateViewport(desktopViewport.width, desktopViewport.height))
	return p
}

// watchConsole records what must never happen on a page: an uncaught
// exception, or anything the Content-Security-Policy blocked (an inline
// script, style or handler). Failed requests are expected (a 401 from the
// session refresh of a visitor, a 409 from an out-of-stock checkout).
func (p *browserPage) watchConsole() {
	messages := chromedp.Console(p.ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Source == "security" || strings.Contains(m.Text, "Content Security Policy") {
				p.mu.Lock()
				p.problems = append(p.problems, fmt.Sprintf("%s %s (%s:%d)", m.Type, m.Text, m.URL, m.Line+1))
				p.mu.Unlock()
			}
		}
	}()
}

func (p *browserPage) checkConsole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.problems {
		p.t.Errorf("%sbrowser console: %s", p.label(), m)
	}
}

func (p *browserPage) label() string {
	if p.role == "" {
		return ""
	}
	return p.role + ": "
}

// do runs actions as one step, bounded by stepTimeout. On failure it saves a
// screenshot of the page as it was and ends the test.
func (p *browserPage) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fail(what, err)
	}
}

// browserValue runs one action that returns a value, bounded like do.
func browserValue[T any](p *browserPage, what string, action chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		p.fail(what, err)
	}
	return v
}

func (p *browserPage) fail(what string, err error) {
	p.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("not done within %s", stepTimeout)
	}
	shot := p.capture("failed")
	p.t.Fatalf("%s%s: %v\n  page: %s\n  screenshot: %s", p.label(), what, err, p.describe(), shot)
}

// describe sums up the page for a failure message: its address and text.
func (p *browserPage) describe() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + " | " + document.body.innerText.replace(/\s+/g, " ").slice(0, 600)`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return text
}

// capture saves a screenshot at the current viewport and returns its path.
func (p *browserPage) capture(name string) string {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "(none: " + err.Error() + ")"
	}
	path := filepath.Join(p.dir, p.fileName(name, "current"))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "(none: " + err.Error() + ")"
	}
	return path
}

func (p *browserPage) fileName(step, width string) string {
	if p.role != "" {
		step = p.role + "-" + step
	}
	return step + "-" + width + ".png"
}

// shot saves the whole page at desktop and phone widths as
// <dir>/<step>-1280.png and <dir>/<step>-375.png, then returns to the desktop size.
// Number the steps ("03-cart") so that a folder lists in order.
func (p *browserPage) shot(step string) {
	p.t.Helper()
	for _, vp := range viewports {
		var opts []chromedp.EmulateViewportOption
		if vp.mobile {
			opts = append(opts, chromedp.EmulateMobile)
		}
		p.do("set the "+vp.name+" px viewport", chromedp.EmulateViewport(vp.width, vp.height, opts...), afterPaint())
		png := browserValue(p, "screenshot "+step, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(p.dir, p.fileName(step, vp.name)), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
	}
	p.do("set the desktop viewport", chromedp.EmulateViewport(desktopViewport.width, desktopViewport.height), afterPaint())
}

// afterPaint waits until the page has laid out and painted twice.
func afterPaint() chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](`new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))`, chromedp.EvalAwaitPromise)
}

// open loads a storefront address ("/", "/#/login?next=/admin") and waits
// for its view.
func (p *browserPage) open(path string) {
	p.t.Helper()
	p.do("open "+path, chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS("#main h1")))
}

// waitFor waits until the JavaScript predicate, called with args, is true.
func (p *browserPage) waitFor(what, predicate string, args ...any) {
	p.t.Helper()
	p.do(what, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.PollFunction[bool](predicate, chromedp.WithPollingArgs(args...), chromedp.WithPollingTimeout(0))(ctx, t)
		return err
	}))
}

// waitText waits until an element matching the CSS selector contains text.
func (p *browserPage) waitText(selector, text string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("wait for %q in %s", text, selector),
		`(sel, want) => [...document.querySelectorAll(sel)].some((el) => el.textContent.includes(want))`, selector, text)
}

// waitCount waits until exactly n elements match the CSS selector.
func (p *browserPage) waitCount(selector string, n int) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("wait for %d of %s", n, selector),
		`(sel, n) => document.querySelectorAll(sel).length === n`, selector, n)
}

// text returns the text of the first element matching the CSS selector.
func (p *browserPage) text(selector string) string {
	p.t.Helper()
	return browserValue(p, "read "+selector, chromedp.Text(chromedp.CSS(selector)))
}

// click clicks the element matching the CSS selector once it is visible.
func (p *browserPage) click(selector string) {
	p.t.Helper()
	p.do("click "+selector, chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector)))
}

// fill replaces the value of a form control by typing, as a person would.
func (p *browserPage) fill(selector, text string) {
	p.t.Helper()
	css := chromedp.CSS(selector)
	clear := chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ""`, selector))
	p.do("fill "+selector, chromedp.WaitVisible(css), clear, chromedp.SendKeys(css, text))
}

// search types into the storefront's search box and submits it with Enter.
func (p *browserPage) search(q string) {
	p.t.Helper()
	p.fill("#f-q", q+"\n")
	p.waitFor("wait for the results of "+q,
		`(q) => new URLSearchParams(location.hash.split("?")[1] ?? "").get("q") === q && document.getElementById("main").getAttribute("aria-busy") === "false"`, q)
}

// logIn signs in through the log-in form and waits for the header to show it.
func (p *browserPage) logIn(email, password, next string) {
	p.t.Helper()
	p.open("/#/login?next=" + next)
	p.fill("#f-email", email)
	p.fill("#f-password", password)
	p.click(`#main form button[type="submit"]`)
	p.do("wait for the log-in", chromedp.WaitVisible(chromedp.CSS("#logout")))
}

// addToCart clicks a product card's "Add to cart" button.
func (p *browserPage) addToCart(productID string) {
	p.t.Helper()
	p.click(fmt.Sprintf(`.card[data-product-id=%q] button.add`, productID))
}
