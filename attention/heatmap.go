package attention

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
	"sync"

	"golang.org/x/image/font"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Shade is the colour of a probability p in [0, 1]: white for 0, a deep
// blue for 1, linear in between (so a cell's probability can be read back:
// p = 1 − R/255).
func Shade(p float32) color.RGBA {
	p = min(max(p, 0), 1)
	v := uint8(math.Round(float64(255 * (1 - p))))
	b := uint8(math.Round(float64(255 - 120*p)))
	return color.RGBA{R: v, G: v, B: b, A: 255}
}

// Heatmap is one matrix to draw: Probs [len(Rows), len(Cols)] with the
// tokens of its rows (left) and columns (top, written upwards), a title,
// and token pairs (row, column) to outline (an alignment).
type Heatmap struct {
	Title      string
	Rows, Cols []string
	Probs      []float32
	Outline    [][2]int
	// Cell is the side of a cell in pixels (default 22, less for long
	// sequences: at least 4).
	Cell int
}

// Layout of a heatmap: where the cells start and how big they are.
type Layout struct {
	X0, Y0, Cell int // the top-left corner of cell (0, 0), and the side of a cell
	W, H         int // the whole image
}

var face = sync.OnceValues(func() (font.Face, error) {
	f, err := opentype.Parse(goregular.TTF)
	if err != nil {
		return nil, err
	}
	return opentype.NewFace(f, &opentype.FaceOptions{Size: 12, DPI: 72, Hinting: font.HintingFull})
})

// Layout returns where Draw puts the cells.
func (h *Heatmap) Layout() (Layout, error) {
	f, err := face()
	if err != nil {
		return Layout{}, err
	}
	cell := h.Cell
	if cell <= 0 {
		cell = min(22, max(4, 1600/max(1, len(h.Rows), len(h.Cols))))
	}
	rowW, colW := 0, 0
	for _, s := range h.Rows {
		rowW = max(rowW, font.MeasureString(f, label(s)).Ceil())
	}
	for _, s := range h.Cols {
		colW = max(colW, font.MeasureString(f, label(s)).Ceil())
	}
	l := Layout{X0: rowW + 12, Y0: colW + 12 + 20, Cell: cell}
	l.W = l.X0 + cell*len(h.Cols) + 10
	l.H = l.Y0 + cell*len(h.Rows) + 10
	l.W = max(l.W, font.MeasureString(f, h.Title).Ceil()+20)
	return l, nil
}

// label shortens a token for an axis.
func label(s string) string {
	r := []rune(s)
	if len(r) > 24 {
		return string(r[:23]) + "…"
	}
	return s
}

// Draw renders the heatmap.
func (h *Heatmap) Draw() (*image.RGBA, error) {
	if len(h.Probs) != len(h.Rows)*len(h.Cols) {
		return nil, fmt.Errorf("attention: %d probabilities for %d×%d tokens", len(h.Probs), len(h.Rows), len(h.Cols))
	}
	if len(h.Rows)*len(h.Cols) > 1<<20 {
		return nil, fmt.Errorf("attention: a %d×%d heatmap is too big to draw", len(h.Rows), len(h.Cols))
	}
	l, err := h.Layout()
	if err != nil {
		return nil, err
	}
	f, _ := face()
	img := image.NewRGBA(image.Rect(0, 0, l.W, l.H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	black := image.NewUniform(color.Black)
	text := func(dst draw.Image, x, y int, s string) {
		d := font.Drawer{Dst: dst, Src: black, Face: f, Dot: fixed.P(x, y)}
		d.DrawString(s)
	}
	text(img, 8, 16, h.Title)
	cols := len(h.Cols)
	for i := range h.Rows {
		for j := range h.Cols {
			c := Shade(h.Probs[i*cols+j])
			r := image.Rect(l.X0+j*l.Cell, l.Y0+i*l.Cell, l.X0+(j+1)*l.Cell, l.Y0+(i+1)*l.Cell)
			draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
		}
	}
	// Row labels, right-aligned before the cells.
	for i, s := range h.Rows {
		s = label(s)
		w := font.MeasureString(f, s).Ceil()
		text(img, l.X0-6-w, l.Y0+i*l.Cell+l.Cell/2+4, s)
	}
	// Column labels, written upwards above the cells: drawn on their own
	// and turned a quarter.
	for j, s := range h.Cols {
		s = label(s)
		w := font.MeasureString(f, s).Ceil() + 2
		tmp := image.NewRGBA(image.Rect(0, 0, w, 16))
		draw.Draw(tmp, tmp.Bounds(), image.White, image.Point{}, draw.Src)
		text(tmp, 0, 12, s)
		x0 := l.X0 + j*l.Cell + l.Cell/2 - 8
		for y := 0; y < 16; y++ {
			for x := 0; x < w; x++ {
				// (x, y) of the text goes to (x0 + y, Y0 − 6 − x).
				if c := tmp.RGBAAt(x, y); c.R < 250 {
					img.SetRGBA(x0+y, l.Y0-6-x, c)
				}
			}
		}
	}
	red := color.RGBA{R: 220, G: 30, B: 30, A: 255}
	for _, p := range h.Outline {
		i, j := p[0], p[1]
		if i < 0 || i >= len(h.Rows) || j < 0 || j >= cols {
			return nil, fmt.Errorf("attention: outline (%d, %d) outside the %d×%d map", i, j, len(h.Rows), cols)
		}
		x0, y0 := l.X0+j*l.Cell, l.Y0+i*l.Cell
		for t := 0; t < l.Cell; t++ {
			for _, d := range []int{0, 1} {
				img.SetRGBA(x0+t, y0+d, red)
				img.SetRGBA(x0+t, y0+l.Cell-1-d, red)
				img.SetRGBA(x0+d, y0+t, red)
				img.SetRGBA(x0+l.Cell-1-d, y0+t, red)
			}
		}
	}
	return img, nil
}

// WritePNG draws the heatmap as a PNG.
func (h *Heatmap) WritePNG(w io.Writer) error {
	img, err := h.Draw()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// Heatmap returns the heatmap of head h of the map (−1: the mean of the
// heads), titled with the model's kind, layer and head.
func (m *Map) Heatmap(h int) (*Heatmap, error) {
	probs, err := m.Head(h)
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf("head %d", h)
	if h == -1 {
		head = fmt.Sprintf("mean of %d heads", m.Heads)
	}
	return &Heatmap{Title: fmt.Sprintf("%s attention, layer %d, %s", m.Kind, m.Layer, head), Rows: m.Queries, Cols: m.Keys, Probs: probs}, nil
}

// Grid draws every head of every map given as one image: a row of small
// unlabelled heatmaps per map, one per head, each titled; cell is the side
// of a cell in pixels (0: 8, less for long sequences).
func Grid(maps []Map, cell int) (*image.RGBA, error) {
	if len(maps) == 0 {
		return nil, fmt.Errorf("attention: no maps to draw")
	}
	longest := 1
	for _, m := range maps {
		longest = max(longest, len(m.Queries), len(m.Keys))
	}
	if cell <= 0 { // panels of at most about 240 pixels
		cell = min(8, max(1, 240/longest))
	}
	f, err := face()
	if err != nil {
		return nil, err
	}
	const gap, title = 12, 18
	pw, ph, heads := 0, 0, 0
	for _, m := range maps {
		pw, ph, heads = max(pw, len(m.Keys)*cell), max(ph, len(m.Queries)*cell), max(heads, m.Heads)
	}
	pw = max(pw, 70)
	W, H := gap+heads*(pw+gap), len(maps)*(ph+title+gap)+gap
	if int64(W)*int64(H) > 1<<26 {
		return nil, fmt.Errorf("attention: a %d×%d grid is too big to draw", W, H)
	}
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)
	for r, m := range maps {
		y0 := gap + r*(ph+title+gap)
		for h := 0; h < m.Heads; h++ {
			x0 := gap + h*(pw+gap)
			d := font.Drawer{Dst: img, Src: image.NewUniform(color.Black), Face: f, Dot: fixed.P(x0, y0+12)}
			d.DrawString(fmt.Sprintf("%s %d.%d", m.Kind, m.Layer, h))
			cols := len(m.Keys)
			for i := range m.Queries {
				for j := 0; j < cols; j++ {
					c := Shade(m.At(h, i, j))
					rect := image.Rect(x0+j*cell, y0+title+i*cell, x0+(j+1)*cell, y0+title+(i+1)*cell)
					draw.Draw(img, rect, image.NewUniform(c), image.Point{}, draw.Src)
				}
			}
		}
	}
	return img, nil
}
