package tensor

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawSafetensors builds a file from a header string and data bytes.
func rawSafetensors(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestSafetensorsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	a, _ := FromSlice([]float32{1, -2, 3.5, float32(math.Inf(1)), 0, 6}, 2, 3)
	s := Scalar(7)
	empty := New(0, 4)
	if err := WriteSafetensors(path, []NamedTensor{{"w", a}, {"s", s}, {"e", empty}}, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || strings.Join(f.Names(), ",") != "w,s,e" {
		t.Fatalf("metadata %v names %v", f.Metadata, f.Names())
	}
	for _, want := range []NamedTensor{{"w", a}, {"s", s}, {"e", empty}} {
		got, err := f.Tensor(want.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !got.SameShape(want.Tensor) {
			t.Fatalf("%s: shape %v, want %v", want.Name, got.Shape(), want.Tensor.Shape())
		}
		for i, v := range want.Tensor.Data() {
			if math.Float32bits(got.Data()[i]) != math.Float32bits(v) {
				t.Fatalf("%s[%d] = %g, want %g", want.Name, i, got.Data()[i], v)
			}
		}
	}
	if _, err := f.Tensor("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing tensor error = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestSafetensorsHalfPrecision(t *testing.T) {
	// F16: 1.0 = 0x3c00, -2.5 = 0xc100, smallest subnormal 0x0001 = 2^-24,
	// 65504 = 0x7bff; BF16: 1.0 = 0x3f80, -3.0 = 0xc040.
	f16 := binary.LittleEndian.AppendUint16(nil, 0x3c00)
	f16 = binary.LittleEndian.AppendUint16(f16, 0xc100)
	f16 = binary.LittleEndian.AppendUint16(f16, 0x0001)
	f16 = binary.LittleEndian.AppendUint16(f16, 0x7bff)
	bf := binary.LittleEndian.AppendUint16(nil, 0x3f80)
	bf = binary.LittleEndian.AppendUint16(bf, 0xc040)
	header := `{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]}}`
	f, err := ParseSafetensors(rawSafetensors(header, append(f16, bf...)), "half.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := f.Tensor("h")
	b, _ := f.Tensor("b")
	want := []float32{1, -2.5, 0x1p-24, 65504}
	for i, v := range want {
		if h.Data()[i] != v {
			t.Fatalf("F16[%d] = %g, want %g", i, h.Data()[i], v)
		}
	}
	if b.Data()[0] != 1 || b.Data()[1] != -3 {
		t.Fatalf("BF16 = %v", b.Data())
	}
}

func TestSafetensorsRejectsMalformed(t *testing.T) {
	data8 := make([]byte, 8)
	for _, tc := range []struct {
		name string
		file []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "shorter than the 8-byte header length"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "exceeds the limit"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 50), "runs past the end"},
		{"not json", rawSafetensors(`[1,2]`, nil), "does not start with a JSON object"},
		{"bad json", rawSafetensors(`{"a":`, nil), "header JSON"},
		{"duplicate", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), `"a" appears twice`},
		{"unknown dtype", rawSafetensors(`{"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}`, data8), `unknown dtype "F31"`},
		{"missing field", rawSafetensors(`{"a":{"dtype":"F32","shape":[2]}}`, data8), "needs dtype, shape and data_offsets"},
		{"unknown field", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, data8), "unknown field"},
		{"negative dim", rawSafetensors(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, data8), "negative"},
		{"past data", rawSafetensors(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, data8), "run past the data section"},
		{"size mismatch", rawSafetensors(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data8), "needs 12 bytes, data_offsets give 8"},
		{"overlap", rawSafetensors(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), "overlap"},
		{"gap", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data8), "belong to no tensor"},
		{"trailing bytes", rawSafetensors(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, data8), "belong to no tensor"},
		{"reversed offsets", rawSafetensors(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, data8), "begin ≤ end"},
		{"bad metadata", rawSafetensors(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"trailing json", rawSafetensors(`{} {}`, nil), "after the JSON object"},
	} {
		_, err := ParseSafetensors(tc.file, "bad.safetensors")
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "bad.safetensors") {
			t.Errorf("%s: error = %v, want one naming the file and containing %q", tc.name, err, tc.want)
		}
	}
	f, err := ParseSafetensors(rawSafetensors(`{"i":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, data8), "ints.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tensor("i"); err == nil || !strings.Contains(err.Error(), "dtype I64") {
		t.Fatalf("I64 load error = %v", err)
	}
}

func TestWriteFileAtomicKeepsOldFileOnError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt")
	if err := os.WriteFile(path, []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	err := WriteFileAtomic(path, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "good" {
		t.Fatalf("old file now %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

// TestSafetensorsMetadata: the header alone gives the metadata; a file
// that is not safetensors is an error naming it.
func TestSafetensorsMetadata(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	a, _ := FromSlice([]float32{1, 2}, 2)
	if err := WriteSafetensors(path, []NamedTensor{{"w", a}}, map[string]string{"goformer_dtype": "int8"}); err != nil {
		t.Fatal(err)
	}
	if md, err := SafetensorsMetadata(path); err != nil || md["goformer_dtype"] != "int8" {
		t.Fatalf("metadata %v, %v", md, err)
	}
	for name, b := range map[string][]byte{
		"short":       {1, 2},
		"huge header": binary.LittleEndian.AppendUint64(nil, 1<<40),
		"cut header":  rawSafetensors(`{"a":`, nil)[:10],
		"bad JSON":    rawSafetensors(`{"a"}`, nil),
		"bad meta":    rawSafetensors(`{"__metadata__":{"k":1}}`, nil),
	} {
		p := filepath.Join(dir, "bad.safetensors")
		os.WriteFile(p, b, 0o644)
		if _, err := SafetensorsMetadata(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}
