package http

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bazaar/catalog"
	"bazaar/catalog/imaging"
	"bazaar/catalog/media"
	"bazaar/catalog/metrics"
	"bazaar/platform/apperr"
	"bazaar/platform/web"
)

const productID = "0190a5b4-1c2d-7e3f-8a4b-5c6d7e8f9a0b"

// imageProducts is one product whose image the handlers change.
type imageProducts struct {
	fakeProducts
	mu      sync.Mutex
	product catalog.Product
	sets    int
}

func (f *imageProducts) FindProduct(_ context.Context, id string) (catalog.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.product.ID {
		return catalog.Product{}, catalog.ProductNotFound(id)
	}
	return f.product, nil
}

func (f *imageProducts) SetProductImage(_ context.Context, id string, img *catalog.Image) (catalog.Product, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id != f.product.ID {
		return catalog.Product{}, catalog.ProductNotFound(id)
	}
	f.sets++
	f.product.Image = img
	return f.product, nil
}

type imageServer struct {
	*web.Server
	products *imageProducts
	dir      string
	admin    string
	customer string
}

func newImageServer(t *testing.T) *imageServer {
	t.Helper()
	toks, verifier := newTokens(t)
	is := &imageServer{
		products: &imageProducts{product: catalog.Product{ID: productID, Name: "Teapot"}},
		dir:      t.TempDir(),
		admin:    toks.sign(t, "admin"),
		customer: toks.sign(t, "customer"),
	}
	is.Server = web.NewServer(web.Config{Service: "catalog"}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	svc := catalog.NewService(catalog.ServiceConfig{
		Products: is.products,
		Images:   imaging.New(imaging.Config{MaxPixels: 40_000_000, Workers: 1}),
		Media:    &media.Local{Dir: is.dir, BaseURL: "/media/"},
	})
	NewHandler(svc, verifier, metrics.New(is.Registry, nil)).Register(is.API)
	is.AllowBody(http.MethodPut, ImageRoute, catalog.MaxImageBytes)
	return is
}

func (s *imageServer) put(t *testing.T, token, contentType string, body io.Reader, length int64) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPut, "/api/catalog/products/"+productID+"/image", body)
	req.ContentLength = length
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	s.API.ServeHTTP(rec, req)
	return rec
}

// files lists what the media folder holds.
func (s *imageServer) files(t *testing.T) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// noisyJPEG returns a w × h JPEG that compresses like a photograph.
func noisyJPEG(t *testing.T, w, h, quality int) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(uint64(w), uint64(h)))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPutImageStoresAndAnswersProduct(t *testing.T) {
	s := newImageServer(t)
	// Over the 1 MiB that other routes take: the route's own limit applies.
	data := noisyJPEG(t, 1200, 900, 95)
	if len(data) <= web.MaxBodyBytes || len(data) > catalog.MaxImageBytes {
		t.Fatalf("test image of %d bytes", len(data))
	}
	rec := s.put(t, s.admin, "image/jpeg", bytes.NewReader(data), int64(len(data)))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var p struct {
		ID    string         `json:"id"`
		Image *catalog.Image `json:"image"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Image == nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if p.Image.Width != 1200 || p.Image.Height != 900 || !strings.HasPrefix(p.Image.URL, "/media/") || !strings.HasPrefix(p.Image.ThumbnailURL, "/media/") {
		t.Errorf("image = %+v", p.Image)
	}
	for _, u := range []string{p.Image.URL, p.Image.ThumbnailURL} {
		got, err := os.ReadFile(filepath.Join(s.dir, strings.TrimPrefix(u, "/media/")))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if _, _, err := image.Decode(bytes.NewReader(got)); err != nil {
			t.Errorf("%s is not an image: %v", u, err)
		}
	}

	// A DELETE leaves the product without an image, and the files for the
	// pages that still show them.
	req := httptest.NewRequest(http.MethodDelete, "/api/catalog/products/"+productID+"/image", nil)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	del := httptest.NewRecorder()
	s.API.ServeHTTP(del, req)
	if del.Code != http.StatusNoContent || s.products.product.Image != nil {
		t.Errorf("DELETE: status %d, image %+v", del.Code, s.products.product.Image)
	}
	if n := len(s.files(t)); n != 2 {
		t.Errorf("%d files after DELETE, want the 2 still there", n)
	}
}

func TestPutImageRefusals(t *testing.T) {
	pngData := func() []byte {
		var buf bytes.Buffer
		img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
		img.Set(1, 1, color.White)
		_ = png.Encode(&buf, img)
		return buf.Bytes()
	}()
	jpg := noisyJPEG(t, 64, 64, 80)
	big := append(append([]byte{}, jpg...), make([]byte, catalog.MaxImageBytes)...)
	cases := []struct {
		name, token, contentType string
		body                     []byte
		chunked                  bool
		status                   int
	}{
		{"Anonymous", "", "image/jpeg", jpg, false, http.StatusUnauthorized},
		{"Customer", "customer", "image/jpeg", jpg, false, http.StatusForbidden},
		{"SVG", "admin", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), false, http.StatusUnsupportedMediaType},
		{"GIF", "admin", "image/gif", []byte("GIF89a"), false, http.StatusUnsupportedMediaType},
		{"NoContentType", "admin", "", jpg, false, http.StatusUnsupportedMediaType},
		{"JSON", "admin", "application/json", []byte(`{}`), false, http.StatusUnsupportedMediaType},
		{"PNGSaysJPEG", "admin", "image/jpeg", pngData, false, http.StatusUnsupportedMediaType},
		{"TextSaysPNG", "admin", "image/png", []byte("hello"), false, http.StatusUnsupportedMediaType},
		{"OverLimit", "admin", "image/jpeg", big, false, http.StatusRequestEntityTooLarge},
		{"OverLimitChunked", "admin", "image/jpeg", big, true, http.StatusRequestEntityTooLarge},
		{"Bomb", "admin", "image/png", bombPNG(30000, 30000), false, http.StatusUnprocessableEntity},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newImageServer(t)
			before := &catalog.Image{URL: "/media/before.jpg", ThumbnailURL: "/media/before-t.jpg", Width: 1, Height: 1}
			s.products.product.Image = before
			token := map[string]string{"admin": s.admin, "customer": s.customer}[c.token]
			length := int64(len(c.body))
			var body io.Reader = bytes.NewReader(c.body)
			if c.chunked {
				length, body = -1, io.MultiReader(body) // hides the length
			}
			rec := s.put(t, token, c.contentType, body, length)
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			p := problem(t, rec)
			if p.Status != c.status || p.Detail == "" {
				t.Errorf("problem %+v", p)
			}
			if s.products.sets != 0 || s.products.product.Image != before {
				t.Error("a refused upload changed the product's image")
			}
			if files := s.files(t); len(files) != 0 {
				t.Errorf("a refused upload stored %v", files)
			}
		})
	}
}

func TestImageRoutesUnknownProduct(t *testing.T) {
	s := newImageServer(t)
	for _, id := range []string{"0190a5b4-0000-7000-8000-00000000ffff", "not-a-uuid"} {
		for _, method := range []string{http.MethodPut, http.MethodDelete} {
			req := httptest.NewRequest(method, "/api/catalog/products/"+id+"/image", bytes.NewReader(noisyJPEG(t, 16, 16, 80)))
			req.Header.Set("Content-Type", "image/jpeg")
			req.Header.Set("Authorization", "Bearer "+s.admin)
			rec := httptest.NewRecorder()
			s.API.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound || problem(t, rec).Type != web.ProblemTypePrefix+apperr.NotFound {
				t.Errorf("%s %s: status %d", method, id, rec.Code)
			}
		}
	}
	if files := s.files(t); len(files) != 0 {
		t.Errorf("stored %v for a product that does not exist", files)
	}
}

// bombPNG is a PNG of a few hundred bytes whose header declares w × h.
func bombPNG(w, h int) []byte {
	var buf bytes.Buffer
	_ = png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	// IHDR's width and height follow the signature (8), length (4), type (4).
	be := func(v int) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	copy(b[16:], be(w))
	copy(b[20:], be(h))
	// The chunk's CRC covers type and data: recompute it.
	crc := crc32.ChecksumIEEE(b[12:29])
	copy(b[29:], be(int(crc)))
	return b
}

// TestPutImageCountsEveryOutcome counts a stored upload, refusals made
// here (a wrong type, before the body is read; a body over the limit,
// while it is read) and one the service makes (no such product), each once.
func TestPutImageCountsEveryOutcome(t *testing.T) {
	s := newImageServer(t)
	jpg := noisyJPEG(t, 64, 64, 80)
	if rec := s.put(t, s.admin, "image/jpeg", bytes.NewReader(jpg), int64(len(jpg))); rec.Code != http.StatusOK {
		t.Fatalf("upload: status %d: %s", rec.Code, rec.Body)
	}
	s.put(t, s.admin, "image/gif", bytes.NewReader([]byte("GIF89a")), 6)
	big := append(append([]byte{}, jpg...), make([]byte, catalog.MaxImageBytes)...)
	s.put(t, s.admin, "image/jpeg", io.MultiReader(bytes.NewReader(big)), -1)
	s.products.product.ID = "0190a5b4-0000-7000-8000-00000000ffff" // the route's product is gone
	s.put(t, s.admin, "image/jpeg", bytes.NewReader(jpg), int64(len(jpg)))

	for reason, want := range map[string]float64{"unsupported_type": 1, "too_large": 1, "unknown_product": 1, "invalid": 0, "error": 0} {
		if got := outcomeCount(t, s.Registry, "catalog_image_refusals_total", reason); got != want {
			t.Errorf("refusals{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	families, err := s.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "catalog_image_uploads_total" {
			if got := f.GetMetric()[0].GetCounter().GetValue(); got != 1 {
				t.Errorf("uploads = %v, want 1", got)
			}
			return
		}
	}
	t.Error("no catalog_image_uploads_total")
}
