package shop

import (
	"bytes"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"testing"
)

// PhotoGPS is a value only the uploads' metadata holds.
const PhotoGPS = "GPS-48.8584N-2.2945E"

// PhotoJPEG returns a w × h JPEG of noise (which compresses like a detailed
// photograph) carrying an EXIF segment with PhotoGPS, as a phone writes.
func PhotoJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.IntN(256))
		if i%4 == 3 {
			img.Pix[i] = 255
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	exif := []byte("Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00" + PhotoGPS)
	seg := append([]byte{0xff, 0xe1}, byte((len(exif)+2)>>8), byte(len(exif)+2))
	return append(append(append([]byte{}, b[:2]...), append(seg, exif...)...), b[2:]...)
}
