package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"bazaar/e2e/internal/shop"
)

// Product images in the storefront: the grid and the product page show them
// (responsive sizes, lazy loading in the grid, the name as alt text) and the
// initial where there is none; an admin uploads one with the edit page and
// a wrong file is refused before it is sent.
func TestBrowserProductImages(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	w := uniqueWord()
	category := "e2e-" + w
	teapot := createProduct(t, admin, "Teapot "+w, 3400, 5, category)
	kettle := createProduct(t, admin, "Kettle "+w, 2900, 5, category)
	var withImage productWithImage
	admin.API.Do(t, "PUT", "/api/catalog/products/"+teapot.ID+"/image", shop.PhotoJPEG(t, 1200, 900, 11), "Content-Type", "image/jpeg").
		Expect(t, http.StatusOK, &withImage)
	img := withImage.Image

	p := newBrowserPage(t, "")
	p.open("/#/?category=" + category)
	p.waitCount("#product-grid .card", 2)
	card := fmt.Sprintf(`.card[data-product-id=%q]`, teapot.ID)
	p.waitFor("wait for the teapot's thumbnail to load",
		`(sel) => { const i = document.querySelector(sel + " img.thumb"); return i && i.complete && i.naturalWidth > 0 }`, card)
	attrs := browserValue(p, "read the thumbnail", chromedp.Attributes(chromedp.CSS(card+" img.thumb")))
	if attrs["alt"] != teapot.Name || attrs["loading"] != "lazy" || attrs["src"] != img.ThumbnailURL ||
		!strings.Contains(attrs["srcset"], img.ThumbnailURL+" 400w") || !strings.Contains(attrs["srcset"], img.URL+" 1200w") || attrs["sizes"] == "" {
		t.Errorf("thumbnail attributes %v", attrs)
	}
	initial := p.text(fmt.Sprintf(`.card[data-product-id=%q] .thumb`, kettle.ID))
	if initial != "K" {
		t.Errorf("the kettle, without an image, shows %q, want its initial K", initial)
	}
	p.shot("01-grid")

	p.open("/#/product/" + teapot.ID)
	p.waitFor("wait for the product's image to load",
		`(src) => { const i = document.querySelector("#main img.thumb.big"); return i && i.complete && i.naturalWidth > 0 && i.getAttribute("src") === src }`, img.URL)
	p.shot("02-product")

	// The admin gives the kettle an image through the edit page.
	a := newBrowserPage(t, "admin")
	a.logIn(admin.Email, admin.Password, "/admin")
	a.open("/#/admin/product/" + kettle.ID)
	a.waitText(".image-panel", "No image yet")
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "kettle.jpg"), filepath.Join(dir, "kettle.gif")
	if err := os.WriteFile(good, shop.PhotoJPEG(t, 1000, 1000, 12), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("GIF89a"), 0o644); err != nil {
		t.Fatal(err)
	}
	a.do("choose a GIF", chromedp.SetUploadFiles(chromedp.CSS("#image-file"), []string{bad}))
	a.click(".image-panel button.primary")
	a.waitText(".image-panel .alert", "JPEG, PNG or WebP")
	a.shot("03-refused")

	a.do("choose a JPEG", chromedp.SetUploadFiles(chromedp.CSS("#image-file"), []string{good}))
	a.click(".image-panel button.primary")
	a.waitText(".image-panel .image-status", "Image saved.")
	a.waitFor("wait for the preview", `() => { const i = document.querySelector(".image-preview img"); return i && i.complete && i.naturalWidth > 0 }`)
	a.shot("04-uploaded")
	if got := imageOf(t, kettle.ID); got == nil || got.Width != 1000 {
		t.Errorf("after the upload the kettle's image is %+v", got)
	}
	if label := a.text(".image-panel button.primary"); label != "Replace image" {
		t.Errorf("the upload button says %q after an upload", label)
	}
	if label := a.text(".image-panel button.secondary"); label != "Remove image" {
		t.Errorf("the remove button says %q", label)
	}

	// Removing: the panel and the product go back to the initial.
	a.click(".image-panel button.secondary")
	a.waitText(".image-panel .image-status", "Image removed.")
	a.waitText(".image-panel", "No image yet")
	if got := imageOf(t, kettle.ID); got != nil {
		t.Errorf("after the removal the kettle's image is %+v", got)
	}
}

// The image upload of TestBrowserImageUploadProgress: a photo of about
// 360 KB sent at 80 KB/s takes some four and a half seconds on any machine,
// the network emulation capping the rate, long enough to watch the progress
// bar part-way however fast the machine is.
const (
	slowPhotoWidth, slowPhotoHeight = 640, 480
	slowUploadThroughput            = 80_000 // bytes per second
)

// uploadState is what the image panel shows of an upload.
type uploadState struct {
	Fraction float64 `json:"fraction"` // the progress bar's value over its maximum
	Status   string  `json:"status"`
}

// An upload shows how far it has got: slowed down by the browser's network
// emulation (only the image's PUT), the progress bar stands part-way while
// the request is in flight, the status says the same percentage, and then
// the bar goes, the image is saved and its preview shows.
func TestBrowserImageUploadProgress(t *testing.T) {
	t.Parallel()
	admin := adminAccount(t)
	jug := createProduct(t, admin, "Jug "+uniqueWord(), 1900, 5, "e2e-"+uniqueWord())
	photo := shop.PhotoJPEG(t, slowPhotoWidth, slowPhotoHeight, 13)
	file := filepath.Join(t.TempDir(), "jug.jpg")
	if err := os.WriteFile(file, photo, 0o644); err != nil {
		t.Fatal(err)
	}
	sending := time.Duration(float64(len(photo)) / slowUploadThroughput * float64(time.Second))

	a := newBrowserPage(t, "admin")
	a.logIn(admin.Email, admin.Password, "/admin")
	a.open("/#/admin/product/" + jug.ID)
	a.waitText(".image-panel", "No image yet")
	// Network.emulateNetworkConditionsByRule, the protocol's successor of
	// emulateNetworkConditions, for the image's PUT only: the page's other
	// requests keep their speed.
	a.do("slow the image uploads down", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{
				URLPattern:         a.base + "/api/catalog/products/*/image",
				UploadThroughput:   slowUploadThroughput,
				DownloadThroughput: -1,
			}},
		})
		return err
	}))
	a.do("choose the photo", chromedp.SetUploadFiles(chromedp.CSS("#image-file"), []string{file}))
	start := time.Now()
	a.click(".image-panel button.primary")

	// Part-way: the bar shows, neither empty nor full, and the status agrees.
	const partWay = `() => {
		const bar = document.querySelector(".image-panel progress");
		const status = document.querySelector(".image-panel .image-status").textContent;
		const fraction = bar && !bar.hidden ? bar.value / bar.max : 0;
		return fraction > 0 && fraction < 1 && { fraction, status };
	}`
	first := browserValue(a, "wait for the progress bar part-way", chromedp.PollFunction[uploadState](partWay, chromedp.WithPollingTimeout(0)))
	a.shot("01-uploading")
	later := browserValue(a, "read the progress again", chromedp.Evaluate[uploadState](`(() => {
		const bar = document.querySelector(".image-panel progress");
		return { fraction: bar.hidden ? 1 : bar.value / bar.max, status: document.querySelector(".image-panel .image-status").textContent };
	})()`))
	t.Logf("%d bytes at %d B/s: the bar stood at %.1f %% (%q), after the screenshots at %.1f %% (%q)",
		len(photo), slowUploadThroughput, 100*first.Fraction, first.Status, 100*later.Fraction, later.Status)
	if want := fmt.Sprintf("Uploading… %d%%", int(first.Fraction*100)); first.Status != want {
		t.Errorf("with the bar at %.3f the status says %q, want %q", first.Fraction, first.Status, want)
	}
	if later.Fraction < first.Fraction {
		t.Errorf("the bar went back from %.3f to %.3f", first.Fraction, later.Fraction)
	}

	// Done: the bar goes, the image is saved and shown. The wait allows for
	// the throttled sending on top of a step's time.
	ctx, cancel := context.WithTimeout(a.ctx, sending+stepTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.PollFunction[bool](`() => {
		const bar = document.querySelector(".image-panel progress");
		return bar.hidden && document.querySelector(".image-panel .image-status").textContent === "Image saved.";
	}`, chromedp.WithPollingTimeout(0))); err != nil {
		a.fail("wait for the upload to finish", err)
	}
	took := time.Since(start)
	a.waitFor("wait for the preview", `() => { const i = document.querySelector(".image-preview img"); return i && i.complete && i.naturalWidth > 0 }`)
	a.shot("02-uploaded")
	t.Logf("the upload took %s (%s at the emulated rate)", took.Round(10*time.Millisecond), sending.Round(10*time.Millisecond))
	// The emulation caps the rate, so no machine sends faster: a quicker
	// upload means the throttling did not apply, and the part-way reading
	// above proved nothing.
	if took < sending/2 {
		t.Errorf("the upload took %s, under half of %s at %d B/s: the network emulation did not slow it", took, sending, slowUploadThroughput)
	}
	if got := imageOf(t, jug.ID); got == nil || got.Width != slowPhotoWidth {
		t.Errorf("after the upload the jug's image is %+v", got)
	}
}
