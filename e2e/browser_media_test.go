package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
