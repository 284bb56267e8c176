package attention

import (
	"bytes"
	"fmt"
	"image/png"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goformer/goformer/autograd"
	"github.com/goformer/goformer/internal/fixture"
	"github.com/goformer/goformer/models/gpt"
	"github.com/goformer/goformer/models/seq2seq"
	"github.com/goformer/goformer/models/t5"
	"github.com/goformer/goformer/tensor"
)

func labels(ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

// TestMapsMatchPyTorch compares the maps of GPT-2, BART and T5 (with its
// relative bias) with the probabilities scripts/reference/attention_maps.py
// captured from the reference renderings of those models, and checks that
// the model's output with the maps kept equals its output from the fused
// kernel.
func TestMapsMatchPyTorch(t *testing.T) {
	ref, err := tensor.ReadSafetensors(filepath.Join("testdata", "maps_ref.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, maps []Map) {
		t.Helper()
		for i, m := range maps {
			want := fixture.Get(t, ref, fmt.Sprintf("%s.%d", name, i))
			if e := fixture.MaxRelErr(m.Probs, want); !(e <= 1e-5) {
				t.Errorf("%s map %d (%s): probabilities differ from PyTorch by %.3g", name, i, m.Name(), e)
			}
			for h := 0; h < m.Heads; h++ {
				for q := range m.Queries {
					var s float64
					for k := range m.Keys {
						s += float64(m.At(h, q, k))
					}
					if math.Abs(s-1) > 1e-5 {
						t.Fatalf("%s %s head %d row %d sums to %g", name, m.Name(), h, q, s)
					}
				}
			}
		}
		if ref.Info(fmt.Sprintf("%s.%d", name, len(maps))) != nil {
			t.Errorf("%s: PyTorch has more maps than the %d here", name, len(maps))
		}
	}

	g2, err := gpt.Load(filepath.Join("..", "models", "gpt", "testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	ids := fixture.IDs(fixture.Get(t, ref, "gpt.ids"))
	maps, err := OfDecoder(g2, ids, labels(ids))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 2 || maps[1].Kind != "self" || maps[1].Layer != 1 {
		t.Fatalf("GPT-2 maps: %d, %+v", len(maps), maps[1].Name())
	}
	check("gpt", maps)
	logitsEqual(t, "gpt", func(g *autograd.Graph) *autograd.Var {
		l, _, err := g2.Forward(g, ids, 1, len(ids), nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	})

	type encdec interface {
		EncoderDecoder
	}
	for _, c := range []struct {
		name string
		dir  string
		load func(string) (encdec, error)
	}{
		{"bart", "../models/seq2seq/testdata/bart", func(d string) (encdec, error) { return seq2seq.Load(d) }},
		{"t5", "../models/t5/testdata/t5-small", func(d string) (encdec, error) { return t5.Load(d) }},
	} {
		m, err := c.load(c.dir)
		if err != nil {
			t.Fatal(err)
		}
		src, tgt := fixture.IDs(fixture.Get(t, ref, c.name+".src")), fixture.IDs(fixture.Get(t, ref, c.name+".tgt"))
		maps, err := OfEncoderDecoder(m, src, tgt, labels(src), labels(tgt))
		if err != nil {
			t.Fatal(err)
		}
		kinds := []string{}
		for _, x := range maps {
			kinds = append(kinds, x.Name())
		}
		if want := "encoder-layer0 encoder-layer1 decoder-layer0 cross-layer0 decoder-layer1 cross-layer1"; strings.Join(kinds, " ") != want {
			t.Fatalf("%s maps %v, want %s", c.name, kinds, want)
		}
		check(c.name, maps)
		logitsEqual(t, c.name, func(g *autograd.Graph) *autograd.Var {
			mem, err := m.Encode(g, src, 1, len(src), nil)
			if err != nil {
				t.Fatal(err)
			}
			l, err := m.Decode(g, mem, tgt, 1, len(tgt), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return l
		})
	}
}

// logitsEqual checks that a model's logits are the same (to float32
// rounding) with the attention maps kept (the plain path) and without
// (the fused kernel).
func logitsEqual(t *testing.T, name string, run func(*autograd.Graph) *autograd.Var) {
	t.Helper()
	var out [2][]float32
	for i, keep := range []bool{false, true} {
		g := autograd.NewGraph(0)
		g.NoGrad, g.KeepAttention = true, keep
		out[i] = slices.Clone(run(g).Value.Data())
	}
	if e := fixture.MaxRelErr(out[1], out[0]); !(e <= 1e-5) {
		t.Errorf("%s: logits with the maps kept differ from the fused path's by %.3g", name, e)
	}
}

func TestAlignAndWords(t *testing.T) {
	// Two heads whose mean puts row 0 on column 2, row 1 on column 0 and
	// row 2 on column 1; column 3 is a special token, row 3 produced EOS.
	m := &Map{Kind: "cross", Heads: 2, Queries: []string{"a", "b", "c", "</s>"}, Keys: []string{"x", "y", "z", "</s>"}}
	m.Probs = make([]float32, 2*4*4)
	set := func(h, i, j int, p float32) { m.Probs[(h*4+i)*4+j] = p }
	for h := 0; h < 2; h++ {
		set(h, 0, 2, 0.6)
		set(h, 0, 3, 0.4)
		set(h, 1, 0, 0.7)
		set(h, 2, 1, 0.5)
		set(h, 3, 3, 1)
	}
	set(0, 1, 1, 0.29) // one head alone would not change the mean's choice
	tokens, words, err := Align(m, []int{0, 1, 1, -1}, []int{0, 1, 1, -1})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{0, 2}, {1, 0}, {2, 1}}; !slices.Equal(tokens, want) {
		t.Errorf("token alignment %v, want %v", tokens, want)
	}
	if got := Pharaoh(words); got != "0-1 1-0 1-1" {
		t.Errorf("word alignment %q, want 0-1 1-0 1-1", got)
	}
	if _, _, err := Align(m, []int{0}, []int{0}); err == nil {
		t.Error("Align accepted word lists of the wrong length")
	}
	// Words from tokens: "▁ein" "▁Hund" "e" "▁" "." with specials.
	pieces := map[int32]string{1: "▁ein", 2: "▁Hund", 3: "e", 4: "▁", 5: ".", 9: "</s>"}
	decode := func(ids []int32) (string, error) {
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(pieces[id])
		}
		return strings.TrimSpace(strings.ReplaceAll(b.String(), "▁", " ")), nil
	}
	w, err := WordIndex(decode, func(id int32) bool { return id == 9 }, []int32{1, 2, 3, 4, 5, 9})
	if err != nil || !slices.Equal(w, []int{0, 1, 1, -1, 2, -1}) {
		t.Errorf("WordIndex = %v, %v; want [0 1 1 -1 2 -1]", w, err)
	}
}

// TestHeatmapPixels draws a 3×4 matrix and reads each cell's probability
// back from the colour at its centre; the outlined cell has a red border.
func TestHeatmapPixels(t *testing.T) {
	probs := []float32{0, 0.25, 0.5, 0.25, 1, 0, 0, 0, 0.1, 0.2, 0.3, 0.4}
	h := &Heatmap{Title: "test", Rows: []string{"Ein", "Hund", "läuft"}, Cols: []string{"A", "dog", "runs", "</s>"}, Probs: probs, Outline: [][2]int{{1, 0}}}
	var buf bytes.Buffer
	if err := h.WritePNG(&buf); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	l, err := h.Layout()
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != l.W || img.Bounds().Dy() != l.H {
		t.Fatalf("image %v, layout %dx%d", img.Bounds(), l.W, l.H)
	}
	for i := 0; i < 3; i++ {
		for j := 0; j < 4; j++ {
			r, g, b, _ := img.At(l.X0+j*l.Cell+l.Cell/2, l.Y0+i*l.Cell+l.Cell/2).RGBA()
			p := 1 - float64(r>>8)/255
			if want := float64(probs[i*4+j]); math.Abs(p-want) > 1.0/255 || r != g || b < r {
				t.Errorf("cell (%d, %d): colour %d,%d,%d reads %.3f, want %.3f", i, j, r>>8, g>>8, b>>8, p, want)
			}
		}
	}
	r, g, _, _ := img.At(l.X0+1, l.Y0+l.Cell+l.Cell/2).RGBA()
	if r>>8 < 200 || g>>8 > 60 {
		t.Errorf("the outlined cell's border is %d,%d, not red", r>>8, g>>8)
	}
	// The labels are drawn: some dark pixels left of the rows and above the columns.
	dark := func(x0, y0, x1, y1 int) bool {
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				if r, _, _, _ := img.At(x, y).RGBA(); r>>8 < 100 {
					return true
				}
			}
		}
		return false
	}
	if !dark(0, l.Y0, l.X0, l.Y0+l.Cell) || !dark(l.X0, 20, l.X0+l.Cell, l.Y0) {
		t.Error("row or column labels are missing")
	}
	if _, err := (&Heatmap{Rows: []string{"a"}, Cols: []string{"b"}, Probs: []float32{1, 2}}).Draw(); err == nil {
		t.Error("a heatmap with the wrong number of probabilities was drawn")
	}
}
