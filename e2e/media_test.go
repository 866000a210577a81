package e2e

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	goimage "image"
	"image/color"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"bazaar/e2e/internal/shop"
)

// productImage is a product's image as docs/api.md defines it.
type productImage struct {
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

type productWithImage struct {
	ID    string        `json:"id"`
	Image *productImage `json:"image"`
}

// bombPNG is a PNG of under a kilobyte whose header declares w × h pixels.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		b.Write(c)
		_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6
	chunk("IHDR", ihdr)
	chunk("IDAT", bytes.Repeat([]byte{0x78, 0x9c}, 200))
	chunk("IEND", nil)
	return b.Bytes()
}

func imageOf(t *testing.T, id string) *productImage {
	t.Helper()
	var p productWithImage
	newClient(t).Do(t, "GET", "/api/catalog/products/"+id, nil).Expect(t, http.StatusOK, &p)
	return p.Image
}

// fetchMedia GETs an image URL through nginx and checks what a browser
// relies on: the type, immutable caching, pixels, and no metadata.
func fetchMedia(t *testing.T, url string) goimage.Image {
	t.Helper()
	if !strings.HasPrefix(url, "/media/") {
		t.Fatalf("image URL %q is not under /media/", url)
	}
	r := newClient(t).Do(t, "GET", url, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d", url, r.Status)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("GET %s: Cache-Control %q", url, cc)
	}
	if ct := r.Header.Get("Content-Type"); ct != "image/jpeg" && ct != "image/png" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if bytes.Contains(r.Body, []byte(shop.PhotoGPS)) || bytes.Contains(r.Body, []byte("Exif")) {
		t.Errorf("GET %s: the upload's metadata survived", url)
	}
	img, _, err := goimage.Decode(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return img
}

func TestMediaUploadReplaceDelete(t *testing.T) {
	s := theShop(t)
	admin := s.Admin(t).API
	p := shop.AddProduct(t, admin, shop.SampleProduct("camera", shop.FreshCategory(), 1999, 3))
	if img := imageOf(t, p.ID); img != nil {
		t.Fatalf("a new product has image %+v", img)
	}
	path := "/api/catalog/products/" + p.ID + "/image"

	// Over the 1 MiB that other routes take, under 5 MiB.
	first := shop.PhotoJPEG(t, 1800, 1200, 1)
	if len(first) < 3<<20/2 || len(first) > 5<<20 {
		t.Fatalf("test photo of %d bytes", len(first))
	}
	var got productWithImage
	admin.Do(t, "PUT", path, first, "Content-Type", "image/jpeg").Expect(t, http.StatusOK, &got)
	if got.Image == nil || got.Image.Width != 1600 || got.Image.Height != 1066 {
		t.Fatalf("image %+v, want 1600 × 1066", got.Image)
	}
	if img := imageOf(t, p.ID); img == nil || *img != *got.Image {
		t.Errorf("read back %+v, answered %+v", img, got.Image)
	}
	if b := fetchMedia(t, got.Image.URL).Bounds(); b.Dx() != 1600 || b.Dy() != 1066 {
		t.Errorf("image is %v", b)
	}
	if b := fetchMedia(t, got.Image.ThumbnailURL).Bounds(); b.Dx() != 400 || b.Dy() != 266 {
		t.Errorf("thumbnail is %v", b)
	}
	old := *got.Image

	// Replacing: new URLs; the old ones keep working for cached pages.
	admin.Do(t, "PUT", path, shop.PhotoJPEG(t, 800, 600, 2), "Content-Type", "image/jpeg").Expect(t, http.StatusOK, &got)
	if got.Image == nil || got.Image.URL == old.URL || got.Image.Width != 800 {
		t.Fatalf("replaced image %+v (was %+v)", got.Image, old)
	}
	fetchMedia(t, got.Image.URL)
	fetchMedia(t, old.URL)
	current := *got.Image

	// Refusals change nothing.
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	huge := append(shop.PhotoJPEG(t, 64, 64, 3), make([]byte, 6<<20)...)
	customer := s.NewShopper(t, "Media Customer").API
	for _, c := range []struct {
		name        string
		client      *shop.Client
		contentType string
		body        []byte
		status      int
		problem     string
	}{
		{"customer", customer, "image/jpeg", first, http.StatusForbidden, "forbidden"},
		{"svg", admin, "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"gif", admin, "image/gif", gif, http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"gif declared png", admin, "image/png", gif, http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"jpeg declared webp", admin, "image/webp", first, http.StatusUnsupportedMediaType, "unsupported-media-type"},
		{"over 5 MiB", admin, "image/jpeg", huge, http.StatusRequestEntityTooLarge, "payload-too-large"},
		{"decompression bomb", admin, "image/png", bombPNG(30000, 30000), http.StatusUnprocessableEntity, "unprocessable-entity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := c.client.Do(t, "PUT", path, c.body, "Content-Type", c.contentType)
			pr := r.ExpectProblem(t, c.status, c.problem)
			if pr.Detail == "" {
				t.Error("the problem has no detail")
			}
			if img := imageOf(t, p.ID); img == nil || *img != current {
				t.Errorf("after a refused upload the image is %+v, want %+v", img, current)
			}
		})
	}

	// Removing: the product has none, and the files stay for cached pages.
	admin.Do(t, "DELETE", path, nil).Expect(t, http.StatusNoContent, nil)
	if img := imageOf(t, p.ID); img != nil {
		t.Errorf("after DELETE the image is %+v", img)
	}
	fetchMedia(t, current.URL)
	fetchMedia(t, current.ThumbnailURL)
	admin.Do(t, "DELETE", "/api/catalog/products/"+shop.RandomUUID()+"/image", nil).ExpectProblem(t, http.StatusNotFound, "not-found")
	if r := newClient(t).Do(t, "GET", "/media/00/nothing.jpg", nil); r.Status != http.StatusNotFound {
		t.Errorf("GET of a missing image: %d", r.Status)
	}
}

// TestMediaTransparentPNG holds that transparency survives: such an image
// stays a PNG.
func TestMediaTransparentPNG(t *testing.T) {
	s := theShop(t)
	admin := s.Admin(t).API
	p := shop.AddProduct(t, admin, shop.SampleProduct("sticker", shop.FreshCategory(), 299, 3))
	img := goimage.NewNRGBA(goimage.Rect(0, 0, 300, 200))
	img.SetNRGBA(10, 10, color.NRGBA{200, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	var got productWithImage
	admin.Do(t, "PUT", "/api/catalog/products/"+p.ID+"/image", buf.Bytes(), "Content-Type", "image/png").Expect(t, http.StatusOK, &got)
	if got.Image == nil || !strings.HasSuffix(got.Image.URL, ".png") {
		t.Fatalf("image %+v, want a PNG", got.Image)
	}
	if _, _, _, a := fetchMedia(t, got.Image.URL).At(0, 0).RGBA(); a != 0 {
		t.Errorf("a transparent pixel has alpha %d", a)
	}
}
