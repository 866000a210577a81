package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"strings"

	"bazaar/platform/apperr"
	"bazaar/platform/ident"
)

// Image is a product's picture as clients see it: the re-encoded image and a
// thumbnail of it, both at URLs that never change their content (they may
// be relative to the site), and the image's size in pixels.
type Image struct {
	URL          string `json:"url"`
	ThumbnailURL string `json:"thumbnail_url"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
}

// MaxImageBytes is the largest image upload (5 MiB); nginx has the same limit
// on the upload route.
const MaxImageBytes = 5 << 20

// ImageTypes are the media types an upload may declare.
var ImageTypes = []string{"image/jpeg", "image/png", "image/webp"}

// ImageType returns the media type of a Content-Type header when it is one
// of ImageTypes, else an Unsupported error that names them.
func ImageType(contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err == nil {
		for _, t := range ImageTypes {
			if mt == t {
				return t, nil
			}
		}
	}
	return "", apperr.Errorf(apperr.Unsupported, "An image must be sent as %s; the request says %q.", strings.Join(ImageTypes, ", "), clip(contentType, 100))
}

// ImageTooLarge is the refusal of an upload over MaxImageBytes.
func ImageTooLarge() error {
	return apperr.Errorf(apperr.TooLarge, "An image may have at most %d bytes (5 MiB).", MaxImageBytes)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ImageFile is one encoded file of a processed image. Key names it by its
// content, so a stored file never changes and may be cached for ever.
type ImageFile struct {
	Key         string
	ContentType string
	Data        []byte
}

// ProcessedImage is what an upload becomes: the image re-encoded without
// its metadata (Full, Width × Height pixels) and a thumbnail.
type ProcessedImage struct {
	Full, Thumbnail ImageFile
	Width, Height   int
}

// ImageProcessor checks an upload of a declared media type and re-encodes
// it. It answers Unsupported when the bytes are not an image of that type,
// and Unprocessable when the image is too large to decode, before decoding
// any pixel.
type ImageProcessor interface {
	Process(ctx context.Context, mediaType string, data []byte) (ProcessedImage, error)
}

// MediaStore keeps image files by key and says where clients fetch them:
// a URL ends with its key (MediaKey). Files are never overwritten with
// other content (keys name content). A file's time is when it was last
// written: by a Put, which writes it again when it is there already, or a
// Touch. The MediaCollector deletes only files that no product names and
// whose time is long past.
type MediaStore interface {
	Put(ctx context.Context, f ImageFile) error
	// Touch sets the time of key's file to now; it answers an error
	// wrapping fs.ErrNotExist when there is none.
	Touch(ctx context.Context, key string) error
	URL(key string) string
}

// SetImage makes the upload data, of the Content-Type contentType, the
// product's image. Nothing is stored or changed when it is refused.
func (s *Service) SetImage(ctx context.Context, id, contentType string, data []byte) (Product, error) {
	if !ident.IsUUID(id) {
		return Product{}, ProductNotFound(id)
	}
	id = NormalizeID(id)
	mediaType, err := ImageType(contentType)
	if err != nil {
		return Product{}, err
	}
	if len(data) > MaxImageBytes {
		return Product{}, ImageTooLarge()
	}
	// A product that is gone costs no processing.
	old, err := s.cfg.Products.FindProduct(ctx, id)
	if err != nil {
		return Product{}, err
	}
	img, err := s.cfg.Images.Process(ctx, mediaType, data)
	if err != nil {
		return Product{}, err
	}
	for _, f := range []ImageFile{img.Full, img.Thumbnail} {
		if err := s.cfg.Media.Put(ctx, f); err != nil {
			return Product{}, fmt.Errorf("store image %s: %w", f.Key, err)
		}
	}
	s.release(ctx, old.Image)
	return s.cfg.Products.SetProductImage(ctx, id, &Image{
		URL:          s.cfg.Media.URL(img.Full.Key),
		ThumbnailURL: s.cfg.Media.URL(img.Thumbnail.Key),
		Width:        img.Width,
		Height:       img.Height,
	})
}

// RemoveImage leaves the product without an image. The files stay in the
// store for the MediaCollector's retention from now, so that pages and
// caches that still name them keep working.
func (s *Service) RemoveImage(ctx context.Context, id string) error {
	if !ident.IsUUID(id) {
		return ProductNotFound(id)
	}
	id = NormalizeID(id)
	old, err := s.cfg.Products.FindProduct(ctx, id)
	if err != nil {
		return err
	}
	s.release(ctx, old.Image)
	_, err = s.cfg.Products.SetProductImage(ctx, id, nil)
	return err
}

// release sets the time of the files of img, which a product is about to
// stop showing, to now: the MediaCollector then keeps them for its whole
// retention from this moment, not from their upload, while cached answers
// and open pages still name them. It runs before the product changes, so
// that no collector round sees the files unnamed with their old time. A
// failure is logged, and the change goes on: at worst the files go sooner.
func (s *Service) release(ctx context.Context, img *Image) {
	if img == nil {
		return
	}
	for _, url := range []string{img.URL, img.ThumbnailURL} {
		err := s.cfg.Media.Touch(ctx, MediaKey(url))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.cfg.Logger.WarnContext(ctx, "a replaced product image may be collected before its retention", "url", url, "err", err)
		}
	}
}
