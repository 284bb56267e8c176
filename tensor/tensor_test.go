package tensor

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

func TestCreateAndIndex(t *testing.T) {
	x := New(2, 3, 4)
	if x.Len() != 24 || x.Dims() != 3 || x.Dim(-1) != 4 {
		t.Fatalf("New(2,3,4): len %d dims %d last %d", x.Len(), x.Dims(), x.Dim(-1))
	}
	x.Set(7, 1, 2, 3)
	if x.Data()[23] != 7 || x.At(1, 2, 3) != 7 {
		t.Fatalf("Set/At row-major: data[23]=%g", x.Data()[23])
	}
	if s := Scalar(3); s.Item() != 3 || s.Dims() != 0 {
		t.Fatalf("Scalar: %v", s)
	}
	if _, err := Zeros(2, -1); err == nil || !strings.Contains(err.Error(), "[2 -1]") {
		t.Fatalf("Zeros(2,-1) error = %v, want one naming the shape", err)
	}
	if _, err := FromSlice(make([]float32, 5), 2, 3); err == nil || !strings.Contains(err.Error(), "need 6 elements, got 5") {
		t.Fatalf("FromSlice mismatch error = %v", err)
	}
	y := Full(2, 3)
	c := y.Clone()
	c.Data()[0] = 5
	if y.Data()[0] != 2 {
		t.Fatal("Clone shares storage")
	}
}

func TestIndexPanicsOutOfRange(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "out of range for shape [2 3]") {
			t.Fatalf("recover() = %v", r)
		}
	}()
	New(2, 3).At(2, 0)
}

func TestReshapeAndViews(t *testing.T) {
	x := New(2, 3, 4)
	for i := range x.Data() {
		x.Data()[i] = float32(i)
	}
	r, err := x.Reshape(6, -1)
	if err != nil || !EqualShapes(r.Shape(), []int{6, 4}) {
		t.Fatalf("Reshape(6,-1) = %v, %v", r, err)
	}
	r.Data()[0] = 100
	if x.Data()[0] != 100 {
		t.Fatal("Reshape must share storage")
	}
	for _, bad := range [][]int{{5, 5}, {-1, -1}, {7, -1}, {-2, 12}} {
		if _, err := x.Reshape(bad...); err == nil {
			t.Errorf("Reshape%v succeeded", bad)
		} else if !strings.Contains(err.Error(), "[2 3 4]") {
			t.Errorf("Reshape%v error %q does not name the shape", bad, err)
		}
	}
	s, err := x.Slice(1, 2)
	if err != nil || !EqualShapes(s.Shape(), []int{1, 3, 4}) || s.Data()[0] != 12 {
		t.Fatalf("Slice(1,2) = %v, %v", s, err)
	}
	row := x.Row(1).Row(2)
	if !EqualShapes(row.Shape(), []int{4}) || row.At(3) != 23 {
		t.Fatalf("Row(1).Row(2) = %v", row)
	}
	if _, err := x.Slice(1, 3); err == nil {
		t.Fatal("Slice(1,3) of dim 2 succeeded")
	}
}

func TestMatMul(t *testing.T) {
	a, _ := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	b, _ := FromSlice([]float32{7, 8, 9, 10, 11, 12}, 3, 2)
	c, err := MatMul(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{58, 64, 139, 154}
	for i, v := range want {
		if c.Data()[i] != v {
			t.Fatalf("MatMul = %v, want %v", c.Data(), want)
		}
	}
	// Transposed forms give the same product.
	at, bt := transpose2(a), transpose2(b)
	for _, tc := range []struct {
		x, y   *Tensor
		ta, tb bool
	}{{at, b, true, false}, {a, bt, false, true}, {at, bt, true, true}} {
		got, err := MatMulT(tc.x, tc.y, tc.ta, tc.tb)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range want {
			if got.Data()[i] != v {
				t.Fatalf("MatMulT(ta=%v, tb=%v) = %v, want %v", tc.ta, tc.tb, got.Data(), want)
			}
		}
	}
	// Batched with a shared right operand and with a batched one.
	ab := New(4, 2, 3)
	for i := 0; i < 4; i++ {
		copy(ab.Row(i).Data(), a.Data())
	}
	cb, err := MatMul(ab, b)
	if err != nil || !EqualShapes(cb.Shape(), []int{4, 2, 2}) || cb.At(3, 1, 1) != 154 {
		t.Fatalf("batched MatMul = %v, %v", cb, err)
	}
	bb := New(4, 3, 2)
	for i := 0; i < 4; i++ {
		copy(bb.Row(i).Data(), b.Data())
		Scale(bb.Row(i), float32(i))
	}
	cbb, err := MatMul(ab, bb)
	if err != nil || cbb.At(3, 1, 1) != 3*154 || cbb.At(0, 0, 0) != 0 {
		t.Fatalf("batched×batched MatMul = %v, %v", cbb, err)
	}
	_, err = MatMul(a, a)
	var se *ShapeError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "[2 3] and [2 3]") || !strings.Contains(err.Error(), "inner dimensions differ (3 and 2)") {
		t.Fatalf("MatMul mismatch error = %v", err)
	}
	if _, err := MatMul(ab, New(5, 3, 2)); err == nil || !strings.Contains(err.Error(), "leading") {
		t.Fatalf("batch mismatch error = %v", err)
	}
}

func Scale(t *Tensor, s float32) {
	for i := range t.Data() {
		t.Data()[i] *= s
	}
}

func transpose2(x *Tensor) *Tensor {
	r, c := x.Dim(0), x.Dim(1)
	out := New(c, r)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out.Set(x.At(i, j), j, i)
		}
	}
	return out
}

func TestRandomInit(t *testing.T) {
	g := NewRNG(42)
	w := New(256, 512)
	if err := w.XavierUniform(g, 1); err != nil {
		t.Fatal(err)
	}
	a := math.Sqrt(6.0 / (256 + 512))
	var sum, sq float64
	for _, v := range w.Data() {
		if math.Abs(float64(v)) > a {
			t.Fatalf("Xavier value %g outside ±%g", v, a)
		}
		sum += float64(v)
		sq += float64(v) * float64(v)
	}
	n := float64(w.Len())
	if std, want := math.Sqrt(sq/n-(sum/n)*(sum/n)), a/math.Sqrt(3); math.Abs(std-want) > 0.02*want {
		t.Fatalf("Xavier std %g, want %g", std, want)
	}
	w.FillNormal(g, 1, 0.02)
	sum, sq = 0, 0
	for _, v := range w.Data() {
		sum += float64(v)
		sq += float64(v-1) * float64(v-1)
	}
	if mean, std := sum/n, math.Sqrt(sq/n); math.Abs(mean-1) > 0.001 || math.Abs(std-0.02) > 0.0005 {
		t.Fatalf("FillNormal mean %g std %g, want 1, 0.02", mean, std)
	}
	if err := New(5).KaimingNormal(g, 1); err == nil {
		t.Fatal("Kaiming on a 1-D tensor succeeded")
	}
	// Same seed, same numbers; a restored state continues identically.
	g1, g2 := NewRNG(7), NewRNG(7)
	g1.Float32()
	g2.Float32()
	state, _ := g1.MarshalBinary()
	x1 := []float32{g1.Float32(), g1.Float32()}
	g3 := NewRNG(0)
	if err := g3.UnmarshalBinary(state); err != nil {
		t.Fatal(err)
	}
	x3 := []float32{g3.Float32(), g3.Float32()}
	x2 := []float32{g2.Float32(), g2.Float32()}
	if x1[0] != x2[0] || x1[1] != x2[1] || x1[0] != x3[0] || x1[1] != x3[1] {
		t.Fatalf("RNG not reproducible: %v %v %v", x1, x2, x3)
	}
}

func TestTranspose(t *testing.T) {
	x, err := FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	y := Transpose(x)
	if !EqualShapes(y.Shape(), []int{3, 2}) || fmt.Sprint(y.Data()) != "[1 4 2 5 3 6]" {
		t.Fatalf("Transpose = %v %v", y.Shape(), y.Data())
	}
}
