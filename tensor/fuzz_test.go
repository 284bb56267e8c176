package tensor

import (
	"os"
	"testing"
)

// FuzzParseSafetensors: any bytes parse to a file whose every tensor reads
// (or fails with an error), or to an error; never a panic, never an
// allocation beyond what the bytes describe.
func FuzzParseSafetensors(f *testing.F) {
	for _, path := range []string{"../models/gpt/testdata/tiny/model.safetensors", "../cmd/goformer/testdata/gpt2-pretrained/model.safetensors"} {
		if b, err := os.ReadFile(path); err == nil && len(b) < 1<<16 {
			f.Add(b)
		}
	}
	f.Add(rawSafetensors(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawSafetensors(`{"w":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]},"__metadata__":{"a":"b"}}`, make([]byte, 2)))
	f.Add(rawSafetensors(`{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}`, make([]byte, 8)))
	f.Add(rawSafetensors(`{"w":{"dtype":"I8","shape":[2,3],"data_offsets":[0,6]},"w_scale":{"dtype":"F32","shape":[2],"data_offsets":[6,14]}}`, make([]byte, 14)))
	f.Add(rawSafetensors(`{"w":{"dtype":"I8","shape":[2,0],"data_offsets":[0,0]},"w_scale":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSafetensors(b, "fuzz.safetensors")
		if err != nil {
			return
		}
		s.Weights()
		for _, name := range s.Names() {
			if x, err := s.Tensor(name); err == nil {
				_ = CheckFinite("fuzz.safetensors", name, x)
			}
		}
		_ = s.Elements()
	})
}

// FuzzParsePyTorch: any bytes read as a PyTorch checkpoint give a state
// dict whose every tensor reads (or fails with an error), or an error;
// never a panic, never an allocation the bytes do not account for, and
// never a global outside the allow list.
func FuzzParsePyTorch(f *testing.F) {
	for _, name := range []string{"state.bin", "state_legacy.bin", "evil.bin", "evil_legacy.bin", "notdict.bin"} {
		if b, err := os.ReadFile("testdata/pytorch/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParsePyTorch(b, "fuzz.bin")
		if err != nil {
			return
		}
		for _, name := range s.Names() {
			if x, err := s.Tensor(name); err == nil {
				_ = CheckFinite("fuzz.bin", name, x)
			}
		}
	})
}
