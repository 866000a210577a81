package main

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"math"
)

// Size of the demo pictures: the storefront's thumbnails are 400 pixels
// wide, and the product page shows up to twice that.
const pictureWidth, pictureHeight = 800, 600

// picture draws the demo picture of a product: an object lit from above on
// a backdrop, in colours and proportions derived from its SKU and shaped
// after its department, so every product has its own and no file is
// downloaded. The same product always gets the same picture.
func picture(p seedProduct) []byte {
	h := fnv.New64a()
	_, _ = h.Write([]byte(p.SKU))
	seed := h.Sum64()
	at := func(shift uint) float64 { return float64(seed>>shift&0xff) / 255 }

	hue := at(0) * 360
	backdrop := hsl(math.Mod(hue+180, 360), 0.25, 0.88)
	floor := hsl(math.Mod(hue+180, 360), 0.2, 0.78)
	body := hsl(hue, 0.55+0.3*at(8), 0.45+0.15*at(16))
	w, hgt := 0.28+0.22*at(24), 0.3+0.25*at(32) // the object's half-width and height, as fractions
	round := shapeOf(p.Category)

	img := image.NewRGBA(image.Rect(0, 0, pictureWidth, pictureHeight))
	cx, base := float64(pictureWidth)/2, float64(pictureHeight)*0.8
	halfW, height := w*pictureWidth/2, hgt*pictureHeight
	for y := range pictureHeight {
		for x := range pictureWidth {
			fx, fy := float64(x)+0.5, float64(y)+0.5
			c := backdrop
			if fy > base-20 {
				c = floor
			}
			// A soft shadow under the object.
			if d := math.Hypot((fx-cx)/(halfW*1.1), (fy-base)/18); d < 1 {
				c = mix(c, color.RGBA{40, 40, 40, 255}, 0.35*(1-d))
			}
			// The object: a rounded body or a box, shaded from the left.
			u, v := (fx-cx)/halfW, (base-fy)/height // u in -1..1 across, v in 0..1 up
			inside := v >= 0 && v <= 1 && math.Abs(u) <= 1
			if round {
				inside = math.Hypot(u, (v-0.5)*2) <= 1
			}
			if inside {
				light := 0.75 + 0.35*(1-u)/2 - 0.15*v
				c = scale(body, light)
				if math.Hypot(u+0.45, v-0.75) < 0.12 { // a highlight
					c = mix(c, color.RGBA{255, 255, 255, 255}, 0.6)
				}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85})
	return buf.Bytes()
}

// shapeOf says whether a department's products are drawn round.
func shapeOf(category string) bool {
	h := fnv.New32a()
	_, _ = h.Write([]byte(category))
	return h.Sum32()%2 == 0
}

func hsl(h, s, l float64) color.RGBA {
	c := (1 - math.Abs(2*l-1)) * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := l - c/2
	var r, g, b float64
	switch {
	case h < 60:
		r, g, b = c, x, 0
	case h < 120:
		r, g, b = x, c, 0
	case h < 180:
		r, g, b = 0, c, x
	case h < 240:
		r, g, b = 0, x, c
	case h < 300:
		r, g, b = x, 0, c
	default:
		r, g, b = c, 0, x
	}
	return color.RGBA{uint8((r + m) * 255), uint8((g + m) * 255), uint8((b + m) * 255), 255}
}

func mix(a, b color.RGBA, t float64) color.RGBA {
	f := func(x, y uint8) uint8 { return uint8(float64(x)*(1-t) + float64(y)*t) }
	return color.RGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 255}
}

func scale(c color.RGBA, k float64) color.RGBA {
	f := func(x uint8) uint8 { return uint8(math.Min(255, float64(x)*k)) }
	return color.RGBA{f(c.R), f(c.G), f(c.B), 255}
}
