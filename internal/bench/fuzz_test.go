package bench

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadTranslateInputs: any bytes as a benchmark's inputs.json give
// inputs that the benchmark can run (sources non-empty, ids ≥ 0, steps in
// range, one step count per source) or an error naming the file — never a
// panic.
func FuzzReadTranslateInputs(f *testing.F) {
	f.Add([]byte(`{"source":[[5,9,0],[7,0]],"steps":[4,2],"note":"x"}`))
	f.Add([]byte(`{"source":[[]],"steps":[3]}`))
	f.Add([]byte(`{"source":[[1,-4]],"steps":[3]}`))
	f.Add([]byte(`{"source":[[1]],"steps":[1025]}`))
	f.Add([]byte(`{"source":[[1]],"steps":[]}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(t.TempDir(), "inputs.json")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		in, err := ReadTranslateInputs(path)
		if err != nil {
			return
		}
		if len(in.Source) == 0 || len(in.Source) != len(in.Steps) {
			t.Fatalf("%d sources, %d step counts accepted", len(in.Source), len(in.Steps))
		}
		for i, s := range in.Source {
			if len(s) == 0 || in.Steps[i] < 1 || in.Steps[i] > 1024 {
				t.Fatalf("source %d (%d ids, %d steps) accepted", i, len(s), in.Steps[i])
			}
			for _, id := range s {
				if id < 0 {
					t.Fatalf("source %d: id %d accepted", i, id)
				}
			}
		}
	})
}
