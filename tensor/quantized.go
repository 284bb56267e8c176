package tensor

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/goformer/goformer/internal/cpu"
)

// ScaleSuffix names the companion of an int8 (I8) tensor in a safetensors
// file: "<name>_scale", its float scales, one per row (shape [rows]), so
// that row r of the weight is scale[r]·I8 values (symmetric, per output
// channel). Tensor reads such a pair back as float32.
const ScaleSuffix = "_scale"

// Quantize returns a copy of f whose float tensors chosen by choose (of two
// or more dimensions) are stored as "bf16" (BF16, rounded to nearest even)
// or "int8" (I8 with per-row scales in "<name>_scale": each row's largest
// magnitude over 127); every other tensor is kept as it is. The copy
// reads back (Tensor) as float32 within half a step of each row's scale
// (int8) or 2⁻⁸ relative (bf16) of the original.
func (f *Safetensors) Quantize(dtype string, choose func(name string, shape []int) bool) (*Safetensors, error) {
	if dtype != "bf16" && dtype != "int8" {
		return nil, fmt.Errorf("tensor: quantising to %q (want bf16 or int8)", dtype)
	}
	out := &Safetensors{Path: f.Path, Metadata: map[string]string{}, infos: map[string]*SafetensorsInfo{}}
	for k, v := range f.Metadata {
		out.Metadata[k] = v
	}
	add := func(name, dt string, shape []int, raw []byte) error {
		if out.infos[name] != nil {
			return fmt.Errorf("%s: quantising would write %q twice", f.Path, name)
		}
		out.infos[name] = &SafetensorsInfo{Name: name, DType: dt, Shape: shape, elementSize: dtypeSizes[dt], raw: raw}
		out.order = append(out.order, name)
		return nil
	}
	for _, name := range f.order {
		in := f.infos[name]
		isFloat := in.DType == "F32" || in.DType == "F16" || in.DType == "BF16" || in.DType == "F64"
		if !isFloat || len(in.Shape) < 2 || !choose(name, in.Shape) || in.DType == "BF16" && dtype == "bf16" {
			if err := add(name, in.DType, in.Shape, in.raw); err != nil {
				return nil, err
			}
			continue
		}
		t, err := f.Tensor(name)
		if err != nil {
			return nil, err
		}
		if err := CheckFinite(f.Path, name, t); err != nil {
			return nil, err
		}
		v := t.Data()
		rows := in.Shape[0]
		cols := len(v) / max(rows, 1)
		if dtype == "bf16" {
			raw := make([]byte, 2*len(v))
			for i, x := range v {
				binary.LittleEndian.PutUint16(raw[2*i:], cpu.ToBF16(x))
			}
			if err := add(name, "BF16", in.Shape, raw); err != nil {
				return nil, err
			}
			continue
		}
		q := cpu.QuantizeInt8(v, rows, cols) // what --dtype int8 computes with
		raw, scales := make([]byte, len(v)), make([]byte, 4*rows)
		for i, x := range q.I8 {
			raw[i] = byte(x)
		}
		for r, sc := range q.Scale {
			binary.LittleEndian.PutUint32(scales[4*r:], math.Float32bits(sc))
		}
		if err := add(name, "I8", in.Shape, raw); err != nil {
			return nil, err
		}
		if err := add(name+ScaleSuffix, "F32", []int{rows}, scales); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dequantizeI8 reads an I8 tensor with its "<name>_scale" companion.
func (f *Safetensors) dequantizeI8(name string, in *SafetensorsInfo) (*Tensor, error) {
	sname := name + ScaleSuffix
	if f.infos[sname] == nil {
		return nil, fmt.Errorf("%s: tensor %q is int8 (I8) without its per-row scales %q", f.Path, name, sname)
	}
	if len(in.Shape) < 1 || in.Shape[0] == 0 {
		return nil, fmt.Errorf("%s: int8 tensor %q has shape %v: it needs rows", f.Path, name, in.Shape)
	}
	s, err := f.Tensor(sname)
	if err != nil {
		return nil, err
	}
	rows := in.Shape[0]
	if sh := s.Shape(); s.Len() != rows || !(len(sh) == 1 || len(sh) == 2 && sh[1] == 1) {
		return nil, fmt.Errorf("%s: %q has shape %v; the int8 tensor %q of shape %v wants [%d] scales", f.Path, sname, s.Shape(), name, in.Shape, rows)
	}
	if err := CheckFinite(f.Path, sname, s); err != nil {
		return nil, err
	}
	out := make([]float32, len(in.raw))
	cols := len(out) / rows
	sc := s.Data()
	for i, b := range in.raw {
		out[i] = sc[i/max(cols, 1)] * float32(int8(b))
	}
	return FromSlice(out, in.Shape...)
}
