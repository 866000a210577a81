package imaging

import (
	"image"
	"image/color"
)

// shrink returns src scaled to dw × dh (no larger than src) by averaging
// the source pixels that fall on each destination pixel (an area, or box,
// filter). It reads the source one row at a time, so beyond the result it
// needs a row of the source and a row of sums: a kernel scaler's
// intermediate image (x/image/draw) would take 32 bytes per pixel of a
// destination-wide, source-high image, over 150 MB for a 12-megapixel photo.
func shrink(src image.Image, dw, dh int) *image.RGBA {
	b := src.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))
	row := make([]uint32, 4*sw) // one source row, premultiplied, 16 bits
	sums := make([]uint64, 4*dw)
	colOf := make([]int, sw)
	perCol := make([]uint64, dw)
	for x := range sw {
		colOf[x] = x * dw / sw
		perCol[colOf[x]]++
	}
	sy := 0
	for dy := range dh {
		clear(sums)
		rows := uint64(0)
		for end := (dy + 1) * sh / dh; sy < end; sy++ {
			readRow(src, b.Min.Y+sy, row)
			for x, c := range colOf {
				s, r := sums[4*c:4*c+4:4*c+4], row[4*x:4*x+4:4*x+4]
				s[0] += uint64(r[0])
				s[1] += uint64(r[1])
				s[2] += uint64(r[2])
				s[3] += uint64(r[3])
			}
			rows++
		}
		pix := dst.Pix[dy*dst.Stride : dy*dst.Stride+4*dw]
		for dx := range dw {
			n := rows * perCol[dx]
			for k := range 4 {
				pix[4*dx+k] = uint8((sums[4*dx+k] + n/2) / n >> 8)
			}
		}
	}
	return dst
}

// readRow writes row y of src into row as premultiplied 16-bit RGBA, with
// direct paths for what the decoders return most.
func readRow(src image.Image, y int, row []uint32) {
	b := src.Bounds()
	switch s := src.(type) {
	case *image.YCbCr:
		for x := b.Min.X; x < b.Max.X; x++ {
			yi, ci := s.YOffset(x, y), s.COffset(x, y)
			r, g, bl := color.YCbCrToRGB(s.Y[yi], s.Cb[ci], s.Cr[ci])
			i := 4 * (x - b.Min.X)
			row[i], row[i+1], row[i+2], row[i+3] = uint32(r)*0x101, uint32(g)*0x101, uint32(bl)*0x101, 0xffff
		}
	case *image.RGBA:
		p := s.Pix[s.PixOffset(b.Min.X, y):]
		for i := range 4 * b.Dx() {
			row[i] = uint32(p[i]) * 0x101
		}
	case *image.NRGBA:
		p := s.Pix[s.PixOffset(b.Min.X, y):]
		for i := 0; i < 4*b.Dx(); i += 4 {
			a := uint32(p[i+3]) * 0x101
			row[i], row[i+1], row[i+2], row[i+3] = uint32(p[i])*a/0xff, uint32(p[i+1])*a/0xff, uint32(p[i+2])*a/0xff, a
		}
	default:
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := src.At(x, y).RGBA()
			i := 4 * (x - b.Min.X)
			row[i], row[i+1], row[i+2], row[i+3] = r, g, bl, a
		}
	}
}
