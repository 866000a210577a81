// Package imaging checks and re-encodes product images with Go's image
// codecs and golang.org/x/image: it reads the header alone to refuse what is
// too large to decode, decodes under a bound on concurrent work, scales, and
// encodes anew, so that no metadata of the upload (EXIF, GPS, comments, ICC
// profiles) survives.
package imaging

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"

	"bazaar/catalog"
	"bazaar/platform/apperr"
)

// Sizes of the files a processed image becomes: the image itself fits in
// FullSize × FullSize pixels and its thumbnail in ThumbnailSize ×
// ThumbnailSize (the storefront's grid shows thumbnails up to 200 CSS pixels
// wide, at up to twice that in device pixels). Neither is ever enlarged.
const (
	FullSize      = 1600
	ThumbnailSize = 400
	jpegQuality   = 82
)

// Config bounds the work of a Processor.
type Config struct {
	// MaxPixels is the most pixels (width × height) an upload may declare.
	MaxPixels int
	// MaxDecodeBytes bounds the memory one decoded upload may take, as
	// its header lets us estimate it (bytesPerPixel).
	MaxDecodeBytes int64
	// Workers is how many images are decoded and scaled at once; more wait.
	// Memory for images is about Workers × (MaxDecodeBytes + 5 MiB for the
	// upload + 4 × FullSize² for the result).
	Workers int
}

// Processor implements catalog.ImageProcessor.
type Processor struct {
	cfg   Config
	slots chan struct{}
}

var _ catalog.ImageProcessor = (*Processor)(nil)

// New returns a Processor; cfg's zero fields take 40 megapixels, 96 MiB
// and one worker.
func New(cfg Config) *Processor {
	if cfg.MaxPixels <= 0 {
		cfg.MaxPixels = 40_000_000
	}
	if cfg.MaxDecodeBytes <= 0 {
		cfg.MaxDecodeBytes = 96 << 20
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	return &Processor{cfg: cfg, slots: make(chan struct{}, cfg.Workers)}
}

// format is one accepted encoding: its signature and its decoders.
type format struct {
	name         string
	matches      func([]byte) bool
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}

var formats = map[string]format{
	"image/jpeg": {"JPEG", func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xff, 0xd8, 0xff}) }, jpeg.DecodeConfig, jpeg.Decode},
	"image/png":  {"PNG", func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }, png.DecodeConfig, png.Decode},
	"image/webp": {"WebP", func(b []byte) bool { return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP" }, webp.DecodeConfig, webp.Decode},
}

// Process checks data against mediaType and the limits, then decodes it and
// encodes the image and its thumbnail anew.
func (p *Processor) Process(ctx context.Context, mediaType string, data []byte) (catalog.ProcessedImage, error) {
	f, ok := formats[mediaType]
	if !ok {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unsupported, "Images must be JPEG, PNG or WebP.")
	}
	if !f.matches(data) {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unsupported, "The body is not a %s image, as its Content-Type %s says.", f.name, mediaType)
	}
	cfg, err := f.decodeConfig(bytes.NewReader(data))
	if err != nil {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unsupported, "The body is not a valid %s image.", f.name)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unprocessable, "The image declares no pixels (%d × %d).", cfg.Width, cfg.Height)
	}
	// Width × Height in int64: a header may declare up to 2³² × 2³².
	if int64(cfg.Width)*int64(cfg.Height) > int64(p.cfg.MaxPixels) {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unprocessable,
			"The image declares %d × %d pixels; at most %d pixels in all are accepted.", cfg.Width, cfg.Height, p.cfg.MaxPixels)
	}

	if need := int64(cfg.Width) * int64(cfg.Height) * bytesPerPixel(cfg.ColorModel); need > p.cfg.MaxDecodeBytes {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unprocessable,
			"The image's %d × %d pixels would take %d MiB to decode; at most %d MiB are allowed.", cfg.Width, cfg.Height, need>>20, p.cfg.MaxDecodeBytes>>20)
	}

	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return catalog.ProcessedImage{}, ctx.Err()
	}
	defer func() { <-p.slots }()

	src, err := f.decode(bytes.NewReader(data))
	if err != nil {
		return catalog.ProcessedImage{}, apperr.Errorf(apperr.Unsupported, "The body is not a valid %s image: %s.", f.name, err)
	}
	orientation := 1
	if mediaType == "image/jpeg" {
		orientation = exifOrientation(data)
	}
	full := orient(fit(src, FullSize), orientation)
	src = nil // the decoded upload is the largest allocation: let it go
	thumb := fit(full, ThumbnailSize)
	b := full.Bounds()
	out := catalog.ProcessedImage{Width: b.Dx(), Height: b.Dy()}
	opaque := full.Opaque()
	if out.Full, err = encode(full, opaque); err != nil {
		return catalog.ProcessedImage{}, err
	}
	if out.Thumbnail, err = encode(thumb, opaque); err != nil {
		return catalog.ProcessedImage{}, err
	}
	return out, nil
}

// bytesPerPixel is what a decoder allocates per pixel for images of the
// color model m: JPEG's YCbCr is counted without chroma subsampling, which
// its header does not tell.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel, color.Alpha16Model:
		return 2
	case color.YCbCrModel, color.Gray16Model:
		return 3
	case color.NRGBA64Model, color.RGBA64Model:
		return 8
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4 // RGBA, NRGBA, NYCbCrA, CMYK
}

// fit returns img as an *image.RGBA scaled down to fit in size × size, or at
// its own size when it already fits.
func fit(img image.Image, size int) *image.RGBA {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w > size || h > size {
		if w >= h {
			w, h = size, max(1, h*size/w)
		} else {
			w, h = max(1, w*size/h), size
		}
	}
	return shrink(img, w, h)
}

// encode writes img as a JPEG when it is opaque, else as a PNG, and names
// the file after its content. The encoders write pixels alone: no metadata.
func encode(img image.Image, opaque bool) (catalog.ImageFile, error) {
	var buf bytes.Buffer
	f := catalog.ImageFile{ContentType: "image/jpeg"}
	ext := ".jpg"
	var err error
	if opaque {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality})
	} else {
		f.ContentType, ext = "image/png", ".png"
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img)
	}
	if err != nil {
		return catalog.ImageFile{}, fmt.Errorf("encode image: %w", err)
	}
	sum := sha256.Sum256(buf.Bytes())
	name := hex.EncodeToString(sum[:])
	f.Key = name[:2] + "/" + name + ext
	f.Data = buf.Bytes()
	return f, nil
}
