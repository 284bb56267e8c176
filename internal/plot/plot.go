// Package plot draws simple line charts (training curves) as PNG images,
// with the standard library and a bitmap font.
package plot

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Series is one named line of (x, y) points.
type Series struct {
	Name  string
	X, Y  []float64
	Color color.RGBA
}

// Chart is a line chart.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	Width, Height         int // pixels; 0 means 800×500
}

// WritePNG draws the chart.
func (c *Chart) WritePNG(w io.Writer) error {
	W, H := c.Width, c.Height
	if W == 0 || H == 0 {
		W, H = 800, 500
	}
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	left, right, top, bottom := 70, 20, 40, 50
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, s := range c.Series {
		for i := range s.X {
			if math.IsNaN(s.Y[i]) || math.IsInf(s.Y[i], 0) {
				continue
			}
			x0, x1 = math.Min(x0, s.X[i]), math.Max(x1, s.X[i])
			y0, y1 = math.Min(y0, s.Y[i]), math.Max(y1, s.Y[i])
		}
	}
	if math.IsInf(x0, 1) {
		return fmt.Errorf("plot: no points")
	}
	if x1 == x0 {
		x1 = x0 + 1
	}
	if y1 == y0 {
		y1 = y0 + 1
	}
	pad := (y1 - y0) * 0.05
	y0, y1 = y0-pad, y1+pad
	px := func(x float64) int { return left + int((x-x0)/(x1-x0)*float64(W-left-right)) }
	py := func(y float64) int { return H - bottom - int((y-y0)/(y1-y0)*float64(H-top-bottom)) }
	grey, black := color.RGBA{220, 220, 220, 255}, color.RGBA{0, 0, 0, 255}
	for i := 0; i <= 5; i++ { // grid and tick labels
		y := y0 + (y1-y0)*float64(i)/5
		line(img, left, py(y), W-right, py(y), grey)
		text(img, 5, py(y)+4, fmt.Sprintf("%.3g", y), black)
		x := x0 + (x1-x0)*float64(i)/5
		line(img, px(x), top, px(x), H-bottom, grey)
		text(img, px(x)-10, H-bottom+16, fmt.Sprintf("%.0f", x), black)
	}
	line(img, left, H-bottom, W-right, H-bottom, black)
	line(img, left, top, left, H-bottom, black)
	text(img, left, 20, c.Title, black)
	text(img, W/2-20, H-10, c.XLabel, black)
	text(img, 5, top-8, c.YLabel, black)
	for k, s := range c.Series {
		for i := 1; i < len(s.X); i++ {
			line(img, px(s.X[i-1]), py(s.Y[i-1]), px(s.X[i]), py(s.Y[i]), s.Color)
		}
		if len(s.X) == 1 {
			line(img, px(s.X[0])-2, py(s.Y[0]), px(s.X[0])+2, py(s.Y[0]), s.Color)
		}
		lx := W - right - 150
		ly := top + 10 + 16*k
		line(img, lx, ly-4, lx+20, ly-4, s.Color)
		text(img, lx+26, ly, s.Name, black)
	}
	return png.Encode(w, img)
}

// line draws with Bresenham's algorithm, two pixels thick.
func line(img *image.RGBA, xa, ya, xb, yb int, c color.RGBA) {
	dx, dy := abs(xb-xa), -abs(yb-ya)
	sx, sy := sign(xb-xa), sign(yb-ya)
	e := dx + dy
	for {
		img.SetRGBA(xa, ya, c)
		img.SetRGBA(xa, ya+1, c)
		if xa == xb && ya == yb {
			return
		}
		e2 := 2 * e // both tests see the error before this step
		if e2 >= dy {
			e += dy
			xa += sx
		}
		if e2 <= dx {
			e += dx
			ya += sy
		}
	}
}

func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}
