// Package tensor provides goformer's n-dimensional float32 tensors: a shape
// and a contiguous row-major slice of data, with creation, reshaping, views,
// seeded random initialisation and matrix multiplication.
//
// Tensors are the values that flow through the autograd, nn and models
// packages; the arithmetic itself runs in goformer's kernels
// (internal/cpu). A Tensor never copies implicitly: Reshape, Slice and Row
// return views that share the data, Clone copies.
//
// Functions whose arguments come from data (shapes read from a file, a
// user's sizes) return errors that name the operation and both shapes;
// methods that take an index panic when it is out of range, as slices do.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is an n-dimensional array of float32 in row-major order: the last
// dimension varies fastest. A scalar has shape [] and one element.
type Tensor struct {
	shape []int
	data  []float32
}

// ShapeError reports shapes that do not fit an operation.
type ShapeError struct {
	Op     string  // the operation, such as "MatMul"
	Shapes [][]int // the shapes involved, in argument order
	Reason string  // what is wrong
}

// Error says which operation got which shapes and why they do not fit.
func (e *ShapeError) Error() string {
	parts := make([]string, len(e.Shapes))
	for i, s := range e.Shapes {
		parts[i] = FormatShape(s)
	}
	return fmt.Sprintf("tensor.%s: shapes %s: %s", e.Op, strings.Join(parts, " and "), e.Reason)
}

// FormatShape writes a shape as [2 3 4].
func FormatShape(shape []int) string { return fmt.Sprint(shape) }

// numel returns the number of elements of shape, or an error if a dimension
// is negative or the count overflows.
func numel(shape []int) (int, error) {
	n := 1
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("dimension %d is negative (%d)", i, d)
		}
		if d != 0 && n > (1<<62)/d {
			return 0, fmt.Errorf("%d elements overflow", n)
		}
		n *= d
	}
	return n, nil
}

// New returns a zero tensor of the given shape. It panics if a dimension is
// negative; use FromSlice or Zeros with shapes from data to get an error.
func New(shape ...int) *Tensor {
	t, err := Zeros(shape...)
	if err != nil {
		panic(err)
	}
	return t
}

// Zeros returns a zero tensor of the given shape.
func Zeros(shape ...int) (*Tensor, error) {
	n, err := numel(shape)
	if err != nil {
		return nil, &ShapeError{Op: "Zeros", Shapes: [][]int{shape}, Reason: err.Error()}
	}
	return &Tensor{shape: append([]int(nil), shape...), data: make([]float32, n)}, nil
}

// Full returns a tensor of the given shape with every element v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	t.Fill(v)
	return t
}

// FromSlice returns a tensor of the given shape that uses data as its
// storage (no copy). len(data) must equal the product of the shape.
func FromSlice(data []float32, shape ...int) (*Tensor, error) {
	n, err := numel(shape)
	if err != nil {
		return nil, &ShapeError{Op: "FromSlice", Shapes: [][]int{shape}, Reason: err.Error()}
	}
	if n != len(data) {
		return nil, &ShapeError{Op: "FromSlice", Shapes: [][]int{shape},
			Reason: fmt.Sprintf("need %d elements, got %d", n, len(data))}
	}
	return &Tensor{shape: append([]int(nil), shape...), data: data}, nil
}

// Scalar returns a tensor of shape [] holding v.
func Scalar(v float32) *Tensor { return &Tensor{shape: []int{}, data: []float32{v}} }

// Shape returns the tensor's shape. The slice must not be modified.
func (t *Tensor) Shape() []int { return t.shape }

// Dims returns the number of dimensions.
func (t *Tensor) Dims() int { return len(t.shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.data) }

// Data returns the tensor's elements in row-major order. The slice is the
// tensor's storage: writing to it changes the tensor (and its views).
func (t *Tensor) Data() []float32 { return t.data }

// Item returns the single element of a one-element tensor.
func (t *Tensor) Item() float32 {
	if len(t.data) != 1 {
		panic(fmt.Sprintf("tensor.Item: tensor of shape %v has %d elements, not 1", t.shape, len(t.data)))
	}
	return t.data[0]
}

// offset returns the position of the element at idx.
func (t *Tensor) offset(idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor: %d indices for a tensor of shape %v", len(idx), t.shape))
	}
	off := 0
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panic(fmt.Sprintf("tensor: index %v out of range for shape %v", idx, t.shape))
		}
		off = off*t.shape[i] + x
	}
	return off
}

// At returns the element at the given indices, one per dimension.
func (t *Tensor) At(idx ...int) float32 { return t.data[t.offset(idx)] }

// Set sets the element at the given indices to v.
func (t *Tensor) Set(v float32, idx ...int) { t.data[t.offset(idx)] = v }

// Fill sets every element to v.
func (t *Tensor) Fill(v float32) {
	for i := range t.data {
		t.data[i] = v
	}
}

// Zero sets every element to 0.
func (t *Tensor) Zero() { clear(t.data) }

// Clone returns a copy of the tensor with its own storage.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{shape: append([]int(nil), t.shape...), data: append([]float32(nil), t.data...)}
}

// SameShape reports whether t and u have equal shapes.
func (t *Tensor) SameShape(u *Tensor) bool { return EqualShapes(t.shape, u.shape) }

// EqualShapes reports whether two shapes are equal.
func EqualShapes(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Reshape returns a view of t with a new shape and the same elements; one
// dimension may be -1, inferred from the others.
func (t *Tensor) Reshape(shape ...int) (*Tensor, error) {
	shape = append([]int(nil), shape...)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d == -1:
			return nil, &ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape}, Reason: "more than one dimension is -1"}
		case d < 0:
			return nil, &ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape}, Reason: fmt.Sprintf("dimension %d is negative", i)}
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || len(t.data)%known != 0 {
			return nil, &ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape},
				Reason: fmt.Sprintf("%d elements do not divide into the given dimensions", len(t.data))}
		}
		shape[infer] = len(t.data) / known
		known = len(t.data)
	}
	if known != len(t.data) {
		return nil, &ShapeError{Op: "Reshape", Shapes: [][]int{t.shape, shape},
			Reason: fmt.Sprintf("%d elements cannot take a shape of %d", len(t.data), known)}
	}
	return &Tensor{shape: shape, data: t.data}, nil
}

// MustReshape is Reshape that panics on error, for shapes known to fit.
func (t *Tensor) MustReshape(shape ...int) *Tensor {
	r, err := t.Reshape(shape...)
	if err != nil {
		panic(err)
	}
	return r
}

// Slice returns the view t[start:end] along the first dimension, sharing
// t's data.
func (t *Tensor) Slice(start, end int) (*Tensor, error) {
	if len(t.shape) == 0 {
		return nil, &ShapeError{Op: "Slice", Shapes: [][]int{t.shape}, Reason: "a scalar cannot be sliced"}
	}
	if start < 0 || end < start || end > t.shape[0] {
		return nil, &ShapeError{Op: "Slice", Shapes: [][]int{t.shape},
			Reason: fmt.Sprintf("range [%d:%d] is outside [0:%d]", start, end, t.shape[0])}
	}
	inner := 1
	for _, d := range t.shape[1:] {
		inner *= d
	}
	shape := append([]int{end - start}, t.shape[1:]...)
	return &Tensor{shape: shape, data: t.data[start*inner : end*inner : end*inner]}, nil
}

// Row returns the view t[i] (one index into the first dimension), with one
// dimension fewer. It panics if i is out of range.
func (t *Tensor) Row(i int) *Tensor {
	s, err := t.Slice(i, i+1)
	if err != nil {
		panic(err)
	}
	return &Tensor{shape: s.shape[1:], data: s.data}
}

// String formats the tensor's shape and, for small tensors, its elements.
func (t *Tensor) String() string {
	const maxShown = 64
	var sb strings.Builder
	fmt.Fprintf(&sb, "Tensor%v", t.shape)
	if len(t.data) <= maxShown {
		fmt.Fprintf(&sb, "%v", t.data)
	} else {
		fmt.Fprintf(&sb, "[%v %v %v ... %v]", t.data[0], t.data[1], t.data[2], t.data[len(t.data)-1])
	}
	return sb.String()
}

// Rebind makes t a tensor of the given shape over data, reusing t's shape
// slice: the allocation-free way for an arena to hand out tensors. It
// panics if len(data) does not match the shape.
func (t *Tensor) Rebind(data []float32, shape ...int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n != len(data) || n < 0 {
		// A copy, so that shape itself never escapes (callers pass shapes
		// built on their stack).
		panic(fmt.Sprintf("tensor.Rebind: %d elements for shape %v", len(data), append([]int(nil), shape...)))
	}
	t.shape = append(t.shape[:0], shape...)
	t.data = data
}

// Transpose returns a new tensor holding the transpose of the 2-D tensor t
// (it panics on other ranks: a programming error).
func Transpose(t *Tensor) *Tensor {
	if t.Dims() != 2 {
		panic(fmt.Sprintf("tensor.Transpose: shape %v is not 2-D", t.Shape()))
	}
	r, c := t.Dim(0), t.Dim(1)
	out := New(c, r)
	src, dst := t.Data(), out.Data()
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			dst[j*r+i] = src[i*c+j]
		}
	}
	return out
}
