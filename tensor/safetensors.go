package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// The safetensors format (Hugging Face): an 8-byte little-endian header
// length N, N bytes of JSON mapping each tensor name to its dtype, shape and
// [begin, end) byte offsets into the data that follows (plus an optional
// "__metadata__" map of strings), then the data, little-endian.

// maxHeader bounds the JSON header, as the reference implementation does.
const maxHeader = 100 << 20

// SafetensorsInfo describes one tensor in a safetensors file.
type SafetensorsInfo struct {
	Name        string
	DType       string // "F32", "F16", "BF16", ...
	Shape       []int
	Begin, End  int // byte offsets into the data section of the file it came from
	elementSize int
	raw         []byte // its data, little-endian, in row-major order
}

// Safetensors is a set of named tensors held in memory, as a safetensors
// file gives them: read from one (ReadSafetensors), from a PyTorch
// checkpoint (ReadPyTorch) or from the shards of a sharded checkpoint
// (ReadWeightsDir).
type Safetensors struct {
	Path     string            // where it was read from, for errors
	Metadata map[string]string // the "__metadata__" entries
	infos    map[string]*SafetensorsInfo
	order    []string // names in the order of their data
}

var dtypeSizes = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
	"U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1,
}

// ReadSafetensors reads and validates a safetensors file.
func ReadSafetensors(path string) (*Safetensors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSafetensors(b, path)
}

// SafetensorsMetadata reads only the header of a safetensors file and
// returns its "__metadata__" entries (none: an empty map).
func SafetensorsMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lb [8]byte
	if _, err := io.ReadFull(f, lb[:]); err != nil {
		return nil, fmt.Errorf("%s: not a valid safetensors file: no 8-byte header length", path)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n > maxHeader {
		return nil, fmt.Errorf("%s: not a valid safetensors file: header length %d exceeds the limit of %d bytes", path, n, maxHeader)
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fmt.Errorf("%s: not a valid safetensors file: header length %d runs past the end of the file", path, n)
	}
	entries, err := decodeObject(header)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid safetensors file: header JSON: %v", path, err)
	}
	md := map[string]string{}
	for _, e := range entries {
		if e.name == "__metadata__" {
			if err := json.Unmarshal(e.raw, &md); err != nil {
				return nil, fmt.Errorf("%s: not a valid safetensors file: __metadata__ must map strings to strings: %v", path, err)
			}
		}
	}
	return md, nil
}

// ParseSafetensors validates a safetensors file held in b; path names it in
// errors. It checks the header length, the JSON (one object, no duplicate
// names), each entry's dtype, shape and offsets (inside the data, the right
// size for the shape, no overlaps, no gaps) and the metadata.
func ParseSafetensors(b []byte, path string) (*Safetensors, error) {
	fail := func(format string, args ...any) (*Safetensors, error) {
		return nil, fmt.Errorf("%s: not a valid safetensors file: %s", path, fmt.Sprintf(format, args...))
	}
	if len(b) < 8 {
		return fail("%d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > maxHeader {
		return fail("header length %d exceeds the limit of %d bytes", n, maxHeader)
	}
	if n > uint64(len(b)-8) {
		return fail("header length %d runs past the end of the file (%d bytes)", n, len(b))
	}
	header := b[8 : 8+n]
	if len(bytes.TrimSpace(header)) == 0 || bytes.TrimSpace(header)[0] != '{' {
		return fail("header does not start with a JSON object")
	}
	entries, err := decodeObject(header)
	if err != nil {
		return fail("header JSON: %v", err)
	}
	data := b[8+n:]
	f := &Safetensors{Path: path, Metadata: map[string]string{}, infos: map[string]*SafetensorsInfo{}}
	var infos []*SafetensorsInfo
	for _, e := range entries {
		if e.name == "__metadata__" {
			if err := json.Unmarshal(e.raw, &f.Metadata); err != nil {
				return fail("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var raw struct {
			DType       *string `json:"dtype"`
			Shape       []int   `json:"shape"`
			DataOffsets []int   `json:"data_offsets"`
		}
		dec := json.NewDecoder(bytes.NewReader(e.raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return fail("tensor %q: %v", e.name, err)
		}
		if raw.DType == nil || raw.Shape == nil || raw.DataOffsets == nil {
			return fail("tensor %q: needs dtype, shape and data_offsets", e.name)
		}
		size, ok := dtypeSizes[*raw.DType]
		if !ok {
			return fail("tensor %q: unknown dtype %q", e.name, *raw.DType)
		}
		count, err := numel(raw.Shape)
		if err != nil {
			return fail("tensor %q: shape %v: %v", e.name, raw.Shape, err)
		}
		if len(raw.DataOffsets) != 2 || raw.DataOffsets[0] < 0 || raw.DataOffsets[1] < raw.DataOffsets[0] {
			return fail("tensor %q: data_offsets %v must be [begin, end] with 0 ≤ begin ≤ end", e.name, raw.DataOffsets)
		}
		begin, end := raw.DataOffsets[0], raw.DataOffsets[1]
		if end > len(data) {
			return fail("tensor %q: data_offsets [%d, %d] run past the data section (%d bytes)", e.name, begin, end, len(data))
		}
		if end-begin != count*size {
			return fail("tensor %q: %s%v needs %d bytes, data_offsets give %d", e.name, *raw.DType, raw.Shape, count*size, end-begin)
		}
		info := &SafetensorsInfo{Name: e.name, DType: *raw.DType, Shape: raw.Shape, Begin: begin, End: end, elementSize: size, raw: data[begin:end]}
		f.infos[e.name] = info
		infos = append(infos, info)
	}
	sort.SliceStable(infos, func(i, j int) bool { return infos[i].Begin < infos[j].Begin })
	pos := 0
	for _, in := range infos {
		if in.Begin < pos {
			return fail("tensor %q: bytes [%d, %d] overlap the tensor before it", in.Name, in.Begin, in.End)
		}
		if in.Begin > pos {
			return fail("bytes [%d, %d] of the data belong to no tensor", pos, in.Begin)
		}
		pos = in.End
		f.order = append(f.order, in.Name)
	}
	if pos != len(data) {
		return fail("bytes [%d, %d] of the data belong to no tensor", pos, len(data))
	}
	return f, nil
}

type rawEntry struct {
	name string
	raw  json.RawMessage
}

// decodeObject reads one JSON object, keeping its entries in order and
// refusing duplicate names and trailing data.
func decodeObject(b []byte) ([]rawEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	seen := map[string]bool{}
	var out []rawEntry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name := tok.(string)
		if seen[name] {
			return nil, fmt.Errorf("name %q appears twice", name)
		}
		seen[name] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("value of %q: %v", name, err)
		}
		out = append(out, rawEntry{name, raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	// Only padding (spaces, as writers align the data) may follow.
	rest, _ := io.ReadAll(dec.Buffered())
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// Names returns the tensors' names in the order of their data.
func (f *Safetensors) Names() []string { return append([]string(nil), f.order...) }

// Weights returns the names of the tensors a model reads, in the order of
// their data: Names without the per-row scales of int8 tensors (ScaleSuffix),
// which Tensor reads together with their tensor.
func (f *Safetensors) Weights() []string {
	out := make([]string, 0, len(f.order))
	for _, name := range f.order {
		if base, ok := strings.CutSuffix(name, ScaleSuffix); ok && f.infos[base] != nil && f.infos[base].DType == "I8" {
			continue
		}
		out = append(out, name)
	}
	return out
}

// Info returns the description of the named tensor, or nil if absent.
func (f *Safetensors) Info(name string) *SafetensorsInfo { return f.infos[name] }

// Tensor returns the named tensor as float32, converting F16 and BF16 (and
// F64), and I8 with its per-row scales (ScaleSuffix). Other dtypes are an
// error naming the tensor.
func (f *Safetensors) Tensor(name string) (*Tensor, error) {
	in := f.infos[name]
	if in == nil {
		return nil, fmt.Errorf("%s: no tensor named %q", f.Path, name)
	}
	raw := in.raw
	n := len(raw) / in.elementSize
	out := make([]float32, n)
	switch in.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = Float16ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	case "I8":
		return f.dequantizeI8(name, in)
	default:
		return nil, fmt.Errorf("%s: tensor %q has dtype %s; only F32, F16, BF16, F64 and I8 (with its %q) load as float32", f.Path, name, in.DType, name+ScaleSuffix)
	}
	return FromSlice(out, in.Shape...)
}

// CheckFinite reports the NaN and infinite values of a tensor read from
// path under name: a model's weights never hold them, and a file that does
// is damaged (it would only give NaN losses or empty output later).
func CheckFinite(path, name string, t *Tensor) error {
	bad, first := 0, -1
	for i, v := range t.Data() {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			if bad == 0 {
				first = i
			}
			bad++
		}
	}
	if bad > 0 {
		return fmt.Errorf("%s: tensor %q holds %d non-finite values (NaN or Inf; the first at index %d)", path, name, bad, first)
	}
	return nil
}

// Elements returns the number of values in all the file's tensors.
func (f *Safetensors) Elements() int64 {
	var n int64
	for _, in := range f.infos {
		n += int64(len(in.raw) / in.elementSize)
	}
	return n
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32
// (exactly: every half is a float32).
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	default: // subnormal: frac·2^-24
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
}

// NamedTensor pairs a tensor with its name in a file.
type NamedTensor struct {
	Name   string
	Tensor *Tensor
}

// WriteSafetensors writes the tensors (F32, in the given order) and the
// metadata to path atomically: to a temporary file in the same directory,
// synced, then renamed over path, so that an interrupted write never leaves
// a half-written file and never harms the file it replaces.
func WriteSafetensors(path string, tensors []NamedTensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	off := 0
	for _, nt := range tensors {
		if nt.Name == "__metadata__" || nt.Name == "" {
			return fmt.Errorf("%s: invalid tensor name %q", path, nt.Name)
		}
		if _, dup := header[nt.Name]; dup {
			return fmt.Errorf("%s: tensor name %q given twice", path, nt.Name)
		}
		size := 4 * nt.Tensor.Len()
		header[nt.Name] = map[string]any{"dtype": "F32", "shape": nt.Tensor.Shape(), "data_offsets": []int{off, off + size}}
		off += size
	}
	return writeSafetensors(path, header, func(w io.Writer) error {
		buf := make([]byte, 0, 1<<16)
		for _, nt := range tensors {
			for _, v := range nt.Tensor.Data() {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
				if len(buf) == cap(buf) {
					if _, err := w.Write(buf); err != nil {
						return err
					}
					buf = buf[:0]
				}
			}
		}
		_, err := w.Write(buf)
		return err
	})
}

// writeSafetensors writes the header (JSON, padded with spaces so that
// the data starts 8-byte aligned) and then the data through data,
// atomically.
func writeSafetensors(path string, header map[string]any, data func(io.Writer) error) error {
	hj, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for (8+len(hj))%8 != 0 {
		hj = append(hj, ' ')
	}
	return WriteFileAtomic(path, func(w io.Writer) error {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(hj)))
		if _, err := w.Write(n[:]); err != nil {
			return err
		}
		if _, err := w.Write(hj); err != nil {
			return err
		}
		return data(w)
	})
}

// WriteFileAtomic writes a file through write into a temporary file beside
// path, syncs it, renames it over path and syncs the directory. On any error
// the temporary file is removed and path is untouched.
func WriteFileAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+strings.TrimPrefix(base, ".")+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := newBufWriter(tmp)
	if err = write(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = bw.flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Chmod(tmp.Name(), 0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // make the rename durable; not all systems allow it
		d.Close()
	}
	return nil
}

type bufWriter struct {
	w   io.Writer
	buf []byte
}

func newBufWriter(w io.Writer) *bufWriter { return &bufWriter{w: w, buf: make([]byte, 0, 1<<20)} }

func (b *bufWriter) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flush(); err != nil {
			return 0, err
		}
		if len(p) > cap(b.buf) {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bufWriter) flush() error {
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
