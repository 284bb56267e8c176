package tensor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// expectedTensor is one entry of testdata/pytorch/state.json, written by
// scripts/reference/pytorch_bin.py from the state dict it saved.
type expectedTensor struct {
	DType  string    `json:"dtype"`
	Shape  []int     `json:"shape"`
	Values []float64 `json:"values"`
}

func readExpected(t *testing.T) (names []string, want map[string]expectedTensor) {
	t.Helper()
	b, err := os.ReadFile("testdata/pytorch/state.json")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := decodeObject(b)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]expectedTensor{}
	for _, e := range entries {
		var x expectedTensor
		if err := json.Unmarshal(e.raw, &x); err != nil {
			t.Fatal(err)
		}
		names, want[e.name] = append(names, e.name), x
	}
	return names, want
}

// values decodes a tensor's bytes whatever its dtype.
func values(t *testing.T, f *Safetensors, name string) []float64 {
	t.Helper()
	in := f.Info(name)
	var out []float64
	switch in.DType {
	case "I64":
		for i := 0; i < len(in.raw); i += 8 {
			out = append(out, float64(int64(binary.LittleEndian.Uint64(in.raw[i:]))))
		}
	case "BOOL", "U8":
		for _, b := range in.raw {
			out = append(out, float64(b))
		}
	default:
		x, err := f.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range x.Data() {
			out = append(out, float64(v))
		}
	}
	return out
}

func TestReadPyTorchMatchesTorch(t *testing.T) {
	names, want := readExpected(t)
	for _, file := range []string{"state.bin", "state_legacy.bin"} {
		f, err := ReadPyTorch(filepath.Join("testdata/pytorch", file))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Names(); !slices.Equal(got, names) {
			t.Fatalf("%s: names %v, want %v (the state dict's order)", file, got, names)
		}
		for _, name := range names {
			in, w := f.Info(name), want[name]
			if in.DType != w.DType || !slices.Equal(in.Shape, w.Shape) {
				t.Errorf("%s: %s is %s%v, want %s%v", file, name, in.DType, in.Shape, w.DType, w.Shape)
				continue
			}
			got := values(t, f, name)
			if len(got) != len(w.Values) {
				t.Errorf("%s: %s has %d values, want %d", file, name, len(got), len(w.Values))
				continue
			}
			for i := range got {
				if got[i] != w.Values[i] && !(in.DType == "F64" && math.Abs(got[i]-w.Values[i]) <= 1e-7*math.Abs(w.Values[i])) {
					t.Errorf("%s: %s[%d] = %g, want %g", file, name, i, got[i], w.Values[i])
					break
				}
			}
		}
	}
}

func TestReadPyTorchRefusesCode(t *testing.T) {
	for _, file := range []string{"evil.bin", "evil_legacy.bin"} {
		_, err := ReadPyTorch(filepath.Join("testdata/pytorch", file))
		if err == nil || !strings.Contains(err.Error(), "refusing the global posix.system") {
			t.Errorf("%s: got %v, want the global posix.system refused", file, err)
		}
	}
	_, err := ReadPyTorch("testdata/pytorch/notdict.bin")
	if err == nil || !strings.Contains(err.Error(), "list, not a dict") {
		t.Errorf("a list of tensors: got %v", err)
	}
	if _, err := ParsePyTorch([]byte("hello"), "x.bin"); err == nil || !strings.Contains(err.Error(), "x.bin") {
		t.Errorf("text: got %v", err)
	}
}

// TestReadPyTorchDamaged: every truncation and many corruptions of a real
// checkpoint give an error or a valid state dict, never a panic.
func TestReadPyTorchDamaged(t *testing.T) {
	for _, file := range []string{"state.bin", "state_legacy.bin"} {
		b, err := os.ReadFile(filepath.Join("testdata/pytorch", file))
		if err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(b); n += 7 {
			if _, err := ParsePyTorch(b[:n], file); err == nil {
				t.Errorf("%s cut to %d bytes read without error", file, n)
			}
		}
		rng := NewRNG(1)
		for i := 0; i < 2000; i++ {
			c := bytes.Clone(b)
			for k := 0; k < 3; k++ {
				c[rng.IntN(len(c))] = byte(rng.IntN(256))
			}
			if f, err := ParsePyTorch(c, file); err == nil {
				for _, name := range f.Names() {
					_, _ = f.Tensor(name)
				}
			}
		}
	}
}

func TestSafetensorsWriteFileKeepsDTypes(t *testing.T) {
	f, err := ReadPyTorch("testdata/pytorch/state.bin")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := f.WriteFile(path, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	g, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Names(), f.Names()) || g.Metadata["format"] != "pt" {
		t.Fatalf("names %v, metadata %v", g.Names(), g.Metadata)
	}
	for _, name := range f.Names() {
		a, b := f.Info(name), g.Info(name)
		if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) || !bytes.Equal(a.raw, b.raw) {
			t.Errorf("%s: %s%v became %s%v", name, a.DType, a.Shape, b.DType, b.Shape)
		}
	}
}
