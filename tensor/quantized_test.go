package tensor

import (
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestQuantizeSafetensors: a file with its matrices in int8 or bf16 reads
// back as float32 within the format's error, keeps its other tensors as
// they were, is smaller, and a damaged pair is refused by name.
func TestQuantizeSafetensors(t *testing.T) {
	dir := t.TempDir()
	rng := NewRNG(1)
	w, b, e := New(37, 53), New(53), New(5, 1)
	w.FillNormal(rng, 0, 1)
	b.FillNormal(rng, 0, 1)
	e.FillNormal(rng, 0, 1)
	clear(w.Data()[3*53 : 4*53]) // a row of zeros
	src := filepath.Join(dir, "model.safetensors")
	if err := WriteSafetensors(src, []NamedTensor{{"w", w}, {"b", b}, {"e", e}}, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadSafetensors(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, dtype := range []string{"int8", "bf16"} {
		q, err := f.Quantize(dtype, func(name string, shape []int) bool { return name != "e" })
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, dtype+".safetensors")
		if err := q.WriteFile(path, q.Metadata); err != nil {
			t.Fatal(err)
		}
		g, err := ReadSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.Tensor("w")
		if err != nil {
			t.Fatal(err)
		}
		for r := 0; r < 37; r++ {
			var m float64
			for c := 0; c < 53; c++ {
				m = math.Max(m, math.Abs(float64(w.At(r, c))))
			}
			for c := 0; c < 53; c++ {
				d, v := math.Abs(float64(got.At(r, c)-w.At(r, c))), math.Abs(float64(w.At(r, c)))
				if dtype == "int8" && d > m/127/2*(1+1e-5) || dtype == "bf16" && d > v/256 {
					t.Fatalf("%s: w[%d][%d] = %g, was %g", dtype, r, c, got.At(r, c), w.At(r, c))
				}
			}
		}
		for _, name := range []string{"b", "e"} { // a vector, and a matrix not chosen
			x, _ := g.Tensor(name)
			want, _ := f.Tensor(name)
			if !slices.Equal(x.Data(), want.Data()) || g.Info(name).DType != "F32" {
				t.Errorf("%s: %s changed", dtype, name)
			}
		}
		wantDT := map[string]string{"int8": "I8", "bf16": "BF16"}[dtype]
		if g.Info("w").DType != wantDT {
			t.Errorf("%s: w stored as %s", dtype, g.Info("w").DType)
		}
	}
	// An int8 tensor without its scales, or with scales of the wrong length.
	q, _ := f.Quantize("int8", func(string, []int) bool { return true })
	bad := filepath.Join(dir, "bad.safetensors")
	q.infos["w_scale"].Shape = []int{36}
	q.infos["w_scale"].raw = q.infos["w_scale"].raw[:4*36]
	if err := q.WriteFile(bad, nil); err != nil {
		t.Fatal(err)
	}
	g, err := ReadSafetensors(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Tensor("w"); err == nil || !strings.Contains(err.Error(), "w_scale") {
		t.Errorf("scales of the wrong length: %v", err)
	}
	if err := g.Rename("w_scale", "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Tensor("w"); err == nil || !strings.Contains(err.Error(), "without its per-row scales") {
		t.Errorf("no scales: %v", err)
	}
}
