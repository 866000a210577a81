package imaging

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// photo returns a w × h opaque image with gradients and some noise, which
// compresses like a photograph.
func photo(w, h int, seed uint64) *image.RGBA {
	r := rand.New(rand.NewPCG(seed, 1))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := uint8(r.IntN(48))
			img.SetRGBA(x, y, color.RGBA{uint8(x*200/w) + n, uint8(y*200/h) + n, uint8((x+y)*100/(w+h)) + n, 255})
		}
	}
	return img
}

func mustJPEG(t testing.TB, img image.Image, quality int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func mustPNG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gpsMarker is a value only the upload's metadata holds.
const gpsMarker = "GPS-48.8584N-2.2945E"

// withEXIF returns jpg with an APP1 Exif segment (Orientation and a GPS IFD
// whose text is gpsMarker) and a comment segment inserted after SOI, as a
// phone camera writes them.
func withEXIF(jpg []byte, orientation uint16) []byte {
	le := binary.LittleEndian
	var t bytes.Buffer
	t.WriteString("II")
	_ = binary.Write(&t, le, uint16(42))
	_ = binary.Write(&t, le, uint32(8))
	// IFD0: Orientation, GPSInfo pointer.
	_ = binary.Write(&t, le, uint16(2))
	for _, e := range [][4]uint32{{0x0112, 3, 1, uint32(orientation)}, {0x8825, 4, 1, 8 + 2 + 2*12 + 4}} {
		_ = binary.Write(&t, le, uint16(e[0]))
		_ = binary.Write(&t, le, uint16(e[1]))
		_ = binary.Write(&t, le, e[2])
		_ = binary.Write(&t, le, e[3])
	}
	_ = binary.Write(&t, le, uint32(0))
	// GPS IFD: one ASCII entry (GPSMapDatum) pointing at gpsMarker.
	text := gpsMarker + "\x00"
	textOff := uint32(t.Len() + 2 + 12 + 4)
	_ = binary.Write(&t, le, uint16(1))
	_ = binary.Write(&t, le, uint16(0x0012))
	_ = binary.Write(&t, le, uint16(2))
	_ = binary.Write(&t, le, uint32(len(text)))
	_ = binary.Write(&t, le, textOff)
	_ = binary.Write(&t, le, uint32(0))
	t.WriteString(text)

	app1 := append([]byte("Exif\x00\x00"), t.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xff, 0xe1})
	_ = binary.Write(&out, binary.BigEndian, uint16(len(app1)+2))
	out.Write(app1)
	com := []byte("camera comment " + gpsMarker)
	out.Write([]byte{0xff, 0xfe})
	_ = binary.Write(&out, binary.BigEndian, uint16(len(com)+2))
	out.Write(com)
	out.Write(jpg[2:])
	return out.Bytes()
}

// pngHeader returns a PNG of a few hundred bytes whose header declares w × h
// pixels: a decompression bomb, as long as nothing decodes it.
func pngHeader(w, h uint32) []byte {
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
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	chunk("IDAT", bytes.Repeat([]byte{0x78, 0x9c}, 1000))
	chunk("IEND", nil)
	return b.Bytes()
}

func decode(t *testing.T, f catalog.ImageFile) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(f.Data))
	if err != nil {
		t.Fatalf("decode %s: %v", f.Key, err)
	}
	return img
}

func TestProcessStripsMetadataAndAppliesOrientation(t *testing.T) {
	t.Parallel()
	// 300 × 200 as stored, Orientation 6: it shows 200 × 300.
	upload := withEXIF(mustJPEG(t, photo(300, 200, 1), 90), 6)
	if !bytes.Contains(upload, []byte(gpsMarker)) || exifOrientation(upload) != 6 {
		t.Fatal("the test upload carries no EXIF")
	}
	out, err := New(Config{}).Process(context.Background(), "image/jpeg", upload)
	if err != nil {
		t.Fatal(err)
	}
	if out.Width != 200 || out.Height != 300 {
		t.Errorf("size = %d × %d, want 200 × 300 (turned upright)", out.Width, out.Height)
	}
	for _, f := range []catalog.ImageFile{out.Full, out.Thumbnail} {
		if bytes.Contains(f.Data, []byte(gpsMarker)) || bytes.Contains(f.Data, []byte("Exif")) {
			t.Errorf("%s still carries the upload's metadata", f.Key)
		}
		if hasSegment(f.Data, 0xe1) || hasSegment(f.Data, 0xfe) {
			t.Errorf("%s has an APP1 or comment segment", f.Key)
		}
		if f.ContentType != "image/jpeg" || !strings.HasSuffix(f.Key, ".jpg") {
			t.Errorf("%s: content type %s, want a JPEG", f.Key, f.ContentType)
		}
		decode(t, f)
	}
}

// hasSegment reports whether a JPEG has a segment with marker before its
// first scan.
func hasSegment(jpg []byte, marker byte) bool {
	for i := 2; i+4 <= len(jpg) && jpg[i] == 0xff && jpg[i+1] != 0xda; {
		if jpg[i+1] == marker {
			return true
		}
		i += 2 + int(binary.BigEndian.Uint16(jpg[i+2:]))
	}
	return false
}

func TestProcessSizes(t *testing.T) {
	t.Parallel()
	webpData, err := os.ReadFile("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	transparent := image.NewNRGBA(image.Rect(0, 0, 500, 1000))
	transparent.SetNRGBA(1, 1, color.NRGBA{255, 0, 0, 255})
	cases := []struct {
		name, mediaType   string
		data              []byte
		w, h, tw, th      int
		full, thumbnailCT string
	}{
		{"LargeJPEG", "image/jpeg", mustJPEG(t, photo(3200, 2000, 2), 85), 1600, 1000, 400, 250, "image/jpeg", "image/jpeg"},
		{"SmallJPEGNotEnlarged", "image/jpeg", mustJPEG(t, photo(120, 90, 3), 85), 120, 90, 120, 90, "image/jpeg", "image/jpeg"},
		{"TransparentPNGStaysPNG", "image/png", mustPNG(t, transparent), 500, 1000, 200, 400, "image/png", "image/png"},
		{"OpaquePNGBecomesJPEG", "image/png", mustPNG(t, photo(800, 600, 4)), 800, 600, 400, 300, "image/jpeg", "image/jpeg"},
		{"WebP", "image/webp", webpData, 0, 0, 0, 0, "image/jpeg", "image/jpeg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out, err := New(Config{}).Process(context.Background(), c.mediaType, c.data)
			if err != nil {
				t.Fatal(err)
			}
			full, thumb := decode(t, out.Full), decode(t, out.Thumbnail)
			if c.w == 0 { // the WebP's size is whatever the file says
				cfg, _, _ := image.DecodeConfig(bytes.NewReader(out.Full.Data))
				c.w, c.h = cfg.Width, cfg.Height
				c.tw, c.th = thumb.Bounds().Dx(), thumb.Bounds().Dy()
				if max(c.tw, c.th) > ThumbnailSize || c.w == 0 {
					t.Fatalf("WebP: %d × %d, thumbnail %d × %d", c.w, c.h, c.tw, c.th)
				}
			}
			if got := full.Bounds().Size(); got != image.Pt(c.w, c.h) || out.Width != c.w || out.Height != c.h {
				t.Errorf("full = %v (reported %d × %d), want %d × %d", got, out.Width, out.Height, c.w, c.h)
			}
			if got := thumb.Bounds().Size(); got != image.Pt(c.tw, c.th) {
				t.Errorf("thumbnail = %v, want %d × %d", got, c.tw, c.th)
			}
			if out.Full.ContentType != c.full || out.Thumbnail.ContentType != c.thumbnailCT {
				t.Errorf("types %s, %s; want %s, %s", out.Full.ContentType, out.Thumbnail.ContentType, c.full, c.thumbnailCT)
			}
			if out.Full.Key == out.Thumbnail.Key && c.w > ThumbnailSize {
				t.Error("the image and its thumbnail share a key")
			}
		})
	}
}

func TestProcessKeysNameContent(t *testing.T) {
	t.Parallel()
	p := New(Config{})
	a := mustJPEG(t, photo(640, 480, 5), 85)
	b := mustJPEG(t, photo(640, 480, 6), 85)
	first, err := p.Process(context.Background(), "image/jpeg", a)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := p.Process(context.Background(), "image/jpeg", a)
	other, _ := p.Process(context.Background(), "image/jpeg", b)
	if first.Full.Key != again.Full.Key || first.Thumbnail.Key != again.Thumbnail.Key {
		t.Errorf("the same upload got keys %s and %s", first.Full.Key, again.Full.Key)
	}
	if first.Full.Key == other.Full.Key {
		t.Errorf("two images share the key %s", first.Full.Key)
	}
}

func TestProcessRefuses(t *testing.T) {
	t.Parallel()
	jpg := mustJPEG(t, photo(64, 64, 7), 85)
	pngData := mustPNG(t, photo(64, 64, 8))
	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`)
	cases := []struct {
		name, mediaType string
		data            []byte
		code            string
	}{
		{"PNGDeclaredJPEG", "image/jpeg", pngData, apperr.Unsupported},
		{"JPEGDeclaredPNG", "image/png", jpg, apperr.Unsupported},
		{"JPEGDeclaredWebP", "image/webp", jpg, apperr.Unsupported},
		{"GIFDeclaredPNG", "image/png", gif, apperr.Unsupported},
		{"GIF", "image/gif", gif, apperr.Unsupported},
		{"SVGDeclaredPNG", "image/png", svg, apperr.Unsupported},
		{"SVG", "image/svg+xml", svg, apperr.Unsupported},
		{"TruncatedJPEG", "image/jpeg", jpg[:len(jpg)/2], apperr.Unsupported},
		{"JPEGSignatureOnly", "image/jpeg", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0}, apperr.Unsupported},
		{"Empty", "image/png", nil, apperr.Unsupported},
		{"Bomb", "image/png", pngHeader(30000, 30000), apperr.Unprocessable},
		{"WideBomb", "image/png", pngHeader(1<<20, 1<<20), apperr.Unprocessable},
		// 36 megapixels pass MaxPixels, but as RGBA they need 144 MB.
		{"OverDecodeMemory", "image/png", pngHeader(6000, 6000), apperr.Unprocessable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Config{MaxPixels: 40_000_000, MaxDecodeBytes: 96 << 20}).Process(context.Background(), c.mediaType, c.data)
			if got := apperr.Code(err); got != c.code {
				t.Errorf("code = %s (%v), want %s", got, err, c.code)
			}
		})
	}
}

// TestBombIsRefusedBeforeDecoding holds that a header declaring 30000 ×
// 30000 pixels (3.6 GB as RGBA) is refused from its header alone: the
// refusal allocates next to nothing.
func TestBombIsRefusedBeforeDecoding(t *testing.T) {
	bomb := pngHeader(30000, 30000)
	if len(bomb) > 4096 {
		t.Fatalf("bomb of %d bytes", len(bomb))
	}
	p := New(Config{MaxPixels: 40_000_000})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := p.Process(context.Background(), "image/png", bomb)
	runtime.ReadMemStats(&after)
	if apperr.Code(err) != apperr.Unprocessable {
		t.Fatalf("err = %v, want unprocessable", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("refusing the bomb allocated %d bytes", alloc)
	}
}

// TestWorkersBoundConcurrency holds that no more images are decoded at once
// than Config.Workers, and that a request that gives up while waiting
// leaves.
func TestWorkersBoundConcurrency(t *testing.T) {
	p := New(Config{Workers: 2})
	data := mustJPEG(t, photo(1200, 900, 9), 85)
	var now, peak atomic.Int32
	// Fill both slots by hand, then check a third call waits.
	p.slots <- struct{}{}
	p.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Process(ctx, "image/jpeg", data); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with every worker busy: err = %v, want the deadline", err)
	}
	<-p.slots
	<-p.slots

	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // sample how many slots are taken
		for {
			select {
			case <-stop:
				return
			default:
				n := int32(len(p.slots))
				now.Store(n)
				if n > peak.Load() {
					peak.Store(n)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()
	for range 6 {
		wg.Go(func() {
			if _, err := p.Process(context.Background(), "image/jpeg", data); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	if peak.Load() > 2 {
		t.Errorf("%d images decoded at once, want at most 2", peak.Load())
	}
}

// BenchmarkProcessPhoto processes a photo of about 5 MiB (the largest
// upload) and reports the peak of the live heap while it runs.
func BenchmarkProcessPhoto(b *testing.B) {
	data := mustJPEG(b, photo(4000, 3000, 10), 90)
	b.Logf("upload: 4000 × 3000 JPEG, %.2f MiB", float64(len(data))/(1<<20))
	if len(data) > catalog.MaxImageBytes {
		b.Fatalf("upload of %d bytes is over the limit", len(data))
	}
	p := New(Config{})
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	runtime.GC()
	metrics.Read(samples)
	base := samples[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-stop:
				return
			default:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Process(context.Background(), "image/jpeg", data); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load()-min(base, peak.Load()))/(1<<20), "peak-heap-MiB")
}
